import { describe, expect, it } from 'vitest';
import { formatFieldError } from '../../src/core/errors';
import type { Endpoints } from '../../src/core/types';
import { validateEndpoints, validateObject } from '../../src/validation';

const ep = (subsets: NonNullable<Endpoints['subsets']>): Endpoints => ({
  apiVersion: 'v1',
  kind: 'Endpoints',
  metadata: { name: 'web', namespace: 'default' },
  subsets,
});

describe('validateEndpoints (ValidateEndpoints / validateEndpointSubsets)', () => {
  it('accepts what kubectl get endpoints -o yaml prints', () => {
    const ok = ep([
      {
        addresses: [{ ip: '10.1.0.5', nodeName: 'node-a', targetRef: { kind: 'Pod', name: 'web-1' } }],
        notReadyAddresses: [{ ip: 'fd00::5', hostname: 'web-2' }],
        ports: [
          { name: 'http', port: 8080, protocol: 'TCP' },
          { name: 'dns', port: 53, protocol: 'UDP', appProtocol: 'dns' },
        ],
      },
    ]);
    expect(validateEndpoints(ok)).toEqual([]);
    expect(validateObject(ok)).toEqual([]);
    expect(validateEndpoints(ep([]))).toEqual([]);
  });

  it('golden messages, in the server order', () => {
    const bad = ep([
      { ports: [{ port: 80 }] },
      {
        addresses: [{ ip: '10.1.0.300' }, { ip: '127.0.0.1', hostname: 'Web_1', nodeName: 'Node A' }],
        notReadyAddresses: [{ ip: '169.254.1.1' }],
        ports: [{ port: 0 }, { name: 'Http', port: 80, protocol: 'ICMP' as 'TCP', appProtocol: 'a/b/c' }],
      },
    ]);
    const out = validateEndpoints(bad).map(formatFieldError);
    expect(out).toEqual([
      'subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`',
      'subsets[1].addresses[0].ip: Invalid value: "10.1.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
      'subsets[1].addresses[0].ip: Invalid value: "10.1.0.300": must be a valid IP address',
      expect.stringMatching(
        /^subsets\[1\]\.addresses\[1\]\.hostname: Invalid value: "Web_1": a lowercase RFC 1123 label/,
      ),
      expect.stringMatching(
        /^subsets\[1\]\.addresses\[1\]\.nodeName: Invalid value: "Node A": a lowercase RFC 1123 subdomain/,
      ),
      'subsets[1].addresses[1].ip: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)',
      'subsets[1].notReadyAddresses[0].ip: Invalid value: "169.254.1.1": may not be in the link-local range (169.254.0.0/16, fe80::/10)',
      'subsets[1].ports[0].name: Required value',
      'subsets[1].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive',
      expect.stringMatching(
        /^subsets\[1\]\.ports\[1\]\.name: Invalid value: "Http": a lowercase RFC 1123 label/,
      ),
      'subsets[1].ports[1].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
      expect.stringMatching(
        /^subsets\[1\]\.ports\[1\]\.appProtocol: Invalid value: "a\/b\/c": a qualified name/,
      ),
    ]);
  });
});
