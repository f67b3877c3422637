import { CliContext } from '../../src/cli/context';
import { runCli } from '../../src/cli/program';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Fixed "now" for AGE columns: one day after the fixtures' timestamps. */
export const NOW = new Date('2025-03-02T10:00:00Z');

/** Runs the CLI in-process with captured streams. */
export async function cli(argv: string[], opts: { stdin?: string; now?: Date } = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    stdin: opts.stdin ?? '',
    now: () => opts.now ?? NOW,
  });
  return { code, stdout, stderr };
}

export const FIXTURES = 'test/fixtures';

/** A command context whose stdout is dropped and whose stderr is kept, for running commands directly. */
export function captureContext(): { ctx: CliContext; stderr: () => string } {
  let err = '';
  const ctx = new CliContext({
    stdout: { write: () => true },
    stderr: {
      write: (s: string) => {
        err += s;
        return true;
      },
    },
    readStdin: async () => '',
    now: () => new Date(0),
  });
  return { ctx, stderr: () => err };
}
