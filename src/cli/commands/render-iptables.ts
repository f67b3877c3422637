/**
 * `svcroute render iptables`: prints the `iptables-restore` input kube-proxy's iptables mode
 * would write on one node for the objects in the given manifests.
 *
 * @module
 */
import { hostname } from 'node:os';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { type IptablesRenderOptions, topologyLabelsOf } from '../../backends/iptables/options';
import { renderIptables } from '../../backends/iptables/render';
import type { RoutingSnapshot } from '../../core/snapshot';
import type { Node } from '../../core/types';
import type { Registry } from '../../registry';
import { cliContext, processContext } from '../context';
import { loadRegistry, loadState } from '../load';
import { addFilenameOptions, collectIPs, type FilenameFlags, parseCIDRList } from '../shared';

/** Raw option values shared by `render iptables` and `apply-rules`. */
export interface IptablesCliOptions extends FilenameFlags {
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

/** kube-proxy's default `--iptables-masquerade-bit`. */
export const DEFAULT_MASQUERADE_BIT = 14;

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

function checkCIDRs(value: string): string {
  parseCIDRList(value);
  return value;
}

// kube-proxy's --nodeport-addresses takes CIDRs or the word "primary" (the node's primary IPs).
function collectNodePortAddresses(value: string, previous: string[]): string[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const item of items) if (item !== 'primary') parseCIDRList(item);
  return [...previous, ...items];
}

/** Adds the kube-proxy-like flags and `-f` to `cmd` (defaults as kube-proxy's). */
export function addIptablesOptions(cmd: Command, filesRequired = true): Command {
  addFilenameOptions(cmd, 'manifests (services, endpoint slices, pods)', filesRequired);
  return cmd
    .option('--node-name <name>', "node to render for (kube-proxy's --hostname-override; default: hostname)")
    .addOption(
      new Option('--node-ip <ip>', 'an address of the node (repeatable, or comma-separated)')
        .argParser(collectIPs)
        .default([], 'none'),
    )
    .option(
      '--cluster-cidr <cidr>',
      'pod CIDR(s), comma-separated: masquerade traffic from outside them',
      checkCIDRs,
    )
    .option('--masquerade-all', 'masquerade all traffic to service cluster IPs')
    .addOption(
      new Option('--masquerade-bit <n>', 'fwmark bit for packets to masquerade')
        .default(DEFAULT_MASQUERADE_BIT)
        .argParser(parseBit),
    )
    .option('--random-fully', 'add --random-fully to the MASQUERADE rule')
    .option('--nfacct', 'emit nfacct counter matches (kernel with nfacct support)')
    .addOption(
      new Option('--localhost-nodeports <bool>', 'allow node ports on 127.0.0.1 (IPv4)')
        .default(true)
        .argParser(parseBool),
    )
    .addOption(
      new Option('--node-port-addresses <cidrs>', "CIDRs (or 'primary') node ports are served on")
        .argParser(collectNodePortAddresses)
        .default([], 'all local addresses'),
    )
    .option('--ipv6', 'render the ip6tables rules (IPv6 family)');
}
/** The node name kube-proxy would run as: `--node-name`, else the lower-cased host name. */
export function nodeNameFrom(opts: Pick<IptablesCliOptions, 'nodeName'>): string {
  return opts.nodeName ?? hostname().toLowerCase();
}

/** The Node object of the node being rendered for, when the registry holds one. */
export function findNode(registry: Registry, nodeName: string): Promise<Node | undefined> {
  return registry.get('Node', '', nodeName);
}

/**
 * Turns parsed flags into renderer options. `node` is the Node object named by `--node-name`
 * when the manifests hold it: its zone label drives topology hints, as kube-proxy reads it from
 * its own Node (without it, no hint is followed).
 */
export function iptablesOptionsFrom(opts: IptablesCliOptions, node?: Node): IptablesRenderOptions {
  const clusterCIDRs = (opts.clusterCidr ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return {
    nodeName: nodeNameFrom(opts),
    ...(node !== undefined ? { nodeLabels: topologyLabelsOf(node.metadata.labels) } : {}),
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
 * The settled snapshot of manifest files, loaded as every command loads them (problems printed
 * to the process's stderr, one line each, then a CliError).
 */
export async function snapshotFromFiles(files: readonly string[]): Promise<RoutingSnapshot> {
  return (await loadState(processContext(), { filename: files })).snapshot;
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
  )
    .addHelpText(
      'after',
      `
Services and EndpointSlices are taken as "kubectl get -o yaml" prints them (Pods are turned
into slices first); cluster IPs and node ports as they are in the objects. When the manifests
hold the Node named by --node-name, its topology.kubernetes.io/zone label selects the endpoints
hinted for that zone (topology-aware routing); without it, no hint is followed.

Exit status: 0 printed, 1 the manifests did not load, 2 usage error.

Examples:
  svcroute render iptables -f dump.yaml --node-name node-a --node-ip 192.168.0.2 --cluster-cidr 10.244.0.0/16
  kubectl get svc,endpointslices -A -o yaml | svcroute render iptables -f - --node-name node-a`,
    )
    .action(async (opts: IptablesCliOptions, command: Command) => {
      const ctx = cliContext(command);
      const { registry } = await loadRegistry(ctx, opts);
      try {
        const node = await findNode(registry, nodeNameFrom(opts));
        ctx.stdout.write(renderIptables(registry.snapshot(), iptablesOptionsFrom(opts, node)).payload);
      } finally {
        await registry.close();
      }
    });
}
