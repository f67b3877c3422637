import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FieldPath, formatFieldError } from '../../src/core/errors';
import {
  canonicalIPString,
  ipCanonicalWarnings,
  isDNS1035Label,
  isDNS1123Label,
  isDNS1123Subdomain,
  isInRange,
  isQualifiedName,
  isValidCIDR,
  isValidIP,
  isValidIPv4Address,
  isValidIPv6Address,
  isValidLabelValue,
  isValidPortName,
  isValidPortNum,
  nameIsDNS1035Label,
  parseIPSloppy,
  validateAnnotations,
  validateLabels,
  validateNonSpecialIP,
  validateObjectMeta,
} from '../../src/validation';

const LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1035_MSG =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const NAME_PART_MSG =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

describe('DNS names', () => {
  it('DNS-1123 labels', () => {
    for (const ok of ['a', 'ab', 'a-b', '0', 'a'.repeat(63), '1-2']) expect(isDNS1123Label(ok)).toEqual([]);
    expect(isDNS1123Label('A')).toEqual([LABEL_MSG]);
    expect(isDNS1123Label('-a')).toEqual([LABEL_MSG]);
    expect(isDNS1123Label('')).toEqual([LABEL_MSG]);
    expect(isDNS1123Label('a.b')).toEqual(['must not contain dots']);
    expect(isDNS1123Label('a'.repeat(64))).toEqual(['must be no more than 63 characters']);
  });
  it('DNS-1123 subdomains', () => {
    for (const ok of ['a', 'a.b', 'example.com', 'a-1.b-2', `${'a'.repeat(63)}.${'b'.repeat(63)}`])
      expect(isDNS1123Subdomain(ok)).toEqual([]);
    expect(isDNS1123Subdomain('a..b')).toEqual([SUBDOMAIN_MSG]);
    expect(isDNS1123Subdomain('A.b')).toEqual([SUBDOMAIN_MSG]);
    expect(isDNS1123Subdomain('a'.repeat(254))).toEqual(['must be no more than 253 characters']);
  });
  it('DNS-1035 labels (Service names)', () => {
    expect(isDNS1035Label('web')).toEqual([]);
    expect(isDNS1035Label('1web')).toEqual([DNS1035_MSG]);
    expect(nameIsDNS1035Label('web-', true)).toEqual([]);
    expect(nameIsDNS1035Label('web-', false)).toEqual([DNS1035_MSG]);
  });
});

describe('labels', () => {
  it('qualified names', () => {
    for (const ok of ['a', 'A', 'a_b', 'a.b', 'example.com/a', 'k8s.io/My.Name_1'])
      expect(isQualifiedName(ok)).toEqual([]);
    expect(isQualifiedName('-a')).toEqual([NAME_PART_MSG]);
    expect(isQualifiedName('')).toEqual(['name part must be non-empty', NAME_PART_MSG]);
    expect(isQualifiedName('/a')).toEqual(['prefix part must be non-empty']);
    expect(isQualifiedName('Example.com/a')).toEqual([`prefix part ${SUBDOMAIN_MSG}`]);
    expect(isQualifiedName('a/b/c')).toEqual([
      "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ]);
    expect(isQualifiedName('a'.repeat(64))).toEqual(['name part must be no more than 63 characters']);
  });
  it('label values', () => {
    for (const ok of ['', 'a', 'A-b_c.d', '1'.repeat(63)]) expect(isValidLabelValue(ok)).toEqual([]);
    expect(isValidLabelValue('a b')).toHaveLength(1);
    expect(isValidLabelValue('x'.repeat(64))).toEqual(['must be no more than 63 characters']);
  });
  it('validateLabels reports at the map path, value by value', () => {
    const errs = validateLabels({ 'a b': 'ok', good: '-bad' }, FieldPath.root('metadata', 'labels'));
    expect(errs.map(formatFieldError)).toEqual([
      `metadata.labels: Invalid value: "a b": ${NAME_PART_MSG}`,
      expect.stringMatching(
        /^metadata\.labels: Invalid value: "-bad": a valid label must be an empty string/,
      ),
    ]);
  });
  it('validateAnnotations: case-insensitive keys and the 256 KiB total', () => {
    expect(validateAnnotations({ 'Example.com/Key': 'v' }, 'metadata.annotations')).toEqual([]);
    const big = validateAnnotations({ a: 'x'.repeat(256 * 1024) }, 'metadata.annotations');
    expect(big.map(formatFieldError)).toEqual([
      'metadata.annotations: Too long: may not be more than 262144 bytes',
    ]);
  });
  it('property: any generated valid key and value pass', () => {
    const name = fc.stringMatching(/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/);
    fc.assert(
      fc.property(name, (n) => {
        expect(isQualifiedName(n)).toEqual([]);
        expect(isValidLabelValue(n)).toEqual([]);
        expect(isQualifiedName(`example.com/${n}`)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
  it('property: checkers never throw and agree on simple invariants', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        const lbl = isDNS1123Label(s);
        if (lbl.length === 0) expect(isDNS1123Subdomain(s)).toEqual([]);
        if (isDNS1035Label(s).length === 0) expect(lbl).toEqual([]);
        if (isValidLabelValue(s).length === 0 && s !== '') expect(isQualifiedName(s)).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });
});

describe('ports', () => {
  it('numbers', () => {
    expect(isValidPortNum(1)).toEqual([]);
    expect(isValidPortNum(65535)).toEqual([]);
    expect(isValidPortNum(0)).toEqual(['must be between 1 and 65535, inclusive']);
    expect(isValidPortNum(65536)).toEqual(['must be between 1 and 65535, inclusive']);
    expect(isInRange(5, 1, 4)).toEqual(['must be between 1 and 4, inclusive']);
  });
  it('IANA service names', () => {
    expect(isValidPortName('http')).toEqual([]);
    expect(isValidPortName('h2c-8080')).toEqual([]);
    expect(isValidPortName('8080')).toEqual(['must contain at least one letter (a-z)']);
    expect(isValidPortName('a--b')).toEqual(['must not contain consecutive hyphens']);
    expect(isValidPortName('-ab')).toEqual(['must not begin or end with a hyphen']);
    expect(isValidPortName('HTTP')).toEqual([
      'must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
      'must contain at least one letter (a-z)',
    ]);
    expect(isValidPortName('abcdefghijklmnop')).toEqual(['must be no more than 15 characters']);
  });
});

describe('IPs and CIDRs', () => {
  it('reads octets and prefix lengths with any number of leading zeros, as Go dtoi does', () => {
    expect(isValidIP('00000000010.0.0.1')).toEqual([]);
    expect(Array.from(parseIPSloppy('00000000010.0.0.1')?.bytes ?? [])).toEqual([10, 0, 0, 1]);
    expect(isValidCIDR('10.0.0.0/0024')).toEqual([]);
    expect(isValidIP('10.0.0.0256')).toEqual([
      'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
    ]);
    expect(isValidCIDR('10.0.0.0/0033')).toEqual([
      'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
    ]);
  });
  it('accepts what the API server accepts (sloppy IPv4, IPv6, IPv4-mapped)', () => {
    for (const ok of [
      '10.0.0.1',
      '010.000.000.001',
      '::',
      '::1',
      '2001:db8::1',
      '::ffff:1.2.3.4',
      'fe80::1:2:3:4',
    ])
      expect(isValidIP(ok)).toEqual([]);
    for (const bad of [
      '',
      '1.2.3',
      '1.2.3.256',
      '1.2.3.4.5',
      'a::b::c',
      'fe80::1%eth0',
      '1.2.3.4/32',
      ' 1.2.3.4',
      'abc',
    ])
      expect(isValidIP(bad)).toEqual(['must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)']);
    expect(isValidIPv4Address('::ffff:1.2.3.4')).toEqual([]);
    expect(isValidIPv6Address('::ffff:1.2.3.4')).toEqual(['must be a valid IPv6 address']);
  });
  it('CIDRs', () => {
    for (const ok of ['10.0.0.0/8', '10.0.0.1/8', '2001:db8::/64', '0.0.0.0/0'])
      expect(isValidCIDR(ok)).toEqual([]);
    for (const bad of ['10.0.0.0', '10.0.0.0/33', '2001:db8::/129', '10.0.0.0/-1'])
      expect(isValidCIDR(bad)).toEqual(['must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)']);
  });
  it('canonical forms and warnings', () => {
    expect(canonicalIPString(parseIPSloppy('2001:0db8:0:0:0:0:0:1')!)).toBe('2001:db8::1');
    expect(canonicalIPString(parseIPSloppy('1:0:0:1:0:0:0:1')!)).toBe('1:0:0:1::1');
    expect(ipCanonicalWarnings('10.0.0.1')).toEqual([]);
    expect(ipCanonicalWarnings('010.0.0.1')).toHaveLength(1);
    expect(ipCanonicalWarnings('2001:DB8::1')).toEqual([
      'IPv6 address "2001:DB8::1" should be in RFC 5952 canonical format ("2001:db8::1")',
    ]);
  });
  it('special IPs', () => {
    const msgs = (ip: string) => validateNonSpecialIP(ip, 'x').map((e) => e.detail);
    expect(msgs('10.1.2.3')).toEqual([]);
    expect(msgs('0.0.0.0')).toEqual(['may not be unspecified (0.0.0.0)']);
    expect(msgs('127.0.0.5')).toEqual(['may not be in the loopback range (127.0.0.0/8, ::1/128)']);
    expect(msgs('::1')).toEqual(['may not be in the loopback range (127.0.0.0/8, ::1/128)']);
    expect(msgs('169.254.169.254')).toEqual([
      'may not be in the link-local range (169.254.0.0/16, fe80::/10)',
    ]);
    expect(msgs('224.0.0.1')).toEqual([
      'may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)',
    ]);
  });
  it('property: every IPv4 dotted quad and its canonical IPv6 print are valid and round-trip', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.ipV6(), (v4, v6) => {
        expect(isValidIP(v4)).toEqual([]);
        expect(canonicalIPString(parseIPSloppy(v4)!)).toBe(v4);
        expect(isValidIP(v6)).toEqual([]);
        const c = canonicalIPString(parseIPSloppy(v6)!);
        expect(canonicalIPString(parseIPSloppy(c)!)).toBe(c);
      }),
      { numRuns: 300 },
    );
  });
});

describe('validateObjectMeta', () => {
  const opts = { namespaced: true, nameValidator: nameIsDNS1035Label };
  it('finalizers are qualified names, and orphan excludes foregroundDeletion (ValidateFinalizers)', () => {
    const meta = (finalizers: string[]) =>
      validateObjectMeta({ name: 'web', finalizers }, opts, FieldPath.root('metadata')).map(formatFieldError);
    expect(meta(['service.kubernetes.io/load-balancer-cleanup', 'orphan'])).toEqual([]);
    expect(meta(['orphan', 'foregroundDeletion'])).toEqual([
      'metadata.finalizers: Invalid value: []string{"orphan", "foregroundDeletion"}: finalizer orphan and foregroundDeletion cannot be both set',
    ]);
    expect(meta(['a b'])[0]).toMatch(
      /^metadata\.finalizers: Invalid value: "a b": name part must consist of/,
    );
  });
  it('generateName alone is enough: the server generates the name before validating', () => {
    expect(validateObjectMeta({ generateName: 'web-' }, opts, FieldPath.root('metadata'))).toEqual([]);
    expect(
      validateObjectMeta({ generateName: 'Web-' }, opts, FieldPath.root('metadata')).map(formatFieldError),
    ).toEqual([`metadata.generateName: Invalid value: "Web-": ${DNS1035_MSG}`]);
  });
  it('name required, generateName, namespace', () => {
    expect(validateObjectMeta({}, opts, FieldPath.root('metadata')).map(formatFieldError)).toEqual([
      'metadata.name: Required value: name or generateName is required',
    ]);
    expect(
      validateObjectMeta({ name: 'Web', namespace: 'a.b' }, opts, FieldPath.root('metadata')).map(
        formatFieldError,
      ),
    ).toEqual([
      `metadata.name: Invalid value: "Web": ${DNS1035_MSG}`,
      'metadata.namespace: Invalid value: "a.b": must not contain dots',
    ]);
    expect(
      validateObjectMeta(
        { name: 'web' },
        { ...opts, defaultNamespace: false },
        FieldPath.root('metadata'),
      ).map(formatFieldError),
    ).toEqual(['metadata.namespace: Required value']);
    expect(
      validateObjectMeta(
        { name: 'n', namespace: 'x' },
        { namespaced: false, nameValidator: nameIsDNS1035Label },
        FieldPath.root('metadata'),
      ).map(formatFieldError),
    ).toEqual(['metadata.namespace: Forbidden: not allowed on this type']);
  });
});

describe('strict IP/CIDR rules (StrictIPCIDRValidation)', () => {
  it('legacy fields accept sloppy forms unless strict', async () => {
    const { isValidIPForLegacyField, isValidIPStrict, isValidCIDRForLegacyField } = await import(
      '../../src/validation'
    );
    expect(isValidIPForLegacyField('010.0.0.1')).toEqual([]);
    expect(isValidIPForLegacyField('010.0.0.1', true)).toEqual(['must not have leading 0s']);
    expect(isValidIPForLegacyField('::ffff:1.2.3.4', true)).toEqual([
      'must not be an IPv4-mapped IPv6 address',
    ]);
    expect(isValidIPStrict('2001:DB8::1')).toEqual(['must be in canonical form ("2001:db8::1")']);
    expect(isValidIPStrict('10.0.0.1')).toEqual([]);
    expect(isValidCIDRForLegacyField('10.0.0.1/8')).toEqual([]);
    expect(isValidCIDRForLegacyField('10.0.0.1/8', true)).toEqual([
      'must not have bits set beyond the prefix length',
    ]);
    expect(isValidCIDRForLegacyField('10.0.0.0/08', true)).toEqual([
      'must not have leading 0s in IP or prefix length',
    ]);
    expect(isValidCIDRForLegacyField('10.0.0.0/8', true)).toEqual([]);
  });
});
