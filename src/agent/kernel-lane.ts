/**
 * Creating, configuring and removing ftrace instances, one at a time. The kernel does them one at
 * a time anyway (each holds its tracing lock through an RCU grace period: 20 to 60 ms here), so
 * running them side by side gains nothing and costs the agent: each waits in a thread of libuv's
 * pool, which the drain workers' file writes share, and fifty containers stopping at once would
 * hold every thread. In the lane, what a waiting container needs now (its tracing begun or
 * stopped: a few quick writes) goes first, then the setup of instances for containers on their
 * way, then the removal of those of containers gone. A removal holds the kernel's lock longest
 * (40 to 60 ms). One container gone is removed at once, while the lane is free; but while other
 * jobs come in a burst (fifty containers deleted at once), removals wait until it is over, so that
 * each delete's stop does not wait behind another container's removal.
 */
export type LanePriority = 'now' | 'setup' | 'cleanup';

/** Two jobs asked for within this long of each other make a burst; removals wait this long after it. */
export const CLEANUP_QUIET_MS = 250;

interface Job {
  run: () => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export class KernelLane {
  private readonly queues: Record<LanePriority, Job[]> = { now: [], setup: [], cleanup: [] };
  private busy = false;
  /** When a job other than a removal was last asked for, and the time before. */
  private lastUrgentAt = -Infinity;
  private previousUrgentAt = -Infinity;
  private quietTimer: NodeJS.Timeout | undefined;

  constructor(private readonly now: () => number = () => performance.now()) {}

  run<T>(priority: LanePriority, fn: () => Promise<T>): Promise<T> {
    if (priority !== 'cleanup') {
      this.previousUrgentAt = this.lastUrgentAt;
      this.lastUrgentAt = this.now();
    }
    return new Promise<T>((resolve, reject) => {
      this.queues[priority].push({ run: fn, resolve: resolve as (v: unknown) => void, reject });
      this.next();
    });
  }

  /** Jobs waiting or running. */
  get pending(): number {
    const { now, setup, cleanup } = this.queues;
    return now.length + setup.length + cleanup.length + (this.busy ? 1 : 0);
  }

  private next(): void {
    if (this.busy) return;
    const job = this.queues.now.shift() ?? this.queues.setup.shift() ?? this.nextCleanup();
    if (!job) return;
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
    const burst = this.lastUrgentAt - this.previousUrgentAt < CLEANUP_QUIET_MS;
    const wait = this.lastUrgentAt + CLEANUP_QUIET_MS - this.now();
    if (!burst || wait <= 0) return this.queues.cleanup.shift();
    if (!this.quietTimer) {
      this.quietTimer = setTimeout(() => {
        this.quietTimer = undefined;
        this.next();
      }, Math.ceil(wait));
    }
    return undefined;
  }
}
