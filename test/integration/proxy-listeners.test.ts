import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  InprocessProxyBackend,
  type InprocessProxyOptions,
  type ListenerInfo,
} from '../../src/backends/inprocess';
import type { Endpoint, RoutingSnapshot, ServicePortInfo, SnapshotUpdate } from '../../src/core/snapshot';
import { makeEndpoint, makeServicePortInfo } from '../../src/testing/fixtures';
import {
  closeServer,
  echoServer,
  exchange,
  loopbackPod,
  registryWith,
  service,
  waitFor,
} from '../backends/inprocess/helpers';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A full (non-incremental) update carrying only the given ports. */
function snapshotOf(entries: readonly { info: ServicePortInfo; endpoints: Endpoint[] }[]): SnapshotUpdate {
  const current: RoutingSnapshot = {
    revision: 1,
    ports: new Map(entries.map((e) => [e.info.key, e])),
    services: new Map(),
    endpointSlices: new Map(),
    namespaces: new Set(['default']),
  };
  return { previous: undefined, current, changes: [], changedServices: new Set() };
}

function newProxy(opts: InprocessProxyOptions): { proxy: InprocessProxyBackend; events: ListenerInfo[] } {
  const proxy = new InprocessProxyBackend({ shutdownTimeoutMs: 200, ...opts });
  const events: ListenerInfo[] = [];
  proxy.on('listening', (l) => events.push(l));
  cleanups.push(() => proxy.close());
  return { proxy, events };
}

/**
 * A TCP endpoint on `host` whose connects hang: a child process listens with a backlog of 1
 * and blocks its event loop so it never accepts; once the accept queue is full, Linux drops
 * further SYNs and the connect neither succeeds nor fails until the connector gives up.
 */
async function blackholeEndpoint(host: string): Promise<number> {
  const script = `const s=require('net').createServer();s.listen({host:${JSON.stringify(host)},port:0,backlog:1},()=>{process.stdout.write(s.address().port+'\\n');Atomics.wait(new Int32Array(new SharedArrayBuffer(4)),0,0,15000);});`;
  const child: ChildProcess = spawn(process.execPath, ['-e', script], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  cleanups.push(() => {
    child.kill('SIGKILL');
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('blackhole child did not start')), 5000);
    child.stdout?.once('data', (d: Buffer) => {
      clearTimeout(timer);
      resolve(Number(d.toString().trim()));
    });
    child.once('error', reject);
  });
  // Fill the accept queue (backlog 1 holds two completed handshakes on Linux).
  const fillers: Socket[] = [];
  for (let i = 0; i < 3; i++) {
    const s = connect({ host, port });
    s.on('error', () => {});
    fillers.push(s);
  }
  cleanups.push(() => {
    for (const s of fillers) s.destroy();
  });
  await waitFor(() => fillers.filter((s) => s.readyState === 'open').length >= 2, 3000);
  await new Promise((r) => setTimeout(r, 50));
  // The technique itself: a fresh connect must hang, not connect or fail.
  const probe = connect({ host, port });
  const outcome = await new Promise<string>((resolve) => {
    const timer = setTimeout(() => resolve('hung'), 300);
    probe.once('connect', () => resolve('connected'));
    probe.once('error', (e) => resolve(`error ${e.message}`));
    probe.once('connect', () => clearTimeout(timer));
  });
  probe.destroy();
  expect(outcome).toBe('hung');
  return port;
}

function udpEcho(host: string): Promise<{ socket: UdpSocket; port: number }> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.on('message', (msg, rinfo) =>
      socket.send(Buffer.concat([Buffer.from('echo:'), msg]), rinfo.port, rinfo.address),
    );
    socket.once('error', reject);
    socket.bind(0, host, () => resolve({ socket, port: socket.address().port }));
  });
}

function udpRequest(host: string, port: number, payload: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      reject(new Error('no UDP reply in time'));
    }, timeoutMs);
    s.on('message', (msg) => {
      clearTimeout(timer);
      s.close();
      resolve(msg.toString());
    });
    s.bind(0, '127.0.0.1', () => s.send(payload, port, host));
  });
}

describe('userspace proxy listeners on local service IPs', () => {
  it('listens on the cluster IP itself when it is a local address, and proxies there', async () => {
    const echo = await echoServer('127.0.0.91');
    cleanups.push(() => closeServer(echo.server));
    const { proxy, events } = newProxy({
      portalAddresses: ['127.0.0.1'],
      portalPort: 'auto',
      localAddresses: () => ['127.0.0.1', '127.0.0.90', '127.0.0.91'],
    });
    const info = makeServicePortInfo({ clusterIPs: ['127.0.0.90'], port: 18090, targetPort: echo.port });
    await proxy.sync(snapshotOf([{ info, endpoints: [makeEndpoint('127.0.0.91', echo.port)] }]));

    const listeners = proxy.openListeners();
    expect(listeners.map((l) => [l.kind, l.address, l.boundPort])).toEqual([
      ['clusterIP', '127.0.0.90', 18090],
    ]);
    // A local cluster IP replaces the portal.
    expect(events.some((l) => l.kind === 'portal')).toBe(false);
    expect((await exchange('127.0.0.90', 18090, 'hello')).toString()).toBe('hello');
    expect(proxy.metrics.get(info.key)?.total).toBe(1);
  });

  it('falls back to the portal when the cluster IP is not local', async () => {
    const { proxy } = newProxy({
      portalAddresses: ['127.0.0.1'],
      portalPort: 'auto',
      localAddresses: () => ['127.0.0.1'],
    });
    const info = makeServicePortInfo({ clusterIPs: ['127.0.0.90'], port: 18090 });
    await proxy.sync(snapshotOf([{ info, endpoints: [] }]));
    expect(proxy.openListeners().map((l) => [l.kind, l.address])).toEqual([['portal', '127.0.0.1']]);
  });

  it('opens listeners for local externalIPs and LoadBalancer ingress IPs only', async () => {
    const echo = await echoServer('127.0.0.94');
    cleanups.push(() => closeServer(echo.server));
    const errors: string[] = [];
    const { proxy, events } = newProxy({
      localAddresses: () => ['127.0.0.1', '127.0.0.92', '127.0.0.93', '127.0.0.94'],
    });
    proxy.on('listenError', (spec) => errors.push(spec.address));
    const info = makeServicePortInfo({
      type: 'LoadBalancer',
      // Documentation-range addresses: never local here, never contacted.
      clusterIPs: ['192.0.2.1'],
      externalIPs: ['127.0.0.92', '192.0.2.10'],
      loadBalancerVIPs: ['127.0.0.93', '198.51.100.7'],
      port: 18092,
      targetPort: echo.port,
    });
    await proxy.sync(snapshotOf([{ info, endpoints: [makeEndpoint('127.0.0.94', echo.port)] }]));

    const open = proxy
      .openListeners()
      .map((l) => `${l.kind} ${l.address}:${l.boundPort}`)
      .sort();
    expect(open).toEqual(['externalIP 127.0.0.92:18092', 'loadBalancer 127.0.0.93:18092']);
    const everAnnounced = events.map((l) => l.address);
    for (const foreign of ['192.0.2.1', '192.0.2.10', '198.51.100.7']) {
      expect(everAnnounced).not.toContain(foreign);
      expect(errors).not.toContain(foreign);
    }
    expect((await exchange('127.0.0.92', 18092, 'ext')).toString()).toBe('ext');
    expect((await exchange('127.0.0.93', 18092, 'lb')).toString()).toBe('lb');

    // Removing the IPs from the service closes their listeners.
    const closed: string[] = [];
    proxy.on('listenerClosed', (l) => closed.push(`${l.kind} ${l.address}`));
    const shrunk = { ...info, externalIPs: ['192.0.2.10'], loadBalancerVIPs: ['127.0.0.93'] };
    await proxy.sync(snapshotOf([{ info: shrunk, endpoints: [makeEndpoint('127.0.0.94', echo.port)] }]));
    expect(closed).toEqual(['externalIP 127.0.0.92']);
    expect(proxy.openListeners().map((l) => `${l.kind} ${l.address}`)).toEqual(['loadBalancer 127.0.0.93']);
  });

  it('does not bind local service IPs when bindLocalServiceIPs is false', async () => {
    const { proxy } = newProxy({
      portalAddresses: ['127.0.0.1'],
      portalPort: 'auto',
      bindLocalServiceIPs: false,
      localAddresses: () => ['127.0.0.1', '127.0.0.90', '127.0.0.92'],
    });
    const info = makeServicePortInfo({
      clusterIPs: ['127.0.0.90'],
      externalIPs: ['127.0.0.92'],
      port: 18095,
    });
    await proxy.sync(snapshotOf([{ info, endpoints: [] }]));
    expect(proxy.openListeners().map((l) => `${l.kind} ${l.address}`)).toEqual(['portal 127.0.0.1']);
  });
});

describe('userspace proxy connect retry', () => {
  it('retries on another endpoint when the first connect times out', async () => {
    const hangPort = await blackholeEndpoint('127.0.0.95');
    const echo = await echoServer('127.0.0.96');
    cleanups.push(() => closeServer(echo.server));
    const { proxy } = newProxy({
      portalAddresses: ['127.0.0.1'],
      portalPort: 'auto',
      connectTimeoutsMs: [150, 150, 150],
      localAddresses: () => ['127.0.0.1'],
    });
    const retries: { routeKey: string; endpoint: string; error: Error }[] = [];
    proxy.on('retry', (routeKey, endpoint, error) =>
      retries.push({ routeKey, endpoint: endpoint.key, error }),
    );
    const failures: Error[] = [];
    proxy.on('connectionFailed', (_k, e) => failures.push(e));
    const hanging = makeEndpoint('127.0.0.95', hangPort);
    const healthy = makeEndpoint('127.0.0.96', echo.port);
    const info = makeServicePortInfo({ clusterIPs: ['192.0.2.1'], port: 18096 });
    await proxy.sync(snapshotOf([{ info, endpoints: [hanging, healthy] }]));
    const portal = proxy.openListeners().find((l) => l.kind === 'portal');
    if (!portal) throw new Error('no portal listener');

    // Round-robin sends the first connections to either endpoint; with two connections at
    // least one starts on the hanging endpoint and must be served by the healthy one.
    const replies = await Promise.all([
      exchange('127.0.0.1', portal.boundPort, 'one'),
      exchange('127.0.0.1', portal.boundPort, 'two'),
    ]);
    expect(replies.map((b) => b.toString())).toEqual(['one', 'two']);
    expect(failures).toEqual([]);
    // A failed endpoint is avoided by later attempts of the same connection: one retry each at most.
    expect(retries.length).toBeGreaterThanOrEqual(1);
    expect(retries.length).toBeLessThanOrEqual(2);
    for (const r of retries) {
      expect(r.routeKey).toBe(info.key);
      expect(r.endpoint).toBe(hanging.key);
      expect(r.error.message).toMatch(/time/i);
    }
    const stats = proxy.metrics.get(info.key);
    expect(stats?.retries).toBe(retries.length);
    expect(stats?.total).toBe(2);
  });
});

describe('userspace proxy UDP listeners', () => {
  it('open when a UDP service port is added and close when it is removed', async () => {
    const echo = await udpEcho('127.0.0.97');
    cleanups.push(() => new Promise<void>((r) => echo.socket.close(() => r())));
    const pod = loopbackPod('dns-0', '127.0.0.97', { app: 'dns' });
    const tcpOnly = service('dns', {
      selector: { app: 'dns' },
      ports: [{ name: 'tcp', port: 53, protocol: 'TCP', targetPort: 9 }],
    });
    const withUdp = service('dns', {
      selector: { app: 'dns' },
      ports: [
        { name: 'tcp', port: 53, protocol: 'TCP', targetPort: 9 },
        { name: 'udp', port: 53, protocol: 'UDP', targetPort: echo.port },
      ],
    });
    const registry = await registryWith([tcpOnly, pod]);
    cleanups.push(() => registry.close());
    const { proxy } = newProxy({
      portalAddresses: ['127.0.0.1'],
      portalPort: 'auto',
      localAddresses: () => [],
    });
    const closed: ListenerInfo[] = [];
    proxy.on('listenerClosed', (l) => closed.push(l));
    await proxy.attach(registry);
    const settle = async () => {
      await registry.settled();
      await proxy.idle();
    };
    const udpListener = () => proxy.openListeners().find((l) => l.protocol === 'UDP');
    expect(udpListener()).toBeUndefined();

    await registry.apply(withUdp);
    await settle();
    await waitFor(() => udpListener() !== undefined, 3000);
    const udp = udpListener();
    if (!udp) throw new Error('unreachable');
    expect(udp.routeKey).toBe('default/dns:udp');
    expect(await udpRequest('127.0.0.1', udp.boundPort, 'ping')).toBe('echo:ping');

    await registry.apply(tcpOnly);
    await settle();
    await waitFor(() => udpListener() === undefined, 3000);
    expect(closed.map((l) => `${l.protocol} ${l.routeKey}`)).toEqual(['UDP default/dns:udp']);
    // The socket is really gone: nothing answers on its port any more.
    await expect(udpRequest('127.0.0.1', udp.boundPort, 'ping', 300)).rejects.toThrow(/no UDP reply/);
    expect(proxy.openListeners().map((l) => l.protocol)).toEqual(['TCP']);
  });
});
