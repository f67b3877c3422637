#!/usr/bin/env node
// Reference point for bench/dns/run.mjs: the obvious Node DNS server (decode every query with
// dns-packet, look the name up in a Map, encode a fresh response). Serves A and SRV for the
// ClusterIP services of a v1 ServiceList, NXDOMAIN/NODATA with the SOA otherwise.
//   node naive-server.mjs --listen 127.0.0.1:PORT -f services.json [--zone cluster.local]
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import dnsPacket from 'dns-packet';

const argv = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : fallback;
};
const [host, port] = flag('--listen', '127.0.0.1:0').split(/:(?=\d+$)/);
const zone = flag('--zone', 'cluster.local');
const list = JSON.parse(readFileSync(flag('-f'), 'utf8'));
const TTL = 5;
const names = new Map();
const node = (n) => names.get(n) ?? names.set(n, { A: [], SRV: [], extra: [] }).get(n);
for (let n = zone; ; n = n.slice(n.indexOf('.') + 1)) {
  node(n);
  if (!n.includes('.')) break;
}
for (const s of list.items) {
  if (!s.spec.clusterIP || s.spec.clusterIP === 'None') continue;
  const svc = `${s.metadata.name}.${s.metadata.namespace}.svc.${zone}`;
  const a = { type: 'A', name: svc, ttl: TTL, data: s.spec.clusterIP };
  node(svc).A.push(a);
  node(`${s.metadata.namespace}.svc.${zone}`);
  node(`svc.${zone}`);
  for (const p of s.spec.ports ?? []) {
    if (!p.name) continue;
    const srv = `_${p.name}._${(p.protocol ?? 'TCP').toLowerCase()}.${svc}`;
    const e = node(srv);
    e.SRV.push({
      type: 'SRV',
      name: srv,
      ttl: TTL,
      data: { priority: 0, weight: 100, port: p.port, target: svc },
    });
    e.extra.push(a);
    node(srv.slice(srv.indexOf('.') + 1));
  }
}
const soa = {
  type: 'SOA',
  name: zone,
  ttl: TTL,
  data: {
    mname: `ns.dns.${zone}`,
    rname: `hostmaster.${zone}`,
    serial: 1,
    refresh: 7200,
    retry: 1800,
    expire: 86400,
    minimum: TTL,
  },
};
const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
sock.on('message', (msg, rinfo) => {
  let q;
  try {
    q = dnsPacket.decode(msg);
  } catch {
    return;
  }
  const question = q.questions?.[0];
  if (!question) return;
  const name = question.name.toLowerCase();
  const res = {
    type: 'response',
    id: q.id,
    flags: dnsPacket.AUTHORITATIVE_ANSWER,
    questions: q.questions,
    answers: [],
    authorities: [],
    additionals: [],
  };
  if (name !== zone && !name.endsWith(`.${zone}`)) res.flags |= 5;
  else {
    const e = names.get(name);
    if (!e) {
      res.flags |= 3;
      res.authorities.push(soa);
    } else if (question.type === 'A' && e.A.length) res.answers = e.A;
    else if (question.type === 'SRV' && e.SRV.length) {
      res.answers = e.SRV;
      res.additionals = e.extra;
    } else res.authorities.push(soa);
  }
  sock.send(dnsPacket.encode(res), rinfo.port, rinfo.address);
});
sock.bind(Number(port), host, () => process.stdout.write(`listening udp ${host}:${sock.address().port}\n`));
const stop = () => sock.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
