/**
 * How the applier runs `iptables`, `iptables-save` and `iptables-restore`: an injectable
 * {@link CommandRunner} (tests record calls; the integration test prefixes `ip netns exec`).
 *
 * @module
 */
import { execFile } from 'node:child_process';

/** Result of one command. */
export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program with arguments and optional stdin; never rejects for a non-zero exit. */
export type CommandRunner = (file: string, args: readonly string[], stdin?: string) => Promise<CommandResult>;

/** Options of {@link execRunner}. */
export interface ExecRunnerOptions {
  /** Words put before every command, e.g. `['ip', 'netns', 'exec', 'node1']`. */
  readonly prefix?: readonly string[];
  /** Kill a command after this long. Default 60 s. */
  readonly timeoutMs?: number;
}

const DEFAULT_COMMAND_TIMEOUT_MS = 60_000;
const MAX_OUTPUT_BYTES = 512 * 1024 * 1024;

/** A {@link CommandRunner} on `child_process.execFile` (no shell). */
export function execRunner(options: ExecRunnerOptions = {}): CommandRunner {
  const prefix = options.prefix ?? [];
  return (file, args, stdin) =>
    new Promise((resolve, reject) => {
      const argv = [...prefix, file, ...args];
      const child = execFile(
        argv[0]!,
        argv.slice(1),
        { timeout: options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS, maxBuffer: MAX_OUTPUT_BYTES },
        (err, stdout, stderr) => {
          if (err && typeof (err as NodeJS.ErrnoException).code === 'string') {
            reject(err);
            return;
          }
          const code = err ? ((err as { code?: number }).code ?? 1) : 0;
          resolve({
            code: typeof code === 'number' ? code : 1,
            stdout: String(stdout),
            stderr: String(stderr),
          });
        },
      );
      child.stdin?.on('error', () => {});
      child.stdin?.end(stdin ?? '');
    });
}
