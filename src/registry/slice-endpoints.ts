/**
 * EndpointSlices → endpoints per service port, the way kube-proxy's EndpointSliceCache does it:
 * first address only, absent `ready`/`serving` mean true, absent `terminating` means false,
 * hints as sets (absent and empty kept apart), one endpoint per `ip:port` across slices
 * (a non-terminating copy wins), ports without a number or name ignored, sorted by `ip:port`.
 *
 * @module
 */
import type { Endpoint } from '../core/snapshot';
import { type EndpointSlice, LABEL_HEADLESS, LABEL_SERVICE_PROXY_NAME, type Protocol } from '../core/types';
import { canonicalIP } from '../net';

const PLAIN_IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** The address as kube-proxy prints it after ParseIPSloppy (canonical form); cheap for plain IPv4. */
function canonicalAddress(ip: string): string {
  return PLAIN_IPV4.test(ip) ? ip : (canonicalIP(ip) ?? ip);
}

/** `ip:port`, `[ip]:port` for IPv6 (Go's net.JoinHostPort). */
export function endpointKey(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** Key of endpoints by service port: `portName/protocol` (kube-proxy keys by name and protocol). */
export function portProtocolKey(portName: string, protocol: Protocol): string {
  return `${portName}/${protocol}`;
}

/** True when kube-proxy would consider this slice at all. */
export function isSliceRoutable(slice: EndpointSlice): boolean {
  if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') return false;
  const labels = slice.metadata.labels;
  if (!labels) return false;
  if (Object.hasOwn(labels, LABEL_SERVICE_PROXY_NAME) || Object.hasOwn(labels, LABEL_HEADLESS)) return false;
  return true;
}

/**
 * Endpoints by {@link portProtocolKey} for one service, from its slices. Slices are visited in
 * name order so the result does not depend on arrival order.
 */
export function endpointsByServicePort(slices: readonly EndpointSlice[]): Map<string, Endpoint[]> {
  const sets = new Map<string, Map<string, Endpoint>>();
  const ordered = [...slices].sort((a, b) => cmp(a.metadata.name ?? '', b.metadata.name ?? ''));
  for (const slice of ordered) {
    if (!isSliceRoutable(slice)) continue;
    for (const port of slice.ports ?? []) {
      if (port.name === undefined || port.name === null) continue;
      if (!port.port) continue;
      const k = portProtocolKey(port.name, port.protocol ?? 'TCP');
      let set = sets.get(k);
      if (!set) {
        set = new Map();
        sets.set(k, set);
      }
      for (const ep of slice.endpoints ?? []) {
        const first = ep.addresses?.[0];
        if (first === undefined) continue;
        const ip = canonicalAddress(first);
        const c = ep.conditions ?? {};
        const terminating = c.terminating === true;
        const key = endpointKey(ip, port.port);
        if (set.has(key) && terminating) continue;
        const zoneHints = ep.hints?.forZones?.length
          ? new Set(ep.hints.forZones.map((z) => z.name))
          : undefined;
        const nodeHints = ep.hints?.forNodes?.length
          ? new Set(ep.hints.forNodes.map((n) => n.name))
          : undefined;
        const e: Endpoint = {
          ip,
          port: port.port,
          key,
          ready: c.ready !== false,
          serving: c.serving !== false,
          terminating,
          ...(ep.nodeName !== undefined ? { nodeName: ep.nodeName } : {}),
          ...(ep.zone !== undefined ? { zone: ep.zone } : {}),
          ...(zoneHints ? { zoneHints } : {}),
          ...(nodeHints ? { nodeHints } : {}),
          ...(ep.hostname !== undefined ? { hostname: ep.hostname } : {}),
          ...(ep.targetRef
            ? {
                targetRef: {
                  ...(ep.targetRef.kind !== undefined ? { kind: ep.targetRef.kind } : {}),
                  ...(ep.targetRef.namespace !== undefined ? { namespace: ep.targetRef.namespace } : {}),
                  ...(ep.targetRef.name !== undefined ? { name: ep.targetRef.name } : {}),
                },
              }
            : {}),
        };
        set.set(key, e);
      }
    }
  }
  const out = new Map<string, Endpoint[]>();
  for (const [k, set] of sets) {
    if (set.size === 0) continue;
    out.set(
      k,
      [...set.values()].sort((a, b) => cmp(a.key, b.key)),
    );
  }
  return out;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function setEqual(a: ReadonlySet<string> | undefined, b: ReadonlySet<string> | undefined): boolean {
  if (a === b) return true;
  if (!a || !b || a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

/** Field-by-field equality of two endpoints (hint sets compared as sets). */
export function endpointEqual(a: Endpoint, b: Endpoint): boolean {
  return (
    a === b ||
    (a.key === b.key &&
      a.ip === b.ip &&
      a.port === b.port &&
      a.ready === b.ready &&
      a.serving === b.serving &&
      a.terminating === b.terminating &&
      a.nodeName === b.nodeName &&
      a.zone === b.zone &&
      a.hostname === b.hostname &&
      a.weight === b.weight &&
      setEqual(a.zoneHints, b.zoneHints) &&
      setEqual(a.nodeHints, b.nodeHints) &&
      a.targetRef?.kind === b.targetRef?.kind &&
      a.targetRef?.namespace === b.targetRef?.namespace &&
      a.targetRef?.name === b.targetRef?.name &&
      (a.targetRef === undefined) === (b.targetRef === undefined))
  );
}
