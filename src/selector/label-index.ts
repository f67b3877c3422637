/**
 * An inverted index answering "which selectors match this label set" without scanning them all:
 * the question the endpoints controller asks on every pod change.
 *
 * @module
 */

import { getLabel, type LabelSource, labelEntries } from './requirement';
import { Selector } from './selector';

interface Entry {
  /** Exact pairs to verify, or undefined when the selector needs a full `matches()`. */
  readonly pairs: readonly (readonly [string, string])[] | undefined;
  readonly selector: Selector | undefined;
  /** The pair the entry is filed under (undefined: in the scan list). */
  readonly anchor: readonly [string, string] | undefined;
}

/**
 * Registers selectors by id and answers {@link LabelIndex.match} in time proportional to the
 * selectors sharing a label pair with the query, not to all selectors.
 *
 * How: each exact-match selector (a Service `spec.selector` map, or a parsed selector made only
 * of `k=v` clauses) is filed under ONE of its pairs, the one fewest registered selectors contain
 * at the time it is added; a query looks up each of its own pairs and verifies the few
 * candidates. Selectors with other operators, and the nothing-selector, go to a small scan list;
 * an empty selector (matches everything) goes to a match-all list.
 *
 * Note: an empty map here means "everything", as `labels.SelectorFromSet` does. Kubernetes
 * stores a Service's `selector: {}` as no selector at all, so callers indexing Services should
 * not register empty selectors.
 */
export class LabelIndex<Id> {
  private readonly entries = new Map<Id, Entry>();
  /** key → value → ids anchored there. */
  private readonly anchored = new Map<string, Map<string, Set<Id>>>();
  /** key → value → how many registered selectors contain that pair (anchor choice). */
  private readonly pairCounts = new Map<string, Map<string, number>>();
  private readonly matchAll = new Set<Id>();
  private readonly scan = new Set<Id>();

  /** Number of registered selectors. */
  get size(): number {
    return this.entries.size;
  }

  /** True when `id` is registered. */
  has(id: Id): boolean {
    return this.entries.has(id);
  }

  /**
   * Registers (or replaces) the selector of `id`: a label map (every pair must match) or a
   * {@link Selector}.
   */
  set(id: Id, selector: LabelSource | Selector): void {
    this.delete(id);
    const sel = selector instanceof Selector ? selector : undefined;
    const pairs: (readonly [string, string])[] | undefined = sel
      ? sel.exactPairs()
      : [...labelEntries(selector as LabelSource)];
    if (pairs === undefined) {
      this.entries.set(id, { pairs: undefined, selector: sel, anchor: undefined });
      this.scan.add(id);
      return;
    }
    if (pairs.length === 0) {
      this.entries.set(id, { pairs, selector: undefined, anchor: undefined });
      this.matchAll.add(id);
      return;
    }
    let anchor = pairs[0] as readonly [string, string];
    let best = Number.POSITIVE_INFINITY;
    for (const p of pairs) {
      const c = this.pairCounts.get(p[0])?.get(p[1]) ?? 0;
      if (c < best) {
        best = c;
        anchor = p;
      }
      this.bumpCount(p[0], p[1], 1);
    }
    let byValue = this.anchored.get(anchor[0]);
    if (!byValue) {
      byValue = new Map();
      this.anchored.set(anchor[0], byValue);
    }
    let ids = byValue.get(anchor[1]);
    if (!ids) {
      ids = new Set();
      byValue.set(anchor[1], ids);
    }
    ids.add(id);
    this.entries.set(id, { pairs, selector: undefined, anchor });
  }

  /** Removes `id`; returns whether it was registered. */
  delete(id: Id): boolean {
    const e = this.entries.get(id);
    if (!e) return false;
    this.entries.delete(id);
    this.matchAll.delete(id);
    this.scan.delete(id);
    if (e.pairs) for (const p of e.pairs) this.bumpCount(p[0], p[1], -1);
    if (e.anchor) {
      const byValue = this.anchored.get(e.anchor[0]);
      const ids = byValue?.get(e.anchor[1]);
      if (ids) {
        ids.delete(id);
        if (ids.size === 0) byValue?.delete(e.anchor[1]);
        if (byValue?.size === 0) this.anchored.delete(e.anchor[0]);
      }
    }
    return true;
  }

  /** Removes every selector. */
  clear(): void {
    this.entries.clear();
    this.anchored.clear();
    this.pairCounts.clear();
    this.matchAll.clear();
    this.scan.clear();
  }

  /** The ids whose selector matches `labels` (each once, in no particular order). */
  match(labels: LabelSource): Id[] {
    const out: Id[] = [...this.matchAll];
    for (const [k, v] of labelEntries(labels)) {
      const ids = this.anchored.get(k)?.get(v);
      if (!ids) continue;
      for (const id of ids) {
        const e = this.entries.get(id) as Entry;
        if (verify(e, labels)) out.push(id);
      }
    }
    for (const id of this.scan) {
      const e = this.entries.get(id) as Entry;
      if (e.selector?.matches(labels)) out.push(id);
    }
    return out;
  }

  private bumpCount(k: string, v: string, delta: number): void {
    let byValue = this.pairCounts.get(k);
    if (!byValue) {
      byValue = new Map();
      this.pairCounts.set(k, byValue);
    }
    const n = (byValue.get(v) ?? 0) + delta;
    if (n <= 0) {
      byValue.delete(v);
      if (byValue.size === 0) this.pairCounts.delete(k);
    } else {
      byValue.set(v, n);
    }
  }
}

function verify(e: Entry, labels: LabelSource): boolean {
  for (const [k, v] of e.pairs ?? []) if (getLabel(labels, k) !== v) return false;
  return true;
}
