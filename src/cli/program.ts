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
import { formatFieldError, isStatusError } from '../core/errors';
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

const COMMANDER_INVALID_VALUE =
  /^error: option '([^']*)' (?:argument|value) '(.*)'(?: from env '[^']*')? is invalid\. (.*?)\.?\n$/s;

/**
 * Commander's rejection of a flag value in the words the rest of the CLI (and kubectl) uses:
 * `error: invalid argument "x" for "--flag" flag: reason`. Other messages pass unchanged.
 */
export function rewordCommanderError(message: string): string {
  const m = COMMANDER_INVALID_VALUE.exec(message);
  if (!m) return message;
  const [, flags = '', value = '', reason = ''] = m;
  const long = /--[\w-]+/.exec(flags)?.[0] ?? flags;
  const why = reason.charAt(0).toLowerCase() + reason.slice(1);
  return `error: invalid argument ${JSON.stringify(value)} for "${long}" flag: ${why}\n`;
}

function configureTree(cmd: Command, ctx: CliContext): void {
  cmd.exitOverride();
  cmd.configureOutput({
    writeOut: (s) => ctx.stdout.write(s),
    writeErr: (s) => ctx.stderr.write(s),
    outputError: (s, write) => write(rewordCommanderError(s)),
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
      'Kubernetes Service routing from manifests: validate and list them, explain routes, serve DNS and a proxy, render backends',
    )
    .version(CLI_VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .addHelpText(
      'after',
      `
Exit status:
  0  success
  1  invalid input: unreadable manifest, invalid or rejected object, bad selector, not found;
     an address that cannot be bound
  2  usage error: unknown command or flag, missing or malformed flag value

Every error is one line on stderr, e.g.
  error: app.yaml: document 0 (line 9): Service "default/web": spec.ports[0].port: Invalid value: 0: …

Run "svcroute <command> --help" for a command's flags and examples.`,
    );
  attachContext(program, ctx);
  for (const register of COMMAND_REGISTRATIONS) register(program);
  configureTree(program, ctx);
  return program;
}

/** Messages from below (a store's client, the OS) may span lines; an error line must not. */
function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ').trim();
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
  // Standard input can be consumed once; every later read (locating a field) gets the same text.
  let stdinText: Promise<string> | undefined;
  const ctx = new CliContext({
    stdout: options.stdout ?? process.stdout,
    stderr: options.stderr ?? process.stderr,
    readStdin: () => {
      stdinText ??= typeof stdin === 'string' ? Promise.resolve(stdin) : readAll(stdin ?? process.stdin);
      return stdinText;
    },
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
      if (!e.reported) ctx.err(`error: ${oneLine(e.message)}`);
      return e.exitCode;
    }
    if (isManifestError(e)) {
      ctx.err(`error: ${e.message}`);
      return EXIT_INVALID;
    }
    if (isStatusError(e)) {
      if (e.reason === 'Invalid' && e.causes.length > 0) {
        const object = `${e.kind ?? 'object'} ${JSON.stringify(e.objectName ?? '')}`;
        for (const cause of e.causes) ctx.err(`error: ${object}: ${formatFieldError(cause)}`);
      } else ctx.err(`Error from server (${e.reason}): ${oneLine(e.message)}`);
      return EXIT_INVALID;
    }
    ctx.err(`error: ${oneLine(e instanceof Error ? e.message : String(e))}`);
    return EXIT_INVALID;
  }
}
