/**
 * Creating, configuring and removing ftrace instances, one at a time. The kernel does them one at
 * a time anyway (each holds its tracing lock through an RCU grace period: 20 to 60 ms here), so
 * running them side by side gains nothing and costs the agent: each waits in a thread of libuv's
 * pool, which the drain workers' file writes share, and fifty containers stopping at once would
 * hold every thread. In the lane, what a waiting container needs now (its tracing begun or
 * stopped: a few quick writes) goes first, then the setup of instances for containers on their
 * way, then the removal of those of containers gone. A removal holds the kernel's lock longest
 * (40 to 60 ms). One container gone is removed at once, while the lane is free (its own record
 * and stop are two jobs); but while jobs come in a burst (fifty containers deleted at once),
 * removals wait until it is over, so that each delete's stop does not wait behind another
 * container's removal. An agent about to exit flushes the lane: nothing it owes the kernel stays.
 */
export type LanePriority = 'now' | 'setup' | 'cleanup';

/** BURST_JOBS jobs asked for within this long make a burst; removals wait this long after it. */
export const CLEANUP_QUIET_MS = 250;
export const BURST_JOBS = 3;

interface Job {
  run: () => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export class KernelLane {
  private readonly queues: Record<LanePriority, Job[]> = { now: [], setup: [], cleanup: [] };
  private busy = false;
  /** When the last BURST_JOBS jobs other than removals were asked for, oldest first. */
  private readonly urgentAt: number[] = [];
  private quietTimer: NodeJS.Timeout | undefined;
  private flushing = false;
  private readonly emptied: Array<() => void> = [];

  constructor(private readonly now: () => number = () => performance.now()) {}

  run<T>(priority: LanePriority, fn: () => Promise<T>): Promise<T> {
    if (priority !== 'cleanup') {
      this.urgentAt.push(this.now());
      if (this.urgentAt.length > BURST_JOBS) this.urgentAt.shift();
    }
    return new Promise<T>((resolve, reject) => {
      this.queues[priority].push({ run: fn, resolve: resolve as (v: unknown) => void, reject });
      this.next();
    });
  }

  /** Resolves once every job asked for is done, removals run without waiting out a burst. */
  flush(): Promise<void> {
    this.flushing = true;
    if (this.pending === 0) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.emptied.push(resolve));
    this.next();
    return done;
  }

  /** Jobs waiting or running. */
  get pending(): number {
    const { now, setup, cleanup } = this.queues;
    return now.length + setup.length + cleanup.length + (this.busy ? 1 : 0);
  }

  private next(): void {
    if (this.busy) return;
    const job = this.queues.now.shift() ?? this.queues.setup.shift() ?? this.nextCleanup();
    if (!job) {
      if (this.pending === 0) for (const resolve of this.emptied.splice(0)) resolve();
      return;
    }
    this.busy = true;
    job
      .run()
      .then(job.resolve, job.reject)
      .finally(() => {
        this.busy = false;
        this.next();
      });
  }

  private nextCleanup(): Job | undefined {
    if (this.queues.cleanup.length === 0) return undefined;
    // The oldest of the last BURST_JOBS urgent jobs: within the window, they are a burst.
    const oldest = this.urgentAt.length >= BURST_JOBS ? (this.urgentAt[0] as number) : -Infinity;
    const wait = oldest + CLEANUP_QUIET_MS - this.now();
    if (this.flushing || wait <= 0) return this.queues.cleanup.shift();
    if (!this.quietTimer) {
      this.quietTimer = setTimeout(() => {
        this.quietTimer = undefined;
        this.next();
      }, Math.ceil(wait));
    }
    return undefined;
  }
}
