interface Due {
  expiresAt: number;
  id: string;
}

/**
 * A binary min-heap of (expiresAt, id), so a sweep finds due records without scanning every session.
 * Touching a record pushes a new entry and leaves the old one behind; callers ignore stale entries and
 * rebuild the heap when stale ones outnumber live records.
 */
export class ExpiryQueue {
  #heap: Due[] = [];

  get size(): number {
    return this.#heap.length;
  }

  push(expiresAt: number, id: string): void {
    const heap = this.#heap;
    heap.push({ expiresAt, id });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((heap[parent] as Due).expiresAt <= expiresAt) break;
      [heap[i], heap[parent]] = [heap[parent] as Due, heap[i] as Due];
      i = parent;
    }
  }

  /** Removes and returns the earliest entry if it is due at `now`. */
  popDue(now: number): Due | undefined {
    const heap = this.#heap;
    const top = heap[0];
    if (top === undefined || top.expiresAt > now) return undefined;
    const last = heap.pop() as Due;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && (heap[left] as Due).expiresAt < (heap[smallest] as Due).expiresAt)
          smallest = left;
        if (
          right < heap.length &&
          (heap[right] as Due).expiresAt < (heap[smallest] as Due).expiresAt
        ) {
          smallest = right;
        }
        if (smallest === i) break;
        [heap[i], heap[smallest]] = [heap[smallest] as Due, heap[i] as Due];
        i = smallest;
      }
    }
    return top;
  }

  /** Replaces the content with exactly these entries. */
  rebuild(entries: Iterable<Due>): void {
    this.#heap = [];
    for (const { expiresAt, id } of entries) this.push(expiresAt, id);
  }

  clear(): void {
    this.#heap = [];
  }
}
