import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Pod, Service, ServiceSpec } from '../../../src/core/types';
import { Registry } from '../../../src/registry';

/** A Service manifest in `namespace`. */
export function service(name: string, spec: ServiceSpec, namespace = 'default'): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec };
}

/** A running, ready pod on a loopback address. */
export function loopbackPod(
  name: string,
  ip: string,
  labels: Record<string, string>,
  opts: {
    namespace?: string;
    node?: string;
    ports?: { name?: string; containerPort: number; protocol?: 'TCP' | 'UDP' }[];
    ready?: boolean;
  } = {},
): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: opts.namespace ?? 'default', labels },
    spec: {
      containers: [{ name: 'c', ports: opts.ports ?? [] }],
      ...(opts.node ? { nodeName: opts.node } : {}),
    },
    status: {
      phase: 'Running',
      podIP: ip,
      podIPs: [{ ip }],
      conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True' }],
    },
  };
}

/** A registry with the objects applied and the endpoints controller settled. */
export async function registryWith(objects: readonly (Service | Pod)[]): Promise<Registry> {
  const r = new Registry();
  await r.ready();
  for (const o of objects) await r.apply(o);
  await r.settled();
  return r;
}

/** Listens on `host:port` (0 = any); resolves with the bound port. */
export function listen(server: Server | HttpServer, host: string, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.removeListener('error', reject);
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : port);
    });
  });
}

/** Closes a server and destroys its connections. */
export function closeServer(server: Server | HttpServer): Promise<void> {
  return new Promise((resolve) => {
    if ('closeAllConnections' in server) server.closeAllConnections();
    server.close(() => resolve());
    for (const s of (server as Server & { sockets?: Set<Socket> }).sockets ?? []) s.destroy();
  });
}

/** An HTTP server answering every request with its own name. */
export async function nameServer(
  host: string,
  name: string,
  port = 0,
): Promise<{ server: HttpServer; port: number }> {
  const server = createHttpServer((req, res) => {
    req.resume();
    res.setHeader('x-host', req.headers.host ?? '');
    res.end(name);
  });
  return { server, port: await listen(server, host, port) };
}

/** A TCP server echoing every byte back; half-closes back after the client's FIN. */
export async function echoServer(
  host: string,
  port = 0,
): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.pipe(s);
  });
  return { server, port: await listen(server, host, port), sockets };
}

/** Polls `cond` every 10 ms until true or `timeoutMs` passes. */
export async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Sends `payload` over a new connection, half-closes, and collects the reply until EOF. */
export function exchange(host: string, port: number, payload: string | Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => {
      s.end();
      resolve(Buffer.concat(chunks));
    });
    s.on('error', reject);
    s.end(payload);
  });
}

/** GET `path` with `Connection: close` over a raw socket; resolves with the body. */
export function httpGet(
  host: string,
  port: number,
  path = '/',
  headers: Record<string, string> = {},
): Promise<string> {
  return exchange(
    host,
    port,
    `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')}\r\n`,
  ).then((b) => {
    const text = b.toString('latin1');
    const i = text.indexOf('\r\n\r\n');
    if (!text.startsWith('HTTP/1.1 200')) throw new Error(`bad response: ${text.slice(0, 80)}`);
    return text.slice(i + 4);
  });
}
