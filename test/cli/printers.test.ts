import { describe, expect, it } from 'vitest';
import {
  alignColumns,
  formatLabels,
  humanDuration,
  printJSON,
  printYAML,
  translateTimestampSince,
} from '../../src/cli/printers';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

describe('humanDuration (apimachinery duration.HumanDuration)', () => {
  it.each([
    [-3 * S, '<invalid>'],
    [-1.5 * S, '0s'],
    [0, '0s'],
    [119 * S, '119s'],
    [2 * M, '2m'],
    [9 * M + 59 * S, '9m59s'],
    [10 * M + 30 * S, '10m'],
    [3 * H - 1, '179m'],
    [3 * H, '3h'],
    [7 * H + 59 * M, '7h59m'],
    [8 * H + 30 * M, '8h'],
    [47 * H, '47h'],
    [2 * D, '2d'],
    [7 * D + 23 * H, '7d23h'],
    [8 * D, '8d'],
    [729 * D, '729d'],
    [2 * 365 * D, '2y'],
    [3 * 365 * D + 10 * D, '3y10d'],
    [9 * 365 * D, '9y'],
  ])('%d ms → %s', (ms, text) => {
    expect(humanDuration(ms)).toBe(text);
  });

  it('prints <unknown> without a timestamp', () => {
    expect(translateTimestampSince(undefined, new Date())).toBe('<unknown>');
    expect(translateTimestampSince('2025-01-01T00:00:00Z', new Date('2025-01-01T00:05:00Z'))).toBe('5m');
  });
});

describe('alignColumns (kubectl tabwriter: min width 6, padding 3)', () => {
  it('pads every column but the last to its widest cell plus 3, at least 6', () => {
    expect(
      alignColumns([
        ['NAME', 'AGE'],
        ['a', '1s'],
        ['longer-name', '<unknown>'],
      ]),
    ).toBe('NAME          AGE\na             1s\nlonger-name   <unknown>\n');
    expect(
      alignColumns([
        ['A', 'B', 'C'],
        ['', 'x', ''],
      ]),
    ).toBe('A     B     C\n      x     \n');
  });
});

describe('formatLabels', () => {
  it('sorts by key and says <none> when empty', () => {
    expect(formatLabels({ tier: 'web', app: 'shop' })).toBe('app=shop,tier=web');
    expect(formatLabels({})).toBe('<none>');
    expect(formatLabels(undefined)).toBe('<none>');
  });
});

describe('structured output', () => {
  it('JSON: sorted keys, 4-space indent, Go HTML escaping', () => {
    expect(printJSON({ b: '<a&b>', a: [1] })).toBe(
      '{\n    "a": [\n        1\n    ],\n    "b": "\\u003ca\\u0026b\\u003e"\n}\n',
    );
  });

  it('YAML: sorted keys, flush sequences, go-yaml quoting', () => {
    expect(printYAML({ z: ['a'], b: { '.': {}, y: 'yes', n: '80', d: '2025-01-01T00:00:00Z', e: '' } })).toBe(
      'b:\n  .: {}\n  d: "2025-01-01T00:00:00Z"\n  e: ""\n  "n": "80"\n  "y": "yes"\nz:\n- a\n',
    );
  });
});
