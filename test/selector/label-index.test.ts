import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LabelIndex, Selector } from '../../src/selector';

describe('LabelIndex', () => {
  it('answers which map selectors match a label set', () => {
    const idx = new LabelIndex<string>();
    idx.set('web', { app: 'web' });
    idx.set('web-fe', { app: 'web', tier: 'fe' });
    idx.set('db', { app: 'db' });
    expect(idx.match({ app: 'web', tier: 'fe' }).sort()).toEqual(['web', 'web-fe']);
    expect(idx.match({ app: 'web' })).toEqual(['web']);
    expect(idx.match({ tier: 'fe' })).toEqual([]);
    idx.delete('web');
    expect(idx.match({ app: 'web', tier: 'fe' })).toEqual(['web-fe']);
    idx.set('web-fe', { app: 'db' });
    expect(idx.match({ app: 'web', tier: 'fe' })).toEqual([]);
    expect(idx.match({ app: 'db' }).sort()).toEqual(['db', 'web-fe']);
    expect(idx.size).toBe(2);
  });

  it('handles empty maps (everything), non-exact Selectors (scanned) and the nothing-selector', () => {
    const idx = new LabelIndex<number>();
    idx.set(1, {});
    idx.set(2, Selector.parse('app in (a,b),!canary'));
    idx.set(3, Selector.nothing());
    idx.set(4, Selector.parse('app=a'));
    expect(idx.match({ app: 'a' }).sort()).toEqual([1, 2, 4]);
    expect(idx.match({ app: 'a', canary: 'y' }).sort()).toEqual([1, 4]);
    idx.clear();
    expect(idx.match({ app: 'a' })).toEqual([]);
  });

  it('is safe with __proto__ keys', () => {
    const idx = new LabelIndex<string>();
    const sel = JSON.parse('{"__proto__":"x"}') as Record<string, string>;
    idx.set('p', sel);
    expect(idx.match(JSON.parse('{"__proto__":"x"}'))).toEqual(['p']);
    expect(idx.match({})).toEqual([]);
  });

  it('agrees with scanning every selector (property)', () => {
    const key = fc.constantFrom('app', 'tier', 'env', 'zone', '__proto__');
    const val = fc.constantFrom('a', 'b', 'c');
    const labels = fc.dictionary(key, val, { maxKeys: 4 });
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), id: fc.nat(15), sel: labels }),
      fc.record({ kind: fc.constant('del' as const), id: fc.nat(15) }),
    );
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 40 }),
        fc.array(labels, { minLength: 1, maxLength: 5 }),
        (ops, queries) => {
          const idx = new LabelIndex<number>();
          const ref = new Map<number, Selector>();
          for (const o of ops) {
            if (o.kind === 'set') {
              idx.set(o.id, o.sel);
              ref.set(o.id, Selector.fromSet(o.sel));
            } else {
              expect(idx.delete(o.id)).toBe(ref.delete(o.id));
            }
          }
          for (const q of queries) {
            const want = [...ref].filter(([, s]) => s.matches(q)).map(([id]) => id);
            expect(idx.match(q).sort((a, b) => a - b)).toEqual(want.sort((a, b) => a - b));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
