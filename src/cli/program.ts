/** Entry of the `svcroute` command; subcommands are registered in one place here. */
export async function runCli(_argv: readonly string[]): Promise<number> {
  return 0;
}
