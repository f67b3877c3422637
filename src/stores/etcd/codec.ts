/**
 * How store keys and values are laid out in etcd: every key under the store's prefix, values as
 * UTF-8 JSON, and the conversions from etcd's key-values and events to the {@link Store} types.
 *
 * @module
 */
import type { IEvent, IKeyValue } from 'etcd3';
import { deepFreeze } from '../../registry/object-utils';
import type { StoreEntry, StoreEvent } from '../../registry/store';

/** Maps store keys to etcd keys under one prefix and back. */
export class KeyCodec {
  /** The prefix as given, without trailing slash (`''` for none). */
  readonly prefix: string;

  constructor(prefix = '') {
    let p = prefix;
    while (p.endsWith('/')) p = p.slice(0, -1);
    this.prefix = p;
  }

  /** The etcd key of a store key. */
  encode(key: string): Buffer {
    return Buffer.from(this.prefix + key, 'utf8');
  }

  /** The store key of an etcd key (undefined when outside the prefix). */
  decode(key: Buffer): string | undefined {
    const s = key.toString('utf8');
    return s.startsWith(this.prefix) ? s.slice(this.prefix.length) : undefined;
  }

  /** `[start, end)` of every etcd key whose store key starts with `prefix`. */
  range(prefix: string): { key: Buffer; range_end: Buffer } {
    const key = this.encode(prefix);
    return { key, range_end: prefixEnd(key) };
  }
}

/**
 * The smallest key greater than every key starting with `prefix` (etcd's `GetPrefixRangeEnd`):
 * the prefix with its last byte below 0xff incremented; `\0` (to the end of the keyspace) when
 * every byte is 0xff or the prefix is empty.
 */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] as number) < 0xff) {
      end[i] = (end[i] as number) + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/** Serialises a value for etcd. */
export function encodeValue(value: unknown): Buffer {
  const json = JSON.stringify(value);
  if (json === undefined) throw new TypeError('store: value is not JSON-serialisable');
  return Buffer.from(json, 'utf8');
}

/**
 * Parses a stored value into a frozen JSON value. Values another program wrote that are not JSON
 * come back as their text, so that one foreign key cannot break a whole list or watch.
 */
export function decodeValue(raw: Buffer | undefined): unknown {
  if (!raw || raw.length === 0) return undefined;
  const text = raw.toString('utf8');
  try {
    return deepFreeze(JSON.parse(text) as unknown);
  } catch {
    return text;
  }
}

/** etcd's int64 fields arrive as decimal strings; revisions stay well below 2^53. */
export function rev(value: string | number | undefined | null): number {
  return value === undefined || value === null ? 0 : Number(value);
}

/** A key-value as a {@link StoreEntry} (undefined when outside the prefix). */
export function toEntry(codec: KeyCodec, kv: IKeyValue): StoreEntry | undefined {
  const key = codec.decode(kv.key);
  if (key === undefined) return undefined;
  return {
    key,
    value: decodeValue(kv.value),
    modRevision: rev(kv.mod_revision),
    createRevision: rev(kv.create_revision),
  };
}

/** A watch event as a {@link StoreEvent} (undefined when outside the prefix). */
export function toEvent(codec: KeyCodec, ev: IEvent): StoreEvent | undefined {
  const key = codec.decode(ev.kv.key);
  if (key === undefined) return undefined;
  const modRevision = rev(ev.kv.mod_revision);
  // etcd leaves prev_kv empty (no key) when not asked or when the previous version is compacted.
  const hasPrev = ev.prev_kv !== null && ev.prev_kv !== undefined && ev.prev_kv.key?.length > 0;
  const base = hasPrev ? { prevValue: decodeValue(ev.prev_kv.value) } : {};
  if (ev.type === 'Delete')
    return { type: 'delete', key, value: undefined, modRevision, created: false, ...base };
  return {
    type: 'put',
    key,
    value: decodeValue(ev.kv.value),
    modRevision,
    created: rev(ev.kv.create_revision) === modRevision,
    ...base,
  };
}
