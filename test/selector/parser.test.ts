import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Selector, SelectorError, SelectorParseError } from '../../src/selector';

describe('Selector.parse: accepted forms and canonical text', () => {
  const cases: [string, string][] = [
    ['', ''],
    ['   ', ''],
    ['x=a,y=b,z=c', 'x=a,y=b,z=c'],
    ['z=c,y=b,x=a', 'x=a,y=b,z=c'],
    ['x!=a,y=b', 'x!=a,y=b'],
    ['x=', 'x='],
    ['x= ', 'x='],
    ['x=,z= ', 'x=,z='],
    ['x==a', 'x==a'],
    ['!x', '!x'],
    ['x', 'x'],
    ['x>1', 'x>1'],
    ['x<05', 'x<05'],
    ['x>1,z<5', 'x>1,z<5'],
    ['x in (c,a,b)', 'x in (a,b,c)'],
    ['x in (a,a,b)', 'x in (a,b)'],
    ['x notin (a)', 'x notin (a)'],
    ['x in ()', 'x in ()'],
    ['x in (,a)', 'x in (,a)'],
    ['x in (a,)', 'x in (,a)'],
    ['x in (a,,b)', 'x in (,a,b)'],
    ['x in (in,notin)', 'x in (in,notin)'],
    ['x=in', 'x=in'],
    ['  app = web , tier in ( fe , be ) , !canary ', 'app=web,!canary,tier in (be,fe)'],
    ['example.com/app=web', 'example.com/app=web'],
    ['a,b,c', 'a,b,c'],
  ];
  for (const [input, canonical] of cases) {
    it(`${JSON.stringify(input)} → ${JSON.stringify(canonical)}`, () => {
      const s = Selector.parse(input);
      expect(s.toString()).toBe(canonical);
      expect(Selector.parse(s.toString()).toString()).toBe(canonical);
    });
  }
});

describe('Selector.parse: errors say why and where', () => {
  const cases: [string, string, number][] = [
    // `|` is not special: "a||y" is one (invalid) value
    // (the value's path carries the label key, as labels.NewRequirement builds it)
    ['x=a||y=b', 'unable to parse requirement: values[0][x]: Invalid value: "a||y": a valid label', -1],
    ['x==a==b', "found '==', expected: ',' or 'end of string'", 4],
    ['!x=a', "found '=', expected: ',' or 'end of string'", 2],
    ['x in (a', "unable to parse requirement: found '', expected: ',' or ')'", 7],
    ['x in a', "unable to parse requirement: found 'a' expected: '('", 5],
    ['x=a,', "found '', expected: identifier after ','", 4],
    [',x=a', "found ',', expected: !, identifier, or 'end of string'", 0],
    ['x notin', "unable to parse requirement: found '' expected: '('", 7],
    ['x y', "unable to parse requirement: found 'y', expected: in, notin, =, ==, !=, gt, lt", 2],
    [
      'x>a',
      "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer",
      0,
    ],
    [
      'x>1.1',
      "unable to parse requirement: values[0]: Invalid value: \"1.1\": for 'Gt', 'Lt' operators, the value must be an integer",
      0,
    ],
    ['a=b c', "found 'c', expected: ',' or 'end of string'", 4],
    ['x in (,,)', "unable to parse requirement: found ')', expected: ',', or identifier", 8],
  ];
  for (const [input, message, pos] of cases) {
    it(JSON.stringify(input), () => {
      let err: unknown;
      try {
        Selector.parse(input);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SelectorParseError);
      const pe = err as SelectorParseError;
      if (pos === -1) expect(pe.message.startsWith(message)).toBe(true);
      else {
        expect(pe.message).toBe(message);
        expect(pe.position).toBe(pos);
      }
      expect(pe.explain()).toContain('^');
    });
  }

  it('reports an invalid key with the upstream (empty) field path', () => {
    expect(() => Selector.parse('a@b=c')).toThrow(
      'unable to parse requirement: : Invalid value: "a@b": name part must consist of alphanumeric characters',
    );
  });

  it('reports an invalid value with its message', () => {
    expect(() => Selector.parse('a=-x')).toThrow(
      "unable to parse requirement: values[0][a]: Invalid value: \"-x\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
    );
  });

  it('a NUL character ends the input, as in the reference lexer', () => {
    expect(Selector.parse('a=b\0,c=d').toString()).toBe('a=b');
  });

  it('is a SelectorError too', () => {
    expect(() => Selector.parse('x in (')).toThrow(SelectorError);
  });
});

describe('Selector.parse properties', () => {
  const key = fc.stringMatching(/^[a-z]([a-z0-9.-]{0,8}[a-z0-9])?$/);
  const value = fc.stringMatching(/^([A-Za-z0-9]([A-Za-z0-9_.-]{0,6}[A-Za-z0-9])?)?$/);
  // `(,,)` is a syntax error upstream too, so set members are non-empty here
  const member = value.filter((v) => v !== '');
  const clause = fc.oneof(
    fc.tuple(key, value).map(([k, v]) => `${k}=${v}`),
    fc.tuple(key, value).map(([k, v]) => `${k}==${v}`),
    fc.tuple(key, value).map(([k, v]) => `${k}!=${v}`),
    fc
      .tuple(key, fc.array(member, { minLength: 1, maxLength: 4 }))
      .map(([k, vs]) => `${k} in (${vs.join(',')})`),
    fc
      .tuple(key, fc.array(member, { minLength: 1, maxLength: 4 }))
      .map(([k, vs]) => `${k} notin (${vs.join(',')})`),
    key,
    key.map((k) => `!${k}`),
    fc.tuple(key, fc.nat()).map(([k, n]) => `${k}>${n}`),
    fc.tuple(key, fc.nat()).map(([k, n]) => `${k}<${n}`),
  );
  const labels = fc.dictionary(key, fc.oneof(value, fc.integer().map(String)), { maxKeys: 6 });

  it('round-trips: parse(toString(parse(s))) is the same selector and matches the same sets', () => {
    fc.assert(
      fc.property(fc.array(clause, { maxLength: 6 }), fc.array(labels, { maxLength: 5 }), (clauses, sets) => {
        const s = Selector.parse(clauses.join(','));
        const again = Selector.parse(s.toString());
        expect(again.toString()).toBe(s.toString());
        for (const l of sets) expect(again.matches(l)).toBe(s.matches(l));
      }),
      { numRuns: 300 },
    );
  });

  it('never crashes: any input parses or throws SelectorParseError with a position inside the input', () => {
    const alphabet = fc.constantFrom(
      'a',
      'b',
      '=',
      '!',
      '(',
      ')',
      ',',
      ' ',
      '<',
      '>',
      'in',
      'notin',
      '1',
      '-',
      '/',
      '.',
      '\t',
      '@',
    );
    const input = fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.array(alphabet, { maxLength: 20 }).map((a) => a.join('')),
    );
    fc.assert(
      fc.property(input, (s) => {
        try {
          const sel = Selector.parse(s);
          expect(Selector.parse(sel.toString()).toString()).toBe(sel.toString());
        } catch (e) {
          expect(e).toBeInstanceOf(SelectorParseError);
          const pe = e as SelectorParseError;
          expect(pe.position).toBeGreaterThanOrEqual(0);
          expect(pe.position).toBeLessThanOrEqual(s.length);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
