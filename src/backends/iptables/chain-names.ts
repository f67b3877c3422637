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
/** Char code of each base32 digit. */
const BASE32_CODE = Uint8Array.from(BASE32_ALPHABET, (c) => c.charCodeAt(0));

/** Base32 digit `k` (0–3) of a 20-bit group, as a char code. */
function digit(group: number, k: number): number {
  return BASE32_CODE[(group >>> (15 - 5 * k)) & 31]!;
}

/** 20 bits from 5 hex digits of `hex` starting at `at`. */
function group20(hex: string, at: number): number {
  return (
    (HEX_VALUE[hex.charCodeAt(at)]! << 16) |
    (HEX_VALUE[hex.charCodeAt(at + 1)]! << 12) |
    (HEX_VALUE[hex.charCodeAt(at + 2)]! << 8) |
    (HEX_VALUE[hex.charCodeAt(at + 3)]! << 4) |
    HEX_VALUE[hex.charCodeAt(at + 4)]!
  );
}

/** kube-proxy's `portProtoHash`: 16 base32 characters of sha256(`input`). */
export function hash16(input: string): string {
  const hex = sha256Hex(input);
  // 16 base32 characters are 80 bits = 20 hex digits, taken as four 20-bit groups of 5 digits;
  // built in one call so that no intermediate strings are made (110,000 of these at 10k services).
  const a = group20(hex, 0);
  const b = group20(hex, 5);
  const c = group20(hex, 10);
  const d = group20(hex, 15);
  return String.fromCharCode(
    digit(a, 0),
    digit(a, 1),
    digit(a, 2),
    digit(a, 3),
    digit(b, 0),
    digit(b, 1),
    digit(b, 2),
    digit(b, 3),
    digit(c, 0),
    digit(c, 1),
    digit(c, 2),
    digit(c, 3),
    digit(d, 0),
    digit(d, 1),
    digit(d, 2),
    digit(d, 3),
  );
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
