import { describe, expect, it } from 'vitest';
import {
  addressFromReverse,
  candidateNames,
  DnsResolver,
  renderResolvConf,
  renderZoneFile,
  reverseName,
} from '../../../src/backends/dns';
import { seedState } from './fixtures';

describe('renderZoneFile', () => {
  it('prints SOA, NS, dns-version and every service record', () => {
    const r = new DnsResolver({ serial: () => 7 });
    r.update(seedState());
    const zone = renderZoneFile(r);
    expect(zone).toContain('$ORIGIN cluster.local.\n$TTL 5\n');
    expect(zone).toContain(
      'cluster.local.\t5\tIN\tSOA\tns.dns.cluster.local. hostmaster.cluster.local. 7 7200 1800 86400 5',
    );
    expect(zone).toContain('cluster.local.\t5\tIN\tNS\tns.dns.cluster.local.');
    expect(zone).toContain('dns-version.cluster.local.\t28800\tIN\tTXT\t"1.1.0"');
    expect(zone).toContain('redis-master.default.svc.cluster.local.\t5\tIN\tA\t10.0.0.11');
    expect(zone).toContain(
      '_redis._tcp.redis-master.default.svc.cluster.local.\t5\tIN\tSRV\t0 100 6379 redis-master.default.svc.cluster.local.',
    );
    expect(zone).toContain('db-0.db.my-ns.svc.cluster.local.\t5\tIN\tA\t127.0.0.11');
    expect(zone).toContain('ext.my-ns.svc.cluster.local.\t5\tIN\tCNAME\texample.com.');
    expect(zone).not.toContain('db-2');
  });
});

describe('pod client helpers', () => {
  it('renders the ClusterFirst resolv.conf', () => {
    expect(renderResolvConf({ namespace: 'my-ns', nameservers: ['10.96.0.10'] })).toBe(
      'search my-ns.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n',
    );
  });

  it('orders candidates by ndots like glibc', () => {
    const search = ['my-ns.svc.cluster.local', 'svc.cluster.local', 'cluster.local'];
    expect(candidateNames('backend-service', search)).toEqual([
      'backend-service.my-ns.svc.cluster.local',
      'backend-service.svc.cluster.local',
      'backend-service.cluster.local',
      'backend-service',
    ]);
    expect(candidateNames('a.b.c.d.e.f', search)[0]).toBe('a.b.c.d.e.f');
    expect(candidateNames('my-service.my-ns.svc.cluster.local.', search)).toEqual([
      'my-service.my-ns.svc.cluster.local',
    ]);
  });

  it('maps IPs to reverse names and back', () => {
    expect(reverseName('10.0.0.11')).toBe('11.0.0.10.in-addr.arpa');
    expect(addressFromReverse(reverseName('fd00::20'))).toBe('fd00::20');
    expect(addressFromReverse('0.10.in-addr.arpa')).toBe('');
  });
});

describe('address parsing', () => {
  it('parses listen addresses and refuses the rest clearly', async () => {
    const { parseListenAddress, parseUpstream } = await import('../../../src/backends/dns');
    expect(parseListenAddress('127.0.0.1:53')).toEqual({ host: '127.0.0.1', port: 53 });
    expect(parseListenAddress('[::1]:5353')).toEqual({ host: '::1', port: 5353 });
    expect(() => parseListenAddress('localhost:53')).toThrow(/invalid listen address "localhost:53"/);
    expect(() => parseListenAddress('127.0.0.1')).toThrow(/IP:PORT/);
    expect(parseUpstream('127.0.0.1')).toEqual({ host: '127.0.0.1', port: 53 });
    expect(parseUpstream('127.0.0.1:5300')).toEqual({ host: '127.0.0.1', port: 5300 });
    expect(parseUpstream('[::1]:5300')).toEqual({ host: '::1', port: 5300 });
    expect(parseUpstream('::1')).toEqual({ host: '::1', port: 53 });
    expect(() => parseUpstream('dns.example:53')).toThrow(/not an IP address/);
  });
});
