/**
 * Lexer and recursive-descent parser for the label selector text form
 * (`app=web,tier in (fe,be),!canary,rank>3`). Token rules, accepted forms and error texts follow
 * apimachinery's `labels` parser; each error also records the character offset it refers to.
 *
 * @module
 */

import { fieldErrors, formatFieldError } from '../core/errors';
import { isQualifiedName } from './label-syntax';
import { aggregateMessage, type Operator, Requirement, SelectorError } from './requirement';

/** Thrown by {@link parseRequirements} / `Selector.parse`: the message says why, `position` where. */
export class SelectorParseError extends SelectorError {
  constructor(
    message: string,
    /** The selector text that failed. */
    readonly input: string,
    /** Zero-based offset in `input` of the token the parser stumbled on. */
    readonly position: number,
    fieldErrors: ConstructorParameters<typeof SelectorError>[1] = [],
  ) {
    super(message, fieldErrors);
    this.name = 'SelectorParseError';
  }

  /** The input with a caret under the offending position, for terminal output. */
  explain(): string {
    return `${this.message}\n  ${this.input}\n  ${' '.repeat(this.position)}^`;
  }
}

enum Tok {
  Error,
  End,
  ClosedPar,
  Comma,
  DoesNotExist,
  DoubleEquals,
  Equals,
  GreaterThan,
  Identifier,
  In,
  LessThan,
  NotEquals,
  NotIn,
  OpenPar,
}

const KEYWORDS: ReadonlyMap<string, Tok> = new Map([
  [')', Tok.ClosedPar],
  [',', Tok.Comma],
  ['!', Tok.DoesNotExist],
  ['==', Tok.DoubleEquals],
  ['=', Tok.Equals],
  ['>', Tok.GreaterThan],
  ['in', Tok.In],
  ['<', Tok.LessThan],
  ['!=', Tok.NotEquals],
  ['notin', Tok.NotIn],
  ['(', Tok.OpenPar],
]);

interface Item {
  tok: Tok;
  lit: string;
  pos: number;
}

const isWhitespace = (c: string) => c === ' ' || c === '\t' || c === '\r' || c === '\n';
const isSpecial = (c: string) =>
  c === '=' || c === '!' || c === '(' || c === ')' || c === ',' || c === '>' || c === '<';

function lex(s: string): Item[] {
  const items: Item[] = [];
  let pos = 0;
  // A NUL character ends the input, exactly as in the reference lexer (it reads 0 at the end).
  const at = (i: number) => (i < s.length && s[i] !== '\0' ? (s[i] as string) : '');
  for (;;) {
    while (at(pos) !== '' && isWhitespace(at(pos))) pos++;
    const start = pos;
    const c = at(pos);
    if (c === '') {
      items.push({ tok: Tok.End, lit: '', pos: start });
      return items;
    }
    if (isSpecial(c)) {
      let buf = '';
      let last: Item | undefined;
      while (at(pos) !== '' && isSpecial(at(pos))) {
        buf += at(pos);
        const t = KEYWORDS.get(buf);
        if (t !== undefined) {
          last = { tok: t, lit: buf, pos: start };
          pos++;
        } else if (last) {
          break;
        } else {
          pos++;
        }
      }
      if (!last) {
        items.push({ tok: Tok.Error, lit: `error expected: keyword found '${buf}'`, pos: start });
        // the reference parser stops at the first error token, so nothing after matters
        items.push({ tok: Tok.End, lit: '', pos });
        return items;
      }
      pos = start + last.lit.length;
      items.push(last);
      continue;
    }
    while (at(pos) !== '' && !isWhitespace(at(pos)) && !isSpecial(at(pos))) pos++;
    const word = s.slice(start, pos);
    items.push({ tok: KEYWORDS.get(word) ?? Tok.Identifier, lit: word, pos: start });
  }
}

const BINARY_OPERATORS = 'in, notin, =, ==, !=, gt, lt';

class Parser {
  private i = 0;
  private readonly items: Item[];
  constructor(private readonly input: string) {
    this.items = lex(input);
  }

  private fail(msg: string, pos: number, errs: ConstructorParameters<typeof SelectorError>[1] = []): never {
    throw new SelectorParseError(msg, this.input, pos, errs);
  }

  // In a value position the words `in` / `notin` are plain identifiers.
  private peek(values: boolean): Item {
    const it = this.items[Math.min(this.i, this.items.length - 1)] as Item;
    return values && (it.tok === Tok.In || it.tok === Tok.NotIn) ? { ...it, tok: Tok.Identifier } : it;
  }
  private next(values: boolean): Item {
    const it = this.peek(values);
    if (this.i < this.items.length - 1) this.i++;
    return it;
  }

  parse(): Requirement[] {
    const reqs: Requirement[] = [];
    for (;;) {
      const it = this.peek(true);
      if (it.tok === Tok.End) return reqs;
      if (it.tok !== Tok.Identifier && it.tok !== Tok.DoesNotExist)
        this.fail(`found '${it.lit}', expected: !, identifier, or 'end of string'`, it.pos);
      reqs.push(this.requirement());
      const t = this.next(true);
      if (t.tok === Tok.End) return reqs;
      if (t.tok !== Tok.Comma) this.fail(`found '${t.lit}', expected: ',' or 'end of string'`, t.pos);
      const t2 = this.peek(true);
      if (t2.tok !== Tok.Identifier && t2.tok !== Tok.DoesNotExist)
        this.fail(`found '${t2.lit}', expected: identifier after ','`, t2.pos);
    }
  }

  private requirement(): Requirement {
    const start = this.peek(true).pos;
    let op: Operator | undefined;
    let t = this.next(true);
    if (t.tok === Tok.DoesNotExist) {
      op = '!';
      t = this.next(true);
    }
    if (t.tok !== Tok.Identifier) this.wrapped(`found '${t.lit}', expected: identifier`, t.pos);
    const key = t.lit;
    const keyErrs = isQualifiedName(key);
    // upstream reports this one with an empty field path, hence the leading ": "
    if (keyErrs.length) {
      const err = fieldErrors.invalid('', key, keyErrs.join('; '));
      this.fail(`unable to parse requirement: ${formatFieldError(err)}`, t.pos, [err]);
    }
    const after = this.peek(true).tok;
    if (op === undefined && (after === Tok.End || after === Tok.Comma)) op = 'exists';
    if (op === 'exists' || op === '!') return this.build(key, op, [], start);

    const o = this.next(false);
    const opOf: Partial<Record<Tok, Operator>> = {
      [Tok.In]: 'in',
      [Tok.Equals]: '=',
      [Tok.DoubleEquals]: '==',
      [Tok.GreaterThan]: 'gt',
      [Tok.LessThan]: 'lt',
      [Tok.NotIn]: 'notin',
      [Tok.NotEquals]: '!=',
    };
    const operator = opOf[o.tok];
    if (!operator) this.wrapped(`found '${o.lit}', expected: ${BINARY_OPERATORS}`, o.pos);
    const values = operator === 'in' || operator === 'notin' ? this.setValues() : this.exactValue();
    // the reference parser collects values in a set and hands them over sorted
    return this.build(key, operator, [...new Set(values)].sort(), start);
  }

  private wrapped(msg: string, pos: number): never {
    this.fail(`unable to parse requirement: ${msg}`, pos);
  }

  private build(key: string, op: Operator, values: string[], pos: number): Requirement {
    const { requirement, errors } = Requirement.validate(key, op, values);
    if (!requirement)
      this.fail(
        `unable to parse requirement: ${aggregateMessage(errors.map(formatFieldError))}`,
        pos,
        errors,
      );
    return requirement;
  }

  private setValues(): string[] {
    const open = this.next(true);
    if (open.tok !== Tok.OpenPar) this.wrapped(`found '${open.lit}' expected: '('`, open.pos);
    const la = this.peek(true);
    if (la.tok === Tok.ClosedPar) {
      this.next(true);
      return [''];
    }
    if (la.tok !== Tok.Identifier && la.tok !== Tok.Comma)
      this.wrapped(`found '${la.lit}', expected: ',', ')' or identifier`, la.pos);
    const vals = this.identifierList();
    const close = this.next(true);
    // upstream quotes the token seen before the list here; keep its wording, point at the real spot
    if (close.tok !== Tok.ClosedPar) this.wrapped(`found '${la.lit}', expected: ')'`, close.pos);
    return vals;
  }

  private identifierList(): string[] {
    const out: string[] = [];
    for (;;) {
      const t = this.next(true);
      if (t.tok === Tok.Identifier) {
        out.push(t.lit);
        const t2 = this.peek(true);
        if (t2.tok === Tok.Comma) continue;
        if (t2.tok === Tok.ClosedPar) return out;
        this.wrapped(`found '${t2.lit}', expected: ',' or ')'`, t2.pos);
      } else if (t.tok === Tok.Comma) {
        // `(,a`, `a,,b` and `a,)` each contribute an empty value
        if (out.length === 0) out.push('');
        const t2 = this.peek(true);
        if (t2.tok === Tok.ClosedPar) {
          out.push('');
          return out;
        }
        if (t2.tok === Tok.Comma) {
          this.next(true);
          out.push('');
        }
      } else {
        this.wrapped(`found '${t.lit}', expected: ',', or identifier`, t.pos);
      }
    }
  }

  private exactValue(): string[] {
    const la = this.peek(true);
    if (la.tok === Tok.End || la.tok === Tok.Comma) return [''];
    const t = this.next(true);
    if (t.tok === Tok.Identifier) return [t.lit];
    return this.wrapped(`found '${t.lit}', expected: identifier`, t.pos);
  }
}

/**
 * Parses selector text into requirements, in source order (callers sort). Throws
 * {@link SelectorParseError} with apimachinery's message and the offset of the offending token.
 */
export function parseRequirements(input: string): Requirement[] {
  return new Parser(input).parse();
}
