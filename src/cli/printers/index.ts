/**
 * kubectl's output formats: tables (`get`, `-o wide`), `-o json` and `-o yaml`.
 * @module
 */

export { humanDuration, translateTimestampSince } from './duration';
export { goYamlKeyLess, goYamlMarshal, kubectlYaml, resolvesAsString } from './go-yaml';
export { asList, type ListEnvelope, printJSON, printYAML, sortKeysDeep } from './structured';
export { formatLabels, printTable, type TableKind, type TableOptions, terminalSafeCell } from './table';
export { alignColumns, TABWRITER_MIN_WIDTH, TABWRITER_PADDING, tabwrite } from './tabwriter';
