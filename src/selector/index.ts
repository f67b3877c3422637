/**
 * Label selectors: the Kubernetes grammar, map and `matchLabels`/`matchExpressions` selectors,
 * label syntax checks, and an inverted index of selectors.
 *
 * @module
 */

export { LabelIndex } from './label-index';
export {
  DNS1035_LABEL_FMT,
  DNS1035_LABEL_MAX_LENGTH,
  DNS1123_LABEL_FMT,
  DNS1123_LABEL_MAX_LENGTH,
  DNS1123_SUBDOMAIN_FMT,
  DNS1123_SUBDOMAIN_MAX_LENGTH,
  emptyError,
  inclusiveRangeError,
  isDNS1035Label,
  isDNS1123Label,
  isDNS1123Subdomain,
  isQualifiedName,
  isValidLabelValue,
  LABEL_VALUE_FMT,
  LABEL_VALUE_MAX_LENGTH,
  maxLenError,
  QUALIFIED_NAME_FMT,
  QUALIFIED_NAME_MAX_LENGTH,
  regexError,
} from './label-syntax';
export { parseRequirements, SelectorParseError } from './parser';
export {
  getLabel,
  type LabelSource,
  OPERATORS,
  type Operator,
  Requirement,
  SelectorError,
} from './requirement';
export { type LabelSelector, type LabelSelectorRequirement, Selector } from './selector';
