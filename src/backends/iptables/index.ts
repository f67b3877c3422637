/**
 * `svcroute/iptables`: kube-proxy's iptables mode as a library. {@link renderIptables} turns a
 * routing snapshot into the exact `iptables-restore` input kube-proxy (v1.34) writes on a node;
 * {@link IptablesRenderer} adds kube-proxy's partial syncs; {@link IptablesBackend} applies the
 * rules with `iptables-restore --noflush` and removes them again.
 *
 * @module
 */

export type { IptablesBackendEvents, IptablesBackendOptions, IptablesSyncEvent } from './backend';
export { IptablesApplyError, IptablesBackend } from './backend';
export type { ServiceChainNames } from './chain-names';
export { endpointChainName, hash16, isServiceChainName, serviceChainNames } from './chain-names';
export * from './constants';
export { kubeProxyChangedServices } from './family-changes';
export type { IpFamily, ParsedCidr, ParsedIp } from './ip';
export type { IptablesRenderOptions, ResolvedOptions } from './options';
export {
  masqueradeMarkOf,
  resolveOptions,
  sameLabels,
  TOPOLOGY_LABEL_KEYS,
  topologyLabelsOf,
} from './options';
export { probability } from './probability';
export type { IptablesRules } from './render';
export { renderIptables } from './render';
export { changedServicesOf, IptablesRenderer } from './renderer';
export type { CommandResult, CommandRunner, ExecRunnerOptions } from './runner';
export { execRunner } from './runner';
