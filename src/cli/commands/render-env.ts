/**
 * `svcroute render env`: prints the service-link variables kubelet would give a new pod in a
 * namespace, as `NAME=value` lines.
 *
 * @module
 */
import type { Command } from 'commander';
import { DEFAULT_MASTER_NAMESPACE, formatEnv, renderServiceEnv } from '../../backends/env';
import { cliContext } from '../context';
import { loadState } from '../load';
import { addFilenameOptions, type FilenameFlags } from '../shared';

interface RenderEnvFlags extends FilenameFlags {
  readonly namespace: string;
  readonly serviceLinks: boolean;
  readonly masterNamespace: string;
}

/** Registers `render env` (creating the `render` parent when missing). */
export function registerRenderEnvCommand(program: Command): void {
  const render =
    program.commands.find((c) => c.name() === 'render') ??
    program.command('render').description('print what a backend would produce for the given objects');
  const cmd = render
    .command('env')
    .description('print the service environment variables a new pod in the namespace would get');
  addFilenameOptions(cmd, 'manifests (services)')
    .option('-n, --namespace <ns>', "the pod's namespace", 'default')
    .option('--no-service-links', 'as a pod with enableServiceLinks: false (only the master service)')
    .option('--master-namespace <ns>', 'namespace of the kubernetes master service', DEFAULT_MASTER_NAMESPACE)
    .addHelpText(
      'after',
      `
Prints kubelet's {SVC}_SERVICE_HOST, {SVC}_SERVICE_PORT, {SVC}_PORT… lines for the services a
pod created now would see; warnings (too many services for env-based discovery) go to stderr.

Exit status: 0 printed, 1 the manifests did not load, 2 usage error.

Examples:
  svcroute render env -f manifests/ --namespace my-ns`,
    )
    .action(async (opts: RenderEnvFlags, command: Command) => {
      const ctx = cliContext(command);
      const { snapshot } = await loadState(ctx, opts);
      const rendering = renderServiceEnv(snapshot.services.values(), {
        namespace: opts.namespace,
        enableServiceLinks: opts.serviceLinks,
        masterNamespace: opts.masterNamespace,
      });
      for (const w of rendering.warnings) ctx.err(`warning: ${w}`);
      ctx.stdout.write(formatEnv(rendering.vars));
    });
}
