/**
 * The consumer side of service links: reading the variables kubelet injected (`process.env`)
 * back into typed service addresses.
 */
import { isIP } from 'node:net';
import type { Protocol } from '../../core/types';
import { envVarName } from './render';

/** One port of a discovered service. */
export interface DiscoveredPort {
  readonly port: number;
  readonly protocol: Protocol;
  /** The port's name as found (`_SERVICE_PORT_<NAME>` lowercased, `_` → `-`); '' when unnamed. */
  readonly name: string;
}

/** A service as its environment variables describe it. */
export interface DiscoveredService {
  /** The variable prefix (`REDIS_MASTER`). */
  readonly prefix: string;
  /** `_SERVICE_HOST`: the cluster IP. */
  readonly host: string;
  /** `_SERVICE_PORT`: the first port. */
  readonly port: number;
  /** The first port's protocol (from `_PORT`, TCP when absent). */
  readonly protocol: Protocol;
  /** Named ports by name (`ports.get('redis')`). */
  readonly ports: ReadonlyMap<string, DiscoveredPort>;
  /** Every port found in the Docker-link variables, first port first. */
  readonly allPorts: readonly DiscoveredPort[];
}

/** A malformed variable, naming it and its value. */
export class EnvDiscoveryError extends Error {
  constructor(
    readonly variable: string,
    readonly value: string | undefined,
    reason: string,
  ) {
    super(`${variable}=${JSON.stringify(value ?? '')}: ${reason}`);
    this.name = 'EnvDiscoveryError';
  }
}

/** The services found in an environment. */
export class DiscoveredServices {
  constructor(
    private readonly services: ReadonlyMap<string, DiscoveredService>,
    private readonly problems: ReadonlyMap<string, EnvDiscoveryError>,
  ) {}

  /**
   * The service called `name` (`redis-master` or the prefix `REDIS_MASTER`); undefined when its
   * variables are absent. Throws {@link EnvDiscoveryError} when they are present but malformed.
   */
  get(name: string): DiscoveredService | undefined {
    const prefix = envVarName(name);
    const problem = this.problems.get(prefix);
    if (problem) throw problem;
    return this.services.get(prefix);
  }

  /** Whether a well-formed service of that name is present. */
  has(name: string): boolean {
    return this.services.has(envVarName(name));
  }

  /** Prefixes of every well-formed service. */
  names(): string[] {
    return [...this.services.keys()].sort();
  }

  /** Every malformed service's error. */
  get errors(): readonly EnvDiscoveryError[] {
    return [...this.problems.values()];
  }
}

const PROTOCOLS: ReadonlySet<string> = new Set(['TCP', 'UDP', 'SCTP']);

/**
 * Parses service-link variables (`<PREFIX>_SERVICE_HOST` and friends) from an environment,
 * `process.env` by default. Each service is validated on its own: a malformed one is reported
 * by {@link DiscoveredServices.get} and {@link DiscoveredServices.errors} without hiding the others.
 */
export function discoverFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
): DiscoveredServices {
  const services = new Map<string, DiscoveredService>();
  const problems = new Map<string, EnvDiscoveryError>();
  const prefixes: string[] = [];
  for (const key of Object.keys(env)) {
    const m = /^(.+)_SERVICE_HOST$/.exec(key);
    if (m?.[1]) prefixes.push(m[1]);
  }
  for (const prefix of prefixes) {
    // A service called `<svc>-service-port-<x>` writes variables that look like named ports of
    // `<svc>`; they belong to the longer prefix.
    const others = prefixes.filter((p) => p !== prefix && p.startsWith(`${prefix}_`));
    try {
      services.set(prefix, parseService(prefix, env, others));
    } catch (err) {
      if (err instanceof EnvDiscoveryError) problems.set(prefix, err);
      else throw err;
    }
  }
  return new DiscoveredServices(services, problems);
}

function parseService(
  prefix: string,
  env: Readonly<Record<string, string | undefined>>,
  longerPrefixes: readonly string[],
): DiscoveredService {
  const ownedByOther = (key: string) => longerPrefixes.some((p) => key.startsWith(`${p}_`));
  const hostVar = `${prefix}_SERVICE_HOST`;
  const host = env[hostVar];
  if (!host || isIP(host) === 0) throw new EnvDiscoveryError(hostVar, host, 'not an IP address');
  const portVar = `${prefix}_SERVICE_PORT`;
  const port = parsePort(portVar, env[portVar]);
  // Docker-link variables give each port's protocol: <PREFIX>_PORT_<port>_<PROTO>.
  const linkPorts: DiscoveredPort[] = [];
  const linkRe = new RegExp(`^${escapeRegExp(prefix)}_PORT_(\\d+)_([A-Z]+)$`);
  for (const [key, value] of Object.entries(env)) {
    const lm = linkRe.exec(key);
    if (!lm?.[1] || !lm[2] || ownedByOther(key)) continue;
    const proto = lm[2];
    if (!PROTOCOLS.has(proto)) throw new EnvDiscoveryError(key, value, `unknown protocol ${proto}`);
    const p = parsePort(key, lm[1]);
    const expected = `${proto.toLowerCase()}://${host.includes(':') ? `[${host}]` : host}:${p}`;
    if (value !== expected) throw new EnvDiscoveryError(key, value, `expected ${expected}`);
    linkPorts.push({ port: p, protocol: proto as Protocol, name: '' });
  }
  const firstVar = `${prefix}_PORT`;
  const first = env[firstVar];
  let protocol: Protocol = 'TCP';
  if (first !== undefined) {
    const fm = /^(tcp|udp|sctp):\/\/(\[[^\]]+\]|[^:]+):(\d+)$/.exec(first);
    if (!fm?.[1] || !fm[2] || !fm[3])
      throw new EnvDiscoveryError(firstVar, first, 'expected proto://host:port');
    const h = fm[2].replace(/^\[|\]$/g, '');
    if (h !== host) throw new EnvDiscoveryError(firstVar, first, `host differs from ${hostVar}=${host}`);
    if (Number(fm[3]) !== port)
      throw new EnvDiscoveryError(firstVar, first, `port differs from ${portVar}=${port}`);
    protocol = fm[1].toUpperCase() as Protocol;
  }
  const ports = new Map<string, DiscoveredPort>();
  const namedPrefix = `${portVar}_`;
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith(namedPrefix) || ownedByOther(key)) continue;
    const name = key.slice(namedPrefix.length).toLowerCase().replaceAll('_', '-');
    const p = parsePort(key, value);
    const link = linkPorts.find((lp) => lp.port === p);
    ports.set(name, { port: p, protocol: link?.protocol ?? 'TCP', name });
  }
  const allPorts = linkPorts
    .map((lp) => ({
      ...lp,
      name: [...ports.values()].find((np) => np.port === lp.port && np.protocol === lp.protocol)?.name ?? '',
    }))
    .sort((a, b) =>
      a.port === port && a.protocol === protocol ? -1 : b.port === port && b.protocol === protocol ? 1 : 0,
    );
  return { prefix, host, port, protocol, ports, allPorts };
}

function parsePort(variable: string, value: string | undefined): number {
  if (value === undefined) throw new EnvDiscoveryError(variable, value, 'missing');
  if (!/^\d{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 65535) {
    throw new EnvDiscoveryError(variable, value, 'not a port number (1-65535)');
  }
  return Number(value);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
