/**
 * ClientIP session affinity with the semantics kube-proxy gets from the iptables `recent` match.
 *
 * kube-proxy gives every endpoint its own recent list. The service chain tries, for each
 * eligible endpoint in order, `--rcheck --seconds T --reap` on that endpoint's list (a hit jumps
 * to the endpoint), and every endpoint chain ends with `--set`, which stamps the client's source
 * address with the current time. Consequences this table reproduces:
 * - stickiness is measured from the client's LAST new connection: a client coming back within
 *   T seconds keeps its endpoint forever, and one idle for more than T starts afresh;
 * - a stamp exactly T seconds old still matches (the kernel skips a stamp only when it is
 *   strictly older than `now - T`);
 * - affinity only ever picks among the endpoints eligible now: when the sticky endpoint is gone,
 *   not ready, or filtered out by policy, the client is balanced normally and sticks to the
 *   new endpoint; the old endpoint's stamps last only while it stays reachable from the node
 *   (see {@link ClientIPAffinity.retainEndpoints});
 * - the lists belong to the endpoint chains of one service port, shared by its Cluster and
 *   Local paths (both jump to the same endpoint chains), never by two ports;
 * - when several endpoints hold a fresh stamp for the client, the first eligible one wins.
 *
 * @module
 */
import { type Clock, systemClock } from '../core/clock';
import { DEFAULT_CLIENT_IP_AFFINITY_TIMEOUT_S, MAX_CLIENT_IP_AFFINITY_TIMEOUT_S } from '../core/defaults';
import { canonicalIP } from '../net/ip';

/**
 * Default `sessionAffinityConfig.clientIP.timeoutSeconds`: 10800 s (3 hours), the API server's
 * default (`DefaultClientIPServiceAffinitySeconds` in the core API).
 */
export const DEFAULT_AFFINITY_TIMEOUT_S: number = DEFAULT_CLIENT_IP_AFFINITY_TIMEOUT_S;

/**
 * Largest accepted `timeoutSeconds`: 86400 s (1 day). The API server rejects larger values
 * (`MaxClientIPServiceAffinitySeconds`); the lower bound is 1 (it must be positive).
 */
export const MAX_AFFINITY_TIMEOUT_S: number = MAX_CLIENT_IP_AFFINITY_TIMEOUT_S;

/**
 * Default cap on remembered clients. The kernel's `recent` tables keep 100 addresses per list
 * (`ip_list_tot`); an in-process table serves many more clients, so svcroute keeps a larger,
 * still bounded number and evicts the least recently seen client beyond it.
 */
export const DEFAULT_AFFINITY_MAX_CLIENTS = 65536;

/** Expired clients removed opportunistically per call, so idle entries do not pile up. */
const REAP_PER_CALL = 2;

/** Anything with a stable identity; svcroute's `Endpoint` qualifies (its `ip:port` key). */
export interface Keyed {
  readonly key: string;
}

/** Options of {@link ClientIPAffinity}. */
export interface ClientIPAffinityOptions {
  /** Idle timeout in seconds, 1..{@link MAX_AFFINITY_TIMEOUT_S}. Default {@link DEFAULT_AFFINITY_TIMEOUT_S}. */
  readonly timeoutSeconds?: number;
  /** Time source. Default: the system clock. */
  readonly clock?: Clock;
  /** Most clients remembered at once. Default {@link DEFAULT_AFFINITY_MAX_CLIENTS}. */
  readonly maxClients?: number;
}

/** Per client: endpoint key → time (ms, clock scale) of the last connection sent there. */
interface ClientStamps {
  readonly stamps: Map<string, number>;
  last: number;
}

/**
 * Validates a ClientIP affinity timeout like the API server does: an integer in
 * 1..{@link MAX_AFFINITY_TIMEOUT_S}. Returns an error message, or `undefined` when valid.
 */
export function checkAffinityTimeout(timeoutSeconds: number): string | undefined {
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds <= 0 || timeoutSeconds > MAX_AFFINITY_TIMEOUT_S) {
    return `must be greater than 0 and less than ${MAX_AFFINITY_TIMEOUT_S}`;
  }
  return undefined;
}

/**
 * Canonical form of a client address, so one client is one entry: IPv4-mapped IPv6
 * (`::ffff:10.0.0.1`, what dual-stack sockets report for IPv4 peers) becomes plain IPv4, and
 * IPv6 is written in its canonical form (`2001:DB8:0::1` → `2001:db8::1`). The kernel keys
 * entries by the packet's source address, which for an IPv4 client is always the IPv4 form.
 * Strings that are not addresses are kept as given.
 */
export function normalizeClientIP(ip: string): string {
  if (!ip.includes(':')) return ip;
  const lower = ip.toLowerCase();
  if (lower.startsWith('::ffff:') && lower.includes('.')) return lower.slice(7);
  return canonicalIP(lower) ?? lower;
}

/**
 * A ClientIP affinity table for one service port (kube-proxy keeps one recent list per endpoint
 * of a service port, so tables are never shared between ports).
 *
 * Use: `lookup` before balancing; when it returns `undefined`, pick an endpoint by the normal
 * policy; then `record` the endpoint actually used (every new connection, sticky or not, as
 * the `--set` in each endpoint chain does). {@link ClientIPAffinity.route} does all three.
 * Memory is bounded: expired entries are reaped lazily and at most `maxClients` are kept.
 */
export class ClientIPAffinity {
  /** The idle timeout, in seconds. */
  readonly timeoutSeconds: number;
  /** The client cap. */
  readonly maxClients: number;
  private readonly timeoutMs: number;
  private readonly clock: Clock;
  // Insertion order is least-recently-seen first: `record` re-inserts the client.
  private readonly clients = new Map<string, ClientStamps>();

  /** @throws RangeError when `timeoutSeconds` or `maxClients` is out of range. */
  constructor(options: ClientIPAffinityOptions = {}) {
    const timeoutSeconds = options.timeoutSeconds ?? DEFAULT_AFFINITY_TIMEOUT_S;
    const problem = checkAffinityTimeout(timeoutSeconds);
    if (problem !== undefined)
      throw new RangeError(`timeoutSeconds: Invalid value: ${timeoutSeconds}: ${problem}`);
    const maxClients = options.maxClients ?? DEFAULT_AFFINITY_MAX_CLIENTS;
    if (!Number.isInteger(maxClients) || maxClients < 1) {
      throw new RangeError(`maxClients must be a positive integer, got ${maxClients}`);
    }
    this.timeoutSeconds = timeoutSeconds;
    this.timeoutMs = timeoutSeconds * 1000;
    this.maxClients = maxClients;
    this.clock = options.clock ?? systemClock;
  }

  /** Number of clients currently remembered (expired ones included until reaped). */
  get size(): number {
    return this.clients.size;
  }

  /**
   * The endpoint `clientIP` sticks to: the first of `eligible` (in its order) whose stamp for
   * this client is at most `timeoutSeconds` old; `undefined` when there is none. Does not
   * refresh the stamp (only {@link ClientIPAffinity.record} does).
   */
  lookup<E extends Keyed>(clientIP: string, eligible: readonly E[]): E | undefined {
    const now = this.clock.now();
    this.reap(now);
    const ip = normalizeClientIP(clientIP);
    const entry = this.clients.get(ip);
    if (entry === undefined) return undefined;
    if (this.expired(entry.last, now)) {
      this.clients.delete(ip);
      return undefined;
    }
    for (const ep of eligible) {
      const stamp = entry.stamps.get(ep.key);
      if (stamp !== undefined && !this.expired(stamp, now)) return ep;
    }
    return undefined;
  }

  /** Stamps `clientIP` → `endpoint` with the current time (a new connection was sent there). */
  record(clientIP: string, endpoint: Keyed): void {
    const now = this.clock.now();
    const ip = normalizeClientIP(clientIP);
    let entry = this.clients.get(ip);
    if (entry === undefined) {
      entry = { stamps: new Map(), last: now };
    } else {
      this.clients.delete(ip);
      for (const [key, stamp] of entry.stamps) if (this.expired(stamp, now)) entry.stamps.delete(key);
      entry.last = now;
    }
    entry.stamps.set(endpoint.key, now);
    this.clients.set(ip, entry);
    this.reap(now);
    while (this.clients.size > this.maxClients) {
      const oldest = this.clients.keys().next();
      if (oldest.done === true) break;
      this.clients.delete(oldest.value);
    }
  }

  /**
   * Sticky endpoint if any, otherwise `choose(eligible)`; the endpoint used is recorded.
   * Returns `undefined` (and records nothing) when `choose` finds none.
   */
  route<E extends Keyed>(
    clientIP: string,
    eligible: readonly E[],
    choose: (eligible: readonly E[]) => E | undefined,
  ): E | undefined {
    const chosen = this.lookup(clientIP, eligible) ?? choose(eligible);
    if (chosen !== undefined) this.record(clientIP, chosen);
    return chosen;
  }

  /**
   * Forgets every stamp for endpoints not in `keys`. kube-proxy writes endpoint chains only for
   * the endpoints reachable from the node (its `allReachableEndpoints`); when one drops out
   * (removed, no longer ready, or filtered out by policy or topology) its chain and the rules
   * naming its `recent` list go, and the kernel frees the list with the last rule using it. A
   * returning endpoint therefore starts without clients: call this with the keys of the
   * reachable endpoints on each update.
   */
  retainEndpoints(keys: ReadonlySet<string>): void {
    for (const [ip, entry] of this.clients) {
      for (const key of entry.stamps.keys()) if (!keys.has(key)) entry.stamps.delete(key);
      if (entry.stamps.size === 0) this.clients.delete(ip);
    }
  }

  /** Forgets everything. */
  clear(): void {
    this.clients.clear();
  }

  private expired(stamp: number, now: number): boolean {
    return now - stamp > this.timeoutMs;
  }

  // The least recently seen clients sit first; drop a few expired ones per call, like the
  // kernel's --reap which inspects the head of its LRU list.
  private reap(now: number): void {
    let budget = REAP_PER_CALL;
    for (const [ip, entry] of this.clients) {
      if (budget-- === 0 || !this.expired(entry.last, now)) return;
      this.clients.delete(ip);
    }
  }
}
