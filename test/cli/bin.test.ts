import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES } from './helpers';

// The built executable (`npm run build` makes it; the test script builds before testing).
const BIN = process.env['SVCROUTE_CLI'] ?? 'dist/cli.js';

function newestSourceMs(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestSourceMs(p) : statSync(p).mtimeMs);
  }
  return newest;
}

// A build older than the sources would test old code: such a run is skipped, not failed.
const built = existsSync(BIN) && statSync(BIN).mtimeMs >= newestSourceMs('src');

function run(args: string[], input?: string) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', input, timeout: 20_000 });
}

// CI builds right before testing, so there a stale or missing build is a failure, never a skip.
describe.skipIf(!built && !process.env['CI'])(`the built executable (${BIN})`, () => {
  it('validates files and exits with the documented codes', () => {
    const ok = run(['validate', '-f', `${FIXTURES}/manifests/app.yaml`]);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toBe('service/web valid\npod/web-1 valid\n');
    const bad = run(['validate', '-f', `${FIXTURES}/manifests/invalid-service.yaml`]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^The Service "broken" is invalid: \n\* /);
    expect(run(['nope']).status).toBe(2);
  });

  it('reads standard input', () => {
    const r = run(
      ['get', 'svc', '-o', 'name', '-f', '-'],
      'apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  ports:\n  - port: 80\n',
    );
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('service/s\n');
  });
});

if (!built) {
  describe('the built executable', () => {
    it.skip(`skipped: ${BIN} is missing or older than src/ (run "npm run build" first)`, () => {});
  });
}
