/**
 * Structural decoding: checks the JSON type of every known field and builds a fresh copy of the
 * object, as the API server's decoder does before any validation runs.
 */

import { FieldPath } from '../core/errors';
import { describeValue, isPlainObject, nullProtoObject, setOwn } from './plain';
import type { FieldSchema } from './schema';

/** One step of a path: an object key, an array index, or a key of a string map. */
export type PathSegment = { readonly key: string; readonly map?: boolean } | { readonly index: number };

/** A field of the wrong JSON type. `segments` lead from the object root to the field. */
export class DecodeError extends Error {
  constructor(
    readonly segments: readonly PathSegment[],
    readonly reason: string,
  ) {
    super(`${formatPath(segments)}: ${reason}`);
    this.name = 'DecodeError';
  }

  /** The field path as apimachinery prints it (`spec.ports[0].port`, `metadata.labels[app]`). */
  get field(): string {
    return formatPath(this.segments);
  }
}

/** Prints segments as a {@link FieldPath}. */
export function formatPath(segments: readonly PathSegment[]): string {
  let path: FieldPath | undefined;
  for (const s of segments) {
    if ('index' in s) path = path ? path.index(s.index) : FieldPath.root(`[${s.index}]`);
    else if (s.map) path = path ? path.key(s.key) : FieldPath.root(`[${s.key}]`);
    else path = path ? path.child(s.key) : FieldPath.root(s.key);
  }
  return path ? path.toString() : '';
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

// RFC 3339 as Go's time.Parse accepts it for metav1.Time (fractional seconds optional).
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;

const EXPECTED: Record<FieldSchema['type'], string> = {
  string: 'string',
  int32: 'integer',
  int64: 'integer',
  boolean: 'boolean',
  intOrString: 'integer or string',
  time: 'RFC 3339 time string',
  any: 'JSON value',
  map: 'object',
  array: 'array',
  object: 'object',
};

function mismatch(schema: FieldSchema, value: unknown, path: readonly PathSegment[]): DecodeError {
  return new DecodeError(path, `expected ${EXPECTED[schema.type]}, got ${describeValue(value)}`);
}

function isInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value);
}

/** The Go zero value a JSON `null` inside a list or map stands for. */
function zeroValue(schema: FieldSchema): unknown {
  switch (schema.type) {
    case 'string':
    case 'time':
      return '';
    case 'int32':
    case 'int64':
    case 'intOrString':
      return 0;
    case 'boolean':
      return false;
    case 'map':
      return nullProtoObject();
    case 'object':
      return {};
    default:
      return null;
  }
}

/**
 * Decodes `value` against `schema` and returns a fresh copy; `path` names the value in errors.
 * A `null` object field is dropped, as Go leaves the field at its zero value.
 */
export function decodeValue(value: unknown, schema: FieldSchema, path: readonly PathSegment[]): unknown {
  switch (schema.type) {
    case 'string':
      if (typeof value !== 'string') throw mismatch(schema, value, path);
      return value;
    case 'time':
      if (typeof value !== 'string' || !RFC3339.test(value)) throw mismatch(schema, value, path);
      return value;
    case 'boolean':
      if (typeof value !== 'boolean') throw mismatch(schema, value, path);
      return value;
    case 'int32':
      if (!isInteger(value)) throw mismatch(schema, value, path);
      if (value < INT32_MIN || value > INT32_MAX)
        throw new DecodeError(path, `expected integer, got number ${value} (out of int32 range)`);
      return value;
    case 'int64':
      if (!isInteger(value)) throw mismatch(schema, value, path);
      if (!Number.isSafeInteger(value))
        throw new DecodeError(path, `expected integer, got number ${value} (beyond exact integer range)`);
      return value;
    case 'intOrString':
      if (typeof value === 'string') return value;
      if (!isInteger(value)) throw mismatch(schema, value, path);
      if (value < INT32_MIN || value > INT32_MAX)
        throw new DecodeError(path, `expected integer, got number ${value} (out of int32 range)`);
      return value;
    case 'any':
      return copyJSON(value, path);
    case 'array': {
      if (!Array.isArray(value)) throw mismatch(schema, value, path);
      return value.map((item, i) => {
        const p = [...path, { index: i }];
        return item === null || item === undefined ? zeroValue(schema.of) : decodeValue(item, schema.of, p);
      });
    }
    case 'map': {
      if (!isPlainObject(value)) throw mismatch(schema, value, path);
      const out = nullProtoObject();
      for (const [k, v] of Object.entries(value)) {
        const p = [...path, { key: k, map: true }];
        setOwn(out, k, v === null || v === undefined ? zeroValue(schema.of) : decodeValue(v, schema.of, p));
      }
      return out;
    }
    case 'object':
      if (!isPlainObject(value)) throw mismatch(schema, value, path);
      return decodeFields(value, schema.fields, path);
  }
}

/** Decodes the listed fields of `value`, copies the others, and drops `null` members. */
export function decodeFields(
  value: Record<string, unknown>,
  fields: Readonly<Record<string, FieldSchema>>,
  path: readonly PathSegment[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === null || v === undefined) continue;
    const p = [...path, { key: k }];
    const fieldSchema = Object.hasOwn(fields, k) ? fields[k] : undefined;
    setOwn(out, k, fieldSchema ? decodeValue(v, fieldSchema, p) : copyJSON(v, p));
  }
  return out;
}

/** A deep copy of a JSON-like value with every key written as an own property. */
export function copyJSON(value: unknown, path: readonly PathSegment[] = []): unknown {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'bigint') return Number(value);
    return value;
  }
  if (Array.isArray(value)) return value.map((v, i) => copyJSON(v, [...path, { index: i }]));
  if (!isPlainObject(value)) throw new DecodeError(path, `unsupported value: ${describeValue(value)}`);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) setOwn(out, k, copyJSON(v, [...path, { key: k }]));
  return out;
}
