import { describe, expect, it } from 'vitest';
import { parseTarget, TargetSyntaxError } from '../../../src/backends/inprocess';

describe('parseTarget', () => {
  it('reads every service name form, with the default or given namespace', () => {
    expect(parseTarget('web')).toEqual({ kind: 'name', name: 'web', namespace: 'default' });
    expect(parseTarget('web', { namespace: 'shop' })).toEqual({
      kind: 'name',
      name: 'web',
      namespace: 'shop',
    });
    expect(parseTarget('web.shop')).toEqual({ kind: 'name', name: 'web', namespace: 'shop' });
    expect(parseTarget('web.shop.svc')).toEqual({ kind: 'name', name: 'web', namespace: 'shop' });
    expect(parseTarget('Web.Shop.svc.cluster.local.')).toEqual({
      kind: 'name',
      name: 'web',
      namespace: 'shop',
    });
    expect(parseTarget('web.shop.svc.corp.example', { zone: 'corp.example' })).toMatchObject({ name: 'web' });
  });

  it('reads ports by number and by name', () => {
    expect(parseTarget('web.shop:8080')).toEqual({
      kind: 'name',
      name: 'web',
      namespace: 'shop',
      port: 8080,
    });
    expect(parseTarget('web:HTTP')).toEqual({
      kind: 'name',
      name: 'web',
      namespace: 'default',
      port: 'http',
    });
  });

  it('reads IP targets, IPv6 in brackets, and node ports', () => {
    expect(parseTarget('10.96.0.10:53')).toEqual({ kind: 'address', ip: '10.96.0.10', port: 53 });
    expect(parseTarget('[fd00::1]:80')).toEqual({ kind: 'address', ip: 'fd00::1', port: 80 });
    expect(parseTarget('fd00::1')).toEqual({ kind: 'address', ip: 'fd00::1' });
    expect(parseTarget({ nodePort: 30080 })).toEqual({ kind: 'nodePort', nodePort: 30080 });
  });

  it('rejects what is not a service reference', () => {
    expect(() => parseTarget('www.example.com')).toThrow(TargetSyntaxError);
    expect(() => parseTarget('web.shop.svc.other.zone')).toThrow(/not in the cluster zone "cluster.local"/);
    expect(() => parseTarget('web:0')).toThrow(/out of range/);
    expect(() => parseTarget('10.0.0.1:http')).toThrow(/numeric port/);
    expect(() => parseTarget('a..b')).toThrow(/empty DNS label/);
    expect(() => parseTarget({ nodePort: 70000 })).toThrow(TargetSyntaxError);
  });
});
