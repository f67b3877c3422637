/**
 * `svcroute render dns-zone`: prints the cluster DNS records for the objects in manifest files
 * as an RFC 1035 zone file.
 *
 * @module
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_CLUSTER_ZONE, DEFAULT_TTL_S, DnsResolver, renderZoneFile } from '../../backends/dns';
import { loadManifestState } from './dns';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseTtl(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 3600) throw new InvalidArgumentError('must be an integer in [0, 3600]');
  return n;
}

/** Registers `render dns-zone` (creating the `render` parent when missing). */
export function registerRenderDnsZoneCommand(program: Command): void {
  const render =
    program.commands.find((c) => c.name() === 'render') ??
    program.command('render').description('print what a backend would produce for the given objects');
  render
    .command('dns-zone')
    .description('print the cluster DNS records as a zone file')
    .requiredOption(
      '-f, --filename <file>',
      'manifest file or directory (repeatable, - for stdin)',
      collect,
      [],
    )
    .option('--zone <zone>', 'cluster domain', DEFAULT_CLUSTER_ZONE)
    .addOption(new Option('--ttl <seconds>', 'TTL of the records').default(DEFAULT_TTL_S).argParser(parseTtl))
    .action(async (opts: { filename: string[]; zone: string; ttl: number }) => {
      const { snapshot } = await loadManifestState(opts.filename);
      // A fixed serial keeps the output reproducible.
      const resolver = new DnsResolver({ zone: opts.zone, ttl: opts.ttl, serial: () => snapshot.revision });
      resolver.update(snapshot);
      process.stdout.write(renderZoneFile(resolver));
    });
}
