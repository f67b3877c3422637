import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { InprocessProxyBackend, type InprocessProxyOptions } from '../../src/backends/inprocess';
import type { Balancer, Picker } from '../../src/balancers/balancer';
import { RoundRobinBalancer } from '../../src/balancers/round-robin';
import { SeededRng } from '../../src/core/random';
import type { Pod, Service } from '../../src/core/types';
import { loadTcpRelay } from '../../src/native/tcp';
import {
  closeServer,
  echoServer,
  exchange,
  httpGet,
  loopbackPod,
  nameServer,
  registryWith,
  service,
  waitFor,
} from '../backends/inprocess/helpers';

// The same scenarios through the native relay engine and through the JavaScript sessions: the
// JavaScript path is the reference, and both must give the same answers, events and metrics.
const nativeBuilt = loadTcpRelay() !== undefined;
if (!nativeBuilt) {
  if (process.env['CI'] && process.env['SVCROUTE_NATIVE'] !== '0')
    throw new Error('CI must build the native add-on with its tcp part');
  console.warn('native tcp relay not available here: only the JavaScript path runs');
}
const modes = nativeBuilt ? (['native', 'js'] as const) : (['js'] as const);
type Mode = (typeof modes)[number];

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Round-robin from a fixed start that logs every pick outcome (a policy that wants `done()`). */
function recordingBalancer(outcomes: string[]): Balancer {
  const inner = new RoundRobinBalancer({}, { rng: new SeededRng(7) });
  const wrap = (p: Picker): Picker => ({
    pick: (ctx) => {
      const r = p.pick(ctx);
      if (r.kind !== 'endpoint') return r;
      return { ...r, done: (o) => outcomes.push(`${r.endpoint.key} ${o.ok}`) };
    },
  });
  return {
    name: 'recording',
    get picker() {
      return wrap(inner.picker);
    },
    update: (eps) => inner.update(eps),
    subscribe: (l) => inner.subscribe((p) => l(wrap(p))),
    close: () => inner.close(),
  };
}

async function proxyFor(mode: Mode, objects: (Service | Pod)[], opts: InprocessProxyOptions = {}) {
  const registry = await registryWith(objects);
  const proxy = new InprocessProxyBackend({
    portalAddresses: ['127.0.0.1'],
    portalPort: 'auto',
    shutdownTimeoutMs: 200,
    native: mode === 'native',
    ...opts,
  });
  cleanups.push(
    () => registry.close(),
    () => proxy.close(),
  );
  await proxy.attach(registry);
  expect(proxy.nativeTcp).toBe(mode === 'native');
  const portOf = (routeKey: string) => {
    const l = proxy.openListeners().find((x) => x.routeKey === routeKey && x.kind === 'portal');
    if (!l) throw new Error(`no listener for ${routeKey}`);
    return l.boundPort;
  };
  const settle = async () => {
    await registry.settled();
    await proxy.idle();
  };
  return { registry, proxy, portOf, settle };
}

/** Runs `scenario` once per mode and returns the results by mode. */
async function eachMode<T>(scenario: (mode: Mode) => Promise<T>): Promise<Map<Mode, T>> {
  const out = new Map<Mode, T>();
  for (const mode of modes) {
    out.set(mode, await scenario(mode));
    for (const c of cleanups.splice(0).reverse()) await c();
  }
  return out;
}

function expectSame<T>(results: Map<Mode, T>): T {
  const js = results.get('js') as T;
  if (results.has('native')) expect(results.get('native')).toEqual(js);
  return js;
}

describe('userspace proxy: native relay and JavaScript relay agree', () => {
  it('balances, retries with the same schedule, reports outcomes, and counts the same', async () => {
    const a = await nameServer('127.0.0.61', 'a');
    const b = await nameServer('127.0.0.62', 'b');
    const pods = [
      loopbackPod('a', '127.0.0.61', { app: 'web' }, { ports: [{ name: 'http', containerPort: a.port }] }),
      loopbackPod('b', '127.0.0.62', { app: 'web' }, { ports: [{ name: 'http', containerPort: b.port }] }),
      // Ready, but nothing listens: every connect to it is refused.
      loopbackPod('dead', '127.0.0.63', { app: 'web' }, { ports: [{ name: 'http', containerPort: 1 }] }),
    ];
    const svc = service('web', { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 'http' }] });
    try {
      const results = await eachMode(async (mode) => {
        const outcomes: string[] = [];
        const { proxy, portOf } = await proxyFor(mode, [svc, ...pods], {
          balancer: () => recordingBalancer(outcomes),
        });
        const retries: string[] = [];
        proxy.on('retry', (k, ep, err) =>
          retries.push(`${k} ${ep.key} ${(err as NodeJS.ErrnoException).code}`),
        );
        const bodies: string[] = [];
        for (let i = 0; i < 12; i++) bodies.push(await httpGet('127.0.0.1', portOf('default/web')));
        await waitFor(() => proxy.metrics.get('default/web')?.active === 0);
        const text = proxy.prometheus();
        const stats = proxy.metrics.get('default/web');
        return {
          bodies,
          retries,
          outcomes,
          stats: { ...stats, endpoints: Object.fromEntries(stats?.endpoints ?? []) },
          text,
        };
      });
      const js = expectSame(results);
      expect(js.retries.length).toBeGreaterThan(0);
      expect(js.outcomes.filter((o) => o.endsWith('false'))).toHaveLength(js.retries.length);
      expect(js.text).toContain('svcroute_proxy_retries_total');
    } finally {
      await closeServer(a.server);
      await closeServer(b.server);
    }
  });

  it('refuses with a reset and the same connectionFailed event when there are no endpoints', async () => {
    const results = await eachMode(async (mode) => {
      const { proxy, portOf } = await proxyFor(mode, [
        service('empty', { selector: { app: 'none' }, ports: [{ port: 80, targetPort: 8080 }] }),
      ]);
      const failed: string[] = [];
      proxy.on('connectionFailed', (k, e) => failed.push(`${k}: ${e.message}`));
      const outcome = await new Promise<string>((resolve) => {
        const s = connect({ host: '127.0.0.1', port: portOf('default/empty') });
        s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
        s.on('close', () => resolve('closed'));
      });
      await waitFor(() => proxy.metrics.get('default/empty')?.errors === 1);
      await waitFor(() => proxy.metrics.get('default/empty')?.active === 0);
      return { outcome: outcome === 'closed' ? 'ECONNRESET' : outcome, failed };
    });
    expect(expectSame(results).failed).toEqual([
      'default/empty: default/empty has no endpoints (no endpoints)',
    ]);
  });

  it('drains a removed endpoint, passes half-closes both ways, and keeps ClientIP affinity', async () => {
    const e1 = await echoServer('127.0.0.64');
    const e2 = await echoServer('127.0.0.65');
    const pods = [
      loopbackPod('e1', '127.0.0.64', { app: 'echo' }, { ports: [{ name: 'tcp', containerPort: e1.port }] }),
      loopbackPod('e2', '127.0.0.65', { app: 'echo' }, { ports: [{ name: 'tcp', containerPort: e2.port }] }),
    ];
    const svc = service('echo', {
      selector: { app: 'echo' },
      sessionAffinity: 'ClientIP',
      ports: [{ port: 7, targetPort: 'tcp' }],
    });
    try {
      const results = await eachMode(async (mode) => {
        const { registry, proxy, settle, portOf } = await proxyFor(mode, [svc, ...pods], {
          drainTimeoutMs: 200,
        });
        const port = portOf('default/echo');
        // Affinity: every connection from 127.0.0.1 reaches the same endpoint.
        const replies: string[] = [];
        for (let i = 0; i < 4; i++) replies.push((await exchange('127.0.0.1', port, `m${i}`)).toString());
        const endpointsUsed = [...(proxy.metrics.get('default/echo')?.endpoints.values() ?? [])].filter(
          (s) => s.total > 0,
        ).length;
        const held = connect({ host: '127.0.0.1', port });
        held.on('error', () => {});
        const closed = new Promise<number>((r) => held.on('close', () => r(Date.now())));
        await waitFor(() => e1.sockets.size + e2.sockets.size === 1);
        const victim = e1.sockets.size === 1 ? 'e1' : 'e2';
        const drained: string[][] = [];
        proxy.on('draining', (_k, eps) => drained.push([...eps]));
        const removedAt = Date.now();
        await registry.delete('Pod', 'default', victim);
        await settle();
        const afterGrace = (await closed) - removedAt >= 150;
        await waitFor(() => proxy.metrics.get('default/echo')?.active === 0);
        const stats = proxy.metrics.get('default/echo');
        return {
          replies,
          endpointsUsed,
          drainedCount: drained.map((d) => d.length),
          afterGrace,
          port: { total: stats?.total, active: stats?.active, errors: stats?.errors },
        };
      });
      const js = expectSame(results);
      expect(js.replies).toEqual(['m0', 'm1', 'm2', 'm3']);
      expect(js.endpointsUsed).toBe(1);
      expect(js.drainedCount).toEqual([1]);
      expect(js.afterGrace).toBe(true);
    } finally {
      await closeServer(e1.server);
      await closeServer(e2.server);
    }
  });

  it('closes idle connections and, on close(), waits for open ones before destroying them', async () => {
    const e = await echoServer('127.0.0.66');
    const pod = loopbackPod(
      'e',
      '127.0.0.66',
      { app: 'echo' },
      { ports: [{ name: 'tcp', containerPort: e.port }] },
    );
    const svc = service('echo', { selector: { app: 'echo' }, ports: [{ port: 7, targetPort: 'tcp' }] });
    try {
      const results = await eachMode(async (mode) => {
        const { proxy, portOf } = await proxyFor(mode, [svc, pod], { idleTimeoutMs: 150 });
        const port = portOf('default/echo');
        const idle = connect({ host: '127.0.0.1', port });
        idle.on('error', () => {});
        const started = Date.now();
        await new Promise<void>((r) => idle.on('close', () => r()));
        const idleClosed = Date.now() - started >= 100;
        // A busy connection outlives the idle timeout and goes only with close().
        const busy = connect({ host: '127.0.0.1', port });
        busy.on('error', () => {});
        busy.resume();
        const ticker = setInterval(() => busy.write('.'), 30);
        const busyClosed = new Promise<void>((r) => busy.on('close', () => r()));
        await new Promise((r) => setTimeout(r, 400));
        const aliveAfterIdle = !busy.destroyed;
        const closing = Date.now();
        await proxy.close();
        clearInterval(ticker);
        await busyClosed;
        return { idleClosed, aliveAfterIdle, waited: Date.now() - closing >= 150 };
      });
      expect(expectSame(results)).toEqual({ idleClosed: true, aliveAfterIdle: true, waited: true });
    } finally {
      await closeServer(e.server);
    }
  });
});
