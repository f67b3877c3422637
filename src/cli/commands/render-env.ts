/**
 * `svcroute render env`: prints the service-link variables kubelet would give a new pod in a
 * namespace, as `NAME=value` lines.
 *
 * @module
 */
import type { Command } from 'commander';
import { DEFAULT_MASTER_NAMESPACE, formatEnv, renderServiceEnv } from '../../backends/env';
import { loadManifestState } from './dns';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Registers `render env` (creating the `render` parent when missing). */
export function registerRenderEnvCommand(program: Command): void {
  const render =
    program.commands.find((c) => c.name() === 'render') ??
    program.command('render').description('print what a backend would produce for the given objects');
  render
    .command('env')
    .description('print the service environment variables a new pod in the namespace would get')
    .requiredOption(
      '-f, --filename <file>',
      'manifest file or directory (repeatable, - for stdin)',
      collect,
      [],
    )
    .option('-n, --namespace <ns>', "the pod's namespace", 'default')
    .option('--no-service-links', 'as a pod with enableServiceLinks: false (only the master service)')
    .option('--master-namespace <ns>', 'namespace of the kubernetes master service', DEFAULT_MASTER_NAMESPACE)
    .action(
      async (opts: {
        filename: string[];
        namespace: string;
        serviceLinks: boolean;
        masterNamespace: string;
      }) => {
        const { snapshot } = await loadManifestState(opts.filename);
        const rendering = renderServiceEnv(snapshot.services.values(), {
          namespace: opts.namespace,
          enableServiceLinks: opts.serviceLinks,
          masterNamespace: opts.masterNamespace,
        });
        for (const w of rendering.warnings) process.stderr.write(`warning: ${w}\n`);
        process.stdout.write(formatEnv(rendering.vars));
      },
    );
}
