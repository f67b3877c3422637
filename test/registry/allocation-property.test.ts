import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isStatusError } from '../../src/core/errors';
import { SeededRng } from '../../src/core/random';
import type { Service, ServicePort, ServiceSpec, ServiceType } from '../../src/core/types';
import { MemoryStore, Registry, type Reservation, type Store, type StoreOp } from '../../src/registry';
import { FakeClock } from '../../src/testing/fake-clock';
import { svc } from './helpers';

// A /29 has six usable addresses and the node port range six ports: small enough that random
// sequences run into exhaustion, conflicts and refusals all the time.
const CIDR = '10.96.0.0/29';
const NODE_PORTS = '30000-30005';
const CAPACITY = 6;

type Flaw = 'none' | 'port-name' | 'selector';

interface Shape {
  readonly type: ServiceType;
  /** A requested cluster IP: in range, out of range, headless, or none. */
  readonly clusterIP: string | undefined;
  /** A requested node port: in range, out of range, or none. */
  readonly nodePort: number | undefined;
  readonly local: boolean;
  readonly flaw: Flaw;
}

type Cmd =
  | {
      readonly op: 'create' | 'apply' | 'update';
      readonly name: number;
      readonly shape: Shape;
      /** The store fails this write's commit (an unreachable etcd, a timeout). */
      readonly storeFails: boolean;
    }
  | { readonly op: 'delete'; readonly name: number; readonly storeFails: boolean };

const shape: fc.Arbitrary<Shape> = fc.record({
  type: fc.constantFrom<ServiceType>('ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'),
  clusterIP: fc.option(fc.constantFrom('10.96.0.2', '10.96.0.5', '10.0.0.1', 'None'), { nil: undefined }),
  nodePort: fc.option(fc.constantFrom(30001, 30004, 80), { nil: undefined }),
  local: fc.boolean(),
  flaw: fc.constantFrom<Flaw>('none', 'none', 'port-name', 'selector'),
});

const storeFails = fc.constantFrom(false, true);
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({
    op: fc.constantFrom('create' as const, 'apply' as const, 'update' as const),
    name: fc.nat(4),
    shape,
    storeFails,
  }),
  fc.record({ op: fc.constant('delete' as const), name: fc.nat(4), storeFails }),
);

const STORE_DOWN = 'store unavailable';

/** A memory store whose next commit touching a Service fails when armed. */
class FailingStore implements Store {
  readonly name = 'failing';
  armed = false;
  constructor(private readonly inner: MemoryStore) {}
  get: Store['get'] = (k) => this.inner.get(k);
  list: Store['list'] = (p) => this.inner.list(p);
  watch: Store['watch'] = (p, after, h) => this.inner.watch(p, after, h);
  revision: Store['revision'] = () => this.inner.revision();
  close: Store['close'] = () => this.inner.close();
  async commit(ops: readonly StoreOp[]): Promise<number> {
    if (this.armed && ops.some((op) => op.key.includes('/services/specs/'))) {
      this.armed = false;
      throw new Error(STORE_DOWN);
    }
    return this.inner.commit(ops);
  }
}

function specOf(s: Shape): ServiceSpec {
  if (s.type === 'ExternalName') return { type: 'ExternalName', externalName: 'example.com' };
  const port: ServicePort = {
    name: s.flaw === 'port-name' ? 'HTTP_1' : 'http',
    port: 80,
    ...(s.nodePort !== undefined && s.type !== 'ClusterIP' ? { nodePort: s.nodePort } : {}),
  };
  return {
    type: s.type,
    selector: s.flaw === 'selector' ? { 'bad key!': 'x' } : { app: 'web' },
    ports: [port],
    ...(s.clusterIP !== undefined ? { clusterIP: s.clusterIP } : {}),
    ...(s.local && s.type === 'LoadBalancer' ? { externalTrafficPolicy: 'Local' as const } : {}),
  };
}

async function run(r: Registry, c: Cmd, store?: FailingStore): Promise<void> {
  const name = `s${c.name}`;
  if (store) store.armed = c.storeFails;
  try {
    if (c.op === 'delete') await r.delete('Service', 'default', name);
    else if (c.op === 'create') await r.create(svc(name, specOf(c.shape)));
    else if (c.op === 'apply') await r.apply(svc(name, specOf(c.shape)));
    else {
      // A client that read the object and changed its spec (allocated values kept unless replaced).
      const cur = await r.get('Service', 'default', name);
      const next: Service = cur
        ? { ...cur, metadata: { name }, spec: { ...cur.spec, ...specOf(c.shape) } }
        : svc(name, specOf(c.shape));
      await r.update(next);
    }
  } catch (e) {
    // Refusals are part of the game, and so is the failing store; anything else (a crash, a store
    // conflict leaking out) is not.
    if (store && e instanceof Error && e.message === STORE_DOWN) return;
    if (!isStatusError(e) || !['Invalid', 'NotFound', 'AlreadyExists', 'InternalError'].includes(e.reason))
      throw e;
  } finally {
    if (store) store.armed = false;
  }
}

/** `type/value` of every cluster IP and node port a service holds. */
function heldBy(s: Service): string[] {
  const out = new Set<string>();
  for (const ip of s.spec.clusterIPs ?? []) if (ip !== 'None') out.add(`ipaddresses/${ip}`);
  for (const p of s.spec.ports ?? []) if (p.nodePort) out.add(`servicenodeports/${p.nodePort}`);
  if (s.spec.healthCheckNodePort) out.add(`servicenodeports/${s.spec.healthCheckNodePort}`);
  return [...out];
}

async function reservations(r: Registry): Promise<Map<string, Reservation>> {
  const m = new Map<string, Reservation>();
  for (const e of (await r.store.list(`${r.keys.prefix}/`)).entries) {
    const rest = e.key.slice(r.keys.prefix.length + 1);
    if (rest.startsWith('ipaddresses/') || rest.startsWith('servicenodeports/'))
      m.set(rest, e.value as Reservation);
  }
  return m;
}

async function checkNoLeak(r: Registry): Promise<void> {
  // Each reservation names the one service that holds its value, and vice versa.
  const services = await r.list('Service');
  const owners = new Map<string, string>();
  for (const s of services)
    for (const v of heldBy(s)) {
      expect(owners.get(v), `${v} held twice`).toBeUndefined();
      owners.set(v, s.metadata.name ?? '');
    }
  const reserved = await reservations(r);
  expect([...reserved.keys()].sort()).toEqual([...owners.keys()].sort());
  for (const [v, res] of reserved) expect(res.owner.name).toBe(owners.get(v));

  // After deleting everything the store holds no reservation and the local allocators hand out
  // the full capacity again: no candidate of a refused or failed write stayed marked.
  for (const s of services) await r.delete('Service', 'default', s.metadata.name ?? '');
  expect(await reservations(r)).toEqual(new Map());
  for (let i = 0; i < CAPACITY; i++)
    await r.create(svc(`fill${i}`, { type: 'NodePort', selector: { app: 'x' }, ports: [{ port: 80 }] }));
  const full = await r.create(svc('one-too-many', { ports: [{ port: 80 }] })).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isStatusError(full) && full.reason).toBe('InternalError');
}

describe('allocation over random create/update/apply/delete sequences, valid or not', () => {
  for (const failing of [false, true])
    it(`every allocated value belongs to exactly one existing service, and nothing leaks${failing ? ' (store commits fail now and then)' : ''}`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(cmd, { minLength: 6, maxLength: 24 }), fc.integer(), async (cmds, seed) => {
          const store = failing ? new FailingStore(new MemoryStore()) : undefined;
          const r = await Registry.open({
            rng: new SeededRng(seed),
            clock: new FakeClock(),
            serviceClusterIPRanges: [CIDR],
            serviceNodePortRange: NODE_PORTS,
            ...(store ? { store } : {}),
          });
          // Controller writes may meet the failing store too; those surface as events, not throws.
          r.on('error', () => {});
          try {
            for (const c of cmds) await run(r, c, store);
            await checkNoLeak(r);
          } finally {
            await r.close();
            await store?.close();
          }
        }),
        { numRuns: 50, seed: failing ? 424242 : 20261124 },
      );
    });
});
