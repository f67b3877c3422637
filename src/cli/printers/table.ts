/**
 * The table kubectl prints for Services, EndpointSlices and Pods (`kubectl get`, `-o wide`),
 * column for column: the same headers, cell texts (`<none>`, `<pending>`, `80:30001/TCP`,
 * `a,b,c + 2 more...`, `1/1`, `Running`), ages, and alignment.
 */

import type { EndpointSlice, KubeObject, Pod, Service } from '../../core/types';
import { translateTimestampSince } from './duration';
import { alignColumns } from './tabwriter';

/** Options of {@link printTable}. */
export interface TableOptions {
  /** `-o wide`: the extra columns (SELECTOR; IP, NODE, NOMINATED NODE, READINESS GATES). */
  readonly wide?: boolean;
  /** `-A`: a leading NAMESPACE column. */
  readonly withNamespace?: boolean;
  /** Prefix names with `service/`, `pod/`… (kubectl does when several resource types are listed). */
  readonly withKind?: boolean;
  /** The time ages are computed against. */
  readonly now: Date;
}

/** The kinds {@link printTable} can print. */
export type TableKind = 'Service' | 'EndpointSlice' | 'Pod';

interface Columns {
  readonly headers: readonly string[];
  readonly wideHeaders: readonly string[];
  readonly row: (o: never, opts: TableOptions) => { cells: string[]; wide: string[] };
}

// The placeholder kubectl prints for an empty list of endpoints or ports in an EndpointSlice.
const UNSET = '<unset>';
const NONE = '<none>';
// loadBalancerWidth: LoadBalancer ingress text is cut to this many bytes unless -o wide.
const LOAD_BALANCER_WIDTH = 16;
// formatDiscoveryPorts/Endpoints list this many entries, then "+ N more...".
const LIST_MAX = 3;

const COLUMNS: Record<TableKind, Columns> = {
  Service: {
    headers: ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE'],
    wideHeaders: ['SELECTOR'],
    row: (svc: Service, opts) => ({
      cells: [
        svc.metadata.name ?? '',
        svc.spec.type ?? '',
        svc.spec.clusterIPs?.[0] ?? NONE,
        serviceExternalIP(svc, opts.wide ?? false),
        servicePorts(svc) || NONE,
        translateTimestampSince(svc.metadata.creationTimestamp, opts.now),
      ],
      wide: [formatLabels(svc.spec.selector)],
    }),
  },
  EndpointSlice: {
    headers: ['NAME', 'ADDRESSTYPE', 'PORTS', 'ENDPOINTS', 'AGE'],
    wideHeaders: [],
    row: (s: EndpointSlice, opts) => ({
      cells: [
        s.metadata.name ?? '',
        s.addressType ?? '',
        slicePorts(s),
        sliceEndpoints(s),
        translateTimestampSince(s.metadata.creationTimestamp, opts.now),
      ],
      wide: [],
    }),
  },
  Pod: {
    headers: ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE'],
    wideHeaders: ['IP', 'NODE', 'NOMINATED NODE', 'READINESS GATES'],
    row: (pod: Pod, opts) => podRow(pod, opts),
  },
};

const RESOURCE_PREFIX: Record<TableKind, string> = {
  Service: 'service',
  EndpointSlice: 'endpointslice.discovery.k8s.io',
  Pod: 'pod',
};

/**
 * The table for `objects` (all of `kind`), header included, as kubectl prints it. An empty
 * `objects` gives an empty string (kubectl then says "No resources found" on stderr).
 */
export function printTable(kind: TableKind, objects: readonly KubeObject[], opts: TableOptions): string {
  if (objects.length === 0) return '';
  const cols = COLUMNS[kind];
  const header = [
    ...(opts.withNamespace ? ['NAMESPACE'] : []),
    ...cols.headers,
    ...(opts.wide ? cols.wideHeaders : []),
  ];
  const rows: string[][] = [header];
  for (const o of objects) {
    const { cells, wide } = cols.row(o as never, opts);
    if (opts.withKind) cells[0] = `${RESOURCE_PREFIX[kind]}/${cells[0]}`;
    rows.push([
      // The NAMESPACE cell is written as it is; only the printer's own cells are sanitised.
      ...(opts.withNamespace ? [o.metadata.namespace ?? ''] : []),
      ...[...cells, ...(opts.wide ? wide : [])].map(terminalSafeCell),
    ]);
  }
  return alignColumns(rows);
}

// Characters at which kubectl cuts a cell ('\f' too: the tabwriter takes it for a line break).
const CELL_BREAK = /[\f\n\r]/;

/**
 * A cell as kubectl's table printer writes it: cut at the first line break (marked `...`), and
 * escape characters a terminal would act on (ESC as `^[`, CR as `\r`).
 */
export function terminalSafeCell(cell: string): string {
  const cut = cell.search(CELL_BREAK);
  const text = cut >= 0 ? cell.slice(0, cut) : cell;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ESC is exactly what is escaped.
  const escaped = text.replace(/\x1b/g, '^[').replace(/\r/g, '\\r');
  return cut >= 0 ? `${escaped}...` : escaped;
}

/** `labels.FormatLabels`: `k=v` pairs sorted by key, comma-joined; `<none>` when empty. */
export function formatLabels(labels: Readonly<Record<string, string>> | undefined): string {
  const keys = labels ? Object.keys(labels).sort() : [];
  if (keys.length === 0) return NONE;
  return keys.map((k) => `${k}=${labels?.[k] ?? ''}`).join(',');
}

function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

function loadBalancerStatus(svc: Service, wide: boolean): string {
  const set = new Set<string>();
  for (const ing of svc.status?.loadBalancer?.ingress ?? []) {
    if (ing.ip) set.add(ing.ip);
    else if (ing.hostname) set.add(ing.hostname);
  }
  // sets.String.List() sorts byte-wise.
  const r = [...set].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).join(',');
  if (!wide && byteLength(r) > LOAD_BALANCER_WIDTH)
    return `${Buffer.from(r, 'utf8')
      .subarray(0, LOAD_BALANCER_WIDTH - 3)
      .toString('utf8')}...`;
  return r;
}

function serviceExternalIP(svc: Service, wide: boolean): string {
  const externalIPs = svc.spec.externalIPs ?? [];
  switch (svc.spec.type) {
    case 'ClusterIP':
    case 'NodePort':
      return externalIPs.length > 0 ? externalIPs.join(',') : NONE;
    case 'LoadBalancer': {
      const lb = loadBalancerStatus(svc, wide);
      if (externalIPs.length > 0) return [...(lb ? lb.split(',') : []), ...externalIPs].join(',');
      return lb || '<pending>';
    }
    case 'ExternalName':
      return svc.spec.externalName ?? '';
    default:
      return '<unknown>';
  }
}

function servicePorts(svc: Service): string {
  return (svc.spec.ports ?? [])
    .map((p) => {
      const protocol = p.protocol ?? '';
      return p.nodePort !== undefined && p.nodePort > 0
        ? `${p.port}:${p.nodePort}/${protocol}`
        : `${p.port}/${protocol}`;
    })
    .join(',');
}

function listWithMore(list: string[], count: number): string {
  if (count > LIST_MAX) return `${list.join(',')} + ${count - LIST_MAX} more...`;
  return list.length > 0 ? list.join(',') : UNSET;
}

function slicePorts(s: EndpointSlice): string {
  const ports = s.ports ?? [];
  // A port without a number (all ports) shows its name, or `*` without one either.
  const list = ports.slice(0, LIST_MAX).map((p) => (p.port != null ? String(p.port) : (p.name ?? '*')));
  return listWithMore(list, ports.length);
}

function sliceEndpoints(s: EndpointSlice): string {
  const all = (s.endpoints ?? []).flatMap((e) => e.addresses ?? []);
  return listWithMore(all.slice(0, LIST_MAX), all.length);
}

// ---------------------------------------------------------------------------------------------
// Pods: READY and STATUS as kubectl derives them from container statuses.

interface ContainerState {
  waiting?: { reason?: string };
  running?: unknown;
  terminated?: { reason?: string; exitCode?: number; signal?: number; finishedAt?: string };
}

interface ContainerStatus {
  name?: string;
  ready?: boolean;
  started?: boolean;
  restartCount?: number;
  state?: ContainerState;
  lastState?: ContainerState;
}

interface PodStatusView {
  phase?: string;
  reason?: string;
  nominatedNodeName?: string;
  podIP?: string;
  podIPs?: { ip?: string }[];
  conditions?: { type?: string; status?: string; reason?: string }[];
  initContainerStatuses?: ContainerStatus[];
  containerStatuses?: ContainerStatus[];
}

interface PodSpecView {
  containers?: unknown[];
  initContainers?: { name?: string; restartPolicy?: string }[];
  nodeName?: string;
  readinessGates?: { conditionType?: string }[];
}

// The reason the node lifecycle controller sets on pods of an unreachable node.
const NODE_UNREACHABLE_POD_REASON = 'NodeLost';

function later(a: string | undefined, b: string | undefined): string | undefined {
  if (!b) return a;
  if (!a) return b;
  return Date.parse(b) > Date.parse(a) ? b : a;
}

function podRow(pod: Pod, opts: TableOptions): { cells: string[]; wide: string[] } {
  const spec = (pod.spec ?? {}) as PodSpecView;
  const status = (pod.status ?? {}) as PodStatusView;
  let restarts = 0;
  let restartableInitRestarts = 0;
  let totalContainers = spec.containers?.length ?? 0;
  let readyContainers = 0;
  let lastRestart: string | undefined;
  let lastRestartableInitRestart: string | undefined;

  let reason = status.reason || status.phase || '';
  for (const c of status.conditions ?? [])
    if (c.type === 'PodScheduled' && c.reason === 'SchedulingGated') reason = 'SchedulingGated';

  const restartable = new Set<string>();
  for (const ic of spec.initContainers ?? []) {
    if (ic.restartPolicy === 'Always') {
      restartable.add(ic.name ?? '');
      totalContainers++;
    }
  }

  let initializing = false;
  const initStatuses = status.initContainerStatuses ?? [];
  for (let i = 0; i < initStatuses.length; i++) {
    const c = initStatuses[i] as ContainerStatus;
    const isRestartable = restartable.has(c.name ?? '');
    restarts += c.restartCount ?? 0;
    lastRestart = later(lastRestart, c.lastState?.terminated?.finishedAt);
    if (isRestartable) {
      restartableInitRestarts += c.restartCount ?? 0;
      lastRestartableInitRestart = later(lastRestartableInitRestart, c.lastState?.terminated?.finishedAt);
    }
    const terminated = c.state?.terminated;
    const waiting = c.state?.waiting;
    if (terminated && (terminated.exitCode ?? 0) === 0) continue;
    if (isRestartable && c.started === true) {
      if (c.ready) readyContainers++;
      continue;
    }
    if (terminated) {
      if (!terminated.reason) {
        reason = terminated.signal
          ? `Init:Signal:${terminated.signal}`
          : `Init:ExitCode:${terminated.exitCode ?? 0}`;
      } else {
        reason = `Init:${terminated.reason}`;
      }
    } else if (waiting?.reason && waiting.reason !== 'PodInitializing') {
      reason = `Init:${waiting.reason}`;
    } else {
      reason = `Init:${i}/${spec.initContainers?.length ?? 0}`;
    }
    initializing = true;
    break;
  }

  const initialized = (status.conditions ?? []).some((c) => c.type === 'Initialized' && c.status === 'True');
  if (!initializing || initialized) {
    restarts = restartableInitRestarts;
    lastRestart = lastRestartableInitRestart;
    let hasRunning = false;
    const statuses = status.containerStatuses ?? [];
    for (let i = statuses.length - 1; i >= 0; i--) {
      const c = statuses[i] as ContainerStatus;
      restarts += c.restartCount ?? 0;
      lastRestart = later(lastRestart, c.lastState?.terminated?.finishedAt);
      const waiting = c.state?.waiting;
      const terminated = c.state?.terminated;
      if (waiting?.reason) reason = waiting.reason;
      else if (terminated?.reason) reason = terminated.reason;
      else if (terminated)
        reason = terminated.signal ? `Signal:${terminated.signal}` : `ExitCode:${terminated.exitCode ?? 0}`;
      else if (c.ready && c.state?.running !== undefined) {
        hasRunning = true;
        readyContainers++;
      }
    }
    if (reason === 'Completed' && hasRunning) {
      const ready = (status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
      reason = ready ? 'Running' : 'NotReady';
    }
  }

  const terminal = status.phase === 'Succeeded' || status.phase === 'Failed';
  if (pod.metadata.deletionTimestamp && status.reason === NODE_UNREACHABLE_POD_REASON) reason = 'Unknown';
  else if (pod.metadata.deletionTimestamp && !terminal) reason = 'Terminating';

  let restartsText = String(restarts);
  if (restarts !== 0 && lastRestart)
    restartsText = `${restarts} (${translateTimestampSince(lastRestart, opts.now)} ago)`;

  const cells = [
    pod.metadata.name ?? '',
    `${readyContainers}/${totalContainers}`,
    reason,
    restartsText,
    translateTimestampSince(pod.metadata.creationTimestamp, opts.now),
  ];

  let readinessGates = NONE;
  const gates = spec.readinessGates ?? [];
  if (gates.length > 0) {
    let trueConditions = 0;
    for (const g of gates) {
      const c = (status.conditions ?? []).find((x) => x.type === g.conditionType);
      if (c?.status === 'True') trueConditions++;
    }
    readinessGates = `${trueConditions}/${gates.length}`;
  }
  const wide = [
    // The printer reads the internal podIPs, which conversion from v1 fills with podIP whenever
    // podIP is set (podIP wins when the two disagree).
    status.podIP || status.podIPs?.[0]?.ip || NONE,
    spec.nodeName || NONE,
    status.nominatedNodeName || NONE,
    readinessGates,
  ];
  return { cells, wide };
}
