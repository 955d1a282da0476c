/**
 * The agent's drain workers (src/ingest/drain-worker.ts): a few threads, each draining some of the
 * traced containers, so that draining never runs on the control path. A container goes to the
 * worker with the fewest; workers start with the first container and stop when the agent does.
 */
import { Worker } from 'node:worker_threads';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import type { RunState } from '../state/run-state.js';
import type { Adoption } from '../ingest/drain.js';
import type { DrainCommand, DrainReply } from '../ingest/drain-worker.js';

/** Seconds between the checkpoints of a container that read something meanwhile. */
const CHECKPOINT_EVERY_MS = 10_000;
/** A worker that does not answer in this long is taken for stuck. */
const REPLY_TIMEOUT_MS = 30_000;

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

interface DrainWorker {
  worker: Worker;
  containers: Set<string>;
  pending: Map<number, Pending>;
}

export interface PoolEvents {
  /** A container's log is written (its summary says so now). */
  logWritten(id: string): void;
  /** A worker died: these containers are no longer drained (the agent adopts them anew). */
  lost(ids: string[], why: string): void;
}

type Command = DrainCommand extends infer C ? (C extends { req: number } ? Omit<C, 'req'> : never) : never;

export class DrainPool {
  private readonly workers: DrainWorker[] = [];
  private readonly where = new Map<string, DrainWorker>();
  private nextReq = 1;

  constructor(
    private readonly config: Config,
    private readonly size: number,
    private readonly log: Logger,
    private readonly events: PoolEvents,
  ) {}

  get containers(): number {
    return this.where.size;
  }

  /**
   * Start every worker now (a container is on its way): a worker's thread takes tens of
   * milliseconds to load, which a busy container's first milliseconds must not wait for.
   */
  warm(): void {
    while (this.workers.length < this.size) this.workers.push(this.spawn());
  }

  async start(runState: RunState, adoption?: Adoption): Promise<void> {
    const w = this.pick();
    w.containers.add(runState.id);
    this.where.set(runState.id, w);
    try {
      await this.ask(w, { op: 'start', runState, ...(adoption ? { adoption } : {}) });
    } catch (err) {
      w.containers.delete(runState.id);
      this.where.delete(runState.id);
      throw err;
    }
  }

  /** Drain the rest, write the summary and seccomp files; resolves before the log is rendered. */
  async finish(id: string, annotations: Record<string, string> | undefined): Promise<{ summaryPath: string; headline: string; seccompError?: string }> {
    const result = (await this.askFor(id, { op: 'finish', id, annotations })) as { summaryPath: string; headline: string; seccompError?: string };
    return result;
  }

  /** Before the runtime's exec into container id runs in process pid (whose events follow). */
  async exec(id: string, pid: number): Promise<void> {
    await this.askFor(id, { op: 'exec', id, pid });
  }

  async livedump(id: string): Promise<{ summaryPath: string }> {
    return (await this.askFor(id, { op: 'livedump', id })) as { summaryPath: string };
  }

  async abandon(id: string): Promise<void> {
    if (this.where.has(id)) await this.askFor(id, { op: 'abandon', id }).catch(() => undefined);
    this.forget(id);
  }

  has(id: string): boolean {
    return this.where.has(id);
  }

  /** Forget a container (finished): its worker keeps only its log rendering, if any. */
  forget(id: string): void {
    this.where.get(id)?.containers.delete(id);
    this.where.delete(id);
  }

  async checkpointAll(): Promise<void> {
    await Promise.all(this.workers.map((w) => this.ask(w, { op: 'checkpoint' }).catch(() => undefined)));
  }

  /**
   * Stop the workers. terminate() runs none of a worker's exit handlers (its own closing of what it
   * opened): the agent stops its pool only once every container is finished and every log written
   * (Agent.drained), when a worker holds nothing.
   */
  async stop(): Promise<void> {
    await Promise.all(this.workers.splice(0).map((w) => w.worker.terminate()));
    this.where.clear();
  }

  private askFor(id: string, cmd: Command): Promise<unknown> {
    const w = this.where.get(id);
    if (!w) return Promise.reject(new Error(`container ${id} is not being drained`));
    return this.ask(w, cmd);
  }

  private ask(w: DrainWorker, cmd: Command): Promise<unknown> {
    const req = this.nextReq++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        w.pending.delete(req);
        reject(new Error(`drain worker did not answer ${cmd.op} in ${REPLY_TIMEOUT_MS} ms`));
      }, REPLY_TIMEOUT_MS);
      w.pending.set(req, { resolve, reject, timer });
      w.worker.postMessage({ ...cmd, req });
    });
  }

  private pick(): DrainWorker {
    if (this.workers.length < this.size) {
      const w = this.spawn();
      this.workers.push(w);
      return w;
    }
    return this.workers.reduce((a, b) => (b.containers.size < a.containers.size ? b : a));
  }

  private spawn(): DrainWorker {
    // No fd tracking: a watch's descriptor is opened by fs and closed by libuv, so Node's record would
    // keep its number, and at the worker's exit close that number again: by then, as like as not,
    // another thread's descriptor (an agent's socket, log or state file; seen as the agent aborting).
    // The worker closes what it opens itself, on its exit too (drain-worker.ts).
    const worker = new Worker(new URL('../ingest/drain-worker.js', import.meta.url), { trackUnmanagedFds: false, workerData: { config: this.config, checkpointEveryMs: CHECKPOINT_EVERY_MS } });
    const w: DrainWorker = { worker, containers: new Set(), pending: new Map() };
    worker.on('message', (m: DrainReply) => {
      if (m.op === 'reply') {
        const p = w.pending.get(m.req);
        if (!p) return;
        w.pending.delete(m.req);
        clearTimeout(p.timer);
        if (m.ok) p.resolve(m.result);
        else p.reject(new Error(m.message));
      } else if (m.op === 'log-written') {
        this.events.logWritten(m.id);
      }
    });
    const died = (why: string): void => {
      const i = this.workers.indexOf(w);
      if (i >= 0) this.workers.splice(i, 1);
      for (const p of w.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error(`drain worker died: ${why}`));
      }
      w.pending.clear();
      const ids = [...w.containers];
      for (const id of ids) this.where.delete(id);
      if (ids.length > 0) this.events.lost(ids, why);
    };
    worker.on('error', (err) => {
      this.log.error({ err: err.message }, 'a drain worker failed');
      died(err.message);
    });
    worker.on('exit', (code) => died(`exit code ${code}`));
    // Draining is not a reason to keep the agent alive; its containers are.
    worker.unref();
    return w;
  }
}
