/**
 * What a command needs from the outside world (output streams, standard input, the time) and
 * how it reports failure, passed explicitly so that the CLI runs in-process in tests.
 */

import type { Command } from 'commander';

/** Exit code: success. */
export const EXIT_OK = 0;
/** Exit code: invalid input or objects (unreadable manifests, validation or allocation errors). */
export const EXIT_INVALID = 1;
/** Exit code: the command line itself is wrong (unknown command or flag, bad flag value). */
export const EXIT_USAGE = 2;

/** Something that text can be written to (`process.stdout`, a test buffer). */
export interface TextSink {
  write(text: string): unknown;
}

/** Where the CLI reads and writes. */
export interface CliIO {
  readonly stdout: TextSink;
  readonly stderr: TextSink;
  /** All of standard input as text (read once, for `-f -`). */
  readonly readStdin: () => Promise<string>;
  /** The current time (for AGE columns). */
  readonly now: () => Date;
}

/** The state one CLI run shares between its commands. */
export class CliContext implements CliIO {
  readonly stdout: TextSink;
  readonly stderr: TextSink;
  readonly readStdin: () => Promise<string>;
  readonly now: () => Date;
  private code = EXIT_OK;

  constructor(io: CliIO) {
    this.stdout = io.stdout;
    this.stderr = io.stderr;
    this.readStdin = io.readStdin;
    this.now = io.now;
  }

  /** The exit code so far: the highest any command asked for. */
  get exitCode(): number {
    return this.code;
  }

  /** Records a failure exit code without stopping (e.g. after printing several errors). */
  fail(code: number = EXIT_INVALID): void {
    if (code > this.code) this.code = code;
  }

  /** Writes one line to standard output. */
  out(line: string): void {
    this.stdout.write(line.endsWith('\n') ? line : `${line}\n`);
  }

  /** Writes one line to standard error. */
  err(line: string): void {
    this.stderr.write(line.endsWith('\n') ? line : `${line}\n`);
  }
}

/**
 * A failure a command reports as `error: MESSAGE` on stderr with `exitCode` (default
 * {@link EXIT_INVALID}). Throw it from an action; the runner prints it, unless `reported` says
 * the command already printed the details itself.
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_INVALID,
    readonly reported = false,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

const contexts = new WeakMap<Command, CliContext>();

/** Attaches `ctx` to a root program (done by the runner). */
export function attachContext(program: Command, ctx: CliContext): void {
  contexts.set(program, ctx);
}

async function readProcessStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin)
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}

/** A context on the process's own streams and clock. */
export function processContext(): CliContext {
  return new CliContext({
    stdout: process.stdout,
    stderr: process.stderr,
    readStdin: readProcessStdin,
    now: () => new Date(),
  });
}

/**
 * The {@link CliContext} of the program `command` belongs to. A command registered on a program
 * of its own (embedding one command in another tool) gets the process's streams.
 */
export function cliContext(command: Command): CliContext {
  let root = command;
  for (let c: Command | null = command; c; c = c.parent) {
    const ctx = contexts.get(c);
    if (ctx) return ctx;
    root = c;
  }
  const ctx = processContext();
  contexts.set(root, ctx);
  return ctx;
}
