/**
 * Small helpers for JSON-compatible values: deep copy, deep freeze and structural equality.
 * Stores and caches hand out frozen values so that nobody can change a stored object in place.
 *
 * @module
 */

/** A deep copy of a JSON-compatible value (objects, arrays, strings, numbers, booleans, null). */
export function cloneJSON<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => cloneJSON(v)) as T;
  const out: Record<string, unknown> = {};
  const src = value as Record<string, unknown>;
  for (const k in src) {
    if (!Object.hasOwn(src, k)) continue;
    const v = src[k];
    // `undefined` members are dropped, as JSON serialisation (and etcd) would drop them.
    if (v === undefined) continue;
    // A `__proto__` key is data, never a prototype switch.
    if (k === '__proto__')
      Object.defineProperty(out, k, {
        value: cloneJSON(v),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    else out[k] = cloneJSON(v);
  }
  return out as T;
}

/** Freezes `value` and everything reachable from it; returns it. */
export function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value;
  Object.freeze(value);
  for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  return value;
}

/** A frozen deep copy. */
export function frozenCopy<T>(value: T): T {
  return deepFreeze(cloneJSON(value));
}

/** Structural equality of JSON-compatible values; `undefined` members count as absent. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    if (a.length !== bb.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], bb[i])) return false;
    return true;
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  let na = 0;
  for (const k of Object.keys(ao)) {
    if (ao[k] === undefined) continue;
    na++;
    if (!Object.hasOwn(bo, k) || !jsonEqual(ao[k], bo[k])) return false;
  }
  let nb = 0;
  for (const k of Object.keys(bo)) if (bo[k] !== undefined) nb++;
  return na === nb;
}
