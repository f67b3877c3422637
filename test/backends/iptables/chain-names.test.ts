import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { endpointChainName, hash16, serviceChainNames } from '../../../src/backends/iptables/chain-names';

/** RFC 4648 base32 of the whole digest, first 16 characters: kube-proxy's portProtoHash, spelled out. */
function reference(input: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of createHash('sha256').update(input, 'utf8').digest()) {
    value = ((value << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out.slice(0, 16);
}

describe('chain-name hashing', () => {
  it('is the first 16 base32 characters of sha256, for any input', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => {
        expect(hash16(s)).toBe(reference(s));
      }),
      { numRuns: 500 },
    );
  });

  it('names the chains of kube-proxy tests', () => {
    // From kube-proxy's TestOverallIPTablesRules.
    expect(serviceChainNames('ns1/svc1:p80', 'TCP').cluster).toBe('KUBE-SVC-XPGD46QRK7WJZT7O');
    expect(serviceChainNames('ns5/svc5:p80', 'TCP').firewall).toBe('KUBE-FW-NUKIZ6OKUXPJNT4C');
    expect(endpointChainName('ns1/svc1:p80', 'TCP', '10.180.0.1:80')).toBe('KUBE-SEP-SXIVWICOYRO3J4NJ');
  });
});
