import { describe, expect, it } from 'vitest';
import { DnsResolver, RCode, RRType } from '../../../src/backends/dns';
import { seedState, slice, state, svc } from './fixtures';

function resolver(opts: ConstructorParameters<typeof DnsResolver>[0] = {}) {
  const r = new DnsResolver({ localIPs: ['127.0.0.1'], ...opts });
  r.update(seedState());
  return r;
}

describe('DnsResolver: services', () => {
  const r = resolver();

  it('answers A for a ClusterIP service with TTL 5, authoritative', () => {
    const a = r.resolve('redis-master.default.svc.cluster.local', RRType.A);
    expect(a.rcode).toBe(RCode.NOERROR);
    expect(a.authoritative).toBe(true);
    expect(a.answers).toEqual([
      { type: 'A', name: 'redis-master.default.svc.cluster.local', ttl: 5, address: '10.0.0.11' },
    ]);
  });

  it('is case-insensitive and accepts a trailing dot', () => {
    const a = r.resolve('My-Service.MY-NS.svc.Cluster.Local.', RRType.A);
    expect(a.answers.map((x) => (x.type === 'A' ? x.address : ''))).toEqual(['10.96.0.20']);
  });

  it('answers AAAA from the IPv6 cluster IP of a dual-stack service; NODATA on single-stack', () => {
    expect(r.resolve('my-service.my-ns.svc.cluster.local', RRType.AAAA).answers).toMatchObject([
      { type: 'AAAA', address: 'fd00::20' },
    ]);
    const nodata = r.resolve('redis-master.default.svc.cluster.local', RRType.AAAA);
    expect(nodata.rcode).toBe(RCode.NOERROR);
    expect(nodata.answers).toEqual([]);
    expect(nodata.authority).toMatchObject([{ type: 'SOA', name: 'cluster.local' }]);
  });

  it('answers NXDOMAIN with the SOA for unknown services and unknown namespaces', () => {
    for (const name of [
      'nope.default.svc.cluster.local',
      'redis-master.nope.svc.cluster.local',
      'x.cluster.local',
    ]) {
      const a = r.resolve(name, RRType.A);
      expect(a.rcode, name).toBe(RCode.NXDOMAIN);
      expect(a.authority[0]).toMatchObject({
        type: 'SOA',
        name: 'cluster.local',
        mname: 'ns.dns.cluster.local',
        rname: 'hostmaster.cluster.local',
        refresh: 7200,
        retry: 1800,
        expire: 86400,
        minimum: 5,
        ttl: 5,
      });
    }
  });

  it('answers NODATA for the apex, svc., pod. and existing namespaces (even without services)', () => {
    for (const name of [
      'cluster.local',
      'svc.cluster.local',
      'pod.cluster.local',
      'my-ns.svc.cluster.local',
      'empty-ns.svc.cluster.local',
    ]) {
      const a = r.resolve(name, RRType.A);
      expect(a.rcode, name).toBe(RCode.NOERROR);
      expect(a.answers, name).toEqual([]);
    }
  });

  it('serves SRV for named ports with CoreDNS weights and the additional A record', () => {
    const a = r.resolve('_redis._tcp.redis-master.default.svc.cluster.local', RRType.SRV);
    expect(a.answers).toEqual([
      {
        type: 'SRV',
        name: '_redis._tcp.redis-master.default.svc.cluster.local',
        ttl: 5,
        priority: 0,
        weight: 100,
        port: 6379,
        target: 'redis-master.default.svc.cluster.local',
      },
    ]);
    expect(a.additional).toEqual([
      { type: 'A', name: 'redis-master.default.svc.cluster.local', ttl: 5, address: '10.0.0.11' },
    ]);
  });

  it('matches port and protocol case-insensitively; wrong protocol is NXDOMAIN', () => {
    expect(r.resolve('_HTTP._TCP.my-service.my-ns.svc.cluster.local', RRType.SRV).answers).toHaveLength(1);
    expect(r.resolve('_http._udp.my-service.my-ns.svc.cluster.local', RRType.SRV).rcode).toBe(RCode.NXDOMAIN);
    expect(r.resolve('_dns._udp.my-service.my-ns.svc.cluster.local', RRType.SRV).answers).toMatchObject([
      { port: 53 },
    ]);
  });

  it('answers SRV on the bare service name with one record per port, weight split', () => {
    const a = r.resolve('my-service.my-ns.svc.cluster.local', RRType.SRV);
    // 2 ports x 2 cluster IPs = 4 targets → weight floor(100/4); duplicates (same target+port) dropped.
    expect(a.answers.map((x) => (x.type === 'SRV' ? [x.port, x.weight] : []))).toEqual([
      [80, 25],
      [53, 25],
    ]);
    expect(a.additional.map((x) => x.type)).toEqual(['A', 'AAAA']);
  });

  it('does not support wildcards (current CoreDNS)', () => {
    expect(r.resolve('*.default.svc.cluster.local', RRType.A).rcode).toBe(RCode.NXDOMAIN);
    expect(r.resolve('_*._tcp.redis-master.default.svc.cluster.local', RRType.SRV).rcode).toBe(
      RCode.NXDOMAIN,
    );
  });

  it('answers the A of a _port._proto name (CoreDNS does)', () => {
    expect(r.resolve('_redis._tcp.redis-master.default.svc.cluster.local', RRType.A).answers).toHaveLength(1);
  });

  it('names too deep are NXDOMAIN', () => {
    expect(r.resolve('a.b.c.redis-master.default.svc.cluster.local', RRType.A).rcode).toBe(RCode.NXDOMAIN);
  });
});

describe('DnsResolver: headless services', () => {
  const r = resolver();

  it('answers one A per ready endpoint; not-ready endpoints are left out', () => {
    const a = r.resolve('db.my-ns.svc.cluster.local', RRType.A);
    expect(a.answers.map((x) => (x.type === 'A' ? x.address : ''))).toEqual(['127.0.0.11', '127.0.0.12']);
  });

  it('is NXDOMAIN when no endpoint is ready', () => {
    expect(r.resolve('empty-headless.my-ns.svc.cluster.local', RRType.A).rcode).toBe(RCode.NXDOMAIN);
  });

  it('answers hostname records (hostname field or dashed IP)', () => {
    expect(r.resolve('db-0.db.my-ns.svc.cluster.local', RRType.A).answers).toMatchObject([
      { address: '127.0.0.11' },
    ]);
    expect(r.resolve('127-0-0-12.db.my-ns.svc.cluster.local', RRType.A).answers).toMatchObject([
      { address: '127.0.0.12' },
    ]);
    expect(r.resolve('db-2.db.my-ns.svc.cluster.local', RRType.A).rcode).toBe(RCode.NXDOMAIN);
  });

  it('answers endpoint names of ClusterIP services too', () => {
    expect(r.resolve('web-0.my-service.my-ns.svc.cluster.local', RRType.A).answers).toMatchObject([
      { address: '127.0.0.21' },
    ]);
  });

  it('answers SRV per endpoint, targets = endpoint names, additional A per endpoint', () => {
    const a = r.resolve('_pg._tcp.db.my-ns.svc.cluster.local', RRType.SRV);
    expect(a.answers).toMatchObject([
      { type: 'SRV', priority: 0, weight: 50, port: 5432, target: 'db-0.db.my-ns.svc.cluster.local' },
      { type: 'SRV', priority: 0, weight: 50, port: 5432, target: '127-0-0-12.db.my-ns.svc.cluster.local' },
    ]);
    expect(a.additional).toMatchObject([
      { type: 'A', name: 'db-0.db.my-ns.svc.cluster.local', address: '127.0.0.11' },
      { type: 'A', name: '127-0-0-12.db.my-ns.svc.cluster.local', address: '127.0.0.12' },
    ]);
  });

  it('uses slice ports for headless SRV; a slice without ports yields A but no SRV', () => {
    const r2 = new DnsResolver();
    r2.update(
      state(
        [svc('ns', 'h', { clusterIP: 'None', ports: [{ port: 80 }] })],
        [slice('ns', 'h', [{ addresses: ['fd00::1'] }], undefined, 'IPv6')],
      ),
    );
    expect(r2.resolve('h.ns.svc.cluster.local', RRType.AAAA).answers).toMatchObject([{ address: 'fd00::1' }]);
    expect(r2.resolve('h.ns.svc.cluster.local', RRType.A).rcode).toBe(RCode.NOERROR);
    expect(r2.resolve('fd00--1.h.ns.svc.cluster.local', RRType.AAAA).answers).toHaveLength(1);
    const srv = r2.resolve('h.ns.svc.cluster.local', RRType.SRV);
    expect(srv.rcode).toBe(RCode.NOERROR);
    expect(srv.answers).toEqual([]);
  });
});

describe('DnsResolver: ExternalName, TXT, SOA, NS, PTR, pods', () => {
  const r = resolver();

  it('answers ExternalName with a CNAME (A, AAAA and CNAME questions)', () => {
    for (const t of [RRType.A, RRType.AAAA, RRType.CNAME]) {
      expect(r.resolve('ext.my-ns.svc.cluster.local', t).answers).toEqual([
        { type: 'CNAME', name: 'ext.my-ns.svc.cluster.local', ttl: 5, target: 'example.com' },
      ]);
    }
    expect(r.resolve('ext.my-ns.svc.cluster.local', RRType.SRV).answers).toEqual([]);
  });

  it('follows an in-zone ExternalName target', () => {
    const a = r.resolve('alias.my-ns.svc.cluster.local', RRType.A);
    expect(a.answers).toMatchObject([
      { type: 'CNAME', target: 'my-service.my-ns.svc.cluster.local' },
      { type: 'A', name: 'my-service.my-ns.svc.cluster.local', address: '10.96.0.20' },
    ]);
  });

  it('serves dns-version TXT 1.1.0; other TXT are NODATA', () => {
    expect(r.resolve('dns-version.cluster.local', RRType.TXT).answers).toMatchObject([
      { type: 'TXT', text: ['1.1.0'] },
    ]);
    expect(r.resolve('dns-version.cluster.local', RRType.A).rcode).toBe(RCode.NXDOMAIN);
  });

  it('answers SOA and NS at the apex with ns.dns glue', () => {
    expect(r.resolve('cluster.local', RRType.SOA).answers).toMatchObject([
      { type: 'SOA', name: 'cluster.local' },
    ]);
    const ns = r.resolve('cluster.local', RRType.NS);
    expect(ns.answers).toEqual([
      { type: 'NS', name: 'cluster.local', ttl: 5, target: 'ns.dns.cluster.local' },
    ]);
    expect(ns.additional).toMatchObject([{ type: 'A', name: 'ns.dns.cluster.local', address: '127.0.0.1' }]);
    expect(r.resolve('ns.dns.cluster.local', RRType.A).answers).toMatchObject([{ address: '127.0.0.1' }]);
  });

  it('answers PTR for cluster IPs and endpoint IPs', () => {
    expect(r.resolve('11.0.0.10.in-addr.arpa', RRType.PTR).answers).toEqual([
      {
        type: 'PTR',
        name: '11.0.0.10.in-addr.arpa',
        ttl: 5,
        target: 'redis-master.default.svc.cluster.local',
      },
    ]);
    expect(r.resolve('11.0.0.127.in-addr.arpa', RRType.PTR).answers).toMatchObject([
      { target: 'db-0.db.my-ns.svc.cluster.local' },
    ]);
    const v6 = r.resolve(
      '0.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa',
      RRType.PTR,
    );
    expect(v6.answers).toMatchObject([{ target: 'my-service.my-ns.svc.cluster.local' }]);
    const miss = r.resolve('9.9.9.10.in-addr.arpa', RRType.PTR);
    expect(miss.rcode).toBe(RCode.NXDOMAIN);
    expect(miss.scope).toBe('fallthrough');
  });

  it('refuses names outside the zone', () => {
    const a = r.resolve('example.com', RRType.A);
    expect(a.rcode).toBe(RCode.REFUSED);
    expect(a.scope).toBe('outside');
  });

  it('pod records: disabled → NXDOMAIN, insecure → any IP, verified → only existing pods', () => {
    expect(r.resolve('1-2-3-4.my-ns.pod.cluster.local', RRType.A).rcode).toBe(RCode.NXDOMAIN);
    const insecure = resolver({ pods: 'insecure' });
    expect(insecure.resolve('1-2-3-4.my-ns.pod.cluster.local', RRType.A).answers).toMatchObject([
      { address: '1.2.3.4' },
    ]);
    expect(insecure.resolve('1-2-3-4.nope.pod.cluster.local', RRType.A).rcode).toBe(RCode.NXDOMAIN);
    expect(insecure.resolve('fd00--5.my-ns.pod.cluster.local', RRType.AAAA).answers).toMatchObject([
      { address: 'fd00::5' },
    ]);
    expect(insecure.resolve('not-an-ip.my-ns.pod.cluster.local', RRType.A).rcode).toBe(RCode.NXDOMAIN);
    const verified = resolver({
      pods: 'verified',
      listPods: () => [
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { namespace: 'my-ns', name: 'p' },
          spec: { containers: [] },
          status: { podIP: '127.0.0.11' },
        },
      ],
    });
    expect(verified.resolve('127-0-0-11.my-ns.pod.cluster.local', RRType.A).answers).toHaveLength(1);
    expect(verified.resolve('127-0-0-11.default.pod.cluster.local', RRType.A).rcode).toBe(RCode.NXDOMAIN);
    expect(verified.resolve('1-2-3-4.my-ns.pod.cluster.local', RRType.A).rcode).toBe(RCode.NXDOMAIN);
  });

  it('honours a custom zone and TTL', () => {
    const c = new DnsResolver({ zone: 'Corp.Example.', ttl: 30 });
    c.update(seedState());
    const a = c.resolve('redis-master.default.svc.corp.example', RRType.A);
    expect(a.answers).toMatchObject([{ ttl: 30 }]);
    expect(c.resolve('redis-master.default.svc.cluster.local', RRType.A).rcode).toBe(RCode.REFUSED);
  });

  it('updates only the changed services', () => {
    const c = resolver();
    const s = seedState();
    const services = new Map(s.services);
    services.delete('default/redis-master');
    c.update({ ...s, services }, ['default/redis-master']);
    expect(c.resolve('redis-master.default.svc.cluster.local', RRType.A).rcode).toBe(RCode.NXDOMAIN);
    expect(c.resolve('my-service.my-ns.svc.cluster.local', RRType.A).answers).toHaveLength(1);
  });
});
