/**
 * Proxy counters per service port and per endpoint, and their rendering in the Prometheus text
 * exposition format (version 0.0.4), written by hand to need no client library.
 *
 * Counters are plain mutable fields: the data path bumps them without lookups (each connection
 * holds its port's and endpoint's stats objects).
 *
 * @module
 */

/** Counters of one service port, or of one endpoint of it. */
export interface TrafficStats {
  /** Connections (TCP) or sessions (UDP) open now. */
  active: number;
  /** Connections or sessions accepted (port) / established (endpoint) since start. */
  total: number;
  /** Bytes client → endpoint. */
  bytesToEndpoint: number;
  /** Bytes endpoint → client. */
  bytesToClient: number;
  /** Connections that failed: connect exhausted, socket errors, no endpoints. */
  errors: number;
  /** Connect attempts that failed and were retried on another endpoint. */
  retries: number;
}

/** Stats of a service port with its endpoints. */
export interface PortStats extends TrafficStats {
  /** `ns/name:port`. */
  readonly key: string;
  readonly namespace: string;
  readonly service: string;
  readonly port: string;
  readonly protocol: string;
  readonly endpoints: Map<string, TrafficStats>;
}

function zero(): TrafficStats {
  return { active: 0, total: 0, bytesToEndpoint: 0, bytesToClient: 0, errors: 0, retries: 0 };
}

/** All counters of one proxy. Stats of removed ports are kept until {@link ProxyMetrics.prune}. */
export class ProxyMetrics {
  private readonly ports = new Map<string, PortStats>();
  private collector: (() => void) | undefined;

  /**
   * Sets a function that brings counters kept elsewhere (the native relay engine's) into these
   * stats; it runs before every read ({@link get}, {@link all}, {@link prune}), so readers
   * always see current numbers while the data path never calls into JavaScript to count.
   */
  setCollector(collector: (() => void) | undefined): void {
    this.collector = collector;
  }

  /** The stats of a service port, created on first use. */
  port(key: string, namespace: string, service: string, port: string, protocol: string): PortStats {
    let s = this.ports.get(key);
    if (s === undefined) {
      s = { key, namespace, service, port, protocol, endpoints: new Map(), ...zero() };
      this.ports.set(key, s);
    }
    return s;
  }

  /** The stats of one endpoint of a port, created on first use. */
  endpoint(port: PortStats, endpointKey: string): TrafficStats {
    let s = port.endpoints.get(endpointKey);
    if (s === undefined) {
      s = zero();
      port.endpoints.set(endpointKey, s);
    }
    return s;
  }

  /** Every port's stats. */
  all(): IterableIterator<PortStats> {
    this.collector?.();
    return this.ports.values();
  }

  /** Stats of `key`, when known. */
  get(key: string): PortStats | undefined {
    this.collector?.();
    return this.ports.get(key);
  }

  /** Drops idle stats of ports not in `keep` (so deleted services do not accumulate forever). */
  prune(keep: ReadonlySet<string>): void {
    this.collector?.();
    for (const [k, s] of this.ports) if (!keep.has(k) && s.active === 0) this.ports.delete(k);
  }
}

/** Metric name prefix. */
export const METRIC_PREFIX = 'svcroute_proxy';

interface MetricDef {
  readonly name: string;
  readonly type: 'counter' | 'gauge';
  readonly help: string;
  readonly field: keyof TrafficStats;
}

const METRICS: readonly MetricDef[] = [
  {
    name: 'connections_active',
    type: 'gauge',
    help: 'Connections or UDP sessions open now.',
    field: 'active',
  },
  {
    name: 'connections_total',
    type: 'counter',
    help: 'Connections or UDP sessions handled.',
    field: 'total',
  },
  {
    name: 'bytes_to_endpoint_total',
    type: 'counter',
    help: 'Bytes forwarded from clients to endpoints.',
    field: 'bytesToEndpoint',
  },
  {
    name: 'bytes_to_client_total',
    type: 'counter',
    help: 'Bytes forwarded from endpoints to clients.',
    field: 'bytesToClient',
  },
  { name: 'errors_total', type: 'counter', help: 'Connections that failed.', field: 'errors' },
  {
    name: 'retries_total',
    type: 'counter',
    help: 'Connect attempts retried on another endpoint.',
    field: 'retries',
  },
];

/** Escapes a label value as the text format requires (backslash, double quote, newline). */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/**
 * Renders `metrics` in the Prometheus text format: per service port
 * `svcroute_proxy_<metric>{namespace,service,port,protocol}` and per endpoint
 * `svcroute_proxy_endpoint_<metric>{…,endpoint}`. Serve it with content type
 * `text/plain; version=0.0.4`.
 */
export function renderPrometheus(metrics: ProxyMetrics): string {
  const lines: string[] = [];
  const ports = [...metrics.all()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const scope of ['', 'endpoint_'] as const) {
    for (const m of METRICS) {
      const name = `${METRIC_PREFIX}_${scope}${m.name}`;
      lines.push(`# HELP ${name} ${scope ? 'Per endpoint: ' : 'Per service port: '}${m.help}`);
      lines.push(`# TYPE ${name} ${m.type}`);
      for (const p of ports) {
        const base = `namespace="${escapeLabelValue(p.namespace)}",service="${escapeLabelValue(p.service)}",port="${escapeLabelValue(p.port)}",protocol="${p.protocol}"`;
        if (scope === '') {
          lines.push(`${name}{${base}} ${p[m.field]}`);
        } else {
          const eps = [...p.endpoints.keys()].sort();
          for (const e of eps) {
            const s = p.endpoints.get(e) as TrafficStats;
            lines.push(`${name}{${base},endpoint="${escapeLabelValue(e)}"} ${s[m.field]}`);
          }
        }
      }
    }
  }
  return `${lines.join('\n')}\n`;
}
