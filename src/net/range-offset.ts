/**
 * Sizes of the static bands: `min(max(MIN, rangeSize / STEP), MAX)`, 0 for ranges of MIN or fewer
 * values (the formula of KEP-3070 for Service IPs and KEP-3668 for NodePorts).
 *
 * @module
 */
import { type Cidr, kubernetesRangeSize } from './cidr';

/** KEP-3070 constants (Kubernetes' ipallocator `calculateRangeOffset`). */
export const SERVICE_IP_BAND = { min: 16, max: 256, step: 16 } as const;
/** KEP-3668 constants (Kubernetes' portallocator `calculateRangeOffset`). */
export const NODE_PORT_BAND = { min: 16, max: 128, step: 32 } as const;

function bandOffset(rangeSize: bigint, band: { min: number; max: number; step: number }): number {
  if (rangeSize <= BigInt(band.min)) return 0;
  const offset = rangeSize / BigInt(band.step);
  if (offset < BigInt(band.min)) return band.min;
  if (offset > BigInt(band.max)) return band.max;
  return Number(offset);
}

/**
 * Size of the static band of a service CIDR. Computed from the whole block (network and broadcast
 * included, as upstream), and counted from the first usable address: in 10.96.0.0/24 the band is
 * 10.96.0.1-10.96.0.16.
 */
export function serviceIPStaticBandSize(cidr: Cidr): number {
  return bandOffset(kubernetesRangeSize(cidr), SERVICE_IP_BAND);
}

/** Size of the static band of a node port range of `rangeSize` ports (counted from its base). */
export function nodePortStaticBandSize(rangeSize: number): number {
  return bandOffset(BigInt(rangeSize), NODE_PORT_BAND);
}
