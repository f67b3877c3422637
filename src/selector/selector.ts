/**
 * Label selectors with Kubernetes semantics: the text grammar (`kubectl -l`), map selectors
 * (Service `spec.selector`), and `matchLabels`/`matchExpressions` objects.
 *
 * @module
 */

import { formatFieldValue } from '../core/errors';
import type { StringMap } from '../core/types';
import { parseRequirements } from './parser';
import { compareGo, type LabelSource, type Operator, Requirement, SelectorError } from './requirement';

/** A `matchExpressions` entry of a metav1 LabelSelector. */
export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

/** A metav1 LabelSelector (`matchLabels` + `matchExpressions`). */
export interface LabelSelector {
  matchLabels?: StringMap;
  matchExpressions?: LabelSelectorRequirement[];
}

const EXPRESSION_OPERATORS: Readonly<Record<string, Operator>> = {
  In: 'in',
  NotIn: 'notin',
  Exists: 'exists',
  DoesNotExist: '!',
};

function byKey(a: Requirement, b: Requirement): number {
  return compareGo(a.key, b.key);
}

/**
 * An immutable label selector: a conjunction of {@link Requirement}s kept sorted by key (as
 * apimachinery keeps them), or the special "nothing" selector that matches no label set.
 */
export class Selector {
  private static readonly EVERYTHING = new Selector([], false);
  private static readonly NOTHING = new Selector([], true);

  private constructor(
    /** The clauses, sorted by key (stable for equal keys). */
    readonly requirements: readonly Requirement[],
    private readonly matchesNothing: boolean,
  ) {}

  /** The selector matching every label set (empty text, `{}` LabelSelector). */
  static everything(): Selector {
    return Selector.EVERYTHING;
  }

  /** The selector matching no label set (a nil LabelSelector). */
  static nothing(): Selector {
    return Selector.NOTHING;
  }

  /** Builds from requirements, sorting them by key. */
  static fromRequirements(reqs: readonly Requirement[]): Selector {
    if (reqs.length === 0) return Selector.EVERYTHING;
    return new Selector(Object.freeze([...reqs].sort(byKey)), false);
  }

  /**
   * Parses the text form (`app=web,tier in (a,b),!canary,rank>3`). Empty or blank text is the
   * everything-selector. Throws `SelectorParseError` (message as kubectl prints it, `position`
   * of the offending token) on bad syntax or an invalid key/value.
   */
  static parse(text: string): Selector {
    return Selector.fromRequirements(parseRequirements(text));
  }

  /**
   * A map selector as a Service's `spec.selector`: every pair must match exactly. An empty map
   * (or undefined) gives the everything-selector, as `labels.SelectorFromSet` does. Keys and
   * values are not validated (Service validation reports them with field paths).
   */
  static fromSet(set: LabelSource | undefined): Selector {
    if (!set) return Selector.EVERYTHING;
    const reqs: Requirement[] = [];
    const entries = set instanceof Map ? [...set.entries()] : Object.entries(set);
    for (const [k, v] of entries) reqs.push(Requirement.unchecked(k, '=', [v]));
    return Selector.fromRequirements(reqs);
  }

  /**
   * A metav1 LabelSelector, as `LabelSelectorAsSelector`: `null`/`undefined` matches nothing,
   * `{}` (no labels, no expressions) matches everything. Throws {@link SelectorError} for an
   * unknown operator (`"Foo" is not a valid label selector operator`) or an invalid requirement.
   */
  static fromLabelSelector(ls: LabelSelector | null | undefined): Selector {
    if (ls === null || ls === undefined) return Selector.NOTHING;
    const labels = ls.matchLabels ? Object.entries(ls.matchLabels) : [];
    const exprs = ls.matchExpressions ?? [];
    if (labels.length + exprs.length === 0) return Selector.EVERYTHING;
    const reqs: Requirement[] = [];
    for (const [k, v] of labels) reqs.push(Requirement.create(k, '=', [v]));
    for (const e of exprs) {
      const op = Object.hasOwn(EXPRESSION_OPERATORS, e.operator)
        ? EXPRESSION_OPERATORS[e.operator]
        : undefined;
      if (!op)
        // Go's %q of the operator; a missing one is the empty string there
        throw new SelectorError(
          `${formatFieldValue(String(e.operator ?? ''))} is not a valid label selector operator`,
        );
      reqs.push(Requirement.create(e.key, op, e.values ?? []));
    }
    return Selector.fromRequirements(reqs);
  }

  /** True when every requirement holds (always false for the nothing-selector). */
  matches(labels: LabelSource): boolean {
    if (this.matchesNothing) return false;
    for (const r of this.requirements) if (!r.matches(labels)) return false;
    return true;
  }

  /** True for the everything-selector (no requirements). The nothing-selector is not empty. */
  empty(): boolean {
    return !this.matchesNothing && this.requirements.length === 0;
  }

  /** True for the selector that matches no label set. */
  isNothing(): boolean {
    return this.matchesNothing;
  }

  /** A selector with more requirements (the nothing-selector stays nothing). */
  add(...reqs: Requirement[]): Selector {
    if (this.matchesNothing) return this;
    return Selector.fromRequirements([...this.requirements, ...reqs]);
  }

  /**
   * The label pairs this selector requires exactly (`k=v`, `k==v`, `k in (v)`), or undefined
   * when some clause is not an exact match. Used by `LabelIndex` to index instead of scanning.
   */
  exactPairs(): [string, string][] | undefined {
    if (this.matchesNothing) return undefined;
    const out: [string, string][] = [];
    for (const r of this.requirements) {
      const single =
        r.values.length === 1 && (r.operator === '=' || r.operator === '==' || r.operator === 'in');
      if (!single) return undefined;
      out.push([r.key, r.values[0] as string]);
    }
    return out;
  }

  /**
   * The canonical text: requirements sorted by key, joined with `,`; `in`/`notin` values
   * sorted. Parsing it yields an equivalent selector. Both special selectors print as `''`.
   */
  toString(): string {
    return this.requirements.map(String).join(',');
  }
}
