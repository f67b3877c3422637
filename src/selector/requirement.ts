/**
 * One clause of a label selector (`app=web`, `tier in (a,b)`, `!canary`, `rank>3`), built and
 * checked as apimachinery's `labels.NewRequirement` does.
 *
 * @module
 */

import { type ErrorList, FieldPath, fieldErrors, formatFieldError, formatFieldValue } from '../core/errors';
import { isQualifiedName, isValidLabelValue } from './label-syntax';

/** Selector operators, spelled as apimachinery's `selection.Operator` values. */
export type Operator = '!' | '=' | '==' | 'in' | '!=' | 'notin' | 'exists' | 'gt' | 'lt';

/** Every operator, in apimachinery's order (used in "supported values" messages). */
export const OPERATORS: readonly Operator[] = ['!', '=', '==', 'in', '!=', 'notin', 'exists', 'gt', 'lt'];

/** Labels as a plain (preferably null-prototype) record or a Map. */
export type LabelSource = Readonly<Record<string, string>> | ReadonlyMap<string, string>;

/** Reads a label without ever consulting the prototype chain (`__proto__`, `constructor`, …). */
export function getLabel(labels: LabelSource, key: string): string | undefined {
  if (labels instanceof Map) return labels.get(key);
  const rec = labels as Readonly<Record<string, string>>;
  return Object.hasOwn(rec, key) ? rec[key] : undefined;
}

/** Iterates the own entries of a label source. */
export function labelEntries(labels: LabelSource): Iterable<[string, string]> {
  if (labels instanceof Map) return labels.entries();
  return Object.entries(labels as Readonly<Record<string, string>>);
}

const INTEGER_RE = /^[+-]?[0-9]+$/;
const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

/** Go's `strconv.ParseInt(s, 10, 64)`: undefined when not a decimal int64. */
export function parseInt64(s: string): bigint | undefined {
  if (!INTEGER_RE.test(s)) return undefined;
  const n = BigInt(s);
  return n > INT64_MAX || n < INT64_MIN ? undefined : n;
}

/**
 * How Go prints a `[]string` with `%#v`: the selector helpers hand an empty value list on as a
 * nil slice, which prints as `[]string(nil)` rather than `[]string{}`.
 */
class GoStringSlice {
  constructor(private readonly values: readonly string[]) {}
  toString(): string {
    return this.values.length === 0 ? '[]string(nil)' : formatFieldValue([...this.values]);
  }
}

/** Thrown for a requirement or selector Kubernetes would refuse; carries the field errors. */
export class SelectorError extends Error {
  constructor(
    message: string,
    /** The individual problems (empty for pure syntax errors). */
    readonly fieldErrors: ErrorList = [],
  ) {
    super(message);
    this.name = 'SelectorError';
  }
}

/** Prints an error list the way apimachinery's aggregate does (`[a, b]` for more than one). */
export function aggregateMessage(errs: readonly string[]): string {
  const msgs = [...new Set(errs)];
  return msgs.length === 1 ? (msgs[0] ?? '') : `[${msgs.join(', ')}]`;
}

/** One immutable selector clause. Build with {@link Requirement.create}. */
export class Requirement {
  private constructor(
    /** The label key. */
    readonly key: string,
    /** The operator. */
    readonly operator: Operator,
    /** The values, as given (printed sorted). */
    readonly values: readonly string[],
  ) {}

  /**
   * Validates and builds a requirement: the key must be a qualified name, the values valid label
   * values, and the value count must suit the operator. Returns the field errors instead of
   * throwing; paths are relative (`key`, `values[0]`) like upstream's.
   */
  static validate(
    key: string,
    operator: Operator,
    values: readonly string[],
    path?: FieldPath,
  ): { requirement?: Requirement; errors: ErrorList } {
    const errors: ErrorList = [];
    const keyPath = path ? path.child('key') : 'key';
    const valuesPath = path ? path.child('values') : FieldPath.root('values');
    const msgs = isQualifiedName(key);
    if (msgs.length) errors.push(fieldErrors.invalid(keyPath, key, msgs.join('; ')));
    switch (operator) {
      case 'in':
      case 'notin':
        if (values.length === 0)
          errors.push(
            fieldErrors.invalid(
              valuesPath,
              new GoStringSlice(values),
              "for 'in', 'notin' operators, values set can't be empty",
            ),
          );
        break;
      case '=':
      case '==':
      case '!=':
        if (values.length !== 1)
          errors.push(
            fieldErrors.invalid(
              valuesPath,
              new GoStringSlice(values),
              'exact-match compatibility requires one single value',
            ),
          );
        break;
      case 'exists':
      case '!':
        if (values.length !== 0)
          errors.push(
            fieldErrors.invalid(
              valuesPath,
              new GoStringSlice(values),
              'values set must be empty for exists and does not exist',
            ),
          );
        break;
      case 'gt':
      case 'lt':
        if (values.length !== 1)
          errors.push(
            fieldErrors.invalid(
              valuesPath,
              new GoStringSlice(values),
              "for 'Gt', 'Lt' operators, exactly one value is required",
            ),
          );
        values.forEach((v, i) => {
          if (parseInt64(v) === undefined)
            errors.push(
              fieldErrors.invalid(
                valuesPath.index(i),
                v,
                "for 'Gt', 'Lt' operators, the value must be an integer",
              ),
            );
        });
        break;
      default:
        errors.push(
          fieldErrors.notSupported(path ? path.child('operator') : 'operator', operator, OPERATORS),
        );
    }
    // upstream keys each value's path by the label key: `values[0][app]`
    values.forEach((v, i) => {
      const vm = isValidLabelValue(v);
      if (vm.length) errors.push(fieldErrors.invalid(valuesPath.index(i).key(key), v, vm.join('; ')));
    });
    if (errors.length) return { errors };
    return { requirement: new Requirement(key, operator, Object.freeze([...values])), errors };
  }

  /** Like {@link Requirement.validate} but throws a {@link SelectorError} when invalid. */
  static create(key: string, operator: Operator, values: readonly string[] = []): Requirement {
    const { requirement, errors } = Requirement.validate(key, operator, values);
    if (!requirement) throw new SelectorError(aggregateMessage(errors.map(formatFieldError)), errors);
    return requirement;
  }

  /** Builds without validation (values already checked, e.g. a stored Service selector). */
  static unchecked(key: string, operator: Operator, values: readonly string[]): Requirement {
    return new Requirement(key, operator, Object.freeze([...values]));
  }

  /** True when the labels satisfy this clause (absent keys satisfy `!=`, `notin` and `!`). */
  matches(labels: LabelSource): boolean {
    const v = getLabel(labels, this.key);
    switch (this.operator) {
      case '=':
      case '==':
      case 'in':
        return v !== undefined && this.values.includes(v);
      case '!=':
      case 'notin':
        return v === undefined || !this.values.includes(v);
      case 'exists':
        return v !== undefined;
      case '!':
        return v === undefined;
      case 'gt':
      case 'lt': {
        if (v === undefined || this.values.length !== 1) return false;
        const have = parseInt64(v);
        const want = parseInt64(this.values[0] ?? '');
        if (have === undefined || want === undefined) return false;
        return this.operator === 'gt' ? have > want : have < want;
      }
    }
  }

  /** The canonical text: `k=v`, `k!=v`, `k in (a,b)` (values sorted), `!k`, `k`, `k>3`. */
  toString(): string {
    if (this.operator === '!') return `!${this.key}`;
    if (this.operator === 'exists') return this.key;
    const op = { '=': '=', '==': '==', '!=': '!=', in: ' in ', notin: ' notin ', gt: '>', lt: '<' }[
      this.operator
    ];
    const vals =
      this.values.length === 1 ? (this.values[0] ?? '') : [...this.values].sort(compareGo).join(',');
    return this.operator === 'in' || this.operator === 'notin'
      ? `${this.key}${op}(${vals})`
      : `${this.key}${op}${vals}`;
  }
}

/** Byte-wise string order, as Go's `sort.Strings` (differs from `localeCompare`). */
export function compareGo(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
