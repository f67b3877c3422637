/**
 * `svcroute render iptables`: prints the `iptables-restore` input kube-proxy's iptables mode
 * would write on one node for the objects in the given manifests.
 *
 * @module
 */
import { hostname } from 'node:os';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { IptablesRenderOptions } from '../../backends/iptables/options';
import { renderIptables } from '../../backends/iptables/render';
import type { RoutingSnapshot } from '../../core/snapshot';
import { loadManifestFiles } from '../../manifest';
import { Registry } from '../../registry';

/** Raw option values shared by `render iptables` and `apply-rules`. */
export interface IptablesCliOptions {
  readonly filename: string[];
  readonly nodeName?: string;
  readonly nodeIp: string[];
  readonly clusterCidr?: string;
  readonly masqueradeAll?: boolean;
  readonly masqueradeBit: number;
  readonly randomFully?: boolean;
  readonly nfacct?: boolean;
  readonly localhostNodeports: boolean;
  readonly nodePortAddresses: string[];
  readonly ipv6?: boolean;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseBit(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 31) throw new InvalidArgumentError('must be an integer in [0, 31]');
  return n;
}

function parseBool(value: string): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new InvalidArgumentError('must be true or false');
}

function parseList(value: string, previous: string[]): string[] {
  return [
    ...previous,
    ...value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  ];
}

/** Adds the kube-proxy-like flags to `cmd` (defaults as kube-proxy's). */
export function addIptablesOptions(cmd: Command): Command {
  return cmd
    .requiredOption(
      '-f, --filename <file>',
      'manifest file or directory (repeatable, - for stdin)',
      collect,
      [],
    )
    .option('--node-name <name>', "node to render for (kube-proxy's --hostname-override; default: hostname)")
    .option('--node-ip <ip>', 'an address of the node (repeatable)', collect, [])
    .option('--cluster-cidr <cidr>', 'pod CIDR(s), comma-separated: masquerade traffic from outside them')
    .option('--masquerade-all', 'masquerade all traffic to service cluster IPs')
    .addOption(
      new Option('--masquerade-bit <n>', 'fwmark bit for packets to masquerade')
        .default(14)
        .argParser(parseBit),
    )
    .option('--random-fully', 'add --random-fully to the MASQUERADE rule')
    .option('--nfacct', 'emit nfacct counter matches (kernel with nfacct support)')
    .addOption(
      new Option('--localhost-nodeports <bool>', 'allow node ports on 127.0.0.1 (IPv4)')
        .default(true)
        .argParser(parseBool),
    )
    .option('--node-port-addresses <cidrs>', "CIDRs (or 'primary') node ports are served on", parseList, [])
    .option('--ipv6', 'render the ip6tables rules (IPv6 family)');
}

/** Turns parsed flags into renderer options. */
export function iptablesOptionsFrom(opts: IptablesCliOptions): IptablesRenderOptions {
  const clusterCIDRs = (opts.clusterCidr ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return {
    // kube-proxy's default node name is the lower-cased host name.
    nodeName: opts.nodeName ?? hostname().toLowerCase(),
    nodeIPs: opts.nodeIp,
    clusterCIDRs,
    masqueradeAll: opts.masqueradeAll ?? false,
    masqueradeBit: opts.masqueradeBit,
    randomFully: opts.randomFully ?? false,
    nfacct: opts.nfacct ?? false,
    localhostNodePorts: opts.localhostNodeports,
    nodePortAddresses: opts.nodePortAddresses,
    ipFamily: opts.ipv6 ? 'IPv6' : 'IPv4',
  };
}

/**
 * Loads manifests into a fresh registry that keeps cluster IPs and node ports as written in the
 * objects, and returns its settled snapshot.
 */
export async function snapshotFromFiles(files: readonly string[]): Promise<RoutingSnapshot> {
  const objects = await loadManifestFiles(files);
  const registry = new Registry({ allocationMode: 'as-is' });
  try {
    for (const obj of objects) await registry.apply(obj);
    await registry.settled();
    return registry.snapshot();
  } finally {
    await registry.close();
  }
}

/** Registers `render iptables` (creating the `render` parent when missing). */
export function registerRenderIptablesCommand(program: Command): void {
  const render =
    program.commands.find((c) => c.name() === 'render') ??
    program.command('render').description('print what a backend would produce for the given objects');
  addIptablesOptions(
    render
      .command('iptables')
      .description("print the iptables-restore input kube-proxy's iptables mode writes"),
  ).action(async (opts: IptablesCliOptions) => {
    const snapshot = await snapshotFromFiles(opts.filename);
    process.stdout.write(renderIptables(snapshot, iptablesOptionsFrom(opts)).payload);
  });
}
