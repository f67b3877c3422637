import { promises as dnsPromises } from 'node:dns';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerServeCommand, runServe } from '../../src/cli/commands/serve';
import { CliContext } from '../../src/cli/context';
import { COMMAND_REGISTRATIONS } from '../../src/cli/program';
import { cli } from './helpers';

it('serve is one of the program commands', () => {
  expect(COMMAND_REGISTRATIONS).toContain(registerServeCommand);
});

const POD_IP = '127.0.0.31';

function manifests(podPort: number, extra = ''): string {
  return `apiVersion: v1
kind: Namespace
metadata: {name: my-ns}
---
apiVersion: v1
kind: Service
metadata: {name: backend-service, namespace: my-ns}
spec:
  selector: {tier: backend, app: myapp}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: backend-nodeport, namespace: my-ns}
spec:
  type: NodePort
  selector: {tier: backend, app: myapp}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Pod
metadata: {name: backend-1, namespace: my-ns, labels: {tier: backend, app: myapp}}
spec:
  containers: [{name: app, image: app, ports: [{name: http, containerPort: ${podPort}}]}]
status:
  phase: Running
  podIP: ${POD_IP}
  conditions: [{type: Ready, status: "True"}]
${extra}`;
}

const EXTRA_SERVICE = `---
apiVersion: v1
kind: Service
metadata: {name: extra, namespace: my-ns}
spec:
  clusterIP: 10.96.0.99
  ports: [{port: 9000}]
`;

/** Collects what `serve` prints and lets a test wait for a line. */
class Capture {
  text = '';
  errors = '';
  stdinReads = 0;
  private waiters: { re: RegExp; stream: 'out' | 'err'; resolve: (m: RegExpMatchArray) => void }[] = [];
  readonly ctx: CliContext;

  constructor(stdin = '') {
    this.ctx = new CliContext({
      stdout: { write: (s: string) => this.push(s) },
      stderr: { write: (s: string) => this.pushErr(s) },
      readStdin: () => {
        this.stdinReads++;
        return Promise.resolve(stdin);
      },
      now: () => new Date(),
    });
  }

  private push(s: string): void {
    this.text += s;
    this.check();
  }

  private pushErr(s: string): void {
    this.errors += s;
    this.check();
  }

  private check(): void {
    this.waiters = this.waiters.filter((w) => {
      const m = (w.stream === 'err' ? this.errors : this.text).match(w.re);
      if (m) w.resolve(m);
      return !m;
    });
  }

  /** Resolves with the first match of `re` in stdout (now or later), or fails after 5 s. */
  waitFor(re: RegExp, stream: 'out' | 'err' = 'out'): Promise<RegExpMatchArray> {
    const m = (stream === 'err' ? this.errors : this.text).match(re);
    if (m) return Promise.resolve(m);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no ${re} in output:\n${this.text}\nstderr:\n${this.errors}`)),
        5_000,
      );
      this.waiters.push({
        re,
        stream,
        resolve: (found) => {
          clearTimeout(timer);
          resolve(found);
        },
      });
    });
  }
}

function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, agent: false, timeout: 3_000 }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

let dir: string;
let file: string;
let backend: http.Server;
let podPort: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'svcroute-serve-'));
  file = join(dir, 'app.yaml');
  backend = http.createServer((_req, res) => res.end('backend-1'));
  await new Promise<void>((r) => backend.listen(0, POD_IP, () => r()));
  podPort = (backend.address() as AddressInfo).port;
  writeFileSync(file, manifests(podPort));
});

afterAll(async () => {
  await new Promise((r) => backend.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('svcroute serve', () => {
  it('serves DNS and proxies node ports, following file changes until aborted', async () => {
    const out = new Capture();
    const stop = new AbortController();
    const running = runServe(
      out.ctx,
      { filename: [dir], dns: '127.0.0.1:0', proxy: true, nodeIp: '127.0.0.1', portalPort: 'service' },
      stop.signal,
    );
    try {
      await out.waitFor(/^ready$/m);
      expect(out.text).toMatch(/^loaded 4 object\(s\), 2 service\(s\) from /m);
      expect(out.text).toMatch(
        /^ {2}backend-service\.my-ns\.svc\.cluster\.local +10\.\S+ +80\/TCP +1\/1 endpoints ready$/m,
      );
      expect(out.text).toMatch(
        /^ {2}backend-nodeport\.my-ns\.svc\.cluster\.local +10\.\S+ +80:3\d{4}\/TCP +1\/1 endpoints ready$/m,
      );
      const [, dnsPort] = await out.waitFor(
        /^dns: listening udp\+tcp 127\.0\.0\.1:(\d+) \(zone cluster\.local\)$/m,
      );
      const [, nodePort] = await out.waitFor(
        /^proxy: listening tcp 127\.0\.0\.1:(\d+) -> my-ns\/backend-nodeport:80$/m,
      );

      expect(out.text).toContain('proxy: node ports on 127.0.0.1; cluster IP ports are not proxied');

      const resolver = new dnsPromises.Resolver({ timeout: 2_000, tries: 1 });
      resolver.setServers([`127.0.0.1:${dnsPort}`]);
      const [ip] = await resolver.resolve4('backend-service.my-ns.svc.cluster.local');
      expect(ip).toMatch(/^10\.(9[6-9]|1[01]\d)\./);
      expect(await get(Number(nodePort))).toBe('backend-1');

      // A new service appears in DNS after the file changes.
      writeFileSync(file, manifests(podPort, EXTRA_SERVICE));
      await out.waitFor(/^reloaded: 1 created, 0 configured, 0 deleted; 3 service\(s\)$/m, 'err');
      expect(await resolver.resolve4('extra.my-ns.svc.cluster.local')).toEqual(['10.96.0.99']);

      // Removing it from the file deletes it.
      writeFileSync(file, manifests(podPort));
      await out.waitFor(/^reloaded: 0 created, 0 configured, 1 deleted; 2 service\(s\)$/m, 'err');
      await expect(resolver.resolve4('extra.my-ns.svc.cluster.local')).rejects.toMatchObject({
        code: 'ENOTFOUND',
      });
      expect(out.errors).toBe(
        'reloaded: 1 created, 0 configured, 0 deleted; 3 service(s)\nreloaded: 0 created, 0 configured, 1 deleted; 2 service(s)\n',
      );
    } finally {
      stop.abort();
      await running;
    }
    expect(out.text).toMatch(/^stopping$/m);
    await expect(
      get(Number(out.text.match(/127\.0\.0\.1:(\d+) -> my-ns\/backend-nodeport/)?.[1])),
    ).rejects.toThrow();
  });

  it('keeps serving the previous state when a reload is invalid, naming file and field', async () => {
    const f = join(dir, 'single.yaml');
    writeFileSync(f, manifests(podPort));
    const out = new Capture();
    const stop = new AbortController();
    const running = runServe(out.ctx, { filename: [f], dns: '127.0.0.1:0' }, stop.signal);
    try {
      await out.waitFor(/^ready$/m);
      writeFileSync(f, manifests(podPort).replace('port: 80,', 'port: 70000,'));
      await out.waitFor(/^reloaded: /m, 'err');
      expect(out.errors).toBe(
        `error: ${f}: document 1 (line 10): Service "my-ns/backend-service": spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive\n` +
          'reloaded: 0 created, 0 configured, 0 deleted, 1 rejected (previous version kept); 2 service(s)\n',
      );
    } finally {
      stop.abort();
      await running;
    }
  });

  it('serves manifests from standard input', async () => {
    const out = new Capture(manifests(podPort));
    const stop = new AbortController();
    const running = runServe(out.ctx, { filename: ['-'], dns: '127.0.0.1:0', watch: false }, stop.signal);
    try {
      await out.waitFor(/^ready$/m);
      expect(out.text).toMatch(/^loaded 4 object\(s\), 2 service\(s\) from -$/m);
      expect(out.stdinReads).toBe(1);
    } finally {
      stop.abort();
      await running;
    }
  });

  it('fails at start with one line per rejected object', async () => {
    const f = join(dir, 'invalid.yaml');
    writeFileSync(f, manifests(podPort).replace('name: backend-service', 'name: Backend_Service'));
    const r = await cli(['serve', '--dns', '127.0.0.1:0', '-f', f]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `error: ${f}: document 1 (line 7): Service "my-ns/Backend_Service": metadata.name: Invalid value: "Backend_Service": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')\n`,
    );
    expect(r.stderr).toContain('metadata.name');
  });

  it('needs something to serve, and valid addresses', async () => {
    const none = await cli(['serve', '-f', file]);
    expect(none.code).toBe(2);
    expect(none.stderr).toBe('error: nothing to serve: give --dns IP:PORT, --proxy, or both\n');
    const bad = await cli(['serve', '--proxy', '--node-ip', 'localhost', '-f', file]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('error: invalid argument "localhost" for "--node-ip" flag: not an IP address\n');
    const badDns = await cli(['serve', '--dns', '127.0.0.1', '-f', file]);
    expect(badDns.code).toBe(2);
    expect(badDns.stderr).toBe(
      'error: invalid argument "127.0.0.1" for "--dns" flag: want IP:PORT (e.g. 127.0.0.1:5353)\n',
    );
  });

  it('has --help', async () => {
    const r = await cli(['serve', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: svcroute serve [options]');
    expect(r.stdout).toContain('--dns <addr>');
    expect(r.stdout).toContain('Exit status');
  });
});
