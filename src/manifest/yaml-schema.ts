/**
 * The YAML dialect of go-yaml v2, which kubectl and the API server use: YAML 1.1 booleans
 * (`yes`, `on`, `y`…) and octal (`0777`), merge keys, but no timestamp or sexagesimal scalars
 * (unquoted dates stay strings), and a float needs at least one digit (`.` is a string).
 */

import type { Tags } from 'yaml';

interface TagLike {
  readonly tag?: string;
  readonly format?: string;
  readonly test?: RegExp;
}

const FLOAT_TAG = 'tag:yaml.org,2002:float';

function goYamlTag(t: TagLike, keepTimestamps: boolean): TagLike | undefined {
  if (t.format === 'TIME') return undefined;
  if (t.tag === 'tag:yaml.org,2002:timestamp' && !keepTimestamps) return undefined;
  // Go's ParseFloat rejects a mantissa without digits (".", "-.", ".e5"); yaml 1.1 would not.
  if (t.tag === FLOAT_TAG && t.test && !t.test.source.includes('inf'))
    return { ...t, test: new RegExp(`^(?=[^eE]*[0-9])${t.test.source.slice(1)}`, t.test.flags) };
  return t;
}

/**
 * `customTags` turning the yaml package's YAML 1.1 schema into go-yaml v2's resolution rules for
 * reading: timestamps stay strings, as they do on their way to JSON.
 */
export function goYamlTags(tags: Tags): Tags {
  return tags.map((t) => goYamlTag(t as TagLike, false)).filter((t) => t !== undefined) as Tags;
}

/**
 * The same for writing: go-yaml quotes a string that would read back as a timestamp, which is
 * why kubectl prints `creationTimestamp: "2025-01-01T00:00:00Z"`.
 */
export function goYamlPrintTags(tags: Tags): Tags {
  return tags.map((t) => goYamlTag(t as TagLike, true)).filter((t) => t !== undefined) as Tags;
}

/** Options for reading YAML in go-yaml's dialect. */
export const GO_YAML_SCHEMA_OPTIONS = { version: '1.1', customTags: goYamlTags } as const;

/** Options for writing YAML as go-yaml writes it. */
export const GO_YAML_PRINT_OPTIONS = { version: '1.1', customTags: goYamlPrintTags } as const;
