/** Defaults of the cluster DNS server, each from the CoreDNS kubernetes plugin or the DNS RFCs. */

/** The cluster domain kubelet and CoreDNS default to. */
export const DEFAULT_CLUSTER_ZONE = 'cluster.local';
/** TTL of every synthesised record (CoreDNS kubernetes plugin `ttl` default). */
export const DEFAULT_TTL_S = 5;
/** Version of the Kubernetes DNS specification served as `dns-version.<zone>` TXT. */
export const DNS_SCHEMA_VERSION = '1.1.0';
/** TTL CoreDNS gives the `dns-version` TXT record. */
export const SCHEMA_VERSION_TTL_S = 28800;
/** The SOA record's TTL is min(ttl, this) in CoreDNS. */
export const SOA_MAX_TTL_S = 300;
/** SOA refresh/retry/expire CoreDNS writes for its zones. */
export const SOA_REFRESH_S = 7200;
export const SOA_RETRY_S = 1800;
export const SOA_EXPIRE_S = 86400;
/** Longest label and longest name in wire form (RFC 1035 §2.3.4). */
export const MAX_LABEL_BYTES = 63;
export const MAX_NAME_BYTES = 255;
/** Largest UDP response without EDNS0 (RFC 1035 §4.2.1). */
export const CLASSIC_UDP_MAX_BYTES = 512;
/** How long the server waits for an upstream before trying the next (CoreDNS forward uses a few seconds). */
export const DEFAULT_FORWARD_TIMEOUT_MS = 2000;
/** Idle TCP connections are closed after this long (RFC 7766 recommends seconds, not minutes). */
export const TCP_IDLE_TIMEOUT_MS = 10000;
/** Precomputed responses kept before the cache is reset (bounds memory against random names). */
export const MAX_CACHED_RESPONSES = 200000;
/** CNAME chains inside the zone are followed at most this deep (CoreDNS stops after 8 records). */
export const MAX_CNAME_CHAIN = 8;

/** Resource record type codes (RFC 1035, 3596, 2782, 6891). */
export const RRType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  IXFR: 251,
  AXFR: 252,
  ANY: 255,
} as const;

/** Response codes. */
export const RCode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
} as const;

/** Header opcodes (RFC 1035, 1996, 2136). */
export const Opcode = {
  QUERY: 0,
  IQUERY: 1,
  STATUS: 2,
  NOTIFY: 4,
  UPDATE: 5,
} as const;

/** Extended rcode BADVERS (RFC 6891): the low 4 bits (0) in the header, the rest (1) in the OPT. */
export const RCODE_BADVERS = 16;

/** CLASS IN. */
export const CLASS_IN = 1;
