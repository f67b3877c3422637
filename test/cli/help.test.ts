import { readFileSync } from 'node:fs';
import { Command, type Option } from 'commander';
import { describe, expect, it } from 'vitest';
import { COMMAND_REGISTRATIONS } from '../../src/cli/program';
import { cli } from './helpers';

interface Leaf {
  readonly path: string[];
  readonly command: Command;
}

/** The commands a user runs (those without subcommands), with their path from the program. */
function leaves(command: Command, path: string[] = []): Leaf[] {
  if (command.commands.length === 0) return [{ path, command }];
  return command.commands.flatMap((c) => leaves(c, [...path, c.name()]));
}

/** Every runnable command, registration by registration, each on a program of its own. */
const LEAVES: Leaf[] = COMMAND_REGISTRATIONS.flatMap((register) => {
  const program = new Command('svcroute');
  register(program);
  return leaves(program).filter((l) => l.path.length > 0);
});

/** What commander prints for an option's default, e.g. `default: "cluster.local"`. */
function defaultText(o: Option): string | undefined {
  if (o.defaultValue === undefined || o.negate) return undefined;
  return `default: ${o.defaultValueDescription ?? JSON.stringify(o.defaultValue)}`;
}

// Help text wraps to the terminal width; compare with whitespace runs folded into one space.
const fold = (s: string) => s.replace(/\s+/g, ' ');

const DOCS = fold(readFileSync('docs/cli.md', 'utf8'));

describe('every registered command', () => {
  it('registers at least one command per registration, all listed by svcroute --help', async () => {
    const top = await cli(['--help']);
    for (const register of COMMAND_REGISTRATIONS) {
      const program = new Command('svcroute');
      register(program);
      expect(program.commands.length, register.name).toBeGreaterThan(0);
      for (const c of program.commands) expect(top.stdout).toMatch(new RegExp(`^  ${c.name()}\\b`, 'm'));
    }
    expect(LEAVES.map((l) => l.path.join(' ')).sort()).toEqual(
      [
        'apply',
        'apply-rules',
        'delete',
        'dns serve',
        'explain',
        'get',
        'proxy',
        'render dns-zone',
        'render env',
        'render iptables',
        'serve',
        'validate',
      ].sort(),
    );
  });

  for (const { path, command } of LEAVES) {
    const name = path.join(' ');
    describe(`svcroute ${name}`, () => {
      it('describes itself and every flag', () => {
        expect(command.description()).not.toBe('');
        for (const o of command.options) expect(o.description, o.flags).not.toBe('');
      });

      it('--help shows the usage, every flag with its default, and the exit status', async () => {
        const r = await cli([...path, '--help']);
        expect(r.code).toBe(0);
        expect(r.stderr).toBe('');
        expect(r.stdout.startsWith(`Usage: svcroute ${name} `)).toBe(true);
        const help = fold(r.stdout);
        expect(help).toContain(fold(command.description()));
        for (const o of command.options) {
          expect(help).toContain(o.flags);
          const shown = defaultText(o);
          if (shown !== undefined) expect(help, o.flags).toContain(shown);
        }
        expect(help).toMatch(/Exit status: 0 /);
      });

      it('is documented in docs/cli.md with every long flag', () => {
        expect(DOCS.includes(`svcroute ${name}`), `"svcroute ${name}" in docs/cli.md`).toBe(true);
        const missing = command.options.map((o) => o.long).filter((l) => l && !DOCS.includes(l));
        expect(missing).toEqual([]);
      });
    });
  }
});
