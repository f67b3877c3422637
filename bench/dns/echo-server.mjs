#!/usr/bin/env node
// The floor of a Node UDP server: each query goes straight back with QR set, no DNS work at all.
// What it costs per query is what node:dgram itself costs (receive + send), which no Node DNS
// server can go below.
//   node echo-server.mjs --listen 127.0.0.1:PORT [--sync-lookup] [-f ignored] [--zone ignored]
// --sync-lookup gives the socket a `lookup` that hands IP literals back at once instead of going
// through dns.lookup() (which defers every send by a process.nextTick).
import dgram from 'node:dgram';
import dns from 'node:dns';
import { isIP } from 'node:net';

const argv = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : fallback;
};
const [host, port] = flag('--listen', '127.0.0.1:0').split(/:(?=\d+$)/);
const syncLookup = (address, family, callback) => {
  const f = isIP(address);
  if (f) callback(null, address, f);
  else dns.lookup(address, family, callback);
};
const sock = dgram.createSocket({
  type: 'udp4',
  recvBufferSize: 4 << 20,
  sendBufferSize: 4 << 20,
  ...(argv.includes('--sync-lookup') ? { lookup: syncLookup } : {}),
});
sock.on('message', (msg, rinfo) => {
  msg[2] |= 0x80;
  sock.send(msg, rinfo.port, rinfo.address);
});
sock.bind(Number(port), host, () => process.stdout.write(`listening udp ${host}:${sock.address().port}\n`));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
