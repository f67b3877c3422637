/**
 * Errors in the two shapes Kubernetes uses: field errors (`spec.ports[0].port: Invalid value: 0: …`,
 * aggregated into an "is invalid" status) and API status errors (NotFound, AlreadyExists, Conflict…).
 *
 * @module
 */

/** The kinds of field error apimachinery knows, with the text it prints for each. */
export const FieldErrorType = {
  NotFound: 'Not found',
  Required: 'Required value',
  Duplicate: 'Duplicate value',
  Invalid: 'Invalid value',
  NotSupported: 'Unsupported value',
  Forbidden: 'Forbidden',
  TooLong: 'Too long',
  TooMany: 'Too many',
  Internal: 'Internal error',
  TypeInvalid: 'Invalid value',
} as const;

/** One of {@link FieldErrorType}'s keys. */
export type FieldErrorKind = keyof typeof FieldErrorType;

/** Marker for "no value to print" (apimachinery's omitValue). */
export const OMIT_VALUE: unique symbol = Symbol('omitValue');

/** One validation failure at a field path such as `spec.ports[0].port`. */
export interface FieldError {
  readonly kind: FieldErrorKind;
  readonly field: string;
  readonly value: unknown;
  readonly detail: string;
}

/** A list of field errors, as returned by every validator (empty means valid). */
export type ErrorList = FieldError[];

/** Builds field paths the way apimachinery's `field.Path` prints them. */
export class FieldPath {
  private constructor(
    private readonly parent: FieldPath | undefined,
    private readonly segment: string,
  ) {}

  /** A root path, e.g. `FieldPath.root('spec')`. */
  static root(name: string, ...more: string[]): FieldPath {
    let p = new FieldPath(undefined, name);
    for (const m of more) p = p.child(m);
    return p;
  }

  /** `a.b` */
  child(name: string, ...more: string[]): FieldPath {
    let p = new FieldPath(this, `.${name}`);
    for (const m of more) p = p.child(m);
    return p;
  }

  /** `a[0]` */
  index(i: number): FieldPath {
    return new FieldPath(this, `[${i}]`);
  }

  /** `a[key]` (map keys are printed unquoted, as apimachinery does). */
  key(k: string): FieldPath {
    return new FieldPath(this, `[${k}]`);
  }

  /** The printed path. */
  toString(): string {
    const parts: string[] = [];
    for (let p: FieldPath | undefined = this; p; p = p.parent) parts.push(p.segment);
    const s = parts.reverse().join('');
    return s.startsWith('.') ? s.slice(1) : s;
  }
}

function fieldError(kind: FieldErrorKind, path: FieldPath | string, value: unknown, detail = ''): FieldError {
  return { kind, field: String(path), value, detail };
}

/** Constructors mirroring apimachinery's `field.Invalid`, `field.Required`, … */
export const fieldErrors = {
  /** `Invalid value: <value>: <detail>` — the value is present but unacceptable. */
  invalid: (p: FieldPath | string, value: unknown, detail: string) => fieldError('Invalid', p, value, detail),
  /** `Required value` — the field is missing or empty; the value is never printed. */
  required: (p: FieldPath | string, detail = '') => fieldError('Required', p, OMIT_VALUE, detail),
  /** `Duplicate value: <value>` — the value repeats one earlier in the same list or set. */
  duplicate: (p: FieldPath | string, value: unknown) => fieldError('Duplicate', p, value),
  /** `Not found: <value>` — the value refers to something that does not exist. */
  notFound: (p: FieldPath | string, value: unknown) => fieldError('NotFound', p, value),
  /** `Forbidden: <detail>` — the field may not be set (or changed) here; the value is not printed. */
  forbidden: (p: FieldPath | string, detail: string) => fieldError('Forbidden', p, OMIT_VALUE, detail),
  /**
   * `Too long: may not be more than <max> bytes` — `max` counts bytes; a negative `max` means
   * unknown and prints `value is too long`.
   */
  tooLong: (p: FieldPath | string, value: unknown, max: number) =>
    fieldError(
      'TooLong',
      p,
      value,
      max >= 0 ? `may not be more than ${max} ${max === 1 ? 'byte' : 'bytes'}` : 'value is too long',
    ),
  /**
   * `Too many: <actual>: must have at most <max> items` — counts of list items; a negative
   * `actual` omits the value, a negative `max` prints `has too many items`.
   */
  tooMany: (p: FieldPath | string, actual: number, max: number) =>
    fieldError(
      'TooMany',
      p,
      actual >= 0 ? actual : OMIT_VALUE,
      max >= 0 ? `must have at most ${max} ${max === 1 ? 'item' : 'items'}` : 'has too many items',
    ),
  /** `Internal error: <detail>` — validation itself failed, not the user's input. */
  internal: (p: FieldPath | string, detail: string) => fieldError('Internal', p, OMIT_VALUE, detail),
  /**
   * `Unsupported value: <value>: supported values: "a", "b"` — the value is not one of `valid`,
   * listed in the given order, each JSON-quoted.
   */
  notSupported: (p: FieldPath | string, value: unknown, valid: readonly string[]) =>
    fieldError(
      'NotSupported',
      p,
      value,
      valid.length ? `supported values: ${valid.map((v) => JSON.stringify(v)).join(', ')}` : '',
    ),
};

/** Go's `strconv.Quote` (what `%q` prints): escapes quotes, backslashes and unprintable runes. */
function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (cp === 7) out += '\\a';
    else if (cp === 8) out += '\\b';
    else if (cp === 12) out += '\\f';
    else if (cp === 10) out += '\\n';
    else if (cp === 13) out += '\\r';
    else if (cp === 9) out += '\\t';
    else if (cp === 11) out += '\\v';
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (ch !== ' ' && /[\p{C}\p{Z}]/u.test(ch))
      out +=
        cp > 0xffff ? `\\U${cp.toString(16).padStart(8, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/**
 * Prints a bad value the way apimachinery's `ErrorBody` does: numbers and booleans plainly,
 * strings with Go's `%q`, `null` for nil, objects with their own `toString()` (Go's
 * `fmt.Stringer`) through it, string slices and maps in Go's `%#v` form
 * (`[]string{"a", "b"}`, `map[string]string{"k":"v"}`).
 */
export function formatFieldValue(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return goQuote(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (Array.isArray(value)) {
    if (value.length > 0 && value.every((v) => typeof v === 'number')) return `[]int32{${value.join(', ')}}`;
    return `[]string{${value.map((v) => goQuote(String(v))).join(', ')}}`;
  }
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value);
    if (proto !== null && proto !== Object.prototype && typeof (value as object).toString === 'function')
      return String(value);
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    return `map[string]string{${entries.map(([k, v]) => `${goQuote(k)}:${goQuote(String(v))}`).join(', ')}}`;
  }
  return String(value);
}

/** `spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive` */
export function formatFieldError(e: FieldError): string {
  return `${e.field}: ${fieldErrorBody(e)}`;
}

/** The part after the field path (apimachinery's `ErrorBody`). */
export function fieldErrorBody(e: FieldError): string {
  const label = FieldErrorType[e.kind];
  let s: string;
  if (
    e.kind === 'Required' ||
    e.kind === 'Forbidden' ||
    e.kind === 'TooLong' ||
    e.kind === 'Internal' ||
    e.value === OMIT_VALUE
  ) {
    s = label;
  } else {
    s = `${label}: ${formatFieldValue(e.value)}`;
  }
  return e.detail ? `${s}: ${e.detail}` : s;
}

/** The `reason` of a Kubernetes Status. */
export type StatusReason =
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Invalid'
  | 'BadRequest'
  | 'Forbidden'
  | 'InternalError'
  | 'ServiceUnavailable';

const REASON_CODE: Record<StatusReason, number> = {
  NotFound: 404,
  AlreadyExists: 409,
  Conflict: 409,
  Invalid: 422,
  BadRequest: 400,
  Forbidden: 403,
  InternalError: 500,
  ServiceUnavailable: 503,
};

/** An API error as the API server reports it; `message` is what kubectl prints. */
export class StatusError extends Error {
  /** HTTP-like status code. */
  readonly code: number;
  constructor(
    readonly reason: StatusReason,
    message: string,
    readonly kind?: string,
    readonly objectName?: string,
    /** Field errors behind an `Invalid` status. */
    readonly causes: readonly FieldError[] = [],
  ) {
    super(message);
    this.name = 'StatusError';
    this.code = REASON_CODE[reason];
  }
}

/** `services "web" not found` */
export function notFoundError(resource: string, name: string, kind?: string): StatusError {
  return new StatusError('NotFound', `${resource} "${name}" not found`, kind, name);
}

/** `services "web" already exists` */
export function alreadyExistsError(resource: string, name: string, kind?: string): StatusError {
  return new StatusError('AlreadyExists', `${resource} "${name}" already exists`, kind, name);
}

/** `Operation cannot be fulfilled on services "web": the object has been modified; …` */
export function conflictError(resource: string, name: string, why: string, kind?: string): StatusError {
  return new StatusError(
    'Conflict',
    `Operation cannot be fulfilled on ${resource} "${name}": ${why}`,
    kind,
    name,
  );
}

/** The message of a failed optimistic-concurrency write, as the API server words it. */
export const OBJECT_MODIFIED =
  'the object has been modified; please apply your changes to the latest version and try again';

/**
 * `The Service "web" is invalid: ` followed by one `* field: …` line per error, the form kubectl
 * prints for several errors (and which svcroute always uses, for a stable script-facing format).
 * Like kubectl, a line identical to an earlier one is printed once; `causes` keeps them all.
 */
export function invalidError(kind: string, name: string, errors: readonly FieldError[]): StatusError {
  const lines = [...new Set(errors.map((e) => `* ${formatFieldError(e)}`))].join('\n');
  return new StatusError('Invalid', `The ${kind} "${name}" is invalid: \n${lines}`, kind, name, errors);
}

/** True when `e` is a {@link StatusError} with the given reason. */
export function isStatusError(e: unknown, reason?: StatusReason): e is StatusError {
  return e instanceof StatusError && (reason === undefined || e.reason === reason);
}
