/**
 * The `svcroute` command line: the program, the list of its commands, and {@link runCli}, which
 * runs one command line in-process against injectable streams and returns the exit code.
 *
 * Adding a command: write `src/cli/commands/<name>.ts` exporting
 * `register<Name>Command(program: Command): void` that calls `program.command('<name>')`, take
 * the run's streams with `cliContext(command)` inside the action, reuse the flag and loading
 * helpers of `./shared`, and add the function to {@link COMMAND_REGISTRATIONS}.
 *
 * @module
 */

import { Command, CommanderError } from 'commander';
import packageJson from '../../package.json';
import { isStatusError } from '../core/errors';
import { isManifestError } from '../manifest';
import { registerApplyCommand } from './commands/apply';
import { registerApplyRulesCommand } from './commands/apply-rules';
import { registerDeleteCommand } from './commands/delete';
import { registerDnsCommand } from './commands/dns';
import { registerExplainCommand } from './commands/explain';
import { registerGetCommand } from './commands/get';
import { registerProxyCommand } from './commands/proxy';
import { registerRenderDnsZoneCommand } from './commands/render-dns-zone';
import { registerRenderEnvCommand } from './commands/render-env';
import { registerRenderIptablesCommand } from './commands/render-iptables';
import { registerServeCommand } from './commands/serve';
import { registerValidateCommand } from './commands/validate';
import {
  attachContext,
  CliContext,
  CliError,
  EXIT_INVALID,
  EXIT_OK,
  EXIT_USAGE,
  type TextSink,
} from './context';

/** Adds one command to the program. */
export type CommandRegistration = (program: Command) => void;

/** Every command of `svcroute`, in the order `--help` lists them. */
export const COMMAND_REGISTRATIONS: readonly CommandRegistration[] = [
  registerValidateCommand,
  registerGetCommand,
  registerApplyCommand,
  registerDeleteCommand,
  registerExplainCommand,
  registerServeCommand,
  registerProxyCommand,
  registerDnsCommand,
  registerRenderEnvCommand,
  registerRenderDnsZoneCommand,
  registerRenderIptablesCommand,
  registerApplyRulesCommand,
];

/** The version `svcroute --version` prints. */
export const CLI_VERSION: string = packageJson.version;

/** Where one {@link runCli} call reads and writes; every member defaults to the process's own. */
export interface RunCliOptions {
  readonly stdout?: TextSink;
  readonly stderr?: TextSink;
  /** Standard input: its whole text, or a stream. */
  readonly stdin?: string | AsyncIterable<string | Uint8Array>;
  /** The current time (AGE columns); default the system clock. */
  readonly now?: () => Date;
}

async function readAll(input: AsyncIterable<string | Uint8Array>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of input)
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

function configureTree(cmd: Command, ctx: CliContext): void {
  cmd.exitOverride();
  cmd.configureOutput({
    writeOut: (s) => ctx.stdout.write(s),
    writeErr: (s) => ctx.stderr.write(s),
    outputError: (s, write) => write(s),
  });
  for (const sub of cmd.commands) configureTree(sub, ctx);
}

/**
 * The `svcroute` program bound to `ctx`. Commander is set to throw instead of exiting, so that
 * {@link runCli} can map its errors to exit codes.
 */
export function createProgram(ctx: CliContext): Command {
  const program = new Command('svcroute')
    .description(
      'Kubernetes Service routing from manifests: validate them and list what an API server would hold',
    )
    .version(CLI_VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .addHelpText(
      'after',
      `
Exit status:
  0  success
  1  invalid input: unreadable manifest, invalid or rejected object, bad selector, not found
  2  usage error: unknown command or flag, missing or malformed flag value

Run "svcroute <command> --help" for a command's flags and examples.`,
    );
  attachContext(program, ctx);
  for (const register of COMMAND_REGISTRATIONS) register(program);
  configureTree(program, ctx);
  return program;
}

function exitCodeOf(e: CommanderError): number {
  // --help, --version and `help <command>` end with code 0; anything else is a usage error.
  return e.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
}

/**
 * Runs `svcroute` with `argv` (without the node and script paths) and resolves to the exit code:
 * 0 success, 1 invalid input or objects, 2 usage error. Never exits the process and never throws.
 */
export async function runCli(argv: readonly string[], options: RunCliOptions = {}): Promise<number> {
  const stdin = options.stdin;
  const ctx = new CliContext({
    stdout: options.stdout ?? process.stdout,
    stderr: options.stderr ?? process.stderr,
    readStdin: () => (typeof stdin === 'string' ? Promise.resolve(stdin) : readAll(stdin ?? process.stdin)),
    now: options.now ?? (() => new Date()),
  });
  const program = createProgram(ctx);
  if (argv.length === 0) {
    program.outputHelp();
    return EXIT_OK;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return ctx.exitCode;
  } catch (e) {
    if (e instanceof CommanderError) return exitCodeOf(e);
    if (e instanceof CliError) {
      if (!e.reported) ctx.err(`error: ${e.message}`);
      return e.exitCode;
    }
    if (isManifestError(e)) {
      ctx.err(`error: ${e.message}`);
      return EXIT_INVALID;
    }
    if (isStatusError(e)) {
      ctx.err(e.reason === 'Invalid' ? e.message : `Error from server (${e.reason}): ${e.message}`);
      return EXIT_INVALID;
    }
    ctx.err(`error: ${e instanceof Error ? e.message : String(e)}`);
    return EXIT_INVALID;
  }
}
