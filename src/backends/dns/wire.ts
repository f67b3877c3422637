/**
 * DNS wire format for the hot path: encoding {@link DnsAnswer}s into response templates (with
 * name compression against the question) and reading the question of a query straight from
 * the packet bytes without a full decode.
 */
import { randomInt } from 'node:crypto';
import { CLASS_IN, CLASSIC_UDP_MAX_BYTES, MAX_LABEL_BYTES, MAX_NAME_BYTES, RRType } from './constants';
import { canonicalIP } from './names';
import type { DnsAnswer, DnsRecord } from './records';

/**
 * FNV-1a's offset basis mixed with a random value per process: the response cache's buckets are
 * chosen by this hash of names clients pick, and a fixed hash would let a client pick names that
 * all share one bucket.
 */
const FNV_OFFSET_SEEDED = (0x811c9dc5 ^ randomInt(0x1_0000_0000 - 1)) >>> 0;

/** Header flag bits (second 16-bit word). */
export const FLAG_QR = 0x8000;
export const FLAG_AA = 0x0400;
export const FLAG_TC = 0x0200;
export const FLAG_RD = 0x0100;
export const FLAG_CD = 0x0010;

/** Byte length of an OPT pseudo-record with no options. */
export const OPT_RECORD_BYTES = 11;

/** The question of a query as the fast path reads it. */
export interface ParsedQuery {
  /** Offset just past the question's name. */
  nameEnd: number;
  qtype: number;
  qclass: number;
  /** FNV-1a hash of the lowercased name bytes and the type. */
  hash: number;
  /** Whether the query carries an OPT record. */
  edns: boolean;
  /** Requester's EDNS UDP payload size (0 without EDNS). */
  ednsSize: number;
  ednsVersion: number;
  /** The DO bit of the query's OPT record. */
  dnssecOk: boolean;
  /** The upper byte of the OPT record's flags (DO and seven Z bits), echoed in the reply. */
  ednsFlagsHigh: number;
}

/** A blank {@link ParsedQuery} for {@link parseQuery} to fill (reused across queries on the hot path). */
export function emptyParsedQuery(): ParsedQuery {
  return {
    nameEnd: 0,
    qtype: 0,
    qclass: 0,
    hash: 0,
    edns: false,
    ednsSize: 0,
    ednsVersion: 0,
    dnssecOk: false,
    ednsFlagsHigh: 0,
  };
}

/**
 * Reads a standard query's single question and optional OPT record. Returns false when the
 * packet is anything else (response, other opcode, compression in the question, extra records,
 * trailing bytes…), which sends it to the slow path. Never throws; writes into `out`. The
 * message is `msg`'s first `len` bytes (all of it by default), so a fixed receive slot can be
 * parsed without a view per packet.
 */
export function parseQuery(msg: Uint8Array, out: ParsedQuery, len = msg.length): boolean {
  if (len < 17) return false;
  // QR=0, opcode 0; QDCOUNT 1, ANCOUNT 0, NSCOUNT 0, ARCOUNT 0 or 1.
  if ((msg[2]! & 0xf8) !== 0) return false;
  if (
    msg[4] !== 0 ||
    msg[5] !== 1 ||
    msg[6] !== 0 ||
    msg[7] !== 0 ||
    msg[8] !== 0 ||
    msg[9] !== 0 ||
    msg[10] !== 0
  )
    return false;
  const arcount = msg[11]!;
  if (arcount > 1) return false;
  let off = 12;
  let hash = FNV_OFFSET_SEEDED;
  for (;;) {
    if (off >= len) return false;
    const l = msg[off]!;
    hash = Math.imul(hash ^ l, 0x01000193);
    off++;
    if (l === 0) break;
    if (l > 63) return false;
    if (off + l > len) return false;
    for (let i = 0; i < l; i++) {
      let c = msg[off + i]!;
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      hash = Math.imul(hash ^ c, 0x01000193);
    }
    off += l;
    if (off - 12 > 255) return false;
  }
  if (off + 4 > len) return false;
  const qtype = (msg[off]! << 8) | msg[off + 1]!;
  const qclass = (msg[off + 2]! << 8) | msg[off + 3]!;
  hash = Math.imul(hash ^ msg[off]!, 0x01000193);
  hash = Math.imul(hash ^ msg[off + 1]!, 0x01000193) >>> 0;
  const qend = off + 4;
  out.nameEnd = off;
  out.qtype = qtype;
  out.qclass = qclass;
  out.hash = hash;
  out.edns = false;
  out.ednsSize = 0;
  out.ednsVersion = 0;
  out.dnssecOk = false;
  out.ednsFlagsHigh = 0;
  if (arcount === 0) return qend === len;
  // OPT: root name, type 41, class = UDP size, TTL = ext-rcode|version|flags, RDLENGTH + options.
  if (qend + OPT_RECORD_BYTES > len) return false;
  if (msg[qend] !== 0 || msg[qend + 1] !== 0 || msg[qend + 2] !== RRType.OPT) return false;
  const rdlen = (msg[qend + 9]! << 8) | msg[qend + 10]!;
  if (qend + OPT_RECORD_BYTES + rdlen !== len) return false;
  out.edns = true;
  out.ednsSize = (msg[qend + 3]! << 8) | msg[qend + 4]!;
  out.ednsVersion = msg[qend + 6]!;
  out.dnssecOk = (msg[qend + 7]! & 0x80) !== 0;
  out.ednsFlagsHigh = msg[qend + 7]!;
  return true;
}

/** Case-insensitive comparison of the query's name bytes against a template's (lowercase) name. */
export function sameName(msg: Uint8Array, tpl: Uint8Array, nameEnd: number): boolean {
  for (let i = 12; i < nameEnd; i++) {
    let c = msg[i]!;
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== tpl[i]) return false;
  }
  return tpl[nameEnd] === msg[nameEnd] && tpl[nameEnd + 1] === msg[nameEnd + 1];
}

/** Reads the labels of an uncompressed name at `off` (lowercased); undefined when malformed. */
export function readQuestionName(
  msg: Uint8Array,
  off: number,
): { labels: string[]; end: number } | undefined {
  const labels: string[] = [];
  let total = 0;
  for (;;) {
    if (off >= msg.length) return undefined;
    const l = msg[off]!;
    off++;
    if (l === 0) return { labels, end: off };
    if (l > 63) return undefined;
    if (off + l > msg.length) return undefined;
    total += l + 1;
    if (total > 255) return undefined;
    let s = '';
    for (let i = 0; i < l; i++) {
      let c = msg[off + i]!;
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      // Bytes that cannot appear in a Kubernetes name are kept escaped so they never match one.
      s += c === 0x2e || c < 0x21 || c > 0x7e ? `\\${c.toString().padStart(3, '0')}` : String.fromCharCode(c);
    }
    labels.push(s);
    off += l;
  }
}

/** A growable byte writer with DNS name compression. */
class Writer {
  buf = Buffer.alloc(512);
  len = 0;
  private readonly names = new Map<string, number>();

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf[this.len++] = v & 0xff;
  }
  u16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v & 0xffff, this.len);
    this.len += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.len);
    this.len += 4;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  /**
   * Writes a name (dot-separated, no trailing dot; '' = root), compressing known suffixes.
   * Throws a RangeError for a name the wire format cannot carry (a label over 63 bytes, more
   * than 255 bytes in all) rather than send a different, shortened name: such a name can only
   * come from an object Kubernetes validation would reject (say, an endpoint hostname of 64+
   * characters), and CoreDNS fails to pack it too, so the query gets no answer.
   */
  name(name: string, compress = true): void {
    const labels = name === '' ? [] : name.split('.');
    let wireLength = 1;
    for (const label of labels) {
      const length = labelBytes(label).length;
      if (length > MAX_LABEL_BYTES)
        throw new RangeError(`cannot encode DNS name ${JSON.stringify(name)}: label of ${length} bytes`);
      wireLength += length + 1;
    }
    if (wireLength > MAX_NAME_BYTES)
      throw new RangeError(`cannot encode DNS name ${JSON.stringify(name)}: ${wireLength} bytes`);
    for (let i = 0; i < labels.length; i++) {
      const suffix = labels.slice(i).join('.').toLowerCase();
      const at = compress ? this.names.get(suffix) : undefined;
      if (at !== undefined) {
        this.u16(0xc000 | at);
        return;
      }
      if (this.len < 0x3fff && !this.names.has(suffix)) this.names.set(suffix, this.len);
      const bytes = labelBytes(labels[i]!);
      this.u8(bytes.length);
      this.bytes(bytes);
    }
    this.u8(0);
  }
}

/** The bytes of one presentation-form label (`\DDD` escapes decoded). */
function labelBytes(label: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < label.length; i++) {
    const c = label.charCodeAt(i);
    if (c === 0x5c && /^\d{3}$/.test(label.slice(i + 1, i + 4))) {
      out.push(Number(label.slice(i + 1, i + 4)));
      i += 3;
    } else out.push(c & 0xff);
  }
  return Uint8Array.from(out);
}

function ipv4Bytes(ip: string): number[] {
  return ip.split('.').map(Number);
}

function ipv6Bytes(ip: string): number[] {
  const [head = '', tail] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [
    ...h,
    ...new Array<string>(tail === undefined ? 0 : 8 - h.length - t.length).fill('0'),
    ...t,
  ];
  const out: number[] = [];
  for (const g of groups) {
    if (g.includes('.')) {
      out.push(...ipv4Bytes(g));
      continue;
    }
    const v = Number.parseInt(g || '0', 16);
    out.push(v >> 8, v & 0xff);
  }
  return out;
}

function writeRecord(w: Writer, r: DnsRecord, qname: string): void {
  w.name(r.name === qname ? qname : r.name);
  w.u16(r.type === 'RAW' ? r.rrtype : RRType[r.type]);
  w.u16(CLASS_IN);
  w.u32(r.ttl);
  const lenAt = w.len;
  w.u16(0);
  switch (r.type) {
    case 'A':
      w.bytes(Uint8Array.from(ipv4Bytes(r.address)));
      break;
    case 'AAAA':
      w.bytes(Uint8Array.from(ipv6Bytes(r.address)));
      break;
    case 'CNAME':
    case 'PTR':
    case 'NS':
      w.name(r.target);
      break;
    case 'SRV':
      w.u16(r.priority);
      w.u16(r.weight);
      w.u16(r.port);
      // RFC 2782: the SRV target must not be compressed.
      w.name(r.target, false);
      break;
    case 'TXT':
      for (const t of r.text) {
        const b = Buffer.from(t, 'utf8').subarray(0, 255);
        w.u8(b.length);
        w.bytes(b);
      }
      break;
    case 'RAW':
      w.bytes(r.rdata);
      break;
    case 'SOA':
      w.name(r.mname);
      w.name(r.rname);
      w.u32(r.serial);
      w.u32(r.refresh);
      w.u32(r.retry);
      w.u32(r.expire);
      w.u32(r.minimum);
      break;
  }
  w.buf.writeUInt16BE(w.len - lenAt - 2, lenAt);
}

/**
 * A response template plus where each of its records ends, so a response that does not fit a
 * UDP payload can be cut after its last whole record (records only point backwards for name
 * compression, so every such prefix is a valid message).
 */
export interface ResponseTemplate {
  readonly buf: Buffer;
  /** Offset just past the question section. */
  readonly questionEnd: number;
  /** Offset just past each record, answers then authority then additional. */
  readonly recordEnds: readonly number[];
  readonly answerCount: number;
  readonly authorityCount: number;
  readonly additionalCount: number;
}

/**
 * Encodes a response template: ID 0, RD/CD clear, the question in lowercase and the answer's
 * sections. Owner names equal to the question become pointers to it, so patching the query's
 * own name bytes into the template restores its case (0x20) everywhere.
 */
export function encodeTemplate(
  qname: string,
  qtype: number,
  qclass: number,
  answer: DnsAnswer,
): ResponseTemplate {
  const w = new Writer();
  w.u16(0);
  w.u16(FLAG_QR | (answer.authoritative ? FLAG_AA : 0) | (answer.rcode & 0xf));
  w.u16(1);
  w.u16(answer.answers.length);
  w.u16(answer.authority.length);
  w.u16(answer.additional.length);
  w.name(qname);
  w.u16(qtype);
  w.u16(qclass);
  const questionEnd = w.len;
  const recordEnds: number[] = [];
  for (const section of [answer.answers, answer.authority, answer.additional]) {
    for (const r of section) {
      writeRecord(w, r, qname);
      recordEnds.push(w.len);
    }
  }
  return {
    buf: Buffer.from(w.buf.subarray(0, w.len)),
    questionEnd,
    recordEnds,
    answerCount: answer.answers.length,
    authorityCount: answer.authority.length,
    additionalCount: answer.additional.length,
  };
}

/** {@link encodeTemplate} without the record offsets. */
export function encodeResponse(qname: string, qtype: number, qclass: number, answer: DnsAnswer): Buffer {
  return encodeTemplate(qname, qtype, qclass, answer).buf;
}

/** A header-only (or header + question) error response for queries the fast path rejects. */
export function encodeError(
  id: number,
  opcode: number,
  flags: number,
  rcode: number,
  question?: Uint8Array,
): Buffer {
  const out = Buffer.alloc(12 + (question?.length ?? 0));
  out.writeUInt16BE(id, 0);
  out.writeUInt16BE(FLAG_QR | ((opcode & 0xf) << 11) | (flags & (FLAG_RD | FLAG_CD)) | (rcode & 0xf), 2);
  out.writeUInt16BE(question ? 1 : 0, 4);
  if (question) out.set(question, 12);
  return out;
}

/** Header bits miekg/dns keeps from the request when it rejects one (TC, RD, RA, AD, CD). */
const REJECTION_KEPT_FLAGS = 0x0200 | FLAG_RD | 0x0080 | 0x0020 | FLAG_CD;

/**
 * The reply to a message rejected before it is looked at (CoreDNS leaves this to miekg/dns's
 * server, which answers from the request's header): QR set, AA and Z cleared, the request's
 * TC/RD/RA/AD/CD bits kept, the given opcode and rcode, every section empty except the question
 * when one is given (a message that fails to parse after its question).
 */
export function encodeRejection(
  id: number,
  opcode: number,
  flags: number,
  rcode: number,
  question?: Uint8Array,
): Buffer {
  const out = encodeError(id, opcode, 0, rcode, question);
  out.writeUInt16BE(out.readUInt16BE(2) | (flags & REJECTION_KEPT_FLAGS), 2);
  return out;
}

/** EDNS0 payload size of the queries the server itself sends upstream (the DNS Flag Day 2020 value). */
export const UPSTREAM_EDNS_UDP_BYTES = 1232;

/** The EDNS0 part of a query the server sends upstream. */
export interface QueryEdns {
  readonly udpSize: number;
  /** Upper byte of the OPT flags (DO = 0x80). */
  readonly flagsHigh: number;
}

/**
 * A recursive (RD) query for one name, the ID left 0, with an OPT record as `edns` says (none
 * for `null`; by default payload size {@link UPSTREAM_EDNS_UDP_BYTES}).
 */
export function encodeQuery(
  name: string,
  qtype: number,
  edns: QueryEdns | null = { udpSize: UPSTREAM_EDNS_UDP_BYTES, flagsHigh: 0 },
): Buffer {
  const w = new Writer();
  w.u16(0);
  w.u16(FLAG_RD);
  w.u16(1);
  w.u16(0);
  w.u16(0);
  w.u16(edns ? 1 : 0);
  w.name(name, false);
  w.u16(qtype);
  w.u16(CLASS_IN);
  if (edns) {
    w.u8(0);
    w.u16(RRType.OPT);
    w.u16(edns.udpSize);
    w.u32((edns.flagsHigh & 0xff) << 8);
    w.u16(0);
  }
  return Buffer.from(w.buf.subarray(0, w.len));
}

/**
 * RR types whose RDATA may hold a compressed domain name (RFC 3597 §4: those of RFC 1035, plus
 * the ones receivers must decompress). Only CNAME among them is relayed (decompressed); the
 * others cannot be copied byte for byte into another message and are left out.
 */
const NAME_BEARING_TYPES = new Set([
  2, 3, 4, 5, 6, 7, 8, 9, 12, 14, 15, 17, 18, 21, 24, 26, 30, 33, 35, 36, 38,
]);
const MAX_POINTER_HOPS = 64;

/**
 * Reads a possibly compressed name in presentation form, case kept, `.`, `\\`, and bytes outside
 * printable ASCII escaped as `\DDD`; undefined when malformed (bad pointer, loop, over 255 bytes).
 */
export function readName(msg: Uint8Array, start: number): { name: string; end: number } | undefined {
  let off = start;
  let end = -1;
  let hops = 0;
  let wire = 1;
  const labels: string[] = [];
  for (;;) {
    if (off >= msg.length) return undefined;
    const l = msg[off]!;
    if ((l & 0xc0) === 0xc0) {
      if (off + 1 >= msg.length || ++hops > MAX_POINTER_HOPS) return undefined;
      const target = ((l & 0x3f) << 8) | msg[off + 1]!;
      if (end < 0) end = off + 2;
      if (target >= off) return undefined; // pointers only go backwards
      off = target;
      continue;
    }
    if (l > MAX_LABEL_BYTES) return undefined;
    off++;
    if (l === 0) break;
    if (off + l > msg.length) return undefined;
    wire += l + 1;
    if (wire > MAX_NAME_BYTES) return undefined;
    let label = '';
    for (let i = 0; i < l; i++) {
      const c = msg[off + i]!;
      label +=
        c === 0x2e || c === 0x5c || c < 0x21 || c > 0x7e
          ? `\\${c.toString().padStart(3, '0')}`
          : String.fromCharCode(c);
    }
    labels.push(label);
    off += l;
  }
  return { name: labels.join('.'), end: end < 0 ? off : end };
}

/**
 * The answer section of an upstream's response to {@link encodeQuery}`(name, qtype)`, as
 * records to append after a CNAME: A/AAAA as addresses, CNAME decompressed, other types whose
 * RDATA holds no compressible name verbatim. Undefined when the message is not a well-formed
 * response to that very question (wrong name, type, or a query instead of a response).
 */
export function readUpstreamAnswers(
  msg: Uint8Array,
  name: string,
  qtype: number,
): { readonly records: DnsRecord[]; readonly truncated: boolean } | undefined {
  if (msg.length < 12 || (msg[2]! & 0x80) === 0) return undefined;
  const qd = (msg[4]! << 8) | msg[5]!;
  const an = (msg[6]! << 8) | msg[7]!;
  if (qd !== 1) return undefined;
  const question = readName(msg, 12);
  if (!question || question.end + 4 > msg.length) return undefined;
  if (question.name.toLowerCase() !== name.toLowerCase()) return undefined;
  if (((msg[question.end]! << 8) | msg[question.end + 1]!) !== qtype) return undefined;
  let off = question.end + 4;
  const records: DnsRecord[] = [];
  for (let i = 0; i < an; i++) {
    const owner = readName(msg, off);
    if (!owner || owner.end + 10 > msg.length) return undefined;
    off = owner.end;
    const type = (msg[off]! << 8) | msg[off + 1]!;
    const cls = (msg[off + 2]! << 8) | msg[off + 3]!;
    const ttl = ((msg[off + 4]! << 24) | (msg[off + 5]! << 16) | (msg[off + 6]! << 8) | msg[off + 7]!) >>> 0;
    const rdlen = (msg[off + 8]! << 8) | msg[off + 9]!;
    const rdata = off + 10;
    off = rdata + rdlen;
    if (off > msg.length) return undefined;
    if (cls !== CLASS_IN) continue;
    if (type === RRType.A && rdlen === 4) {
      records.push({
        type: 'A',
        name: owner.name,
        ttl,
        address: Array.from(msg.subarray(rdata, off)).join('.'),
      });
    } else if (type === RRType.AAAA && rdlen === 16) {
      const groups: string[] = [];
      for (let g = 0; g < 16; g += 2)
        groups.push(((msg[rdata + g]! << 8) | msg[rdata + g + 1]!).toString(16));
      records.push({ type: 'AAAA', name: owner.name, ttl, address: canonicalIP(groups.join(':')) });
    } else if (type === RRType.CNAME) {
      const target = readName(msg, rdata);
      if (!target || target.end !== off) return undefined;
      records.push({ type: 'CNAME', name: owner.name, ttl, target: target.name });
    } else if (type !== RRType.OPT && !NAME_BEARING_TYPES.has(type)) {
      records.push({
        type: 'RAW',
        name: owner.name,
        ttl,
        rrtype: type,
        rdata: Uint8Array.from(msg.subarray(rdata, off)),
      });
    }
  }
  return { records, truncated: (msg[2]! & (FLAG_TC >> 8)) !== 0 };
}

/** Offset just past the (possibly compressed) name at `off`; undefined when it runs out. */
function skipName(msg: Uint8Array, off: number): number | undefined {
  for (;;) {
    if (off >= msg.length) return undefined;
    const l = msg[off]!;
    if (l === 0) return off + 1;
    if ((l & 0xc0) === 0xc0) return off + 2 <= msg.length ? off + 2 : undefined;
    if (l > MAX_LABEL_BYTES) return undefined;
    off += l + 1;
  }
}

/**
 * Offset of the OPT record in a message's additional section: -1 when there is none, undefined
 * when the message is too malformed to walk.
 */
export function findOptRecord(msg: Uint8Array): number | undefined {
  if (msg.length < 12) return undefined;
  const count = (at: number) => (msg[at]! << 8) | msg[at + 1]!;
  let off: number | undefined = 12;
  for (let i = count(4); i > 0; i--) {
    off = skipName(msg, off);
    if (off === undefined || off + 4 > msg.length) return undefined;
    off += 4;
  }
  const beforeAdditional = count(6) + count(8);
  const total = beforeAdditional + count(10);
  for (let i = 0; i < total; i++) {
    const start: number = off;
    off = skipName(msg, off);
    if (off === undefined || off + 10 > msg.length) return undefined;
    const type = (msg[off]! << 8) | msg[off + 1]!;
    if (i >= beforeAdditional && type === RRType.OPT) return start;
    off += 10 + count(off + 8);
    if (off > msg.length) return undefined;
  }
  return -1;
}

/**
 * An upstream's reply as CoreDNS's `SizeAndDo` leaves it for a client that sent an OPT record:
 * the reply's own OPT keeps its options but gets the client's payload size, version 0, extended
 * rcode and lower flag byte cleared, and the client's DO bit; a reply without OPT gets the
 * client's (payload size and upper flag byte, no options). Replies to clients without EDNS, and
 * anything that cannot be walked, pass unchanged.
 */
export function adoptClientOpt(reply: Buffer, query: Uint8Array): Buffer {
  const q = findOptRecord(query);
  if (q === undefined || q < 0 || q + OPT_RECORD_BYTES > query.length) return reply;
  const r = findOptRecord(reply);
  if (r === undefined) return reply;
  const size = (query[q + 3]! << 8) | query[q + 4]!;
  const flagsHigh = query[q + 7]!;
  if (r >= 0) {
    const out = Buffer.from(reply);
    out.writeUInt16BE(size, r + 3);
    out[r + 5] = 0;
    out[r + 6] = 0;
    out[r + 7] = out[r + 7]! | (flagsHigh & 0x80);
    out[r + 8] = 0;
    return out;
  }
  const out = Buffer.alloc(reply.length + OPT_RECORD_BYTES);
  reply.copy(out);
  out.writeUInt16BE(((reply[10]! << 8) | reply[11]!) + 1, 10);
  out.set([0, 0, RRType.OPT, size >> 8, size & 0xff, 0, 0, flagsHigh, 0, 0, 0], reply.length);
  return out;
}

/**
 * An upstream's reply cut to `limit` bytes as CoreDNS's response writer does (miekg/dns
 * `Msg.Truncate`): a reply that fits passes unchanged; otherwise the OPT record is set aside and
 * its size reserved, then answers, authority and additional records are kept whole, in order,
 * up to the first one that does not fit, the OPT record goes back at the end and TC is set (an
 * upstream's own TC stays). Limits under 512 count as 512 (RFC 6891). Records are measured as
 * the upstream encoded them (compression pointers always point backwards, so every prefix is a
 * valid message); a reply too malformed to walk passes unchanged.
 */
export function truncateReply(reply: Buffer, limit: number): Buffer {
  const size = Math.max(limit, CLASSIC_UDP_MAX_BYTES);
  if (reply.length <= size || reply.length < 12) return reply;
  const count = (at: number) => (reply[at]! << 8) | reply[at + 1]!;
  let off: number | undefined = 12;
  for (let i = count(4); i > 0; i--) {
    off = skipName(reply, off);
    if (off === undefined || off + 4 > reply.length) return reply;
    off += 4;
  }
  const questionEnd = off;
  const sections = [count(6), count(8), count(10)];
  const records: { start: number; end: number; section: number }[] = [];
  let opt: { start: number; end: number } | undefined;
  for (let section = 0; section < 3; section++) {
    for (let i = sections[section]!; i > 0; i--) {
      const start: number = off;
      off = skipName(reply, off);
      if (off === undefined || off + 10 > reply.length) return reply;
      const type = (reply[off]! << 8) | reply[off + 1]!;
      off += 10 + count(off + 8);
      if (off > reply.length) return reply;
      if (section === 2 && type === RRType.OPT && !opt) opt = { start, end: off };
      else records.push({ start, end: off, section });
    }
  }
  const budget = size - (opt ? opt.end - opt.start : 0);
  // Never longer than the reply itself, whatever the OPT record's size.
  const out = Buffer.allocUnsafe(reply.length);
  reply.copy(out, 0, 0, questionEnd);
  let len = questionEnd;
  const kept = [0, 0, 0];
  for (const r of records) {
    if (len + (r.end - r.start) > budget) break;
    reply.copy(out, len, r.start, r.end);
    len += r.end - r.start;
    kept[r.section]!++;
  }
  if (opt) {
    reply.copy(out, len, opt.start, opt.end);
    len += opt.end - opt.start;
  }
  out.writeUInt16BE(kept[0]!, 6);
  out.writeUInt16BE(kept[1]!, 8);
  out.writeUInt16BE(kept[2]! + (opt ? 1 : 0), 10);
  if (kept[0]! + kept[1]! + kept[2]! < records.length) out[2] = out[2]! | (FLAG_TC >> 8);
  return out.subarray(0, len);
}
