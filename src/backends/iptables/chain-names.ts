/**
 * kube-proxy's chain-name hashing: the first 16 characters of the RFC 4648 base32 encoding of
 * sha256(servicePortName + lower-case protocol [+ endpoint]). Chain names must stay within
 * iptables' 28-character limit, hence the truncation.
 *
 * @module
 */
import * as crypto from 'node:crypto';
import {
  EXT_CHAIN_PREFIX,
  FW_CHAIN_PREFIX,
  SEP_CHAIN_PREFIX,
  SERVICE_CHAIN_PREFIXES,
  SVC_CHAIN_PREFIX,
  SVL_CHAIN_PREFIX,
} from './constants';

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
type OneShotHash = (algorithm: string, data: string, outputEncoding: 'hex') => string;
// `crypto.hash` (Node 20.12+) avoids a Hash object per call, and hex output avoids a Buffer per
// call: together about three times faster than createHash().digest(); hashing dominates cold renders.
const oneShot = (crypto as { hash?: OneShotHash }).hash;
const sha256Hex: (input: string) => string = oneShot
  ? (input) => oneShot('sha256', input, 'hex')
  : (input) => crypto.createHash('sha256').update(input, 'utf8').digest('hex');

/** Value of each lower-case hex digit by char code. */
const HEX_VALUE = new Uint8Array(128);
for (let i = 0; i < 16; i++) HEX_VALUE['0123456789abcdef'.charCodeAt(i)] = i;

/** kube-proxy's `portProtoHash`: 16 base32 characters of sha256(`input`). */
export function hash16(input: string): string {
  const hex = sha256Hex(input);
  let out = '';
  // 16 base32 characters are 80 bits = 20 hex digits, taken as four 20-bit groups of 5 digits.
  for (let k = 0; k < 20; k += 5) {
    const v =
      (HEX_VALUE[hex.charCodeAt(k)]! << 16) |
      (HEX_VALUE[hex.charCodeAt(k + 1)]! << 12) |
      (HEX_VALUE[hex.charCodeAt(k + 2)]! << 8) |
      (HEX_VALUE[hex.charCodeAt(k + 3)]! << 4) |
      HEX_VALUE[hex.charCodeAt(k + 4)]!;
    out +=
      BASE32_ALPHABET[(v >>> 15) & 31]! +
      BASE32_ALPHABET[(v >>> 10) & 31]! +
      BASE32_ALPHABET[(v >>> 5) & 31]! +
      BASE32_ALPHABET[v & 31]!;
  }
  return out;
}

/** The per-service-port chain names (KUBE-SVC/SVL/EXT/FW share one hash). */
export interface ServiceChainNames {
  readonly cluster: string;
  readonly local: string;
  readonly external: string;
  readonly firewall: string;
}

/**
 * Chain names of one service port. `portName` is `ServicePortName.String()` (`ns/name:port`, or
 * `ns/name` for an unnamed port); `protocol` is e.g. `TCP` (lower-cased here as kube-proxy does).
 */
export function serviceChainNames(portName: string, protocol: string): ServiceChainNames {
  const h = hash16(portName + protocol.toLowerCase());
  return {
    cluster: SVC_CHAIN_PREFIX + h,
    local: SVL_CHAIN_PREFIX + h,
    external: EXT_CHAIN_PREFIX + h,
    firewall: FW_CHAIN_PREFIX + h,
  };
}

/** KUBE-SEP- chain of one endpoint; `endpoint` is `ip:port` (`[ip]:port` for IPv6). */
export function endpointChainName(portName: string, protocol: string, endpoint: string): string {
  return SEP_CHAIN_PREFIX + hash16(portName + protocol.toLowerCase() + endpoint);
}

/** Whether a chain is a per-service chain the renderer creates and deletes. */
export function isServiceChainName(chain: string): boolean {
  return SERVICE_CHAIN_PREFIXES.some((p) => chain.startsWith(p));
}
