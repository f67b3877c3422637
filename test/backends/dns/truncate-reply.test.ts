import dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { truncateReply } from '../../../src/backends/dns/wire';

type Rec = dnsPacket.Answer;

function reply(answers: Rec[], authorities: Rec[] = [], additionals: Rec[] = [], flags = 0): Buffer {
  return dnsPacket.encode({
    type: 'response',
    id: 7,
    flags,
    questions: [{ type: 'A', name: 'x.example.test' }],
    answers,
    authorities,
    additionals,
  });
}

const a = (i: number): Rec => ({ type: 'A', name: `host-${i}.example.test`, ttl: 60, data: `127.0.2.${i}` });
const txt = (i: number, size: number): Rec => ({
  type: 'TXT',
  name: 'x.example.test',
  ttl: 60,
  data: [Buffer.alloc(size, 0x61 + (i % 26))],
});
const opt = (size: number, options: { code: number; data: Buffer }[] = []): Rec =>
  ({ type: 'OPT', name: '.', udpPayloadSize: size, options }) as never;

/** Encoded size of one answer TXT record of `size` bytes, measured through the encoder. */
function recordBytes(size: number): number {
  return reply([txt(0, size)]).length - reply([]).length;
}

describe('truncateReply', () => {
  it('passes a reply that fits unchanged (an upstream TC included)', () => {
    const small = reply([a(1)], [], [], dnsPacket.TRUNCATED_RESPONSE);
    expect(truncateReply(small, 512)).toBe(small);
  });

  it('keeps whole records across sections up to the first that does not fit, and sets TC', () => {
    const big = reply(
      Array.from({ length: 5 }, (_, i) => a(i)),
      [txt(0, 100)],
      Array.from({ length: 10 }, (_, i) => a(100 + i)),
    );
    expect(big.length).toBeGreaterThan(512);
    const cut = truncateReply(big, 512);
    expect(cut.length).toBeLessThanOrEqual(512);
    const p = dnsPacket.decode(cut);
    expect(p.flag_tc).toBe(true);
    expect(p.answers).toHaveLength(5);
    expect(p.authorities).toHaveLength(1);
    const extra = p.additionals ?? [];
    expect(extra.length).toBeGreaterThan(0);
    expect(extra.length).toBeLessThan(10);
    expect(extra.map((r) => (r as { data: string }).data)).toEqual(
      Array.from({ length: extra.length }, (_, i) => `127.0.2.${100 + i}`),
    );
  });

  it('stops at the first record that does not fit even when a later one would', () => {
    const big = reply([txt(0, 100), txt(1, 250), txt(2, 250), a(1)]);
    const p = dnsPacket.decode(truncateReply(big, 512));
    expect(p.flag_tc).toBe(true);
    expect(p.answers?.map((r) => r.type)).toEqual(['TXT', 'TXT']);
  });

  it('keeps the OPT record (options and all) last, its size reserved', () => {
    const cookie = { code: 10, data: Buffer.alloc(16, 1) };
    const big = reply(
      Array.from({ length: 30 }, (_, i) => a(i)),
      [],
      [opt(1232, [cookie]), a(200)],
    );
    const cut = truncateReply(big, 600);
    expect(cut.length).toBeLessThanOrEqual(600);
    const p = dnsPacket.decode(cut);
    expect(p.flag_tc).toBe(true);
    const last = p.additionals?.at(-1) as unknown as { type: string; options: { code: number }[] };
    expect(last.type).toBe('OPT');
    expect(last.options.map((o) => o.code)).toEqual([10]);
  });

  it('treats a limit under 512 as 512', () => {
    const big = reply(Array.from({ length: 40 }, (_, i) => a(i)));
    expect(truncateReply(big, 100)).toEqual(truncateReply(big, 512));
  });

  it('passes malformed replies unchanged', () => {
    const big = reply(Array.from({ length: 40 }, (_, i) => a(i)));
    const broken = Buffer.from(big);
    broken.writeUInt16BE(60, 6); // more answers announced than present
    expect(truncateReply(broken, 512)).toBe(broken);
  });

  it('always yields a decodable prefix within the limit (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 240 }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 0, max: 3000 }),
        fc.boolean(),
        (sizes, limit, withOpt) => {
          const answers = sizes.map((s, i) => txt(i, s));
          const msg = reply(answers, [], withOpt ? [opt(4096)] : []);
          const cut = truncateReply(msg, limit);
          const max = Math.max(512, limit);
          if (msg.length <= max) return cut === msg;
          expect(cut.length).toBeLessThanOrEqual(max);
          const p = dnsPacket.decode(cut);
          expect(p.flag_tc).toBe(true);
          const kept = p.answers ?? [];
          expect(kept.map((r) => (r as { data: Buffer[] }).data[0]?.length)).toEqual(
            sizes.slice(0, kept.length),
          );
          // The next record would not have fit.
          const next = sizes[kept.length];
          if (next !== undefined) expect(cut.length + recordBytes(next)).toBeGreaterThan(max);
          expect((p.additionals ?? []).some((r) => r.type === 'OPT')).toBe(withOpt);
          return true;
        },
      ),
      { numRuns: 200 },
    );
  });
});
