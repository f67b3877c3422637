/**
 * YAML text exactly as kubectl writes it for `-o yaml`: kubectl turns the object into JSON and
 * the JSON into YAML with go-yaml v2, whose emitter has its own rules. This module reproduces
 * them for JSON data (maps with string keys, sequences, strings, numbers, booleans, null):
 *
 * - map keys in go-yaml's "natural" order (digit runs compared as numbers, a non-letter before a
 *   letter), block style with 2-space indentation and sequences flush under their key;
 * - empty maps and sequences as `{}` and `[]`;
 * - a string that would read back as something else (`"80"`, `"true"`, `"y"`, `""`, timestamps,
 *   `"10:30"`) double-quoted; one with indicators or edge spaces (`'*'`, `'foo: bar'`) single-
 *   quoted; one with a line break as a literal block (`|`, `|-`, `|+`, `|2-`) unless that cannot
 *   hold it; control characters escaped in double quotes;
 * - plain and quoted strings folded at spaces once a line passes 80 columns.
 */

const BEST_INDENT = 2;
// go-yaml's emitter default "best width": lines are folded at a space past this column.
const BEST_WIDTH = 80;
// A mapping key longer than this (in bytes) is written in the explicit `? key` form.
const MAX_SIMPLE_KEY_BYTES = 128;

type Style = 'plain' | 'single' | 'double' | 'literal';

// ---------------------------------------------------------------------------------------------
// Character classes of the emitter (on code points).

function isBreak(cp: number): boolean {
  return cp === 0x0a || cp === 0x0d || cp === 0x85 || cp === 0x2028 || cp === 0x2029;
}

function isPrintable(cp: number): boolean {
  return (
    cp === 0x0a ||
    (cp >= 0x20 && cp <= 0x7e) ||
    (cp >= 0xa0 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd && cp !== 0xfeff)
  );
}

function isBlankOrEnd(cp: number | undefined): boolean {
  return cp === undefined || cp === 0x20 || cp === 0x09 || isBreak(cp) || cp === 0;
}

interface ScalarAnalysis {
  readonly multiline: boolean;
  readonly blockPlainAllowed: boolean;
  readonly singleQuotedAllowed: boolean;
  readonly blockAllowed: boolean;
}

const FIRST_CHAR_INDICATORS = new Set('#,[]{}&*!|>\'"%@`');

function analyze(value: string): ScalarAnalysis {
  const cps = [...value].map((c) => c.codePointAt(0) ?? 0);
  if (cps.length === 0)
    return { multiline: false, blockPlainAllowed: true, singleQuotedAllowed: true, blockAllowed: false };
  let blockIndicators = value.startsWith('---') || value.startsWith('...');
  let special = false;
  let lineBreaks = false;
  let leadingSpace = false;
  let leadingBreak = false;
  let trailingSpace = false;
  let trailingBreak = false;
  let breakSpace = false;
  let spaceBreak = false;
  let previousSpace = false;
  let previousBreak = false;
  let precededByWhitespace = true;
  for (let i = 0; i < cps.length; i++) {
    const cp = cps[i] as number;
    const ch = String.fromCodePoint(cp);
    const followedByWhitespace = i + 1 >= cps.length || cps[i + 1] === 0x20 || cps[i + 1] === 0x09;
    if (i === 0) {
      if (FIRST_CHAR_INDICATORS.has(ch)) blockIndicators = true;
      else if ((ch === '?' || ch === ':' || ch === '-') && followedByWhitespace) blockIndicators = true;
    } else if (ch === ':' && followedByWhitespace) blockIndicators = true;
    else if (ch === '#' && precededByWhitespace) blockIndicators = true;

    if (!isPrintable(cp)) special = true;
    if (cp === 0x20) {
      if (i === 0) leadingSpace = true;
      if (i === cps.length - 1) trailingSpace = true;
      if (previousBreak) breakSpace = true;
      previousSpace = true;
      previousBreak = false;
    } else if (isBreak(cp)) {
      lineBreaks = true;
      if (i === 0) leadingBreak = true;
      if (i === cps.length - 1) trailingBreak = true;
      if (previousSpace) spaceBreak = true;
      previousSpace = false;
      previousBreak = true;
    } else {
      previousSpace = false;
      previousBreak = false;
    }
    precededByWhitespace = isBlankOrEnd(cp);
  }
  let blockPlainAllowed = true;
  let singleQuotedAllowed = true;
  let blockAllowed = true;
  if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) blockPlainAllowed = false;
  if (trailingSpace) blockAllowed = false;
  if (breakSpace) {
    blockPlainAllowed = false;
    singleQuotedAllowed = false;
  }
  if (spaceBreak || special) {
    blockPlainAllowed = false;
    singleQuotedAllowed = false;
    blockAllowed = false;
  }
  if (lineBreaks || blockIndicators) blockPlainAllowed = false;
  return { multiline: lineBreaks, blockPlainAllowed, singleQuotedAllowed, blockAllowed };
}

// ---------------------------------------------------------------------------------------------
// go-yaml v2's resolver: does a plain scalar read back as a string?

const RESOLVE_MAP = new Set([
  ...['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON'],
  ...['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF'],
  ...['', '~', 'null', 'Null', 'NULL'],
  ...['.nan', '.NaN', '.NAN', '.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF', '-.inf', '-.Inf', '-.INF'],
]);
// go-yaml looks a plain scalar up only when its first character hints at a non-string (so its
// merge key `<<`, whose '<' hints nothing, stays a string).
const RESOLVE_HINTS = new Set('yYnNtTfFoO~+-.0123456789');
const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const BASE60_FLOAT = /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

// strconv.ParseInt(s, 0, 64) or ParseUint(s, 0, 64) succeeding.
function parsesAsGoInteger(s: string): boolean {
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) return false;
  const digits = m[2] ?? '';
  let magnitude: bigint;
  if (/^0[oO]/.test(digits)) magnitude = BigInt(`0o${digits.slice(2)}`);
  else if (/^0[0-7]+$/.test(digits)) magnitude = BigInt(`0o${digits.slice(1)}`);
  else magnitude = BigInt(digits);
  const value = m[1] === '-' ? -magnitude : magnitude;
  if (value >= INT64_MIN && value <= INT64_MAX) return true;
  return m[1] === '' && value <= UINT64_MAX;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

// go-yaml's parseTimestamp: the layouts it tries with Go's time.Parse.
function parsesAsTimestamp(s: string): boolean {
  const m =
    /^(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))|(?: (\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d+)?))?$/.exec(
      s,
    );
  if (!m) return false;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return false;
  const hour = Number(m[4] ?? m[7] ?? 0);
  const minute = Number(m[5] ?? m[8] ?? 0);
  const second = Number(m[6] ?? m[9] ?? 0);
  return hour < 24 && minute < 60 && second < 60;
}

/** Whether go-yaml v2 would read `s`, written plain, back as the same string. */
export function resolvesAsString(s: string): boolean {
  const first = s[0];
  if (first === undefined) return false;
  if (!RESOLVE_HINTS.has(first)) return true;
  if (RESOLVE_MAP.has(s)) return false;
  if (first === '.') return !/^\.[0-9]+([eE][-+]?[0-9]+)?$/.test(s);
  if (first === '+' || first === '-' || (first >= '0' && first <= '9')) {
    if (parsesAsTimestamp(s)) return false;
    const plain = s.replaceAll('_', '');
    if (parsesAsGoInteger(plain) || YAML_STYLE_FLOAT.test(plain)) return false;
    if (/^-?0b[01]+$/.test(plain)) return false;
  }
  return true;
}

function isBase60Float(s: string): boolean {
  return /^[-+0-9]/.test(s) && s.includes(':') && BASE60_FLOAT.test(s);
}

// ---------------------------------------------------------------------------------------------
// Key order.

const LETTER = /\p{L}/u;
const DIGIT = /\p{Nd}/u;

/** go-yaml v2's map key order for string keys (its `keyList.Less`). */
export function goYamlKeyLess(a: string, b: string): boolean {
  const ar = [...a];
  const br = [...b];
  for (let i = 0; i < ar.length && i < br.length; i++) {
    const ac = ar[i] as string;
    const bc = br[i] as string;
    if (ac === bc) continue;
    const al = LETTER.test(ac);
    const bl = LETTER.test(bc);
    if (al && bl) return (ac.codePointAt(0) ?? 0) < (bc.codePointAt(0) ?? 0);
    if (al || bl) return bl;
    let an = 0n;
    let bn = 0n;
    if (ac === '0' || bc === '0') {
      for (let j = i - 1; j >= 0 && DIGIT.test(ar[j] as string); j--) {
        if (ar[j] !== '0') {
          an = 1n;
          bn = 1n;
          break;
        }
      }
    }
    let ai = i;
    for (; ai < ar.length && DIGIT.test(ar[ai] as string); ai++)
      an = an * 10n + BigInt((ar[ai]?.codePointAt(0) ?? 48) - 48);
    let bi = i;
    for (; bi < br.length && DIGIT.test(br[bi] as string); bi++)
      bn = bn * 10n + BigInt((br[bi]?.codePointAt(0) ?? 48) - 48);
    if (an !== bn) return an < bn;
    if (ai !== bi) return ai < bi;
    return (ac.codePointAt(0) ?? 0) < (bc.codePointAt(0) ?? 0);
  }
  return ar.length < br.length;
}

function sortedKeys(o: Record<string, unknown>): string[] {
  return Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort((a, b) => (goYamlKeyLess(a, b) ? -1 : goYamlKeyLess(b, a) ? 1 : 0));
}

// ---------------------------------------------------------------------------------------------
// Numbers: Go's strconv.FormatFloat(f, 'g', -1, 64) for non-integers.

function goFloat(n: number): string {
  if (Number.isNaN(n)) return '.nan';
  if (!Number.isFinite(n)) return n > 0 ? '.inf' : '-.inf';
  // JSON integers become Go ints (decimal); beyond int64 they are floats.
  if (Number.isInteger(n) && Math.abs(n) < 2 ** 63) return String(n);
  const [mantissa = '', expText = '0'] = n.toExponential().split('e');
  const exp = Number(expText);
  // The shortest 'g' format uses an exponent below 1e-4 and from 1e6 (precision 6 decides).
  if (exp < -4 || exp >= 6) {
    const sign = exp < 0 ? '-' : '+';
    return `${mantissa}e${sign}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  return String(n);
}

// ---------------------------------------------------------------------------------------------
// The emitter.

interface NodeContext {
  readonly mapping: boolean;
  readonly simpleKey: boolean;
}

class Emitter {
  private out = '';
  private column = 0;
  private whitespace = true;
  private indention = true;
  private indent = -1;
  private readonly indents: number[] = [];
  private openEnded = false;

  document(value: unknown): string {
    this.node(value, { mapping: false, simpleKey: false });
    this.writeIndent();
    // A kept trailing line break at the very end needs an explicit document end.
    if (this.openEnded) {
      this.writeIndicator('...', true, false, false);
      this.writeIndent();
    }
    return this.out;
  }

  private put(s: string): void {
    this.out += s;
    this.column += [...s].length;
  }

  private putBreak(): void {
    this.out += '\n';
    this.column = 0;
    this.indention = true;
  }

  private writeIndent(): void {
    const indent = Math.max(this.indent, 0);
    if (!this.indention || this.column > indent || (this.column === indent && !this.whitespace))
      this.putBreak();
    while (this.column < indent) this.put(' ');
    this.whitespace = true;
    this.indention = true;
  }

  private writeIndicator(
    text: string,
    needWhitespace: boolean,
    isWhitespace: boolean,
    isIndention: boolean,
  ): void {
    if (needWhitespace && !this.whitespace) this.put(' ');
    this.put(text);
    this.whitespace = isWhitespace;
    this.indention = this.indention && isIndention;
    this.openEnded = false;
  }

  private increaseIndent(flow: boolean, indentless: boolean): void {
    this.indents.push(this.indent);
    if (this.indent < 0) this.indent = flow ? BEST_INDENT : 0;
    else if (!indentless) this.indent += BEST_INDENT;
  }

  private popIndent(): void {
    this.indent = this.indents.pop() ?? -1;
  }

  private node(value: unknown, ctx: NodeContext): void {
    if (Array.isArray(value)) {
      if (value.length === 0) this.emptyFlow('[', ']');
      else this.sequence(value, ctx);
    } else if (value !== null && typeof value === 'object') {
      const o = value as Record<string, unknown>;
      const keys = sortedKeys(o);
      if (keys.length === 0) this.emptyFlow('{', '}');
      else this.mapping(o, keys);
    } else if (typeof value === 'string') this.string(value, ctx);
    else if (typeof value === 'number') this.scalar(goFloat(value), 'plain', ctx);
    else if (typeof value === 'bigint' || typeof value === 'boolean')
      this.scalar(String(value), 'plain', ctx);
    else this.scalar('null', 'plain', ctx);
  }

  private emptyFlow(open: string, close: string): void {
    this.writeIndicator(open, true, true, false);
    this.writeIndicator(close, false, false, false);
  }

  private sequence(items: readonly unknown[], ctx: NodeContext): void {
    // A sequence that is a mapping's value is not indented ("indentless").
    this.increaseIndent(false, ctx.mapping && !this.indention);
    for (const item of items) {
      this.writeIndent();
      this.writeIndicator('-', true, false, true);
      this.node(item, { mapping: false, simpleKey: false });
    }
    this.popIndent();
  }

  private mapping(o: Record<string, unknown>, keys: readonly string[]): void {
    this.increaseIndent(false, false);
    for (const key of keys) {
      this.writeIndent();
      const simple = Buffer.byteLength(key, 'utf8') <= MAX_SIMPLE_KEY_BYTES && !analyze(key).multiline;
      if (simple) {
        this.string(key, { mapping: true, simpleKey: true });
        this.writeIndicator(':', false, false, false);
      } else {
        this.writeIndicator('?', true, false, true);
        this.string(key, { mapping: true, simpleKey: false });
        this.writeIndent();
        this.writeIndicator(':', true, false, true);
      }
      this.node(o[key], { mapping: true, simpleKey: false });
    }
    this.popIndent();
  }

  private string(s: string, ctx: NodeContext): void {
    let requested: Style;
    if (s.includes('\n')) requested = 'literal';
    else if (resolvesAsString(s) && !isBase60Float(s)) requested = 'plain';
    else requested = 'double';
    this.scalar(s, requested, ctx);
  }

  private scalar(value: string, requested: Style, ctx: NodeContext): void {
    const a = analyze(value);
    let style = requested;
    if (ctx.simpleKey && a.multiline) style = 'double';
    if (style === 'plain') {
      if (!a.blockPlainAllowed || (value.length === 0 && ctx.simpleKey)) style = 'single';
    }
    if (style === 'single' && !a.singleQuotedAllowed) style = 'double';
    if (style === 'literal' && (!a.blockAllowed || ctx.simpleKey)) style = 'double';

    const allowBreaks = !ctx.simpleKey;
    this.increaseIndent(true, false);
    if (style === 'plain') this.writePlain(value, allowBreaks);
    else if (style === 'single') this.writeSingle(value, allowBreaks);
    else if (style === 'double') this.writeDouble(value, allowBreaks);
    else this.writeLiteral(value);
    this.popIndent();
  }

  private writePlain(value: string, allowBreaks: boolean): void {
    if (!this.whitespace) this.put(' ');
    const chars = [...value];
    let spaces = false;
    for (let i = 0; i < chars.length; i++) {
      const c = chars[i] as string;
      if (c === ' ') {
        if (allowBreaks && !spaces && this.column > BEST_WIDTH && chars[i + 1] !== ' ') this.writeIndent();
        else this.put(c);
        spaces = true;
      } else {
        this.put(c);
        this.indention = false;
        spaces = false;
      }
    }
    this.whitespace = false;
    this.indention = false;
  }

  private writeSingle(value: string, allowBreaks: boolean): void {
    this.writeIndicator("'", true, false, false);
    const chars = [...value];
    let spaces = false;
    let breaks = false;
    for (let i = 0; i < chars.length; i++) {
      const c = chars[i] as string;
      if (c === ' ') {
        if (
          allowBreaks &&
          !spaces &&
          this.column > BEST_WIDTH &&
          i !== 0 &&
          i !== chars.length - 1 &&
          chars[i + 1] !== ' '
        )
          this.writeIndent();
        else this.put(c);
        spaces = true;
      } else if (isBreak(c.codePointAt(0) ?? 0)) {
        // Only U+2028/U+2029 get here: a string with '\n' is a literal block or double-quoted.
        this.out += c;
        this.column = 0;
        this.indention = true;
        breaks = true;
      } else {
        if (breaks) this.writeIndent();
        if (c === "'") this.put("'");
        this.put(c);
        this.indention = false;
        spaces = false;
        breaks = false;
      }
    }
    this.writeIndicator("'", false, false, false);
  }

  private writeDouble(value: string, allowBreaks: boolean): void {
    this.writeIndicator('"', true, false, false);
    const chars = [...value];
    let spaces = false;
    for (let i = 0; i < chars.length; i++) {
      const c = chars[i] as string;
      const cp = c.codePointAt(0) ?? 0;
      if (!isPrintable(cp) || cp === 0xfeff || isBreak(cp) || c === '"' || c === '\\') {
        this.put(`\\${doubleQuotedEscape(cp)}`);
        spaces = false;
      } else if (c === ' ') {
        if (allowBreaks && !spaces && this.column > BEST_WIDTH && i > 0 && i < chars.length - 1) {
          this.writeIndent();
          if (chars[i + 1] === ' ') this.put('\\');
        } else this.put(c);
        spaces = true;
      } else {
        this.put(c);
        spaces = false;
      }
    }
    this.writeIndicator('"', false, false, false);
  }

  private writeLiteral(value: string): void {
    this.writeIndicator('|', true, false, false);
    const chars = [...value];
    const first = chars[0]?.codePointAt(0);
    if (first !== undefined && (first === 0x20 || isBreak(first)))
      this.writeIndicator(String(BEST_INDENT), false, false, false);
    const last = chars[chars.length - 1]?.codePointAt(0);
    const beforeLast = chars[chars.length - 2]?.codePointAt(0);
    let keep = false;
    if (last === undefined || !isBreak(last)) this.writeIndicator('-', false, false, false);
    else if (chars.length === 1 || (beforeLast !== undefined && isBreak(beforeLast))) {
      this.writeIndicator('+', false, false, false);
      keep = true;
    }
    this.putBreak();
    this.indention = true;
    this.whitespace = true;
    let breaks = true;
    for (const c of chars) {
      const cp = c.codePointAt(0) ?? 0;
      if (isBreak(cp)) {
        if (c === '\n') this.putBreak();
        else {
          this.out += c;
          this.column = 0;
        }
        this.indention = true;
        breaks = true;
      } else {
        if (breaks) this.writeIndent();
        this.put(c);
        this.indention = false;
        breaks = false;
      }
    }
    this.openEnded = keep;
  }
}

const SHORT_ESCAPES: ReadonlyMap<number, string> = new Map([
  [0x00, '0'],
  [0x07, 'a'],
  [0x08, 'b'],
  [0x09, 't'],
  [0x0a, 'n'],
  [0x0b, 'v'],
  [0x0c, 'f'],
  [0x0d, 'r'],
  [0x1b, 'e'],
  [0x22, '"'],
  [0x5c, '\\'],
  [0x85, 'N'],
  [0xa0, '_'],
  [0x2028, 'L'],
  [0x2029, 'P'],
]);

function doubleQuotedEscape(cp: number): string {
  const short = SHORT_ESCAPES.get(cp);
  if (short !== undefined) return short;
  const hex = cp.toString(16).toUpperCase();
  if (cp <= 0xff) return `x${hex.padStart(2, '0')}`;
  if (cp <= 0xffff) return `u${hex.padStart(4, '0')}`;
  return `U${hex.padStart(8, '0')}`;
}

/** `value` (JSON data) as go-yaml v2 marshals it. */
export function goYamlMarshal(value: unknown): string {
  return new Emitter().document(value);
}

// Go's JSON encoder leaves U+0085 (NEL) raw, and go-yaml, reading that JSON back as YAML, takes
// it for a line break inside a quoted scalar and folds it: spaces around it go, a lone break
// becomes a space, each further break a newline.
const NEL_RUN = / *(?:\u0085 *)+/g;

function foldNel(s: string): string {
  if (!s.includes('\u0085')) return s;
  return s.replace(NEL_RUN, (run) => {
    const breaks = run.split('\u0085').length - 1;
    return breaks === 1 ? ' ' : '\n'.repeat(breaks - 1);
  });
}

function jsonToYamlData(value: unknown): unknown {
  if (typeof value === 'string') return foldNel(value);
  if (Array.isArray(value)) return value.map(jsonToYamlData);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value))
    Object.defineProperty(out, foldNel(k), {
      value: jsonToYamlData(v),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  return out;
}

/**
 * What kubectl prints with `-o yaml` for `value`: its JSON form converted to YAML and marshalled
 * by go-yaml v2, as sigs.k8s.io/yaml does.
 */
export function kubectlYaml(value: unknown): string {
  return goYamlMarshal(jsonToYamlData(JSON.parse(JSON.stringify(value) ?? 'null')));
}
