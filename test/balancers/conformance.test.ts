import { describe, expect, it } from 'vitest';
import type { Balancer } from '../../src/balancers/balancer';
import { LeastRequestBalancer } from '../../src/balancers/least-request';
import { MaglevBalancer } from '../../src/balancers/maglev';
import { PeakEwmaBalancer } from '../../src/balancers/peak-ewma';
import { RandomBalancer } from '../../src/balancers/random';
import { createBuiltinBalancerRegistry } from '../../src/balancers/registry';
import { RingHashBalancer } from '../../src/balancers/ring-hash';
import { RoundRobinBalancer } from '../../src/balancers/round-robin';
import { WeightedRoundRobinBalancer } from '../../src/balancers/weighted-round-robin';
import { OutlierDetectionBalancer } from '../../src/balancers/wrappers/outlier-detection';
import { SessionAffinityBalancer } from '../../src/balancers/wrappers/session-affinity';
import {
  type BalancerConformanceOptions,
  runBalancerConformance,
} from '../../src/testing/balancer-conformance';

const t = { describe, it, expect };
const hashed: Pick<BalancerConformanceOptions, 'context'> = {
  context: (_i, rng) => ({ hashKey: `request-${rng.int(2 ** 32)}-${rng.int(2 ** 32)}` }),
};

const suites: BalancerConformanceOptions[] = [
  { name: 'random', create: (d) => new RandomBalancer({}, d) },
  { name: 'round_robin', create: (d) => new RoundRobinBalancer({}, d) },
  {
    name: 'round_robin (shuffle, kube-proxy userspace)',
    create: (d) => new RoundRobinBalancer({ shuffle: true }, d),
  },
  { name: 'weighted_round_robin', create: (d) => new WeightedRoundRobinBalancer({}, d), weighted: true },
  {
    name: 'weighted_round_robin (load reports, none yet)',
    create: (d) => new WeightedRoundRobinBalancer({ weightSource: 'load_report' }, d),
  },
  { name: 'least_request', create: (d) => new LeastRequestBalancer({}, d), weighted: true },
  {
    name: 'least_request (explicit bias)',
    create: (d) => new LeastRequestBalancer({ activeRequestBias: 0.5 }, d),
    weighted: true,
  },
  { name: 'peak_ewma', create: (d) => new PeakEwmaBalancer({}, d) },
  { name: 'maglev', create: (d) => new MaglevBalancer({}, d), weighted: true, ...hashed },
  { name: 'maglev (no hash: random)', create: (d) => new MaglevBalancer({ tableSize: 251 }, d) },
  {
    name: 'ring_hash',
    create: (d) => new RingHashBalancer({}, d),
    weighted: true,
    // A 1024-point ring gives each of 10 hosts ~102 arcs: shares vary by design (Envoy's
    // min/max_hashes_per_host stats exist for this), so only a coarse tolerance holds.
    distribution: { maxRelativeError: 0.35 },
    ...hashed,
  },
  {
    name: 'session_affinity(round_robin), no client IP',
    create: (d) => new SessionAffinityBalancer(new RoundRobinBalancer({}, d), {}, { clock: d.clock }),
  },
  {
    name: 'session_affinity(random), one client per pick',
    create: (d) => new SessionAffinityBalancer(new RandomBalancer({}, d), {}, { clock: d.clock }),
    context: (i) => ({ clientIP: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` }),
  },
  {
    name: 'outlier_detection(least_request)',
    create: (d) => new OutlierDetectionBalancer(new LeastRequestBalancer({}, d), {}, { clock: d.clock }),
    weighted: true,
  },
  {
    name: 'registry: outlier_detection(session_affinity(maglev))',
    create: (d): Balancer =>
      createBuiltinBalancerRegistry().create(
        {
          outlier_detection: {
            childPolicy: { session_affinity: { childPolicy: { maglev: { tableSize: 4099 } } } },
          },
        },
        d,
      ),
    ...hashed,
  },
];

for (const s of suites) runBalancerConformance(s, t);
