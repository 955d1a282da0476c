// The agent's drain worker against a real instance: what it opens it closes, and its exit closes
// nothing of the agent's. Needs root and tracefs; runs the built worker (dist/, as the agent does).
import { spawn } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { beginTracing, instanceSettings, traceEvents } from '../src/agent/tracing.js';
import { parseConfig, type Config } from '../src/config/config.js';
import { silentLogger } from '../src/log/logger.js';
import type { RunState } from '../src/state/run-state.js';
import { TraceInstance } from '../src/tracefs/tracefs.js';
import { REPO_ROOT, tracefsRoot } from './lab/env.js';
import { listTracefsInstances } from './lab/leaks.js';

const PREFIX = 'oci-ftrace-drainworker-';

interface Pool {
  start(runState: RunState): Promise<void>;
  finish(id: string, annotations: undefined): Promise<{ summaryPath: string }>;
  forget(id: string): void;
  stop(): Promise<void>;
}
type PoolClass = new (config: Config, size: number, log: ReturnType<typeof silentLogger>, events: { logWritten(id: string): void; lost(ids: string[], why: string): void }) => Pool;

let root: string;
let scratch: string;
let DrainPool: PoolClass;
const instances: TraceInstance[] = [];

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('drain worker tests need root');
  const found = tracefsRoot();
  if (found === undefined) throw new Error('tracefs is not mounted at /sys/kernel/tracing');
  root = found;
  scratch = mkdtempSync(path.join(tmpdir(), PREFIX));
  // The worker's module is the built one: the pool starts it by its path beside the pool's own.
  ({ DrainPool } = (await import(path.join(REPO_ROOT, 'dist/agent/drain-pool.js'))) as { DrainPool: PoolClass });
});

afterAll(async () => {
  for (const instance of instances) await instance.removeAsync(undefined).catch(() => undefined);
  rmSync(scratch, { recursive: true, force: true });
  expect(listTracefsInstances(PREFIX)).toEqual([]);
});

/** This process's open descriptors that point at a trace_pipe_raw (the pool's worker is a thread of it). */
function openTracePipes(): string[] {
  const fds: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (path.basename(readlinkSync(`/proc/self/fd/${fd}`)) === 'trace_pipe_raw') fds.push(fd);
    } catch {
      /* closed meanwhile (readdir's own) */
    }
  }
  return fds;
}

/** A busybox shell's syscalls, drained by the pool's worker to the end. */
async function drainOneShell(pool: Pool, config: Config, n: number): Promise<void> {
  const instance = new TraceInstance(root, `${PREFIX}${process.pid}-${n}`);
  instances.push(instance);
  const child = spawn('/bin/busybox', ['sh', '-c', 'read go; i=0; while [ $i -lt 2000 ]; do i=$((i+1)); cat /proc/self/stat >/dev/null; done'], { stdio: ['pipe', 'ignore', 'inherit'] });
  const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
  const id = `drainworker-${process.pid}-${n}`;
  try {
    await instance.configure(instanceSettings(config, root));
    const runState = await beginTracing(instance, { ociVersion: '1.0.2', id, status: 'created', pid: child.pid as number, bundle: scratch }, traceEvents(config, root));
    await pool.start(runState);
  } finally {
    child.stdin.end('go\n');
  }
  expect(await exited).toBe(0);
  await instance.stop();
  const { summaryPath } = await pool.finish(id, undefined);
  const summary = JSON.parse(readFileSync(summaryPath, 'utf8')) as { loss: { lost: number }; syscalls: Record<string, { count: number }> };
  expect(summary.loss.lost).toBe(0);
  // The shell's 2,000 cats: an execve each, counted from the drained pages.
  expect(summary.syscalls.execve?.count).toBeGreaterThanOrEqual(2000);
  pool.forget(id);
  await instance.removeAsync(instance.inode());
}

describe("a drain worker's descriptors", () => {
  it('are all closed after a drain, and its exit closes none of the agent\'s', async () => {
    const config = parseConfig({ outputDir: path.join(scratch, 'out'), stateDir: path.join(scratch, 'state'), logFile: path.join(scratch, 'log.json'), writeLog: false });
    const pool = new DrainPool(config, 1, silentLogger(), { logWritten: () => undefined, lost: (ids, why) => expect.fail(`worker lost ${ids.join(',')}: ${why}`) });
    const agentFiles: number[] = [];
    try {
      // Two drains: the second's descriptors take the numbers the first's closed (its watches' by libuv).
      await drainOneShell(pool, config, 0);
      await drainOneShell(pool, config, 1);
      expect(openTracePipes()).toEqual([]);
      // The agent opens files meanwhile: they take the lowest free numbers, the worker's old ones among them.
      for (let i = 0; i < 16; i++) agentFiles.push(openSync('/dev/null', 'r'));
      await pool.stop();
      const closed = agentFiles.filter((fd) => {
        try {
          fstatSync(fd);
          return false;
        } catch {
          return true;
        }
      });
      expect(closed, 'the agent\'s descriptors that the worker\'s exit closed').toEqual([]);
    } finally {
      await pool.stop();
      for (const fd of agentFiles) {
        try {
          closeSync(fd);
        } catch {
          /* closed by the worker's exit: what the test reports */
        }
      }
    }
  });
});
