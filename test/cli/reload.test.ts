import { promises as dnsPromises } from 'node:dns';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDnsServe } from '../../src/cli/commands/dns';
import { runProxy } from '../../src/cli/commands/proxy';
import { runServe } from '../../src/cli/commands/serve';
import { CliContext } from '../../src/cli/context';

/** Output of one run, with a way to wait for a line. */
class Output {
  out = '';
  err = '';

  readonly io = {
    stdout: { write: (s: string) => (this.out += s) },
    stderr: { write: (s: string) => (this.err += s) },
  };

  readonly ctx = new CliContext({
    ...this.io,
    readStdin: async () => '',
    now: () => new Date(),
  });

  /** Waits (at most 5 s) until stderr holds `count` lines matching `re`. */
  async waitForErr(re: RegExp, count = 1): Promise<void> {
    const deadline = Date.now() + 5_000;
    while (this.lines(this.err).filter((l) => re.test(l)).length < count) {
      if (Date.now() > deadline)
        throw new Error(`no ${re} (x${count}) in stderr:\n${this.err}\nstdout:\n${this.out}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async waitForOut(re: RegExp): Promise<RegExpMatchArray> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const m = this.out.match(re);
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`no ${re} in stdout:\n${this.out}\nstderr:\n${this.err}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  lines(text: string): string[] {
    return text.split('\n').filter((l) => l !== '');
  }
}

function service(name: string, clusterIP: string, port: number, nodePort?: number): string {
  return `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: dev}
spec:
  type: ${nodePort ? 'NodePort' : 'ClusterIP'}
  clusterIP: ${clusterIP}
  ports: [{port: ${port}${nodePort ? `, nodePort: ${nodePort}` : ''}}]
`;
}

const GOOD = service('web', '10.96.50.1', 80, 31901);
const BROKEN_YAML = `${GOOD}  labels: {oops\n`;
const INVALID = service('web', '10.96.50.1', 0, 31901);
const FIXED = `${GOOD}---\n${service('api', '10.96.50.2', 8080, 31902)}`;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'svcroute-reload-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Replaces the file the way editors do: write a temporary file, then rename it over. */
function replace(file: string, text: string): void {
  const tmp = `${file}.swp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/**
 * The edit sequence every serving command must handle alike: a syntax error keeps everything,
 * an invalid object keeps its previous version, a fixed file reloads.
 */
async function editSequence(
  file: string,
  o: Output,
  stillServed: () => Promise<void>,
  newServed: () => Promise<void>,
) {
  replace(file, BROKEN_YAML);
  await o.waitForErr(/^reload failed: still serving the previous state$/);
  expect(o.lines(o.err)).toEqual([
    expect.stringMatching(new RegExp(`^error: ${file}: document 0 \\(line \\d+\\): invalid YAML: `)),
    'reload failed: still serving the previous state',
  ]);
  await stillServed();

  o.err = '';
  replace(file, INVALID);
  await o.waitForErr(/^reloaded: /);
  expect(o.lines(o.err)).toEqual([
    `error: ${file}: document 0 (line 7): Service "dev/web": spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive`,
    expect.stringMatching(/^error: .*spec\.ports\[0\]\.targetPort: Invalid value: 0: /),
    'reloaded: 0 created, 0 configured, 0 deleted, 1 rejected (previous version kept); 1 service(s)',
  ]);
  await stillServed();

  o.err = '';
  replace(file, FIXED);
  await o.waitForErr(/^reloaded: /);
  expect(o.lines(o.err)).toEqual(['reloaded: 1 created, 0 configured, 0 deleted; 2 service(s)']);
  await stillServed();
  await newServed();
}

describe('reloading on change: serve, proxy and dns serve behave alike', () => {
  it('dns serve', async () => {
    const file = join(dir, 'dns.yaml');
    writeFileSync(file, GOOD);
    const o = new Output();
    const stop = new AbortController();
    const running = runDnsServe(
      { filename: [file], listen: '127.0.0.1:0' },
      { ...o.io, signal: stop.signal },
    );
    try {
      const [, port] = await o.waitForOut(/^listening udp\+tcp 127\.0\.0\.1:(\d+)\n$/);
      const resolver = new dnsPromises.Resolver({ timeout: 2_000, tries: 1 });
      resolver.setServers([`127.0.0.1:${port}`]);
      await editSequence(
        file,
        o,
        async () => expect(await resolver.resolve4('web.dev.svc.cluster.local')).toEqual(['10.96.50.1']),
        async () => expect(await resolver.resolve4('api.dev.svc.cluster.local')).toEqual(['10.96.50.2']),
      );
      expect(o.out).toBe(`listening udp+tcp 127.0.0.1:${port}\n`);
    } finally {
      stop.abort();
      await running;
    }
  });

  it('proxy', async () => {
    const file = join(dir, 'proxy.yaml');
    writeFileSync(file, GOOD);
    const o = new Output();
    const stop = new AbortController();
    const running = runProxy(
      o.ctx,
      { filename: [file], nodeIp: ['127.0.0.1'], bind: ['127.0.0.1'], portalPort: 'auto', watch: true },
      stop.signal,
    );
    try {
      await o.waitForOut(/listening tcp 127\.0\.0\.1:31901 -> dev\/web:80/);
      await editSequence(
        file,
        o,
        async () => expect(o.out).not.toMatch(/closed tcp 127\.0\.0\.1:31901/),
        async () => {
          await o.waitForOut(/listening tcp 127\.0\.0\.1:31902 -> dev\/api:8080/);
        },
      );
    } finally {
      stop.abort();
      await running;
    }
    expect(o.out).toMatch(/closed tcp 127\.0\.0\.1:31901 -> dev\/web:80/);
  });

  it('serve', async () => {
    const file = join(dir, 'serve.yaml');
    writeFileSync(file, GOOD);
    const o = new Output();
    const stop = new AbortController();
    const running = runServe(o.ctx, { filename: [file], dns: '127.0.0.1:0' }, stop.signal);
    try {
      const [, port] = await o.waitForOut(/^dns: listening udp\+tcp 127\.0\.0\.1:(\d+) /m);
      await o.waitForOut(/^ready$/m);
      const resolver = new dnsPromises.Resolver({ timeout: 2_000, tries: 1 });
      resolver.setServers([`127.0.0.1:${port}`]);
      await editSequence(
        file,
        o,
        async () => expect(await resolver.resolve4('web.dev.svc.cluster.local')).toEqual(['10.96.50.1']),
        async () => expect(await resolver.resolve4('api.dev.svc.cluster.local')).toEqual(['10.96.50.2']),
      );
    } finally {
      stop.abort();
      await running;
    }
  });
});
