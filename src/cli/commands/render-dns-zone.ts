/**
 * `svcroute render dns-zone`: prints the cluster DNS records for the objects in manifest files
 * as an RFC 1035 zone file.
 *
 * @module
 */
import { type Command, Option } from 'commander';
import { DEFAULT_CLUSTER_ZONE, DEFAULT_TTL_S, DnsResolver, renderZoneFile } from '../../backends/dns';
import { cliContext } from '../context';
import { loadState } from '../load';
import { addFilenameOptions, type FilenameFlags } from '../shared';
import { parseTtl } from './dns';

interface RenderDnsZoneFlags extends FilenameFlags {
  readonly zone: string;
  readonly ttl: number;
}

/** Registers `render dns-zone` (creating the `render` parent when missing). */
export function registerRenderDnsZoneCommand(program: Command): void {
  const render =
    program.commands.find((c) => c.name() === 'render') ??
    program.command('render').description('print what a backend would produce for the given objects');
  const cmd = render.command('dns-zone').description('print the cluster DNS records as a zone file');
  addFilenameOptions(cmd, 'manifests (services, endpoint slices, pods)')
    .option('--zone <zone>', 'cluster domain', DEFAULT_CLUSTER_ZONE)
    .addOption(new Option('--ttl <seconds>', 'TTL of the records').default(DEFAULT_TTL_S).argParser(parseTtl))
    .addHelpText(
      'after',
      `
Prints the records "dns serve" answers for the same objects, as an RFC 1035 zone file.

Exit status: 0 printed, 1 the manifests did not load, 2 usage error.

Examples:
  svcroute render dns-zone -f manifests/ --zone cluster.local`,
    )
    .action(async (opts: RenderDnsZoneFlags, command: Command) => {
      const ctx = cliContext(command);
      const { snapshot } = await loadState(ctx, opts);
      // A fixed serial keeps the output reproducible.
      const resolver = new DnsResolver({ zone: opts.zone, ttl: opts.ttl, serial: () => snapshot.revision });
      resolver.update(snapshot);
      ctx.stdout.write(renderZoneFile(resolver));
    });
}
