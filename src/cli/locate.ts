/**
 * Finding the line of a field inside a manifest, so that an object the registry refuses is
 * reported at the offending field (`spec.ports[0].port` on line 9) rather than at the start of
 * the object.
 */

import { readFile } from 'node:fs/promises';
import { type Document, LineCounter, parseAllDocuments } from 'yaml';
import { STDIN_SOURCE } from '../manifest';

/** `spec.ports[0].port` → `['spec', 'ports', 0, 'port']`; map keys in brackets stay strings. */
export function fieldPathKeys(path: string): (string | number)[] {
  const keys: (string | number)[] = [];
  let i = 0;
  while (i < path.length) {
    const c = path[i];
    if (c === '.') {
      i++;
    } else if (c === '[') {
      const end = path.indexOf(']', i);
      if (end < 0) break;
      const inside = path.slice(i + 1, end);
      keys.push(/^\d+$/.test(inside) ? Number(inside) : inside);
      i = end + 1;
    } else {
      let end = i;
      while (end < path.length && path[end] !== '.' && path[end] !== '[') end++;
      keys.push(path.slice(i, end));
      i = end;
    }
  }
  return keys;
}

/** The parsed documents of one manifest text, with the line of any node. */
export class ManifestText {
  private readonly lines = new LineCounter();
  private readonly docs: Document.Parsed[];

  constructor(text: string) {
    // Positions do not depend on the schema; errors only mean "no line known".
    this.docs = parseAllDocuments(text, {
      lineCounter: this.lines,
      prettyErrors: false,
    }) as Document.Parsed[];
  }

  /**
   * The 1-based line of `keys` in document `documentIndex`: of the deepest node on that path
   * that exists (a missing field points at its parent). Undefined when the document is unknown.
   */
  lineOf(documentIndex: number, keys: readonly (string | number)[]): number | undefined {
    const doc = this.docs[documentIndex];
    if (!doc || doc.errors.length > 0) return undefined;
    for (let n = keys.length; n >= 0; n--) {
      const node = n === 0 ? doc.contents : doc.getIn(keys.slice(0, n), true);
      const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
      if (range) return this.lines.linePos(range[0]).line;
    }
    return undefined;
  }
}

/**
 * Reads manifest texts again, once each, to locate fields: `source` is a file path or
 * {@link STDIN_SOURCE}. A text that cannot be read again gives no lines.
 */
export class ManifestTexts {
  private readonly texts = new Map<string, Promise<ManifestText | undefined>>();

  constructor(private readonly readStdin: () => Promise<string>) {}

  /** The line of `field` (an API field path) in an object read from `source`, if known. */
  async lineOf(
    source: string,
    documentIndex: number | undefined,
    itemPath: string | undefined,
    field: string,
  ): Promise<number | undefined> {
    if (documentIndex === undefined) return undefined;
    let text = this.texts.get(source);
    if (text === undefined) {
      text = (source === STDIN_SOURCE ? this.readStdin() : readFile(source, 'utf8')).then(
        (t) => new ManifestText(t),
        () => undefined,
      );
      this.texts.set(source, text);
    }
    const keys = [...(itemPath ? fieldPathKeys(itemPath) : []), ...fieldPathKeys(field)];
    return (await text)?.lineOf(documentIndex, keys);
  }
}
