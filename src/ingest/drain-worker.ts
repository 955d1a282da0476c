/**
 * A drain worker: a thread of the agent that drains some of the traced containers' ring buffers
 * (Drain), apart from the agent's control path, so that a busy container never delays a hook. It
 * is told what to do by messages (DrainCommand, checked with zod) and answers each with a
 * DrainReply; between them its event loop only wakes when a CPU's buffer reaches its wake-up level.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { z } from 'zod';
import { ConfigSchema } from '../config/config.js';
import { closeFileLogger, createFileLogger } from '../log/logger.js';
import { writeContainerSeccompFiles } from '../profile/container-profile.js';
import { SummarySchema, reportHeadline } from '../report/summary.js';
import { RunStateSchema } from '../state/run-state.js';
import { Drain } from './drain.js';
import { DRAIN_NICE, RENDER_NICE, currentThreadId, setThreadNice } from './thread-priority.js';

const Annotations = z.record(z.string(), z.string()).optional();

export const DrainCommandSchema = z.discriminatedUnion('op', [
  z.object({
    op: z.literal('start'),
    req: z.number(),
    runState: RunStateSchema,
    adoption: z.object({ checkpoint: z.object({ consumed: z.number(), summary: SummarySchema }).optional(), lostWithAgent: z.number(), readEvents: z.number() }).optional(),
  }),
  z.object({ op: z.literal('finish'), req: z.number(), id: z.string(), annotations: Annotations }),
  z.object({ op: z.literal('livedump'), req: z.number(), id: z.string() }),
  /** The runtime's exec into the container is about to run in this process: trace it as exec'd. */
  z.object({ op: z.literal('exec'), req: z.number(), id: z.string(), pid: z.number().int().positive() }),
  z.object({ op: z.literal('abandon'), req: z.number(), id: z.string() }),
  z.object({ op: z.literal('checkpoint'), req: z.number() }),
]);
export type DrainCommand = z.infer<typeof DrainCommandSchema>;

export type DrainReply =
  | { op: 'reply'; req: number; ok: true; result?: unknown }
  | { op: 'reply'; req: number; ok: false; message: string }
  | { op: 'log-written'; id: string }
  | { op: 'failed'; id: string; message: string };

const WorkerDataSchema = z.object({ config: ConfigSchema, checkpointEveryMs: z.number().int().positive() });

function main(): void {
  const port = parentPort;
  if (!port) throw new Error('drain-worker runs as a worker thread of the agent');
  const { config, checkpointEveryMs } = WorkerDataSchema.parse(workerData);
  const log = createFileLogger({ file: config.logFile, level: config.logLevel, component: 'drain' });
  const drains = new Map<string, Drain>();
  // Every drain that holds files (its ring buffer's, its log's), finished ones still rendering too.
  const holding = new Set<Drain>();
  // Node does not close this thread's descriptors when it ends (drain-pool.ts): a worker that dies
  // closes them here, so that its instances can be removed and no log or spool file stays open.
  process.on('exit', () => {
    for (const d of holding) d.abandon();
    // Last: the drains log through children of it.
    closeFileLogger(log);
  });
  const send = (m: DrainReply): void => port.postMessage(m);
  const tid = currentThreadId();
  const refused = setThreadNice(tid, DRAIN_NICE);
  if (refused) log.warn({ err: refused }, `drain worker: cannot raise its priority (nice ${DRAIN_NICE}); under CPU contention a busy container may outrun it`);
  // The log renders at the containers' level, draining (between slices) above it.
  const renderSlices = refused ? undefined : { begin: () => void setThreadNice(tid, RENDER_NICE), end: () => void setThreadNice(tid, DRAIN_NICE) };

  // One timer for all of this worker's containers, and it writes only for those that changed.
  const checkpoints = setInterval(() => {
    for (const d of drains.values()) {
      try {
        d.checkpoint();
      } catch (err) {
        log.warn({ id: d.id, err: (err as Error).message }, 'cannot write a checkpoint');
      }
    }
  }, checkpointEveryMs);
  checkpoints.unref();

  const drainOf = (id: string): Drain => {
    const d = drains.get(id);
    if (!d) throw new Error(`container ${id} is not drained here`);
    return d;
  };

  port.on('message', (raw: unknown) => {
    const parsed = DrainCommandSchema.safeParse(raw);
    if (!parsed.success) {
      log.error({ err: parsed.error.issues[0]?.message }, 'drain worker: a command it does not understand');
      return;
    }
    const cmd = parsed.data;
    try {
      switch (cmd.op) {
        case 'start': {
          const drain = new Drain(cmd.runState, config, log.child({ id: cmd.runState.id }), cmd.adoption);
          drains.set(cmd.runState.id, drain);
          holding.add(drain);
          send({ op: 'reply', req: cmd.req, ok: true });
          break;
        }
        case 'livedump':
          send({ op: 'reply', req: cmd.req, ok: true, result: { summaryPath: drainOf(cmd.id).liveDump() } });
          break;
        case 'exec':
          drainOf(cmd.id).enterExec(cmd.pid);
          send({ op: 'reply', req: cmd.req, ok: true });
          break;
        case 'checkpoint':
          for (const d of drains.values()) d.checkpoint();
          send({ op: 'reply', req: cmd.req, ok: true });
          break;
        case 'abandon': {
          const drain = drains.get(cmd.id);
          drain?.abandon();
          if (drain) holding.delete(drain);
          drains.delete(cmd.id);
          send({ op: 'reply', req: cmd.req, ok: true });
          break;
        }
        case 'finish': {
          const drain = drainOf(cmd.id);
          drains.delete(cmd.id);
          let done: ReturnType<Drain['finish']>;
          try {
            done = drain.finish();
          } catch (err) {
            drain.abandon();
            holding.delete(drain);
            throw err;
          }
          void finishReport(drain, done, cmd.annotations, cmd.req);
          break;
        }
      }
    } catch (err) {
      send({ op: 'reply', req: cmd.req, ok: false, message: (err as Error).message.split('\n')[0] ?? 'failed' });
    }
  });

  /** The seccomp files, the answer (the report is done), then the log, off the stop path. */
  async function finishReport(drain: Drain, done: ReturnType<Drain['finish']>, annotations: Record<string, string> | undefined, req: number): Promise<void> {
    const facts = drain.facts();
    let seccompError: string | undefined;
    try {
      const outDir = done.summaryPath.slice(0, done.summaryPath.lastIndexOf('/'));
      await writeContainerSeccompFiles(done.summary, { outDir, config, annotations, bundleSeccomp: facts.bundleSeccomp });
    } catch (err) {
      seccompError = (err as Error).message.split('\n')[0];
      log.error({ id: drain.id, err: seccompError }, 'seccomp profile not written');
    }
    send({ op: 'reply', req, ok: true, result: { summaryPath: done.summaryPath, headline: reportHeadline(done.summary), seccompError } });
    try {
      await drain.renderLog(done.summary, done.summaryPath, renderSlices);
      send({ op: 'log-written', id: drain.id });
    } catch (err) {
      drain.abandon();
      log.error({ id: drain.id, err: (err as Error).message }, 'cannot write the syscall log');
      send({ op: 'log-written', id: drain.id });
    } finally {
      holding.delete(drain);
    }
  }
}

main();
