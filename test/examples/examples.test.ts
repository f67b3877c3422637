// Every example of examples/ runs here as its own process over the built package, the way a
// reader runs it: exit code 0 and the output the docs promise. The examples use loopback only.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Per example; the slowest (the vitest example) needs a few seconds. */
const EXAMPLE_TIMEOUT_MS = 60_000;

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function node(args: string[]): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(process.execPath, args, {
      cwd: ROOT,
      timeout: EXAMPLE_TIMEOUT_MS,
      env: { ...process.env, NO_COLOR: '1' },
      maxBuffer: 16 << 20,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number | string; stdout?: string; stderr?: string; signal?: string };
    return {
      code: typeof err.code === 'number' ? err.code : -1,
      stdout: err.stdout ?? '',
      stderr: `${err.stderr ?? ''}${err.signal ? `\n(killed by ${err.signal})` : ''}`,
    };
  }
}

/** Runs an example and fails with its output when it does not exit 0. */
async function example(args: string[]): Promise<string> {
  const r = await node(args);
  if (r.code !== 0) throw new Error(`node ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

beforeAll(async () => {
  // The examples import the build, as users import the package. CI builds before testing; a
  // local run without dist/ builds it here.
  if (!existsSync(join(ROOT, 'dist', 'index.js')) || !existsSync(join(ROOT, 'dist', 'cli.js'))) {
    await run(process.execPath, [join(ROOT, 'node_modules', 'tsup', 'dist', 'cli-default.js')], {
      cwd: ROOT,
      timeout: 180_000,
    });
  }
}, 200_000);

/** Every .mjs/.cjs file under examples/, relative to the repository root. */
function exampleSources(): string[] {
  return (readdirSync(join(ROOT, 'examples'), { recursive: true }) as string[])
    .filter((f) => /\.(mjs|cjs)$/.test(f))
    .map((f) => join('examples', f));
}

describe('example sources', () => {
  it('import svcroute by its public names, so readers can copy them as they are', () => {
    const sources = exampleSources();
    expect(sources.length).toBeGreaterThan(5);
    const offenders = sources.filter((f) =>
      /(from\s+|require\(\s*|import\(\s*)['"][./]*\/(dist|src)\//.test(readFileSync(join(ROOT, f), 'utf8')),
    );
    expect(offenders).toEqual([]);
  });
});

describe('examples', { timeout: EXAMPLE_TIMEOUT_MS + 5_000 }, () => {
  it('demo: every step passes', async () => {
    const out = await example(['examples/demo/demo.mjs']);
    expect(out).toMatch(/^(\d+)\/\1 steps passed$/m);
    expect(out).not.toMatch(/skipped|✗/);
    for (const step of [
      'resolves to the cluster IP',
      'round-robin',
      'kept its replica',
      'nodePort',
      'KUBE-SVC-',
    ])
      expect(out).toContain(step);
  });

  it('seed: redis-master env vars (10.0.0.11:6379)', async () => {
    const out = await example(['examples/seed/redis-env.mjs']);
    expect(out).toContain('REDIS_MASTER_SERVICE_HOST=10.0.0.11');
    expect(out).toContain('REDIS_MASTER_PORT=tcp://10.0.0.11:6379');
    expect(out).toContain("get('redis-master') -> 10.0.0.11:6379 (TCP)");
  });

  it('seed: mysql port 33306 -> targetPort 3306, no NodePort', async () => {
    const out = await example(['examples/seed/mysql-ports.mjs']);
    expect(out).toContain('port 33306 -> targetPort 3306; nodePort: none');
    expect(out).toContain("resolve('mysql:33306') -> 127.0.0.51:3306");
  });

  it('seed: nginx NodePort 30001, accepted by default and rejected by a narrower range', async () => {
    const out = await example(['examples/seed/nginx-nodeport.mjs']);
    expect(out).toContain('nodePort 30001');
    expect(out).toContain(
      'spec.ports[0].nodePort: Invalid value: 30001: provided port is not in the valid range. The range of valid ports is 31000-32767',
    );
  });

  it('seed: backend-service and my-service.my-ns found by DNS from my-ns', async () => {
    const out = await example(['examples/seed/backend-dns.mjs']);
    expect(out).toMatch(/^backend-service +-> backend-service\.my-ns\.svc\.cluster\.local {2}A 10\./m);
    expect(out).toMatch(/^my-service\.my-ns +-> my-service\.my-ns\.svc\.cluster\.local {2}A 10\./m);
  });

  it('seed: svcroute explain on the manifests', async () => {
    const r = await node([
      'dist/cli.js',
      'explain',
      'my-ns/backend-service',
      '-f',
      'examples/seed/manifests/my-ns.yaml',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Outcome: forward to 2 of 3 endpoint(s)');
    expect(r.stdout).toMatch(/- 127\.0\.0\.63:8080 .*not ready/);
  });

  it('two backends: resolve(), fetch() and the userspace proxy spread requests', async () => {
    const out = await example(['examples/two-backends/main.mjs']);
    // Its own example: only what it promises (both pods used; none of the deleted one after).
    expect(out).toMatch(/^proxy, new connection each x12: +pod-a=[1-9]\d* pod-b=[1-9]\d*$/m);
    expect(out).toMatch(/^after deleting pod-a, proxy x4: +pod-b=4$/m);
  });

  it('custom proxy: HTTP-aware proxy on the resolver and a balancer', async () => {
    const out = await example(['examples/custom-proxy/http-proxy.mjs']);
    expect(out).toContain('least-request sends less to the slow replica');
    expect(out).toContain('(20/20 answered)');
    expect(out).toContain('Host: nope.shop -> 404');
  });

  it('unit testing with vitest over the ESM build', async () => {
    const vitest = join('node_modules', 'vitest', 'vitest.mjs');
    await example([vitest, 'run', '--config', 'examples/unit-testing/vitest.config.mjs']);
  });

  it('unit testing with Jest over the CJS build', async () => {
    const jest = join('node_modules', 'jest', 'bin', 'jest.js');
    const r = await node([jest, '--ci', '--config', 'examples/unit-testing/jest.config.cjs']);
    if (r.code !== 0) throw new Error(`jest exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    // Jest reports on stderr.
    expect(r.stderr).toMatch(/Tests:\s+3 passed, 3 total/);
  });
});
