/**
 * `-o json` and `-o yaml` as kubectl prints them: JSON with keys in byte order (kubectl prints
 * unstructured maps), indented by 4 spaces with Go's HTML-safe escaping; YAML as go-yaml v2
 * marshals the same data (see {@link kubectlYaml}). Several objects are wrapped in a `List`.
 */

import type { KubeObject } from '../../core/types';
import { kubectlYaml } from './go-yaml';

/** The `List` kubectl prints for `get -o json|yaml` of a collection. */
export interface ListEnvelope {
  apiVersion: 'v1';
  items: unknown[];
  kind: 'List';
  metadata: { resourceVersion: string };
}

/** Wraps objects in kubectl's `List` envelope. */
export function asList(items: readonly KubeObject[]): ListEnvelope {
  return { apiVersion: 'v1', items: [...items], kind: 'List', metadata: { resourceVersion: '' } };
}

/** A deep copy with object keys in byte order, as Go's encoding of `map[string]interface{}`. */
export function sortKeysDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeysDeep);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  const keys = Object.keys(value).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const k of keys) {
    const v = (value as Record<string, unknown>)[k];
    if (v !== undefined)
      Object.defineProperty(out, k, {
        value: sortKeysDeep(v),
        enumerable: true,
        writable: true,
        configurable: true,
      });
  }
  return out;
}

// encoding/json escapes these so that JSON can be embedded in HTML and JavaScript.
const GO_JSON_ESCAPES: Record<string, string> = {
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
};

/** `kubectl -o json`: sorted keys, 4-space indent, Go's escaping, trailing newline. */
export function printJSON(value: unknown): string {
  const text = JSON.stringify(sortKeysDeep(value), null, 4);
  return `${text.replace(/[<>&\u2028\u2029]/g, (c) => GO_JSON_ESCAPES[c] ?? c)}\n`;
}

/**
 * `kubectl -o yaml`: go-yaml v2's output for the JSON form of `value` (its own key order, 2-space
 * indent, sequences not indented, YAML 1.1 quoting, literal blocks, folding at 80 columns).
 */
export function printYAML(value: unknown): string {
  return kubectlYaml(value);
}
