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
/** 16 base32 characters encode exactly the first 10 bytes (80 bits) of the digest. */
const HASH_CHARS = 16;

type OneShotHash = (algorithm: string, data: string, outputEncoding: 'buffer') => Buffer;
// `crypto.hash` (Node 20.12+) avoids a Hash object per call; hashing dominates cold renders.
const oneShot = (crypto as { hash?: OneShotHash }).hash;
const sha256: (input: string) => Buffer = oneShot
  ? (input) => oneShot('sha256', input, 'buffer')
  : (input) => crypto.createHash('sha256').update(input, 'utf8').digest();

/** kube-proxy's `portProtoHash`: 16 base32 characters of sha256(`input`). */
export function hash16(input: string): string {
  const digest = sha256(input);
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (let i = 0; out.length < HASH_CHARS; i++) {
    buffer = ((buffer << 8) | (digest[i] ?? 0)) & 0xffff;
    bits += 8;
    while (bits >= 5 && out.length < HASH_CHARS) {
      bits -= 5;
      out += BASE32_ALPHABET[(buffer >> bits) & 31];
    }
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
