/** The `svcroute` executable: runs the command line and exits with its code. */
import { runCli } from './program';

// `svcroute get … | head` closes the pipe early; that is not an error worth a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

runCli(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
