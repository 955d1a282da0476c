import type { TraceEvent } from '../trace/events.js';

/**
 * Per-CPU buffers are each in time order, but a task that migrates can have its entry on one CPU
 * and its exit on another, read in different rounds. Events are held per CPU until every CPU has
 * been drained past them (the watermark: the monotonic clock when the round began, minus a margin
 * for commits in flight), then released in global time order by merging the per-CPU queues: linear
 * in the number of events, since each queue is already sorted.
 */
export class TimeOrderBuffer {
  private readonly queues = new Map<number, { events: TraceEvent[]; head: number }>();

  add(cpu: number, events: readonly TraceEvent[]): void {
    let q = this.queues.get(cpu);
    if (!q) {
      q = { events: [], head: 0 };
      this.queues.set(cpu, q);
    }
    for (const e of events) q.events.push(e);
  }

  /** Release, in time order, every event at or before the watermark (seconds); Infinity releases all. */
  release(watermark: number, emit: (e: TraceEvent) => void): number {
    const qs = [...this.queues.values()].filter((q) => q.head < q.events.length);
    let released = 0;
    for (;;) {
      let best: { events: TraceEvent[]; head: number } | undefined;
      let bestTs = Infinity;
      for (const q of qs) {
        if (q.head >= q.events.length) continue;
        const ts = (q.events[q.head] as TraceEvent).timestamp;
        if (ts < bestTs) {
          bestTs = ts;
          best = q;
        }
      }
      if (!best || (watermark !== Infinity && bestTs > watermark)) break;
      emit(best.events[best.head] as TraceEvent);
      best.head += 1;
      released += 1;
    }
    // Drop what was released, without shifting element by element.
    for (const q of this.queues.values()) {
      if (q.head === q.events.length) {
        q.events = [];
        q.head = 0;
      } else if (q.head > 4096) {
        q.events = q.events.slice(q.head);
        q.head = 0;
      }
    }
    return released;
  }

  get size(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.events.length - q.head;
    return n;
  }
}
