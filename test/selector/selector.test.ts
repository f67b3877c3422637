import { describe, expect, it } from 'vitest';
import { Requirement, Selector, SelectorError } from '../../src/selector';

describe('Selector.matches', () => {
  const cases: [string, Record<string, string>, boolean][] = [
    ['', {}, true],
    ['', { a: 'b' }, true],
    ['x=y', { x: 'y' }, true],
    ['x=y', { x: 'z' }, false],
    ['x=y', {}, false],
    ['x==y', { x: 'y' }, true],
    ['x!=y', { x: 'z' }, true],
    ['x!=y', {}, true],
    ['x!=y', { x: 'y' }, false],
    ['x in (a,b)', { x: 'b' }, true],
    ['x in (a,b)', { x: 'c' }, false],
    ['x in (a,b)', {}, false],
    ['x notin (a,b)', {}, true],
    ['x notin (a,b)', { x: 'a' }, false],
    ['x', { x: '' }, true],
    ['x', {}, false],
    ['!x', {}, true],
    ['!x', { x: '' }, false],
    ['x>1', { x: '2' }, true],
    ['x>1', { x: '1' }, false],
    ['x>1', { x: 'two' }, false],
    ['x>1', {}, false],
    ['x<10', { x: '9' }, true],
    ['x<10', { x: '-3' }, true],
    ['x=', { x: '' }, true],
    ['x=', {}, false],
    ['x=a,y=b', { x: 'a', y: 'b', z: 'c' }, true],
    ['x=a,y=b', { x: 'a' }, false],
  ];
  for (const [sel, labels, want] of cases) {
    it(`${JSON.stringify(sel)} on ${JSON.stringify(labels)} → ${want}`, () => {
      expect(Selector.parse(sel).matches(labels)).toBe(want);
      expect(Selector.parse(sel).matches(new Map(Object.entries(labels)))).toBe(want);
    });
  }

  it('never reads the prototype chain (__proto__, constructor, toString keys)', () => {
    expect(Selector.parse('constructor').matches({})).toBe(false);
    expect(Selector.parse('toString').matches({})).toBe(false);
    expect(Selector.parse('!hasOwnProperty').matches({})).toBe(true);
    const labels = JSON.parse('{"__proto__":"x"}') as Record<string, string>;
    expect(Selector.fromSet(labels).matches(labels)).toBe(true);
    expect(Selector.fromSet(labels).matches({})).toBe(false);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});

describe('map and LabelSelector forms', () => {
  it('fromSet: exact pairs, sorted canonical text, empty map matches everything', () => {
    const s = Selector.fromSet({ tier: 'fe', app: 'web' });
    expect(s.toString()).toBe('app=web,tier=fe');
    expect(s.matches({ app: 'web', tier: 'fe', x: 'y' })).toBe(true);
    expect(s.matches({ app: 'web' })).toBe(false);
    expect(Selector.fromSet({}).empty()).toBe(true);
    expect(Selector.fromSet(undefined).matches({ a: 'b' })).toBe(true);
  });

  it('fromLabelSelector: nil matches nothing, {} matches everything', () => {
    expect(Selector.fromLabelSelector(null).matches({})).toBe(false);
    expect(Selector.fromLabelSelector(undefined).matches({ a: 'b' })).toBe(false);
    expect(Selector.fromLabelSelector(undefined).empty()).toBe(false);
    expect(Selector.fromLabelSelector({}).matches({})).toBe(true);
    expect(Selector.fromLabelSelector({ matchLabels: {}, matchExpressions: [] }).empty()).toBe(true);
  });

  it('fromLabelSelector: matchLabels and matchExpressions', () => {
    const s = Selector.fromLabelSelector({
      matchLabels: { app: 'web' },
      matchExpressions: [
        { key: 'tier', operator: 'In', values: ['fe', 'be'] },
        { key: 'canary', operator: 'DoesNotExist' },
        { key: 'env', operator: 'NotIn', values: ['dev'] },
        { key: 'zone', operator: 'Exists' },
      ],
    });
    expect(s.toString()).toBe('app=web,!canary,env notin (dev),tier in (be,fe),zone');
    expect(s.matches({ app: 'web', tier: 'fe', zone: 'a' })).toBe(true);
    expect(s.matches({ app: 'web', tier: 'fe', zone: 'a', canary: '1' })).toBe(false);
    expect(s.matches({ app: 'web', tier: 'fe', zone: 'a', env: 'dev' })).toBe(false);
  });

  it('fromLabelSelector: bad operator and bad requirement', () => {
    expect(() =>
      Selector.fromLabelSelector({ matchExpressions: [{ key: 'a', operator: 'Gt' as 'In', values: ['1'] }] }),
    ).toThrow('"Gt" is not a valid label selector operator');
    expect(() =>
      Selector.fromLabelSelector({ matchExpressions: [{ key: 'a', operator: 'In', values: [] }] }),
    ).toThrow(
      // LabelSelectorAsSelector copies values with append([]string(nil), ...): empty stays nil
      "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty",
    );
    expect(() =>
      Selector.fromLabelSelector({ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] }),
    ).toThrow(SelectorError);
  });
});

describe('fromLabelSelector: messages as LabelSelectorAsSelector words them', () => {
  it('quotes the operator with Go %q; a missing operator is ""', () => {
    expect(() => Selector.fromLabelSelector({ matchExpressions: [{ key: 'a' } as never] })).toThrow(
      /^"" is not a valid label selector operator$/,
    );
    expect(() =>
      Selector.fromLabelSelector({ matchExpressions: [{ key: 'a', operator: 'in\t' as 'In' }] }),
    ).toThrow(/^"in\\t" is not a valid label selector operator$/);
  });

  it('a bad matchLabels value is reported at values[0][key]', () => {
    expect(() => Selector.fromLabelSelector({ matchLabels: { app: 'a b' } })).toThrow(
      /^values\[0\]\[app\]: Invalid value: "a b": a valid label must be/,
    );
  });

  it('values given to Exists print as a Go string slice', () => {
    expect(() =>
      Selector.fromLabelSelector({
        matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x', 'y'] }],
      }),
    ).toThrow(
      'values: Invalid value: []string{"x", "y"}: values set must be empty for exists and does not exist',
    );
  });
});

describe('Requirement.create', () => {
  it('reports several problems as an aggregate', () => {
    expect(() => Requirement.create('-a', '=', ['x', 'y'])).toThrow(
      /^\[key: Invalid value: "-a": name part must consist of .*, values: Invalid value: \[\]string\{"x", "y"\}: exact-match compatibility requires one single value\]$/,
    );
  });
  it('gt/lt need one integer value', () => {
    expect(() => Requirement.create('a', 'gt', ['1', '2'])).toThrow(
      "for 'Gt', 'Lt' operators, exactly one value is required",
    );
    expect(Requirement.create('a', 'lt', ['7']).toString()).toBe('a<7');
  });
  it('prints in/notin values sorted without mutating them', () => {
    const r = Requirement.create('a', 'in', ['z', 'b']);
    expect(r.toString()).toBe('a in (b,z)');
    expect(r.values).toEqual(['z', 'b']);
  });
});
