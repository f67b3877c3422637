import { describe, expect, it } from 'vitest';
import type { CommandRunner } from '../../src/backends/iptables/runner';
import { type ApplyRulesOptions, runApplyRules } from '../../src/cli/commands/apply-rules';
import { CliError, EXIT_USAGE } from '../../src/cli/context';
import { captureContext, cli } from './helpers';

/** A runner that records every iptables command and reports an empty nat table. */
function recordingRunner(): { runner: CommandRunner; calls: string[] } {
  const calls: string[] = [];
  const runner: CommandRunner = async (file, args) => {
    calls.push([file, ...args].join(' '));
    return { code: 0, stdout: '', stderr: '' };
  };
  return { runner, calls };
}

/** The flags as commander fills them when none is given. */
const DEFAULTS: ApplyRulesOptions = {
  nodeIp: [],
  masqueradeBit: 14,
  localhostNodeports: true,
  nodePortAddresses: [],
};

describe('apply-rules', () => {
  it('--cleanup needs no manifests and touches only the iptables commands', async () => {
    const { runner, calls } = recordingRunner();
    const { ctx, stderr } = captureContext();
    await runApplyRules(ctx, { ...DEFAULTS, cleanup: true }, new AbortController().signal, { runner });
    expect(stderr()).toContain('removed the iptables rules');
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.every((c) => /^(iptables|ip6tables)(-save|-restore)?\b/.test(c))).toBe(true);
  });

  it('without --cleanup, -f is a required usage option', async () => {
    const { runner, calls } = recordingRunner();
    const { ctx } = captureContext();
    const run = runApplyRules(ctx, DEFAULTS, new AbortController().signal, { runner });
    await expect(run).rejects.toBeInstanceOf(CliError);
    await expect(run).rejects.toMatchObject({ exitCode: EXIT_USAGE });
    expect(calls).toEqual([]);
  });

  it('the command line says so with exit status 2', async () => {
    const r = await cli(['apply-rules']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('--filename');
  });
});
