/**
 * The service environment variables kubelet injects into containers (its `envvars.FromServices`
 * and `getServiceEnvVarMap`), as a pure function of the services a pod can see.
 */
import type { Service } from '../../core/types';

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

/** One environment variable. */
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

/**
 * The service's primary cluster IP, `spec.clusterIP`. When that field is absent (a manifest
 * written by hand, not yet through the API server) the first of `spec.clusterIPs` stands in, as
 * the API server's defaulting would copy it.
 */
function primaryClusterIP(svc: Service): string {
  return svc.spec?.clusterIP ?? svc.spec?.clusterIPs?.[0] ?? '';
}

/** kubelet's `IsServiceIPSet`: a cluster IP that is neither empty nor `None`. */
export function isServiceIPSet(svc: Service): boolean {
  const ip = primaryClusterIP(svc);
  return ip !== '' && ip !== 'None';
}

/**
 * kubelet's name transform (`makeEnvVariableName`): upper case, `-` → `_`. Nothing else changes:
 * service names are DNS-1035 labels and port names IANA service names, so neither holds a dot or
 * starts with a digit (very old kubelets also mapped `.` and prefixed a leading digit with `_`;
 * current ones do not).
 */
export function envVarName(name: string): string {
  return name.replaceAll('-', '_').toUpperCase();
}

/** `host:port`, with IPv6 hosts bracketed (Go's `net.JoinHostPort`: any host holding a colon). */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The variables of one service in kubelet's order: `_SERVICE_HOST`, `_SERVICE_PORT` (first port),
 * one `_SERVICE_PORT_<NAME>` per named port in spec order, then the Docker-link `_PORT` (first
 * port) and per port `_PORT_<port>_<PROTO>` with `_PROTO`, `_PORT`, `_ADDR`. The protocol
 * defaults to TCP; it is lower case in values and upper case in names. Services without a
 * cluster IP (headless, ExternalName) or without ports yield nothing.
 */
export function serviceEnvVars(svc: Service): ServiceEnvVar[] {
  const ports = svc.spec?.ports ?? [];
  const first = ports[0];
  if (!isServiceIPSet(svc) || !first) return [];
  const ip = primaryClusterIP(svc);
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
 * kubelet's `envvars.FromServices`: the variables of every service, in the order given, each
 * service's in {@link serviceEnvVars} order; services without a cluster IP are skipped. Names
 * are not deduplicated (kubelet does that afterwards, when it builds its map).
 */
export function fromServices(services: Iterable<Service>): ServiceEnvVar[] {
  const out: ServiceEnvVar[] = [];
  for (const svc of services) out.push(...serviceEnvVars(svc));
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

/** `NAME=value` lines, one per variable. */
export function formatEnv(vars: readonly ServiceEnvVar[]): string {
  return vars.map((v) => `${v.name}=${v.value}\n`).join('');
}

/** The oversized-environment warning, if `vars` from `serviceCount` services warrant one. */
export function sizeWarnings(vars: readonly ServiceEnvVar[], serviceCount: number): string[] {
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
