/**
 * kubectl's output formats: tables (`get`, `-o wide`), `-o json` and `-o yaml`.
 */

export { humanDuration, translateTimestampSince } from './duration';
export { asList, type ListEnvelope, printJSON, printYAML, sortKeysDeep } from './structured';
export { formatLabels, printTable, type TableKind, type TableOptions } from './table';
export { alignColumns, TABWRITER_MIN_WIDTH, TABWRITER_PADDING } from './tabwriter';
