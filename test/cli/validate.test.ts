import { describe, expect, it } from 'vitest';
import { cli, FIXTURES } from './helpers';

const M = `${FIXTURES}/manifests`;

describe('svcroute validate', () => {
  it('exits 0 and lists valid objects', async () => {
    const r = await cli(['validate', '-f', `${M}/app.yaml`]);
    expect(r).toEqual({ code: 0, stdout: 'service/web valid\npod/web-1 valid\n', stderr: '' });
  });

  it('prints every error of an invalid object in kubectl multi-error form and exits 1', async () => {
    const r = await cli(['validate', '-f', `${M}/invalid-service.yaml`]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe('The Service "broken" is invalid: ');
    expect(lines).toContain('* spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive');
    expect(lines).toContain(
      '* spec.ports[1].port: Invalid value: 70000: must be between 1 and 65535, inclusive',
    );
    expect(lines).toContain(
      '* spec.ports[1].protocol: Unsupported value: "QUIC": supported values: "SCTP", "TCP", "UDP"',
    );
    expect(lines.slice(1).every((l) => l.startsWith('* '))).toBe(true);
  });

  it('treats a missing namespace as default and reads stdin', async () => {
    const text =
      'apiVersion: v1\nkind: Service\nmetadata:\n  name: ok\nspec:\n  ports:\n  - port: 53\n    protocol: UDP\n';
    const r = await cli(['validate', '-f', '-'], { stdin: text });
    expect(r).toEqual({ code: 0, stdout: 'service/ok valid\n', stderr: '' });
  });

  it('names the file, document and field of a malformed manifest', async () => {
    const text = 'apiVersion: v1\nkind: Service\nmetadata:\n  name: ok\nspec:\n  ports:\n  - port: "80"\n';
    const r = await cli(['validate', '-f', '-'], { stdin: text });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'error: <stdin>: document 0 (line 7): Service "ok": spec.ports[0].port: expected integer, got string "80"\n',
    );
  });

  it('reports a missing file', async () => {
    const r = await cli(['validate', '-f', `${M}/does-not-exist.yaml`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `error: ${M}/does-not-exist.yaml: the path "${M}/does-not-exist.yaml" does not exist\n`,
    );
  });

  it('refuses two services asking for one cluster IP, as creating both would', async () => {
    const svc = (name: string) =>
      `apiVersion: v1\nkind: Service\nmetadata:\n  name: ${name}\nspec:\n  clusterIP: 10.96.0.50\n  ports:\n  - port: 80\n`;
    const r = await cli(['validate', '-f', '-'], { stdin: `${svc('a')}---\n${svc('b')}` });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('service/a valid\n');
    expect(r.stderr).toContain('The Service "b" is invalid: ');
    expect(r.stderr).toContain(
      'spec.clusterIPs: Invalid value: []string{"10.96.0.50"}: failed to allocate IP 10.96.0.50: provided IP is already allocated',
    );
  });

  it('checks node ports against --service-node-port-range', async () => {
    const ok = await cli(['validate', '-f', `${M}/nginx-nodeport.yaml`]);
    expect(ok.code).toBe(0);
    const r = await cli([
      'validate',
      '-f',
      `${M}/nginx-nodeport.yaml`,
      '--service-node-port-range',
      '30050-30100',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'The Service "nginx" is invalid: \n* spec.ports[0].nodePort: Invalid value: 30001: provided port is not in the valid range. The range of valid ports is 30050-30100\n',
    );
  });
});

describe('svcroute validate: more inputs', () => {
  it('validates legacy Endpoints as Endpoints and accepts comma-separated -f', async () => {
    const ep = 'apiVersion: v1\nkind: Endpoints\nmetadata:\n  name: Bad_Name\nsubsets: []\n';
    const r = await cli(['validate', '-f', '-'], { stdin: ep });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^The Endpoints "Bad_Name" is invalid: \n\* metadata\.name: Invalid value: "Bad_Name": /,
    );
    const both = await cli(['validate', '-f', `${M}/app.yaml,${M}/nginx-nodeport.yaml`]);
    expect(both).toEqual({
      code: 0,
      stdout: 'service/web valid\npod/web-1 valid\nservice/nginx valid\n',
      stderr: '',
    });
  });
  // The API server allocates before it validates; that step rejects inconsistent IP family
  // fields by itself, so the rest of the object's problems are not listed.
  describe('IP family errors come alone, as the allocation step reports them', () => {
    const doc = (spec: string) =>
      `apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n${spec}  ports:\n  - port: 0\n`;
    const cases: [string, string, string[], string[]][] = [
      [
        'malformed clusterIP',
        '  clusterIP: 1.2.3\n',
        [],
        [
          '* spec.clusterIPs[0]: Invalid value: "1.2.3": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
        ],
      ],
      [
        'duplicate ipFamilies',
        '  ipFamilies: [IPv4, IPv4]\n',
        [],
        ['* spec.ipFamilies[1]: Duplicate value: "IPv4"'],
      ],
      [
        'IPv6 address on an IPv4 range',
        '  clusterIP: fd00::5\n',
        ['--service-cluster-ip-range', '10.96.0.0/12'],
        ['* spec.clusterIPs[0]: Invalid value: []string{"fd00::5"}: IPv6 is not configured on this cluster'],
      ],
      [
        'SingleStack with two addresses',
        '  ipFamilyPolicy: SingleStack\n  clusterIP: 10.96.0.9\n  clusterIPs: [10.96.0.9, "fd00::9"]\n',
        ['--service-cluster-ip-range', '10.96.0.0/12,fd00::/108'],
        [
          "* spec.ipFamilyPolicy: Invalid value: \"SingleStack\": must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified",
        ],
      ],
    ];
    for (const [name, spec, flags, want] of cases)
      it(name, async () => {
        const r = await cli(['validate', '-f', '-', ...flags], { stdin: doc(spec) });
        expect(r.code).toBe(1);
        expect(r.stderr).toBe(['The Service "web" is invalid: ', ...want, ''].join('\n'));
      });
  });
});
