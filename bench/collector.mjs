#!/usr/bin/env node
// What draining costs a syscall-heavy workload, as a ratio to raw ftrace, and whether it keeps up.
// The workload (busybox dd, 1-byte reads and writes: 2 syscalls per byte, 1,000,000 by default) runs
// bare; under a raw ftrace instance with no reader (the kernel's own cost: the floor of any ftrace
// tracer); and drained as the agent drains a container: the default per-container budget
// (bufferKbPerContainer), buffer_percent wake-ups, the agent's drain worker thread
// (src/agent/drain-pool.ts), which lives as long as the agent and so drains every container but
// the first with its code compiled and its heap settled: aggregate only (with capability checks, as
// by default, and without) and with the text log. A fresh worker per run (the first container after
// the agent starts) has its own row. Every drained run's loss is counted and printed (the kernel's
// overrun and drops, and what it handed over that was not counted); the finish (summary written)
// and the log that follows are timed too. strace -f once, for scale.
//
//   sudo node bench/collector.mjs [--count N] [--runs R]        (after npm run build)
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { DrainPool } from '../dist/agent/drain-pool.js';
import { beginTracing, instanceSettings, traceEvents } from '../dist/agent/tracing.js';
import { parseConfig } from '../dist/config/config.js';
import { silentLogger } from '../dist/log/logger.js';
import { TraceInstance, locateTracefs } from '../dist/tracefs/tracefs.js';
import { machineLine, median, printTable, removeDir, removeTraceInstances, rounds, runsFromEnv, tempDir, withCleanup } from './lib.mjs';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const COUNT = arg('--count', 500_000);
const RUNS = arg('--runs', runsFromEnv(5));
const dd = (count) => ['/bin/busybox', 'dd', 'if=/dev/zero', 'of=/dev/null', 'bs=1', `count=${count}`];
const work = tempDir('oci-ftrace-bench-collector-');
const prefix = `oci-ftrace-bench-collector-${process.pid}-`;
let n = 0;

/** dd held at a `read` until released, so that tracing can be set up on its pid first. */
function heldDd(wrapper = [], count = COUNT) {
  const child = spawn('/bin/sh', ['-c', `read x; exec ${[...wrapper, ...dd(count)].join(' ')} 2>/dev/null`], { stdio: ['pipe', 'ignore', 'ignore'] });
  const exited = new Promise((resolve) => child.on('exit', () => resolve(performance.now())));
  return {
    pid: child.pid,
    exited,
    release: () => {
      child.stdin.end('go\n');
      return performance.now();
    },
  };
}

async function timeBare(wrapper, count) {
  const d = heldDd(wrapper, count);
  const t0 = d.release();
  return { workload: (await d.exited) - t0 };
}

/** What each drained run lost, by case (the kernel's count and ours): printed, never hidden. */
const lossByCase = new Map();

/** Log writes awaited, by container id. */
const logWaits = new Map();

/** One drain pool per config, kept across runs as the agent keeps its workers across containers. */
const agentPools = new Map();
function poolFor(config, fresh) {
  const make = () => new DrainPool(config, 1, silentLogger(), { logWritten: (id) => logWaits.get(id)?.(performance.now()), lost: (ids, why) => console.error(`drain worker lost ${ids}: ${why}`) });
  if (fresh) return make();
  const key = JSON.stringify(config);
  if (!agentPools.has(key)) agentPools.set(key, make());
  return agentPools.get(key);
}

/** The workload on an instance set up as the agent sets one up; drained (or not) as it drains. */
async function timeTraced(root, drained, { traceCapabilities = true, fresh = false, name = drained } = {}) {
  const id = `bench-collector-${process.pid}-${n}`;
  const config = parseConfig({ outputDir: path.join(work, 'out'), stateDir: path.join(work, 'state'), logFile: path.join(work, 'log.json'), writeLog: drained === 'log' });
  const instance = new TraceInstance(root, `${prefix}${n++}`);
  const d = heldDd();
  await instance.configure(instanceSettings(config, root));
  let pool;
  let logWritten;
  try {
    const runState = await beginTracing(instance, { ociVersion: '1.0.2', id, status: 'created', pid: d.pid, bundle: work }, traceEvents(parseConfig({ traceCapabilities }), root));
    if (drained === 'cat') {
      // The cheapest reader there is: one cat per CPU copying trace_pipe_raw to /dev/null.
      const cpus = readdirSync(path.join(instance.path, 'per_cpu')).filter((c) => /^cpu\d+$/.test(c));
      const cats = cpus.map((c) => spawn('cat', [path.join(instance.path, 'per_cpu', c, 'trace_pipe_raw')], { stdio: ['ignore', 'ignore', 'ignore'] }));
      // (A reader may end by itself once tracing stops: listen from the start.)
      const catsExited = cats.map((c) => new Promise((resolve) => c.on('exit', resolve)));
      const t0 = d.release();
      const elapsed = (await d.exited) - t0;
      await instance.stop();
      const lost = instance.cpuStats().reduce((sum, s) => sum + s.overrun + s.dropped, 0);
      for (const c of cats) c.kill();
      await Promise.all(catsExited);
      return { workload: elapsed, overwritten: lost };
    }
    if (drained) {
      logWritten = new Promise((resolve) => logWaits.set(id, resolve));
      pool = poolFor(config, fresh);
      if (fresh) {
        // As in the agent: workers start when a container is prepared; the record step (start)
        // follows the runtime's create, some 50 ms on this kind of machine.
        pool.warm();
        await new Promise((r) => setTimeout(r, 50));
      }
      await pool.start(runState);
    }
    const cpu0 = process.cpuUsage();
    const t0 = d.release();
    const elapsed = (await d.exited) - t0;
    const cpu = process.cpuUsage(cpu0);
    if (!drained) {
      const lost = instance.cpuStats().reduce((sum, s) => sum + s.overrun + s.dropped, 0);
      return { workload: elapsed, overwritten: lost };
    }
    await instance.stop();
    const f0 = performance.now();
    const { summaryPath } = await pool.finish(id, undefined);
    const finish = performance.now() - f0;
    const summary = JSON.parse(readFileSync(summaryPath, 'utf8'));
    const reads = summary.syscalls.read?.count ?? 0;
    // Lost or not, a summary must account for every read dd made.
    if (summary.loss.lost === 0 && reads < COUNT) throw new Error(`${id}: ${reads} reads counted, dd made ${COUNT}, and the summary says 0 lost`);
    const losses = lossByCase.get(name) ?? [];
    losses.push(summary.loss.lost);
    lossByCase.set(name, losses);
    // This process's CPU while the workload ran: the drain worker, nearly all of it.
    const columns = { workload: elapsed, finish, 'drain cpu': (cpu.user + cpu.system) / 1000 };
    if (drained === 'log') columns['log after'] = (await logWritten) - f0;
    pool.forget(id);
    logWaits.delete(id);
    return columns;
  } finally {
    if (fresh) await pool?.stop();
    await instance.removeAsync(instance.inode()).catch(() => undefined);
  }
}

// The drain workers do not hold the event loop open (in the agent, its socket does): this does here.
const keepAlive = setInterval(() => undefined, 1000);
await withCleanup(
  async () => {
    if (process.getuid() !== 0) throw new Error('run as root');
    const root = await locateTracefs();
    const hasStrace = spawnSync('strace', ['-V']).status === 0;
    console.log(`Draining: busybox dd bs=1 count=${COUNT} (${2 * COUNT} syscalls), default budget ${parseConfig({}).bufferKbPerContainer} KiB per container\n${machineLine()}`);
    const cases = [
      { name: 'raw ftrace instance, no reader', run: () => timeTraced(root, undefined) },
      { name: 'bare (not traced)', run: () => timeBare([]) },
      { name: 'raw ftrace instance, drained by cat (one per CPU)', run: () => timeTraced(root, 'cat') },
      { name: "drained by the agent's worker, aggregate only (writeLog: false)", run: () => timeTraced(root, 'aggregate', { name: 'aggregate only' }) },
      { name: 'the same, syscalls only (traceCapabilities: false)', run: () => timeTraced(root, 'aggregate', { traceCapabilities: false, name: 'syscalls only' }) },
      { name: "drained by the agent's worker, with the text log (the default)", run: () => timeTraced(root, 'log', { name: 'with the text log' }) },
      { name: "the same, the agent's first container (a fresh worker)", run: () => timeTraced(root, 'log', { fresh: true, name: 'a fresh worker, with the text log' }) },
    ];
    const results = await rounds(cases, { runs: RUNS, warmup: 1 });
    const lossy = [...lossByCase].filter(([, l]) => l.some((x) => x > 0));
    printTable(`${RUNS} runs each, interleaved; ratios against raw ftrace (${lossy.length === 0 ? 'every drained run lost 0 events' : 'SOME RUNS LOST EVENTS: see below'})`, results, { columns: ['workload', 'drain cpu', 'finish', 'log after'], labels: { workload: 'workload', 'drain cpu': 'our CPU meanwhile', finish: 'finish (summary)', 'log after': 'log written after finish' } });
    for (const [name, l] of lossByCase) {
      const bad = l.filter((x) => x > 0);
      console.log(`${name}: ${bad.length === 0 ? `0 events lost in each of ${l.length} runs (warm-up included)` : `EVENTS LOST in ${bad.length} of ${l.length} runs: ${bad.join(', ')}`}`);
    }
    const caps = median(results[3].samples.workload);
    const syscallsOnly = median(results[4].samples.workload);
    console.log(`\ncapability checks traced as well: ${(caps / syscallsOnly).toFixed(3)}x the syscall-only trace (medians, ${caps.toFixed(0)} vs ${syscallsOnly.toFixed(0)} ms)`);
    const overwritten = results[0].samples.overwritten;
    console.log(`\nraw instance with no reader: the kernel overwrote a median ${median(overwritten)} events per run (nothing drains it)`);
    if (hasStrace) {
      // A hundredth of the calls: strace costs two orders of magnitude more per call.
      const s = await timeBare(['strace', '-f', '-qq', '-o', '/dev/null'], COUNT / 100);
      console.log(`strace -f, once, for scale, on ${COUNT / 50} syscalls: ${((100 * s.workload) / median(results[0].samples.workload)).toFixed(0)}x raw ftrace per call`);
    }
  },
  async () => {
    clearInterval(keepAlive);
    for (const pool of agentPools.values()) await pool.stop();
    removeTraceInstances(prefix);
    removeDir(work);
  },
);
