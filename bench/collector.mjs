#!/usr/bin/env node
// What draining costs a syscall-heavy workload, as a ratio to raw ftrace, and whether it keeps up.
// The workload (busybox dd, 1-byte reads and writes: 2 syscalls per byte, 1,000,000 by default) runs
// bare; under a raw ftrace instance with no reader (the kernel's own cost: the floor of any ftrace
// tracer); and drained as the agent drains a container: the default per-container budget
// (bufferKbPerContainer), buffer_percent wake-ups, the agent's drain worker thread
// (src/agent/drain-pool.ts), which lives as long as the agent and so drains every container but
// the first with its code compiled and its heap settled: aggregate only (with capability checks, as
// by default, and without) and with the text log. A fresh worker per run (the first container after
// the agent starts) has its own row. The floor of any reader: bench/page-reader.c, one per CPU,
// pages copied out and dropped (cat is not one: it takes the 0 a caught-up read returns for the end
// of the file, and stops reading). Every drained run's loss is counted and printed (the kernel's
// overrun and drops, and what it handed over that was not counted); the finish (summary written)
// and the log that follows are timed too, and so is the time the hypervisor took the VM's CPUs
// away meanwhile (steal, /proc/stat): a reader away longer than its CPU's share lasts loses events,
// whoever's the fault. strace -f once, for scale.
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
import { machineLine, median, pairedRatios, printTable, quantile, removeDir, removeTraceInstances, rounds, runsFromEnv, tempDir, withCleanup } from './lib.mjs';

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
let pageReader;

/** bench/page-reader.c, compiled into the bench's scratch directory ($CC, else cc). */
function buildPageReader() {
  const out = path.join(work, 'page-reader');
  const cc = process.env.CC || 'cc';
  const r = spawnSync(cc, ['-O2', '-o', out, new URL('./page-reader.c', import.meta.url).pathname], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot build bench/page-reader.c with ${cc}: ${r.error?.message ?? r.stderr.trim()}`);
  return out;
}

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
  const s0 = stealMs();
  const t0 = d.release();
  const workload = (await d.exited) - t0;
  return { workload, steal: stealMs() - s0 };
}

/** What each drained run lost, by case (the kernel's count and ours): printed, never hidden. */
const lossByCase = new Map();

function noteLoss(name, lost, stealMs) {
  const losses = lossByCase.get(name) ?? [];
  losses.push({ lost, stealMs });
  lossByCase.set(name, losses);
}

/** The VM's CPU time taken by the hypervisor so far, all CPUs, in ms (/proc/stat's steal, in USER_HZ ticks). */
const TICK_MS = 1000 / (Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100);
function stealMs() {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  return Number(cpu[8] ?? 0) * TICK_MS;
}

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
    if (drained === 'reader') {
      // The cheapest reader there is (bench/page-reader.c), one per CPU: pages copied out, nothing decoded.
      const cpus = readdirSync(path.join(instance.path, 'per_cpu')).filter((c) => /^cpu\d+$/.test(c));
      const readers = cpus.map((c) => spawn(pageReader, [path.join(instance.path, 'per_cpu', c, 'trace_pipe_raw')], { stdio: ['ignore', 'ignore', 'inherit'] }));
      const readersExited = readers.map((r) => new Promise((resolve) => r.on('exit', (code) => resolve(code))));
      const s0 = stealMs();
      const t0 = d.release();
      const elapsed = (await d.exited) - t0;
      const steal = stealMs() - s0;
      await instance.stop();
      const lost = instance.cpuStats().reduce((sum, s) => sum + s.overrun + s.dropped, 0);
      for (const r of readers) r.kill('SIGTERM');
      const codes = await Promise.all(readersExited);
      if (codes.some((c) => c !== 0)) throw new Error(`page-reader failed (exit codes ${codes.join(', ')})`);
      noteLoss(name, lost, steal);
      return { workload: elapsed, steal };
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
    const s0 = stealMs();
    const t0 = d.release();
    const elapsed = (await d.exited) - t0;
    const steal = stealMs() - s0;
    const cpu = process.cpuUsage(cpu0);
    if (!drained) {
      const lost = instance.cpuStats().reduce((sum, s) => sum + s.overrun + s.dropped, 0);
      return { workload: elapsed, steal, overwritten: lost };
    }
    await instance.stop();
    const f0 = performance.now();
    const { summaryPath } = await pool.finish(id, undefined);
    const finish = performance.now() - f0;
    const summary = JSON.parse(readFileSync(summaryPath, 'utf8'));
    const reads = summary.syscalls.read?.count ?? 0;
    // Lost or not, a summary must account for every read dd made.
    if (summary.loss.lost === 0 && reads < COUNT) throw new Error(`${id}: ${reads} reads counted, dd made ${COUNT}, and the summary says 0 lost`);
    noteLoss(name, summary.loss.lost, steal);
    // This process's CPU while the workload ran: the drain worker, nearly all of it.
    const columns = { workload: elapsed, steal, finish, 'drain cpu': (cpu.user + cpu.system) / 1000 };
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
    pageReader = buildPageReader();
    const hasStrace = spawnSync('strace', ['-V']).status === 0;
    console.log(`Draining: busybox dd bs=1 count=${COUNT} (${2 * COUNT} syscalls), default budget ${parseConfig({}).bufferKbPerContainer} KiB per container\n${machineLine()}`);
    const cases = [
      { name: 'raw ftrace instance, no reader', run: () => timeTraced(root, undefined) },
      { name: 'bare (not traced)', run: () => timeBare([]) },
      { name: 'raw ftrace instance, drained by a minimal C reader (one per CPU)', run: () => timeTraced(root, 'reader', { name: 'the minimal C reader' }) },
      { name: "drained by the agent's worker, aggregate only (writeLog: false)", run: () => timeTraced(root, 'aggregate', { name: 'aggregate only' }) },
      { name: 'the same, syscalls only (traceCapabilities: false)', run: () => timeTraced(root, 'aggregate', { traceCapabilities: false, name: 'syscalls only' }) },
      { name: "drained by the agent's worker, with the text log (the default)", run: () => timeTraced(root, 'log', { name: 'with the text log' }) },
      { name: "the same, the agent's first container (a fresh worker)", run: () => timeTraced(root, 'log', { fresh: true, name: 'a fresh worker, with the text log' }) },
    ];
    const results = await rounds(cases, { runs: RUNS, warmup: 1 });
    const lossy = [...lossByCase].filter(([, l]) => l.some((x) => x.lost > 0));
    printTable(`${RUNS} runs each, interleaved; ratios against raw ftrace in the same round (${lossy.length === 0 ? 'every drained run lost 0 events' : 'SOME RUNS LOST EVENTS: see below'})`, results, { columns: ['workload', 'drain cpu', 'finish', 'log after'], labels: { workload: 'workload', 'drain cpu': 'our CPU meanwhile', finish: 'finish (summary)', 'log after': 'log written after finish' } });
    const fmt = (ms) => `${Math.round(ms)} ms`;
    const steals = results.filter((r) => r.samples.steal).map((r) => `${r.name}: median ${fmt(median(r.samples.steal))}, most ${fmt(Math.max(...r.samples.steal))}`);
    console.log(`\nCPU time the hypervisor took from this VM while the workload ran (steal, all CPUs):\n  ${steals.join('\n  ')}\n`);
    for (const [name, l] of lossByCase) {
      const bad = l.filter((x) => x.lost > 0);
      const good = l.filter((x) => x.lost === 0).map((x) => x.stealMs);
      const goodSteal = good.length > 0 ? ` (the hypervisor took up to ${fmt(Math.max(...good))} in the lossless runs)` : '';
      console.log(`${name}: ${bad.length === 0 ? `0 events lost in each of ${l.length} runs (warm-up included)` : `EVENTS LOST in ${bad.length} of ${l.length} runs: ${bad.map((x) => `${x.lost} (steal ${fmt(x.stealMs)})`).join(', ')}${goodSteal}`}`);
    }
    // Any reader costs the writer something (raw ftrace has none): the drain against the cheapest one.
    const paired = (r, base, column = 'workload') => {
      const p = pairedRatios(r, base, column);
      return `${median(p).toFixed(2)}x (${quantile(p, 0.25).toFixed(2)}-${quantile(p, 0.75).toFixed(2)})`;
    };
    console.log(`\nagainst the minimal C reader, per round (p25-p75): ${results.slice(3).map((r) => `${r.name}: ${paired(r, results[2])}`).join('; ')}`);
    console.log(`\ncapability checks traced as well, against the syscall-only trace per round (p25-p75): the workload ${paired(results[3], results[4])}, our CPU ${paired(results[3], results[4], 'drain cpu')}`);
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
