import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rewordCommanderError } from '../../src/cli/program';
import { cli } from './helpers';

let dir: string;
const at = (name: string) => join(dir, name);

const OK = `apiVersion: v1
kind: Service
metadata: {name: ok}
spec:
  clusterIP: 10.96.0.10
  ports: [{port: 80}]
`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'svcroute-cli-errors-'));
  writeFileSync(at('ok.yaml'), OK);
  // The object starts on line 1; the offending port is on line 9: errors point at the field.
  writeFileSync(
    at('invalid.yaml'),
    'apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  ports:\n  - name: http\n    port: 0\n    targetPort: 8080\n',
  );
  writeFileSync(
    at('syntax.yaml'),
    'apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  labels: {a: b\nspec: {}\n',
  );
  writeFileSync(at('kind.yaml'), 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n');
  writeFileSync(
    at('mistyped.yaml'),
    'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports:\n  - port: abc\n',
  );
  writeFileSync(
    at('noname.yaml'),
    'apiVersion: v1\nkind: Service\nmetadata: {}\nspec:\n  ports: [{port: 80}]\n',
  );
  mkdirSync(at('empty'));
  mkdirSync(at('dangling'));
  // A directory entry that cannot be read (permissions do not stop root; a dangling link does).
  symlinkSync(at('nowhere.yaml'), join(at('dangling'), 'gone.yaml'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Commands that load `-f` manifests and exit, with the flags each needs besides `-f`. */
const LOADERS: Record<string, string[]> = {
  get: ['get', 'svc'],
  explain: ['explain', 'shop/web'],
  'render env': ['render', 'env'],
  'render dns-zone': ['render', 'dns-zone'],
  'render iptables': ['render', 'iptables', '--node-name', 'node-a'],
  apply: ['apply', '--store', 'memory'],
  // The serving commands fail at start, before binding anything.
  serve: ['serve', '--dns', '127.0.0.1:0'],
  proxy: ['proxy', '--node-ip', '127.0.0.1'],
  'dns serve': ['dns', 'serve', '--listen', '127.0.0.1:0'],
};

/** Each bad input and the one line per problem it must give (`F` stands for the file). */
const BAD_INPUTS: { name: string; file: () => string; lines: (f: string) => string[] }[] = [
  {
    name: 'a missing file',
    file: () => at('nope.yaml'),
    lines: (f) => [`error: ${f}: the path ${JSON.stringify(f)} does not exist`],
  },
  {
    name: 'an empty directory',
    file: () => at('empty'),
    lines: (f) => [
      `error: ${f}: no manifest files in directory (recognized file extensions are .json .yaml .yml)`,
    ],
  },
  {
    name: 'an unreadable file in a directory',
    file: () => at('dangling'),
    lines: (f) => [expect.stringMatching(new RegExp(`^error: ${f}/gone\\.yaml: cannot read file: ENOENT`))],
  },
  {
    name: 'a YAML syntax error',
    file: () => at('syntax.yaml'),
    lines: (f) => [
      expect.stringMatching(new RegExp(`^error: ${f}: document 0 \\(line \\d+\\): invalid YAML: `)),
    ],
  },
  {
    name: 'an unknown kind',
    file: () => at('kind.yaml'),
    lines: (f) => [
      `error: ${f}: document 0 (line 1): Deployment "d": no matches for kind "Deployment" in version "apps/v1": svcroute reads v1 Service, Pod, Endpoints, Node, Namespace and discovery.k8s.io/v1 EndpointSlice`,
    ],
  },
  {
    name: 'a field of the wrong type',
    file: () => at('mistyped.yaml'),
    lines: (f) => [
      expect.stringMatching(
        new RegExp(`^error: ${f}: document 0 \\(line 6\\): Service "web": spec\\.ports\\[0\\]\\.port: `),
      ),
    ],
  },
  {
    name: 'an invalid object',
    file: () => at('invalid.yaml'),
    lines: (f) => [
      `error: ${f}: document 0 (line 9): Service "shop/web": spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive`,
    ],
  },
  {
    name: 'an object without a name',
    file: () => at('noname.yaml'),
    lines: (f) => [
      `error: ${f}: document 0 (line 3): Service: metadata.name: Required value: name or generateName is required`,
    ],
  },
];

describe('every loading command reports bad input the same way: one line per problem, exit 1', () => {
  for (const [command, argv] of Object.entries(LOADERS)) {
    for (const input of BAD_INPUTS) {
      it(`${command}: ${input.name}`, async () => {
        const f = input.file();
        const r = await cli([...argv, '-f', f]);
        expect(r.code).toBe(1);
        expect(r.stdout).toBe('');
        expect(r.stderr.endsWith('\n')).toBe(true);
        expect(r.stderr.slice(0, -1).split('\n')).toEqual(input.lines(f));
      });
    }
  }

  it('validate reports manifest problems as one line too (objects keep kubectl’s block form)', async () => {
    const r = await cli(['validate', '-f', at('kind.yaml')]);
    expect(r.code).toBe(1);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^error: .*kind\.yaml: document 0 \(line 1\): Deployment "d": /);
  });

  it('apply applies the valid objects and names every refused one on its own line', async () => {
    writeFileSync(
      at('mixed.yaml'),
      `${OK}---\n${'apiVersion: v1\nkind: Service\nmetadata: {name: bad}\nspec:\n  ports: [{port: 0, protocol: QUIC}]\n'}`,
    );
    const r = await cli(['apply', '--store', 'memory', '-f', at('mixed.yaml')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('service/ok created\n');
    expect(r.stderr.trimEnd().split('\n')).toEqual([
      `error: ${at('mixed.yaml')}: document 1 (line 12): Service "default/bad": spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive`,
      `error: ${at('mixed.yaml')}: document 1 (line 12): Service "default/bad": spec.ports[0].protocol: Unsupported value: "QUIC": supported values: "SCTP", "TCP", "UDP"`,
      expect.stringContaining('spec.ports[0].targetPort'),
    ]);
  });
});

describe('flag values', () => {
  const cases: { argv: string[]; line: string }[] = [
    {
      argv: ['render', 'iptables', '--node-ip', 'notanip'],
      line: 'error: invalid argument "notanip" for "--node-ip" flag: not an IP address',
    },
    {
      argv: ['render', 'iptables', '--node-ip', '10.0.0.1,nope'],
      line: 'error: invalid argument "10.0.0.1,nope" for "--node-ip" flag: "nope" is not an IP address',
    },
    {
      argv: ['render', 'iptables', '--cluster-cidr', '10.0.0.0/33'],
      line: 'error: invalid argument "10.0.0.0/33" for "--cluster-cidr" flag: must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
    },
    {
      argv: ['render', 'iptables', '--node-port-addresses', 'primary,10.0.0.1'],
      line: 'error: invalid argument "primary,10.0.0.1" for "--node-port-addresses" flag: must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
    },
    {
      argv: ['render', 'iptables', '--masquerade-bit', '32'],
      line: 'error: invalid argument "32" for "--masquerade-bit" flag: must be an integer in [0, 31]',
    },
    {
      argv: ['render', 'iptables', '--localhost-nodeports', 'yes'],
      line: 'error: invalid argument "yes" for "--localhost-nodeports" flag: must be true or false',
    },
    {
      argv: ['dns', 'serve', '--listen', '127.0.0.1'],
      line: 'error: invalid argument "127.0.0.1" for "--listen" flag: want IP:PORT (e.g. 127.0.0.1:5353)',
    },
    {
      argv: ['dns', 'serve', '--listen', 'localhost:53'],
      line: 'error: invalid argument "localhost:53" for "--listen" flag: want IP:PORT (e.g. 127.0.0.1:5353)',
    },
    {
      argv: ['dns', 'serve', '--listen', '127.0.0.1:0', '--ttl', '-1'],
      line: 'error: invalid argument "-1" for "--ttl" flag: must be an integer in [0, 3600]',
    },
    {
      argv: ['dns', 'serve', '--listen', '127.0.0.1:0', '--upstream', 'dns.google'],
      line: 'error: invalid argument "dns.google" for "--upstream" flag: upstream "dns.google": not an IP address',
    },
    {
      argv: ['dns', 'serve', '--listen', '127.0.0.1:0', '--pods', 'all'],
      line: 'error: invalid argument "all" for "--pods" flag: allowed choices are disabled, insecure, verified',
    },
    {
      argv: ['proxy', '--node-ip', 'notanip'],
      line: 'error: invalid argument "notanip" for "--node-ip" flag: not an IP address',
    },
    {
      argv: ['proxy', '--node-ip', '127.0.0.1', '--metrics', '9100'],
      line: 'error: invalid argument "9100" for "--metrics" flag: want IP:PORT (e.g. 127.0.0.1:5353)',
    },
    {
      argv: ['serve', '--dns', ':5353'],
      line: 'error: invalid argument ":5353" for "--dns" flag: want IP:PORT (e.g. 127.0.0.1:5353)',
    },
    {
      argv: ['serve', '--proxy', '--bind', 'example.com'],
      line: 'error: invalid argument "example.com" for "--bind" flag: not an IP address',
    },
    {
      argv: ['explain', 'shop/web', '-o', 'table'],
      line: 'error: invalid argument "table" for "--output" flag: allowed choices are text, json',
    },
    { argv: ['dns', 'serve'], line: "error: required option '--listen <addr>' not specified" },
    { argv: ['render', 'env'], line: "error: required option '-f, --filename <paths...>' not specified" },
  ];
  for (const { argv, line } of cases) {
    it(`${argv.join(' ')}: exit 2, one line`, async () => {
      const withFile = argv.length > 2 || argv[0] === 'proxy' ? [...argv, '-f', at('ok.yaml')] : argv;
      const r = await cli(withFile);
      expect(r).toEqual({ code: 2, stdout: '', stderr: `${line}\n` });
    });
  }

  it("rewords commander's invalid-value message and leaves others alone", () => {
    expect(
      rewordCommanderError(
        "error: option '-o, --output <format>' argument 'x' is invalid. Allowed choices are a, b.\n",
      ),
    ).toBe('error: invalid argument "x" for "--output" flag: allowed choices are a, b\n');
    expect(rewordCommanderError("error: unknown option '--bogus'\n")).toBe(
      "error: unknown option '--bogus'\n",
    );
  });
});

describe('addresses that cannot be bound', () => {
  let blocker: Server;
  let port: number;
  beforeAll(async () => {
    blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    port = (blocker.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((r) => blocker.close(() => r())));

  it('dns serve: exit 1, one line naming the flag and the address', async () => {
    const r = await cli(['dns', 'serve', '--listen', `127.0.0.1:${port}`, '-f', at('ok.yaml')]);
    expect(r).toEqual({
      code: 1,
      stdout: '',
      stderr: `error: cannot listen on 127.0.0.1:${port} (--listen): address already in use\n`,
    });
  });

  it('serve --dns: exit 1, one line naming the flag and the address', async () => {
    const r = await cli(['serve', '--dns', `127.0.0.1:${port}`, '-f', at('ok.yaml')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: cannot listen on 127.0.0.1:${port} (--dns): address already in use\n`);
  });

  it('proxy --metrics: exit 1, one line naming the flag and the address', async () => {
    const r = await cli([
      'proxy',
      '--node-ip',
      '127.0.0.1',
      '--portal-port',
      'auto',
      '--metrics',
      `127.0.0.1:${port}`,
      '-f',
      at('ok.yaml'),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: cannot listen on 127.0.0.1:${port} (--metrics): address already in use\n`);
  });
});
