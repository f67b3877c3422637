import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EdfScheduler } from '../../src/balancers/edf';

describe('EdfScheduler', () => {
  it('always runs the earliest deadline, ties in insertion order (against a linear scan)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 30 }),
        fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 200 }),
        (initial, steps) => {
          const edf = new EdfScheduler(initial.length);
          // Model: [index, deadline, order]
          const model: [number, number, number][] = [];
          let seq = 0;
          initial.forEach((d, i) => {
            edf.add(i, d);
            model.push([i, d, seq++]);
          });
          for (const step of steps) {
            model.sort((a, b) => a[1] - b[1] || a[2] - b[2]);
            const head = model[0]!;
            expect(edf.peek()).toBe(head[0]);
            expect(edf.peekDeadline()).toBe(head[1]);
            const next = head[1] + step;
            expect(edf.reschedule(next)).toBe(head[0]);
            head[1] = next;
            head[2] = seq++;
          }
          expect(edf.length).toBe(initial.length);
        },
      ),
      { numRuns: 300 },
    );
  });
});
