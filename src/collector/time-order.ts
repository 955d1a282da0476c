import type { TraceEvent } from '../trace/events.js';

/**
 * Per-CPU buffers are each in time order, but a task that migrates can have its entry on one CPU
 * and its exit on another, read in different rounds. Events are held until every CPU has been
 * drained past them (the watermark: the monotonic clock when the round began, minus a margin for
 * commits in flight), then released in global time order.
 */
export class TimeOrderBuffer {
  private pending: TraceEvent[] = [];

  add(events: readonly TraceEvent[]): void {
    for (const e of events) this.pending.push(e);
  }

  /** Release, sorted, every event at or before the watermark (seconds); Infinity releases all. */
  release(watermark: number): TraceEvent[] {
    if (this.pending.length === 0) return [];
    this.pending.sort((a, b) => a.timestamp - b.timestamp);
    let cut = this.pending.length;
    if (watermark !== Infinity) {
      cut = 0;
      while (cut < this.pending.length && (this.pending[cut] as TraceEvent).timestamp <= watermark) cut++;
    }
    const out = this.pending.slice(0, cut);
    this.pending = this.pending.slice(cut);
    return out;
  }

  get size(): number {
    return this.pending.length;
  }
}
