/**
 * The service environment variables kubelet injects into containers (its `envvars.FromServices`
 * and `getServiceEnvVarMap`), as a pure function of the services a pod can see.
 */
import type { EnvVar, Pod, Service } from '../../core/types';

/** The namespace whose `kubernetes` service every pod sees (kubelet hard-codes `default`). */
export const DEFAULT_MASTER_NAMESPACE = 'default';
/** Services kubelet always exposes from the master namespace. */
export const MASTER_SERVICES: ReadonlySet<string> = new Set(['kubernetes']);
/**
 * Past this many visible services a pod's environment risks exceeding what the runtime accepts
 * (kubernetes#92615: pods fail to start with "argument list too long" once thousands of
 * services sit in one namespace). Each service adds at least 7 variables.
 */
export const ENV_SERVICE_WARNING_THRESHOLD = 1000;
/** Total environment bytes past which {@link EnvRendering.warnings} says so (Linux ARG_MAX is ~2 MiB). */
export const ENV_BYTES_WARNING_THRESHOLD = 1 << 20;

/** One variable, with where it came from. */
export interface ServiceEnvVar {
  readonly name: string;
  readonly value: string;
}

/** Which services a pod sees. */
export interface ServiceVisibilityOptions {
  /** The pod's namespace. */
  readonly namespace: string;
  /** `spec.enableServiceLinks` (default true). False keeps only the master services. */
  readonly enableServiceLinks?: boolean;
  /** Where the `kubernetes` service lives (default `default`). */
  readonly masterNamespace?: string;
}

/** kubelet's `IsServiceIPSet`: a cluster IP that is neither empty nor `None`. */
export function isServiceIPSet(svc: Service): boolean {
  const ip = svc.spec?.clusterIP ?? '';
  return ip !== '' && ip !== 'None';
}

/** kubelet's name transform: upper case, `-` → `_`. */
export function envVarName(name: string): string {
  return name.replaceAll('-', '_').toUpperCase();
}

/** `host:port`, with IPv6 hosts bracketed (Go's `net.JoinHostPort`). */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The variables of one service in kubelet's order: `_SERVICE_HOST`, `_SERVICE_PORT`, one
 * `_SERVICE_PORT_<NAME>` per named port, then the Docker-link `_PORT` (first port) and per port
 * `_PORT_<port>_<PROTO>` with `_PROTO`, `_PORT`, `_ADDR`. Services without a cluster IP
 * (headless, ExternalName) or without ports yield nothing.
 */
export function serviceEnvVars(svc: Service): ServiceEnvVar[] {
  const ports = svc.spec?.ports ?? [];
  const first = ports[0];
  if (!isServiceIPSet(svc) || !first) return [];
  const ip = svc.spec.clusterIP ?? '';
  const prefix = envVarName(svc.metadata.name ?? '');
  const out: ServiceEnvVar[] = [
    { name: `${prefix}_SERVICE_HOST`, value: ip },
    { name: `${prefix}_SERVICE_PORT`, value: String(first.port) },
  ];
  for (const p of ports) {
    if (p.name) out.push({ name: `${prefix}_SERVICE_PORT_${envVarName(p.name)}`, value: String(p.port) });
  }
  ports.forEach((p, i) => {
    const protocol = p.protocol || 'TCP';
    const url = `${protocol.toLowerCase()}://${joinHostPort(ip, p.port)}`;
    if (i === 0) out.push({ name: `${prefix}_PORT`, value: url });
    const portPrefix = `${prefix}_PORT_${p.port}_${protocol.toUpperCase()}`;
    out.push(
      { name: portPrefix, value: url },
      { name: `${portPrefix}_PROTO`, value: protocol.toLowerCase() },
      { name: `${portPrefix}_PORT`, value: String(p.port) },
      { name: `${portPrefix}_ADDR`, value: ip },
    );
  });
  return out;
}

/**
 * The services a pod in `namespace` gets variables for (kubelet's `getServiceEnvVarMap`): every
 * service with a cluster IP in its namespace when service links are on, plus the master
 * `kubernetes` service unless the namespace has its own. Sorted by name for a stable output
 * (kubelet's order is a Go map's, i.e. random).
 */
export function visibleServices(services: Iterable<Service>, options: ServiceVisibilityOptions): Service[] {
  const master = options.masterNamespace ?? DEFAULT_MASTER_NAMESPACE;
  const links = options.enableServiceLinks ?? true;
  const byName = new Map<string, Service>();
  for (const svc of services) {
    if (!isServiceIPSet(svc)) continue;
    const name = svc.metadata.name ?? '';
    const ns = svc.metadata.namespace ?? 'default';
    if (ns === master && MASTER_SERVICES.has(name)) {
      if (!byName.has(name)) byName.set(name, svc);
    } else if (ns === options.namespace && links) {
      byName.set(name, svc);
    }
  }
  return [...byName.values()].sort((a, b) => ((a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1));
}

/** Result of rendering a container's environment. */
export interface EnvRendering {
  /** Container-defined variables first (declared order), then the service variables. */
  readonly vars: readonly ServiceEnvVar[];
  /** Number of services whose variables were included. */
  readonly serviceCount: number;
  /** Human-readable warnings (oversized environment, unresolvable `valueFrom`). */
  readonly warnings: readonly string[];
}

/** The service variables a new pod in `options.namespace` would get, with size warnings. */
export function renderServiceEnv(
  services: Iterable<Service>,
  options: ServiceVisibilityOptions,
): EnvRendering {
  const visible = visibleServices(services, options);
  const map = new Map<string, string>();
  for (const svc of visible) for (const v of serviceEnvVars(svc)) map.set(v.name, v.value);
  const vars = [...map].map(([name, value]) => ({ name, value }));
  return { vars, serviceCount: visible.length, warnings: sizeWarnings(vars, visible.length) };
}

/** When the pod was created, to apply the snapshot rule. */
export interface PodEnvOptions {
  /**
   * Only services created at or before this instant are visible (default: the pod's
   * `creationTimestamp`, when set).
   */
  readonly createdAt?: Date | string;
  /**
   * Only service objects whose `resourceVersion` is ≤ this revision are visible. Pass the
   * services as they were at the pod's creation revision for an exact answer; with today's
   * services, ones modified since are left out because their values then are unknown.
   */
  readonly atRevision?: number;
  /** Which container (default: the first). */
  readonly container?: string;
  /** Where the `kubernetes` service lives (default `default`). */
  readonly masterNamespace?: string;
}

/**
 * The environment kubelet gives a container of `pod`: its own `env` (with `$(VAR)` references
 * expanded against earlier variables and the service variables) followed by the service
 * variables it does not define itself. The snapshot rule applies: variables are computed once,
 * when the container starts, from the services that existed then — services created later are
 * not visible until the pod is recreated.
 */
export function renderEnvForPod(
  pod: Pod,
  services: Iterable<Service>,
  options: PodEnvOptions = {},
): EnvRendering {
  const createdAt = toTime(options.createdAt ?? pod.metadata.creationTimestamp);
  const atRevision = options.atRevision;
  const eligible = [...services].filter((svc) => {
    if (createdAt !== undefined) {
      const t = toTime(svc.metadata.creationTimestamp);
      if (t !== undefined && t > createdAt) return false;
    }
    if (atRevision !== undefined) {
      const rv = Number(svc.metadata.resourceVersion);
      if (Number.isFinite(rv) && rv > atRevision) return false;
    }
    return true;
  });
  const visibility: ServiceVisibilityOptions = {
    namespace: pod.metadata.namespace ?? 'default',
    enableServiceLinks: pod.spec.enableServiceLinks ?? true,
    ...(options.masterNamespace ? { masterNamespace: options.masterNamespace } : {}),
  };
  const serviceRendering = renderServiceEnv(eligible, visibility);
  const serviceEnv = new Map(serviceRendering.vars.map((v) => [v.name, v.value]));
  const containers = pod.spec.containers ?? [];
  const container = options.container ? containers.find((c) => c.name === options.container) : containers[0];
  if (options.container && !container)
    throw new Error(`pod has no container named ${JSON.stringify(options.container)}`);
  const warnings = [...serviceRendering.warnings];
  const own = new Map<string, string>();
  for (const e of container?.env ?? []) own.set(e.name, resolveEnvValue(e, own, serviceEnv, pod, warnings));
  const vars: ServiceEnvVar[] = [...own].map(([name, value]) => ({ name, value }));
  for (const v of serviceRendering.vars) if (!own.has(v.name)) vars.push(v);
  return { vars, serviceCount: serviceRendering.serviceCount, warnings };
}

function resolveEnvValue(
  e: EnvVar,
  own: ReadonlyMap<string, string>,
  serviceEnv: ReadonlyMap<string, string>,
  pod: Pod,
  warnings: string[],
): string {
  if (e.value) return expandEnv(e.value, (name) => own.get(name) ?? serviceEnv.get(name));
  const fieldPath = (e.valueFrom as { fieldRef?: { fieldPath?: string } } | undefined)?.fieldRef?.fieldPath;
  if (fieldPath) {
    const value = podFieldValue(pod, fieldPath);
    if (value !== undefined) return value;
  }
  if (e.valueFrom !== undefined)
    warnings.push(`${e.name}: valueFrom cannot be resolved offline; rendered empty`);
  return '';
}

/** `metadata.labels['key']` / `metadata.annotations['key']`: the downward API's subscript form. */
const SUBSCRIPTED_FIELD = /^metadata\.(labels|annotations)\['(.*)'\]$/;

/**
 * The value of a `fieldRef` the way kubelet resolves it for an env var (its
 * `podFieldSelectorRuntimeValue`, then `fieldpath.ExtractFieldPathAsString`); undefined for a
 * path kubelet would reject. A missing label or annotation key is the empty string, as in kubelet.
 */
function podFieldValue(pod: Pod, fieldPath: string): string | undefined {
  const subscript = SUBSCRIPTED_FIELD.exec(fieldPath);
  if (subscript) {
    const map = subscript[1] === 'labels' ? pod.metadata.labels : pod.metadata.annotations;
    const key = subscript[2] ?? '';
    return map && Object.hasOwn(map, key) ? (map[key] ?? '') : '';
  }
  // Fields the shared Pod type does not declare but real manifests carry.
  const spec = pod.spec as { serviceAccountName?: string };
  const known: Record<string, string | undefined> = {
    'metadata.name': pod.metadata.name,
    'metadata.namespace': pod.metadata.namespace,
    'metadata.uid': pod.metadata.uid,
    'spec.nodeName': pod.spec.nodeName,
    'spec.serviceAccountName': spec.serviceAccountName,
    'status.podIP': pod.status?.podIPs?.[0]?.ip ?? pod.status?.podIP,
    'status.podIPs': pod.status?.podIPs?.map((p) => p.ip).join(',') ?? pod.status?.podIP,
    'status.hostIP': pod.status?.hostIP ?? pod.status?.hostIPs?.[0]?.ip,
    'status.hostIPs': pod.status?.hostIPs?.map((p) => p.ip).join(',') ?? pod.status?.hostIP,
  };
  return Object.hasOwn(known, fieldPath) ? (known[fieldPath] ?? '') : undefined;
}

/**
 * kubelet's `$(VAR)` expansion: a defined reference is replaced, an undefined one is kept as
 * written, `$$` is a literal `$`, and an unterminated `$(` is kept.
 */
export function expandEnv(input: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  let checkpoint = 0;
  for (let i = 0; i < input.length; i++) {
    if (input[i] !== '$' || i + 1 >= input.length) continue;
    out += input.slice(checkpoint, i);
    const next = input[i + 1];
    let advance = 1;
    if (next === '$') out += '$';
    else if (next === '(') {
      const close = input.indexOf(')', i + 2);
      if (close < 0) out += '$(';
      else {
        const name = input.slice(i + 2, close);
        out += lookup(name) ?? `$(${name})`;
        advance = close - i;
      }
    } else out += `$${next}`;
    i += advance;
    checkpoint = i + 1;
  }
  return out + input.slice(checkpoint);
}

/** `NAME=value` lines, one per variable. */
export function formatEnv(vars: readonly ServiceEnvVar[]): string {
  return vars.map((v) => `${v.name}=${v.value}\n`).join('');
}

function sizeWarnings(vars: readonly ServiceEnvVar[], serviceCount: number): string[] {
  const bytes = vars.reduce((n, v) => n + v.name.length + v.value.length + 2, 0);
  const warnings: string[] = [];
  if (serviceCount >= ENV_SERVICE_WARNING_THRESHOLD || bytes >= ENV_BYTES_WARNING_THRESHOLD) {
    warnings.push(
      `${serviceCount} services give ${vars.length} variables (${bytes} bytes): environments this large slow ` +
        'container start and can exceed the runtime limit (kubernetes#92615); set enableServiceLinks: false and use DNS',
    );
  }
  return warnings;
}

function toTime(t: Date | string | undefined): number | undefined {
  if (t === undefined) return undefined;
  const ms = t instanceof Date ? t.getTime() : Date.parse(t);
  return Number.isNaN(ms) ? undefined : ms;
}
