/**
 * Building fresh JSON values from parser output without letting keys such as `__proto__` or
 * `constructor` reach an object's prototype chain: every key is written as an own data property,
 * and string maps (labels, annotations, selectors) get a null prototype.
 */

/** A fresh object with a null prototype. */
export function nullProtoObject<T extends object = Record<string, unknown>>(): T {
  return Object.create(null) as T;
}

/** Writes `key` as an own enumerable data property, whatever its name. */
export function setOwn(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** True for objects made by `{}`/`JSON.parse`/the YAML parser (plain or null prototype). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === null || proto === Object.prototype;
}

/** How a value is named in decode errors: `string "abc"`, `number 1.5`, `array`, `object`. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'array';
  switch (typeof value) {
    case 'string':
      return `string ${JSON.stringify(value)}`;
    case 'number':
    case 'bigint':
      return `number ${String(value)}`;
    case 'boolean':
      return `boolean ${String(value)}`;
    case 'object':
      return isPlainObject(value) ? 'object' : `${value.constructor?.name ?? 'unknown'} value`;
    default:
      return typeof value;
  }
}
