/**
 * An earliest-deadline-first scheduler over endpoint indices on preallocated typed arrays: the
 * scheduler gRFC A58 specifies for weighted round-robin and Envoy uses for weighted
 * least-request. Each index is a job whose period is 1/weight; the earliest deadline runs next,
 * ties go to the earlier insertion. Operations are O(log n) and allocate nothing.
 *
 * @module
 */

/**
 * A binary min-heap of indices keyed by `(deadline, insertion order)`. Keys live in heap order
 * (not by index) so a comparison reads adjacent typed-array slots, and sifting moves a hole
 * instead of swapping.
 */
export class EdfScheduler {
  private readonly index: Int32Array;
  private readonly deadline: Float64Array;
  private readonly order: Float64Array;
  private size = 0;
  private seq = 0;

  /** An empty scheduler for indices `0 .. capacity-1`. */
  constructor(capacity: number) {
    this.index = new Int32Array(capacity);
    this.deadline = new Float64Array(capacity);
    this.order = new Float64Array(capacity);
  }

  /** Number of scheduled indices. */
  get length(): number {
    return this.size;
  }

  /** Schedules `index` (not already present) at `deadline`. */
  add(index: number, deadline: number): void {
    const order = this.seq++;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pd = this.deadline[parent] as number;
      if (pd < deadline || (pd === deadline && (this.order[parent] as number) < order)) break;
      this.move(parent, i);
      i = parent;
    }
    this.index[i] = index;
    this.deadline[i] = deadline;
    this.order[i] = order;
  }

  /** The index with the earliest deadline; the scheduler must not be empty. */
  peek(): number {
    return this.index[0] as number;
  }

  /** Deadline of the earliest index. */
  peekDeadline(): number {
    return this.deadline[0] as number;
  }

  /**
   * Moves the earliest index to `deadline` (its next run) and restores heap order; returns that
   * index. This is a pop followed by a re-add, without the intermediate shrink.
   */
  reschedule(deadline: number): number {
    const index = this.index[0] as number;
    const order = this.seq++;
    const n = this.size;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n) {
        const dl = this.deadline[l] as number;
        const dr = this.deadline[r] as number;
        if (dr < dl || (dr === dl && (this.order[r] as number) < (this.order[l] as number))) c = r;
      }
      const dc = this.deadline[c] as number;
      if (deadline < dc || (deadline === dc && order < (this.order[c] as number))) break;
      this.move(c, i);
      i = c;
    }
    this.index[i] = index;
    this.deadline[i] = deadline;
    this.order[i] = order;
    return index;
  }

  private move(from: number, to: number): void {
    this.index[to] = this.index[from] as number;
    this.deadline[to] = this.deadline[from] as number;
    this.order[to] = this.order[from] as number;
  }
}
