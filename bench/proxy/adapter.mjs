#!/usr/bin/env node
// Peer-bench adapter: svcroute's userspace proxy with one service and one endpoint.
//   node bench/proxy/adapter.mjs --listen HOST:PORT --backend HOST:PORT
// The service's portal is the --listen address with the service port = the listen port; the
// endpoint is --backend. Runs in the foreground; SIGTERM or SIGINT stops it.
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

// Environment: SVCROUTE_DIST points at another build of the library (default: this checkout's
// dist/); SVCROUTE_SOCKET_BUFFER overrides the per-socket write buffer (bytes) for experiments.
const libraryEntry = process.env.SVCROUTE_DIST
  ? pathToFileURL(join(resolve(process.env.SVCROUTE_DIST), 'inprocess.js'))
  : new URL('../../dist/inprocess.js', import.meta.url);
const { InprocessProxyBackend } = await import(libraryEntry.href);

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const split = (hp) => {
  const i = hp.lastIndexOf(':');
  return [hp.slice(0, i).replace(/^\[|\]$/g, ''), Number(hp.slice(i + 1))];
};
if (!opt('--listen') || !opt('--backend')) {
  console.error('usage: adapter.mjs --listen HOST:PORT --backend HOST:PORT');
  process.exit(2);
}
const [listenHost, listenPort] = split(opt('--listen'));
const [backendHost, backendPort] = split(opt('--backend'));

// A routing snapshot holding one ClusterIP service port and its one ready endpoint, as the
// registry would publish it (built by hand so the adapter starts in milliseconds).
const name = { namespace: 'bench', name: 'backend', port: '', protocol: 'TCP' };
const info = {
  name,
  key: 'bench/backend',
  type: 'ClusterIP',
  clusterIPs: ['10.96.0.80'],
  port: listenPort,
  protocol: 'TCP',
  targetPort: backendPort,
  nodePort: 0,
  sessionAffinity: { type: 'None' },
  externalIPs: [],
  loadBalancerVIPs: [],
  loadBalancerSourceRanges: [],
  externalPolicyLocal: false,
  internalPolicyLocal: false,
  healthCheckNodePort: 0,
};
const endpoint = {
  ip: backendHost,
  port: backendPort,
  key: `${backendHost}:${backendPort}`,
  ready: true,
  serving: true,
  terminating: false,
};
const entry = { info, endpoints: [endpoint] };
const current = {
  revision: 1,
  ports: new Map([[info.key, entry]]),
  services: new Map(),
  endpointSlices: new Map(),
  namespaces: new Set(['bench']),
};

const proxy = new InprocessProxyBackend({
  portalAddresses: [listenHost],
  portalPort: 'service',
  shutdownTimeoutMs: 0,
  ...(process.env.SVCROUTE_SOCKET_BUFFER
    ? { socketBufferBytes: Number(process.env.SVCROUTE_SOCKET_BUFFER) }
    : {}),
});
proxy.on('listenError', (spec, err) => {
  console.error(`listen ${spec.address}:${spec.port}: ${err.message}`);
  process.exit(1);
});
proxy.on('listening', (l) =>
  console.error(`svcroute proxy (${libraryEntry.pathname}): ${l.address}:${l.boundPort} -> ${endpoint.key}`),
);
await proxy.sync({
  previous: undefined,
  current,
  changes: [{ key: info.key, current: entry }],
  changedServices: new Set(),
});

const stop = () => {
  proxy.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
