import { describe, expect, it } from 'vitest';
import { CLI_VERSION } from '../../src/cli/program';
import { cli } from './helpers';

describe('svcroute program', () => {
  it('prints help with the exit codes, on --help and without arguments', async () => {
    for (const argv of [['--help'], ['-h'], []]) {
      const r = await cli(argv);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Usage: svcroute');
      expect(r.stdout).toMatch(/validate/);
      expect(r.stdout).toMatch(/get \[options\] <resource>/);
      expect(r.stdout).toContain('2  usage error');
      expect(r.stderr).toBe('');
    }
  });

  it('prints the version', async () => {
    const r = await cli(['--version']);
    expect(r).toEqual({ code: 0, stdout: `${CLI_VERSION}\n`, stderr: '' });
  });

  it('has help for every command', async () => {
    for (const name of ['validate', 'get']) {
      const r = await cli([name, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: svcroute ${name}`);
      expect(r.stdout).toContain('-f, --filename');
      expect(r.stdout).toContain('Exit status');
      const viaHelp = await cli(['help', name]);
      expect(viaHelp.code).toBe(0);
      expect(viaHelp.stdout).toContain(`Usage: svcroute ${name}`);
    }
  });

  it('exits 2 with one error line for usage errors', async () => {
    const cases = [
      ['bogus'],
      ['get', 'svc', '--bogus', '-f', 'x.yaml'],
      ['get', 'svc'],
      ['validate'],
      ['get', 'svc', '-f', 'x.yaml', '-o', 'table'],
      ['get', 'widgets', '-f', 'x.yaml'],
      ['get', 'svc', '-f', 'x.yaml', '--service-cluster-ip-range', '10.0.0.0/33'],
      ['get', 'svc', '-f', 'x.yaml', '--service-node-port-range', '40000-30000'],
    ];
    for (const argv of cases) {
      const r = await cli(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trimEnd().split('\n'), argv.join(' ')).toHaveLength(1);
      expect(r.stderr).toMatch(/^error: /);
    }
  });
});
