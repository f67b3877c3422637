/**
 * The record model the resolver produces and the wire encoder consumes. Names are lowercase,
 * absolute and written without the trailing dot.
 */

/** An address record. */
export interface AddressRecord {
  readonly type: 'A' | 'AAAA';
  readonly name: string;
  readonly ttl: number;
  readonly address: string;
}

/** A record whose data is one domain name. */
export interface NameRecord {
  readonly type: 'CNAME' | 'PTR' | 'NS';
  readonly name: string;
  readonly ttl: number;
  readonly target: string;
}

/** An SRV record (RFC 2782). */
export interface SrvRecord {
  readonly type: 'SRV';
  readonly name: string;
  readonly ttl: number;
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  readonly target: string;
}

/** A TXT record; each string is one character-string (≤ 255 bytes). */
export interface TxtRecord {
  readonly type: 'TXT';
  readonly name: string;
  readonly ttl: number;
  readonly text: readonly string[];
}

/** The zone's SOA record. */
export interface SoaRecord {
  readonly type: 'SOA';
  readonly name: string;
  readonly ttl: number;
  readonly mname: string;
  readonly rname: string;
  readonly serial: number;
  readonly refresh: number;
  readonly retry: number;
  readonly expire: number;
  readonly minimum: number;
}

/**
 * A record relayed verbatim from an upstream server (the answers appended after an ExternalName
 * CNAME): its type code and uncompressed RDATA. Only types whose RDATA holds no compressible
 * domain name are carried this way (RFC 3597 §4), so the bytes stay valid in any message.
 */
export interface RawRecord {
  readonly type: 'RAW';
  readonly name: string;
  readonly ttl: number;
  readonly rrtype: number;
  readonly rdata: Uint8Array;
}

/** Any record the server emits. */
export type DnsRecord = AddressRecord | NameRecord | SrvRecord | TxtRecord | SoaRecord | RawRecord;

/**
 * The authoritative answer to one question. `scope` says how the server should treat it:
 * `zone` answers are final; `outside` names are not ours (REFUSED or forwarded); `fallthrough`
 * are reverse names we know nothing about (NXDOMAIN, or forwarded when upstreams are set).
 */
export interface DnsAnswer {
  readonly rcode: number;
  readonly authoritative: boolean;
  readonly answers: readonly DnsRecord[];
  readonly authority: readonly DnsRecord[];
  readonly additional: readonly DnsRecord[];
  readonly scope: 'zone' | 'outside' | 'fallthrough';
  /**
   * False when the answer depends on state outside the snapshot (verified pod records), so a
   * precomputed response must not be reused.
   */
  readonly cacheable: boolean;
  /** `ns/name` of the service the answer was derived from, when there is exactly one. */
  readonly serviceKey?: string;
  /**
   * Set when the answer ends in a CNAME to a name outside the zone (an ExternalName service):
   * the name and type whose records CoreDNS would append after resolving them through its
   * upstream. A server with upstreams asks them and appends the answers; without, the CNAME
   * alone is the answer and the client's resolver follows it.
   */
  readonly chase?: { readonly name: string; readonly type: number };
}
