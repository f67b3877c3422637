#!/usr/bin/env node
// DNS throughput benchmark: our server (`svcroute dns serve`) beside a naive dns-packet server
// and two Node UDP echo servers (the floor: node:dgram receive + send, no DNS work), same zone,
// same query mix, same load generator, one run. Loopback only, time-bounded.
//
//   node bench/dns/run.mjs [--services 1000] [--duration 5] [--outstanding 100]
//                          [--server-cmd "node dist/cli.js dns serve"] [--out bench/results/dns.md]
//
// SVCROUTE_DIST=<dir> picks the build to run (`node <dir>/cli.js dns serve`) when --server-cmd
// is not given; the default is dist/.
//
// Servers are pinned to CPU 0 and the load generator to CPU 1 when `taskset` exists. The load
// generator is a single Node process, so it can saturate before a fast server does: read the
// server CPU per query column too (from /proc), which does not depend on the generator.
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const argv = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : fallback;
};
const N = Number(flag('--services', 1000));
const DURATION_S = Math.min(Number(flag('--duration', 5)), 60);
const OUTSTANDING = Number(flag('--outstanding', 100));
const DIST = resolve(root, process.env.SVCROUTE_DIST ?? 'dist');
const SERVER_CMD = flag('--server-cmd', `node ${join(DIST, 'cli.js')} dns serve`);
const OUT = flag('--out', join(root, 'bench/results/dns.md'));
const ZONE = 'cluster.local';
const hasTaskset = spawnSync('sh', ['-c', 'command -v taskset'], { stdio: 'ignore' }).status === 0;

// 1. Fixtures: a v1 ServiceList and a deterministic query mix (A hits, SRV hits, AAAA NODATA, NXDOMAIN).
const dir = mkdtempSync(join(tmpdir(), 'svcroute-dns-bench-'));
const ip = (i) => `10.96.${1 + (i >> 8)}.${i & 255}`;
const items = Array.from({ length: N }, (_, i) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: `svc-${i}`, namespace: 'default' },
  spec: {
    type: 'ClusterIP',
    clusterIP: ip(i),
    clusterIPs: [ip(i)],
    ports: [{ name: 'http', protocol: 'TCP', port: 80 }],
  },
}));
const servicesFile = join(dir, 'services.json');
writeFileSync(servicesFile, JSON.stringify({ apiVersion: 'v1', kind: 'ServiceList', items }));
let seed = 0x5eed;
const rnd = () => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed / 2 ** 32;
};
const QTYPE = { A: 1, AAAA: 28, SRV: 33 };
const queries = Array.from({ length: 10000 }, () => {
  const r = rnd();
  const i = Math.floor(rnd() * N);
  if (r < 0.55) return encodeQuery(`svc-${i}.default.svc.${ZONE}`, QTYPE.A);
  if (r < 0.7) return encodeQuery(`_http._tcp.svc-${i}.default.svc.${ZONE}`, QTYPE.SRV);
  if (r < 0.8) return encodeQuery(`svc-${i}.default.svc.${ZONE}`, QTYPE.AAAA);
  if (r < 0.9) return encodeQuery(`svc-${N + i}.default.svc.${ZONE}`, QTYPE.A);
  return encodeQuery(`svc-${i}.default.default.svc.${ZONE}`, QTYPE.A);
});

function encodeQuery(name, qtype) {
  const labels = name.split('.');
  const buf = Buffer.alloc(12 + name.length + 2 + 4);
  buf.writeUInt16BE(0x0100, 2); // RD
  buf.writeUInt16BE(1, 4);
  let off = 12;
  for (const l of labels) {
    buf[off++] = l.length;
    off += buf.write(l, off, 'ascii');
  }
  buf[off++] = 0;
  buf.writeUInt16BE(qtype, off);
  buf.writeUInt16BE(1, off + 2);
  return buf;
}

function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 10 ms
  } catch {
    return Number.NaN;
  }
}

// Every server started is stopped, by PID, however this script ends.
const children = new Set();
process.on('exit', () => {
  for (const c of children) c.kill('SIGTERM');
});

async function startServer(label, cmd, port, env = {}) {
  const words = cmd.split(/\s+/).filter(Boolean);
  const args = [...words, '--listen', `127.0.0.1:${port}`, '-f', servicesFile, '--zone', ZONE];
  const child = hasTaskset
    ? spawn('taskset', ['-c', '0', ...args], {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, ...env },
      })
    : spawn(args[0], args.slice(1), {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, ...env },
      });
  children.add(child);
  child.on('exit', () => children.delete(child));
  await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${label} did not start within 30 s`)), 30000);
    child.stdout.on('data', (d) => {
      if (String(d).includes('listening')) {
        clearTimeout(timer);
        ok();
      }
    });
    child.on('exit', (code) => fail(new Error(`${label} exited with ${code}`)));
  });
  return child;
}

async function load(port, seconds) {
  const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
  await new Promise((ok) => sock.bind(0, '127.0.0.1', ok));
  const sentAt = new Float64Array(65536);
  const latencies = [];
  let nextId = 0;
  let q = 0;
  let received = 0;
  let sent = 0;
  const rcodes = new Map();
  const send = () => {
    const msg = queries[q++ % queries.length];
    const id = nextId++ & 0xffff;
    msg.writeUInt16BE(id, 0);
    sentAt[id] = performance.now();
    sock.send(msg, port, '127.0.0.1');
    sent++;
  };
  const deadline = performance.now() + seconds * 1000;
  await new Promise((done) => {
    sock.on('message', (m) => {
      if (performance.now() >= deadline) return;
      received++;
      const id = m.readUInt16BE(0);
      latencies.push(performance.now() - sentAt[id]);
      const rc = m[3] & 0xf;
      rcodes.set(rc, (rcodes.get(rc) ?? 0) + 1);
      send();
    });
    for (let i = 0; i < OUTSTANDING; i++) send();
    // Lost packets shrink the window; top it up so the run keeps its concurrency.
    const refill = setInterval(() => {
      if (performance.now() >= deadline) {
        clearInterval(refill);
        setTimeout(done, 500);
        return;
      }
      while (sent - received < OUTSTANDING) send();
    }, 100);
  });
  sock.close();
  latencies.sort((a, b) => a - b);
  const pct = (p) =>
    latencies[Math.min(latencies.length - 1, Math.floor((latencies.length * p) / 100))] ?? Number.NaN;
  return {
    qps: received / seconds,
    received,
    sent,
    p50: pct(50),
    p99: pct(99),
    rcodes: Object.fromEntries(rcodes),
  };
}

const servers = [
  { label: 'svcroute dns serve', cmd: SERVER_CMD, port: 15456 },
  // The same server without the native add-on: UDP on node:dgram.
  {
    label: 'svcroute dns serve (SVCROUTE_NATIVE=0)',
    cmd: SERVER_CMD,
    port: 15460,
    env: { SVCROUTE_NATIVE: '0' },
  },
  { label: 'naive dns-packet', cmd: `node ${join(here, 'naive-server.mjs')}`, port: 15457 },
  { label: 'node echo floor (dns.lookup)', cmd: `node ${join(here, 'echo-server.mjs')}`, port: 15458 },
  {
    label: 'node echo floor (sync lookup)',
    cmd: `node ${join(here, 'echo-server.mjs')} --sync-lookup`,
    port: 15459,
  },
];
const results = [];
for (const s of servers) {
  const child = await startServer(s.label, s.cmd, s.port, s.env);
  try {
    await load(s.port, 1); // warm-up
    const c0 = cpuSeconds(child.pid);
    const r = await load(s.port, DURATION_S);
    const c1 = cpuSeconds(child.pid);
    results.push({ ...s, ...r, cpuUsPerQuery: ((c1 - c0) / r.received) * 1e6 });
    process.stderr.write(`${s.label}: ${Math.round(r.qps)} qps\n`);
  } finally {
    child.kill('SIGTERM');
  }
}
const ref = results[1].qps;
const table = [
  `### DNS bench (${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC)`,
  '',
  `${N} services; ${DURATION_S} s per server; ${OUTSTANDING} queries outstanding from one Node UDP client;` +
    ` mix 55% A hit, 15% SRV hit, 10% AAAA NODATA, 20% NXDOMAIN;${hasTaskset ? ' server on CPU 0, client on CPU 1' : ''}.` +
    ' The echo rows answer every query with the query itself (QR set): their rcodes mirror the queries.',
  '',
  '| server | QPS | vs naive | p50 ms | p99 ms | server CPU µs/query | rcodes |',
  '|---|---:|---:|---:|---:|---:|---|',
  ...results.map(
    (r) =>
      `| ${r.label} | ${Math.round(r.qps)} | ${(r.qps / ref).toFixed(2)}x | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} | ${r.cpuUsPerQuery.toFixed(1)} | ${JSON.stringify(r.rcodes)} |`,
  ),
  '',
];
const text = table.join('\n');
process.stdout.write(text);
writeFileSync(OUT, text);
