/**
 * The one error type of manifest loading: where it happened (file, document, List item, line)
 * and what is wrong (field and reason), printed as a single line.
 */

/** Where in a manifest stream a problem was found. */
export interface ManifestLocation {
  /** File name as given by the caller (`<stdin>` for standard input). */
  readonly source: string;
  /** Index of the YAML document in the file, counted from 0; absent for problems of the whole file. */
  readonly documentIndex?: number;
  /** Path of the object inside its document when it came from a List, e.g. `items[3]`. */
  readonly itemPath?: string;
  /** 1-based line of the offending node, when the parser knows it. */
  readonly line?: number;
  /** 1-based column of the offending node, when the parser knows it. */
  readonly column?: number;
}

/** Details of a {@link ManifestError}. */
export interface ManifestErrorDetails extends ManifestLocation {
  /** `Service "web"` when the object's kind (and name) are known. */
  readonly object?: string;
  /** Field path inside the object, e.g. `spec.ports[0].port`. */
  readonly field?: string;
}

/**
 * A manifest that cannot be turned into objects: malformed YAML/JSON, an unknown or unserved
 * kind, or a field of the wrong JSON type. The message is one line:
 * `svc.yaml: document 1 (line 9): Service "web": spec.ports[0].port: expected integer, got string "abc"`.
 * `documentIndex` counts from 0 (the message prints the same number).
 */
export class ManifestError extends Error {
  /** File name (`<stdin>` for standard input). */
  readonly source: string;
  /** Index of the document in the file, from 0. */
  readonly documentIndex: number | undefined;
  /** `items[3]` (nested: `items[0].items[2]`) when the object came from a List. */
  readonly itemPath: string | undefined;
  /** 1-based line, when known. */
  readonly line: number | undefined;
  /** 1-based column, when known. */
  readonly column: number | undefined;
  /** `Kind "name"` of the object, when known. */
  readonly object: string | undefined;
  /** Field path inside the object, when the problem is one field. */
  readonly field: string | undefined;
  /** The problem alone, without location. */
  readonly reason: string;

  constructor(reason: string, details: ManifestErrorDetails) {
    super(formatManifestError(reason, details));
    this.name = 'ManifestError';
    this.reason = reason;
    this.source = details.source;
    this.documentIndex = details.documentIndex;
    this.itemPath = details.itemPath;
    this.line = details.line;
    this.column = details.column;
    this.object = details.object;
    this.field = details.field;
  }
}

function formatManifestError(reason: string, d: ManifestErrorDetails): string {
  let where = d.source;
  const parts: string[] = [];
  if (d.documentIndex !== undefined) parts.push(`document ${d.documentIndex}`);
  if (d.itemPath !== undefined) parts.push(d.itemPath);
  if (parts.length > 0) where += `: ${parts.join(', ')}`;
  if (d.line !== undefined) where += ` (line ${d.line})`;
  const what = [d.object, d.field].filter((s): s is string => s !== undefined && s !== '');
  return [where, ...what, reason].join(': ');
}

/** True when `e` is a {@link ManifestError}. */
export function isManifestError(e: unknown): e is ManifestError {
  return e instanceof ManifestError;
}
