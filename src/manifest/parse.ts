/**
 * Turning manifest text (YAML, multi-document YAML, JSON) into Kubernetes objects: splitting
 * documents, unwrapping Lists, checking kind and apiVersion, and decoding each object.
 */

import { type Document, LineCounter, parseAllDocuments } from 'yaml';
import type { KubeObject } from '../core/types';
import { DecodeError, decodeFields, decodeValue, type PathSegment } from './decode';
import { ManifestError, type ManifestLocation } from './errors';
import { CLUSTER_SCOPED_KINDS, isServedKind, listItemKind, unservedKindMessage } from './kinds';
import { mirrorEndpoints } from './mirror';
import { describeValue, isPlainObject, setOwn } from './plain';
import { KIND_SCHEMAS, LIST_METADATA_SCHEMA } from './schema';
import { GO_YAML_SCHEMA_OPTIONS } from './yaml-schema';

/** Options of {@link parseManifests} and the file loaders. */
export interface ManifestOptions {
  /**
   * Namespace given to namespaced objects that have none (kubectl uses its context's, usually
   * `default`). Absent: objects keep what they have.
   */
  readonly defaultNamespace?: string;
  /**
   * `error` (default): a kind svcroute does not serve is a {@link ManifestError}. `skip`: such
   * objects are left out, so that a dump of a whole namespace (Deployments, ConfigMaps…) loads.
   */
  readonly unknownKinds?: 'error' | 'skip';
  /**
   * `mirror` (default): legacy v1 Endpoints are replaced by the EndpointSlices the mirroring
   * controller would make of them (see {@link mirrorEndpoints}). `keep`: Endpoints are returned
   * as they are.
   */
  readonly endpoints?: 'mirror' | 'keep';
}

/** An object together with where it was read. */
export interface ManifestItem {
  readonly object: KubeObject;
  readonly location: ManifestLocation;
}

/** Everything read from one or more manifest texts: objects and the problems met. */
export interface ManifestReadResult {
  readonly items: ManifestItem[];
  readonly errors: ManifestError[];
}

const YAML_OPTIONS = {
  ...GO_YAML_SCHEMA_OPTIONS,
  merge: true,
  uniqueKeys: true,
  prettyErrors: false,
} as const;

// Bounds alias expansion ("billion laughs"); real manifests use few or no aliases.
const MAX_ALIAS_COUNT = 1000;

interface DocumentContext {
  readonly source: string;
  readonly documentIndex: number;
  /** Locates a path of the document (from its root) to a 1-based line and column. */
  readonly locate: (keys: readonly (string | number)[]) => { line: number; column: number } | undefined;
}

interface RawDocument {
  readonly value: unknown;
  readonly context: DocumentContext;
}

/**
 * Parses `text` and returns the objects it holds, in order. Empty documents are skipped, Lists
 * are unwrapped (nested Lists too), and legacy Endpoints are mirrored to EndpointSlices unless
 * `options.endpoints` is `keep`. The returned objects are fresh; `text` is all that is read.
 *
 * @throws ManifestError for the first malformed document, unserved kind or mistyped field.
 */
export function parseManifests(
  text: string,
  source = '<input>',
  options: ManifestOptions = {},
): KubeObject[] {
  const result = readManifests(text, source, options);
  const first = result.errors[0];
  if (first) throw first;
  return result.items.map((i) => i.object);
}

/**
 * Like {@link parseManifests} but never throws: returns every object that could be read and a
 * {@link ManifestError} for each document or List item that could not.
 */
export function readManifests(
  text: string,
  source = '<input>',
  options: ManifestOptions = {},
): ManifestReadResult {
  const items: ManifestItem[] = [];
  const errors: ManifestError[] = [];
  // Editors on some systems prefix a byte order mark; it is not content.
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  for (const doc of splitDocuments(body, source)) {
    if (doc instanceof ManifestError) errors.push(doc);
    else decodeDocument(doc, options, items, errors);
  }
  if ((options.endpoints ?? 'mirror') === 'mirror') return { items: mirrorItems(items), errors };
  return { items, errors };
}

/** Applies {@link mirrorEndpoints} to located items, giving each slice its Endpoints' location. */
export function mirrorItems(items: readonly ManifestItem[]): ManifestItem[] {
  const objects = items.map((i) => i.object);
  const locations = new Map<KubeObject, ManifestLocation>(items.map((i) => [i.object, i.location]));
  const out: ManifestItem[] = [];
  mirrorEndpoints(objects, (slice, from) => {
    const location = locations.get(from);
    if (location) locations.set(slice, location);
  }).forEach((object) => {
    const location = locations.get(object);
    if (location) out.push({ object, location });
  });
  return out;
}

function looksLikeJSON(text: string): boolean {
  const first = /\S/.exec(text);
  return first !== null && (first[0] === '{' || first[0] === '[');
}

/** The documents of `text` in order, each decoded to plain values or replaced by its syntax error. */
function splitDocuments(text: string, source: string): (RawDocument | ManifestError)[] {
  if (looksLikeJSON(text)) {
    try {
      const value: unknown = JSON.parse(text);
      return [{ value, context: { source, documentIndex: 0, locate: () => undefined } }];
    } catch (e) {
      // kubectl also reads a stream of JSON objects one after the other (`{…}{…}`).
      const stream = parseJSONStream(text);
      if (stream)
        return stream.map((value, documentIndex) => ({
          value,
          context: { source, documentIndex, locate: () => undefined },
        }));
      // A flow-style YAML document may also start with `{`; only `.json` files must be JSON.
      if (source.toLowerCase().endsWith('.json')) return [jsonSyntaxError(text, source, e)];
    }
  }
  const lineCounter = new LineCounter();
  let docs: Document.Parsed[];
  try {
    docs = parseAllDocuments(text, { ...YAML_OPTIONS, lineCounter }) as Document.Parsed[];
  } catch (e) {
    return [new ManifestError(`invalid YAML: ${oneLine(e)}`, { source })];
  }
  if (!Array.isArray(docs)) return [];
  const out: (RawDocument | ManifestError)[] = [];
  docs.forEach((doc, documentIndex) => {
    const locate = (keys: readonly (string | number)[]) => locateNode(doc, lineCounter, keys);
    const firstError = doc.errors[0];
    if (firstError) {
      const pos = lineCounter.linePos(firstError.pos[0]);
      out.push(
        new ManifestError(`invalid YAML: ${oneLine(firstError.message)}`, {
          source,
          documentIndex,
          line: pos.line,
          column: pos.col,
        }),
      );
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (e) {
      out.push(new ManifestError(`invalid YAML: ${oneLine(e)}`, { source, documentIndex }));
      return;
    }
    // An anchor used inside its own node (`&a [*a]`) makes a cyclic value, which no Kubernetes
    // object can be and which every later walk would recurse into forever.
    if (isCyclic(value)) {
      out.push(
        new ManifestError('invalid YAML: an alias refers to a node that contains it (recursive anchor)', {
          source,
          documentIndex,
        }),
      );
      return;
    }
    out.push({ value, context: { source, documentIndex, locate } });
  });
  return out;
}

function locateNode(
  doc: Document.Parsed,
  lineCounter: LineCounter,
  keys: readonly (string | number)[],
): { line: number; column: number } | undefined {
  // The deepest node that exists on the path: a missing or null field points at its parent.
  for (let n = keys.length; n >= 0; n--) {
    const node = keys.length === 0 || n === 0 ? doc.contents : doc.getIn(keys.slice(0, n), true);
    const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
    if (range) {
      const pos = lineCounter.linePos(range[0]);
      return { line: pos.line, column: pos.col };
    }
  }
  return undefined;
}

/**
 * Splits `text` into consecutive top-level JSON values (objects or arrays) and parses each, or
 * returns `undefined` when it is not such a stream of at least two values.
 */
function parseJSONStream(text: string): unknown[] | undefined {
  const values: unknown[] = [];
  let depth = 0;
  let inString = false;
  let escaped = false;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      if (depth === 0) return undefined;
      inString = true;
    } else if (c === '{' || c === '[') {
      if (depth === 0) start = i;
      depth++;
    } else if (c === '}' || c === ']') {
      depth--;
      if (depth < 0) return undefined;
      if (depth === 0) {
        try {
          values.push(JSON.parse(text.slice(start, i + 1)));
        } catch {
          return undefined;
        }
      }
    } else if (depth === 0 && !/\s/.test(c ?? '')) {
      return undefined;
    }
  }
  return depth === 0 && !inString && values.length > 1 ? values : undefined;
}

function jsonSyntaxError(text: string, source: string, e: unknown): ManifestError {
  const message = oneLine(e);
  const position = /position (\d+)/.exec(message);
  if (position?.[1]) {
    const offset = Number(position[1]);
    const before = text.slice(0, offset);
    const line = before.split('\n').length;
    const column = offset - before.lastIndexOf('\n');
    return new ManifestError(`invalid JSON: ${message}`, { source, documentIndex: 0, line, column });
  }
  return new ManifestError(`invalid JSON: ${message}`, { source, documentIndex: 0 });
}

function oneLine(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.replace(/\s*\n\s*/g, ' ').trim();
}

// ---------------------------------------------------------------------------------------------

interface ItemContext {
  readonly doc: DocumentContext;
  /** Keys from the document root to this object (`['items', 3]`), for locating lines. */
  readonly keys: readonly (string | number)[];
}

function itemPath(keys: readonly (string | number)[]): string | undefined {
  if (keys.length === 0) return undefined;
  let s = '';
  for (const k of keys) s += typeof k === 'number' ? `[${k}]` : s === '' ? k : `.${k}`;
  return s;
}

function segmentKeys(segments: readonly PathSegment[]): (string | number)[] {
  return segments.map((s) => ('index' in s ? s.index : s.key));
}

function location(ctx: ItemContext, fieldSegments: readonly PathSegment[] = []): ManifestLocation {
  const pos = ctx.doc.locate([...ctx.keys, ...segmentKeys(fieldSegments)]);
  const path = itemPath(ctx.keys);
  return {
    source: ctx.doc.source,
    documentIndex: ctx.doc.documentIndex,
    ...(path !== undefined ? { itemPath: path } : {}),
    ...(pos ? { line: pos.line, column: pos.column } : {}),
  };
}

function objectLabel(kind: string, value: Record<string, unknown>): string {
  const meta = value['metadata'];
  const name = isPlainObject(meta) && typeof meta['name'] === 'string' ? meta['name'] : undefined;
  return name !== undefined && name !== '' ? `${kind} ${JSON.stringify(name)}` : kind;
}

function decodeDocument(
  doc: RawDocument,
  options: ManifestOptions,
  items: ManifestItem[],
  errors: ManifestError[],
): void {
  if (doc.value === null || doc.value === undefined) return; // empty document
  decodeItem(doc.value, { doc: doc.context, keys: [] }, undefined, options, items, errors, 0);
}

// Lists inside Lists are legal but nobody nests deeply; the bound keeps hostile input finite.
const MAX_LIST_DEPTH = 16;

function decodeItem(
  value: unknown,
  ctx: ItemContext,
  inherited: { apiVersion: string; kind: string } | undefined,
  options: ManifestOptions,
  items: ManifestItem[],
  errors: ManifestError[],
  depth: number,
): void {
  if (!isPlainObject(value)) {
    errors.push(
      new ManifestError(`expected a Kubernetes object, got ${describeValue(value)}`, location(ctx)),
    );
    return;
  }
  const apiVersion = value['apiVersion'] ?? inherited?.apiVersion;
  const kind = value['kind'] ?? inherited?.kind;
  if (kind === undefined || kind === '') {
    errors.push(new ManifestError("Object 'Kind' is missing", location(ctx)));
    return;
  }
  if (typeof kind !== 'string') {
    errors.push(
      new ManifestError(`expected string, got ${describeValue(kind)}`, {
        ...location(ctx, [{ key: 'kind' }]),
        field: 'kind',
      }),
    );
    return;
  }
  if (apiVersion === undefined || apiVersion === '') {
    errors.push(
      new ManifestError("Object 'apiVersion' is missing", {
        ...location(ctx),
        object: objectLabel(kind, value),
      }),
    );
    return;
  }
  if (typeof apiVersion !== 'string') {
    errors.push(
      new ManifestError(`expected string, got ${describeValue(apiVersion)}`, {
        ...location(ctx, [{ key: 'apiVersion' }]),
        object: objectLabel(kind, value),
        field: 'apiVersion',
      }),
    );
    return;
  }

  const listItem = listItemKind(apiVersion, kind);
  if (listItem !== null) {
    decodeList(value, ctx, apiVersion, kind, listItem, options, items, errors, depth);
    return;
  }
  if (!isServedKind(apiVersion, kind)) {
    if (options.unknownKinds === 'skip') return;
    errors.push(
      new ManifestError(unservedKindMessage(apiVersion, kind), {
        ...location(ctx),
        object: objectLabel(kind, value),
      }),
    );
    return;
  }

  try {
    const fields = decodeFields(value, KIND_SCHEMAS[kind] ?? {}, []);
    const object = finishObject(fields, apiVersion, kind, options);
    items.push({ object, location: location(ctx) });
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
    errors.push(
      new ManifestError(e.reason, {
        ...location(ctx, e.segments),
        object: objectLabel(kind, value),
        field: e.field,
      }),
    );
  }
}

function decodeList(
  value: Record<string, unknown>,
  ctx: ItemContext,
  apiVersion: string,
  kind: string,
  itemKind: string | undefined,
  options: ManifestOptions,
  items: ManifestItem[],
  errors: ManifestError[],
  depth: number,
): void {
  if (depth >= MAX_LIST_DEPTH) {
    errors.push(new ManifestError(`Lists nested deeper than ${MAX_LIST_DEPTH} levels`, location(ctx)));
    return;
  }
  try {
    if (value['metadata'] !== undefined && value['metadata'] !== null)
      decodeValue(value['metadata'], LIST_METADATA_SCHEMA, [{ key: 'metadata' }]);
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
    errors.push(new ManifestError(e.reason, { ...location(ctx, e.segments), object: kind, field: e.field }));
    return;
  }
  const list = value['items'];
  if (list === undefined || list === null) return;
  if (!Array.isArray(list)) {
    errors.push(
      new ManifestError(`expected array, got ${describeValue(list)}`, {
        ...location(ctx, [{ key: 'items' }]),
        object: kind,
        field: 'items',
      }),
    );
    return;
  }
  // Typed lists (ServiceList, as the API serves it) omit apiVersion and kind on their items.
  const inherited = itemKind !== undefined ? { apiVersion, kind: itemKind } : undefined;
  list.forEach((item, i) => {
    decodeItem(
      item,
      { doc: ctx.doc, keys: [...ctx.keys, 'items', i] },
      inherited,
      options,
      items,
      errors,
      depth + 1,
    );
  });
}

function finishObject(
  fields: Record<string, unknown>,
  apiVersion: string,
  kind: string,
  options: ManifestOptions,
): KubeObject {
  const object: Record<string, unknown> = {};
  setOwn(object, 'apiVersion', apiVersion);
  setOwn(object, 'kind', kind);
  for (const [k, v] of Object.entries(fields)) if (k !== 'apiVersion' && k !== 'kind') setOwn(object, k, v);
  const metadata = isPlainObject(object['metadata']) ? object['metadata'] : {};
  setOwn(object, 'metadata', metadata);
  if (
    options.defaultNamespace !== undefined &&
    !CLUSTER_SCOPED_KINDS.has(kind) &&
    (metadata['namespace'] === undefined || metadata['namespace'] === '')
  )
    setOwn(metadata, 'namespace', options.defaultNamespace);
  // Required members of the TypeScript shapes, present as Go's zero values would be.
  if ((kind === 'Service' || kind === 'Pod') && object['spec'] === undefined) setOwn(object, 'spec', {});
  if (kind === 'EndpointSlice' && object['endpoints'] === undefined) setOwn(object, 'endpoints', []);
  return object as unknown as KubeObject;
}

/** True when `value` contains itself: an object or array reachable from its own descendants. */
function isCyclic(value: unknown, ancestors: Set<object> = new Set()): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (ancestors.has(value)) return true;
  ancestors.add(value);
  const children = value instanceof Map ? value.values() : Object.values(value);
  for (const child of children) if (isCyclic(child, ancestors)) return true;
  ancestors.delete(value);
  return false;
}
