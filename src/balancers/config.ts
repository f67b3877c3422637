/**
 * Validation helpers for balancer configs. Every policy parses its JSON config (an object under
 * the policy's wire name, e.g. `{ maglev: { tableSize: 65537 } }`) into a typed, defaulted
 * config, and rejects what it cannot honour with a {@link BalancerConfigError} naming the field.
 *
 * @module
 */

/** A config the policy cannot honour. `path` is the dotted field path (`maglev.tableSize`). */
export class BalancerConfigError extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = 'BalancerConfigError';
    this.path = path;
  }
}

/** Reads `json` as a plain object (undefined → `{}`), rejecting unknown keys. */
export function configObject(
  json: unknown,
  path: string,
  allowed: readonly string[],
): Record<string, unknown> {
  if (json === undefined || json === null) return {};
  if (typeof json !== 'object' || Array.isArray(json)) {
    throw new BalancerConfigError(path, `must be an object, got ${describe(json)}`);
  }
  const obj = json as Record<string, unknown>;
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) {
      throw new BalancerConfigError(`${path}.${k}`, `unknown field (known: ${allowed.join(', ') || 'none'})`);
    }
  }
  return obj;
}

/** Reads an optional number field within `[min, max]`, integer when asked; returns `fallback` when absent. */
export function numberField(
  obj: Record<string, unknown>,
  key: string,
  path: string,
  fallback: number,
  opts: { min?: number; max?: number; integer?: boolean; exclusiveMin?: boolean } = {},
): number {
  const v = obj[key];
  if (v === undefined) return fallback;
  const p = `${path}.${key}`;
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new BalancerConfigError(p, `must be a finite number, got ${describe(v)}`);
  }
  if (opts.integer && !Number.isInteger(v)) throw new BalancerConfigError(p, `must be an integer, got ${v}`);
  if (opts.min !== undefined) {
    if (opts.exclusiveMin ? v <= opts.min : v < opts.min) {
      throw new BalancerConfigError(p, `must be ${opts.exclusiveMin ? '>' : '>='} ${opts.min}, got ${v}`);
    }
  }
  if (opts.max !== undefined && v > opts.max)
    throw new BalancerConfigError(p, `must be <= ${opts.max}, got ${v}`);
  return v;
}

/** Reads an optional boolean field. */
export function booleanField(
  obj: Record<string, unknown>,
  key: string,
  path: string,
  fallback: boolean,
): boolean {
  const v = obj[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean')
    throw new BalancerConfigError(`${path}.${key}`, `must be a boolean, got ${describe(v)}`);
  return v;
}

/** Reads an optional string field restricted to `choices`. */
export function choiceField<T extends string>(
  obj: Record<string, unknown>,
  key: string,
  path: string,
  fallback: T,
  choices: readonly T[],
): T {
  const v = obj[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) {
    throw new BalancerConfigError(
      `${path}.${key}`,
      `must be one of ${choices.join(', ')}, got ${describe(v)}`,
    );
  }
  return v as T;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'object') return 'an object';
  return String(v);
}

/** True when `n` is a prime (trial division; table sizes are at most a few million). */
export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}
