#!/usr/bin/env node
// Issue 3's benchmark: what tracing costs a syscall-heavy workload, as a ratio to bare.
// Same workload (busybox dd, 1-byte reads and writes: 2 syscalls per byte) under: bare, a raw ftrace
// instance with no reader, our collector (aggregate only), our collector (full log), strace -f.
// Run as root after `npm run build`: node bench/collector.mjs [--count N] [--runs R]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Collector } from '../dist/collector/collector.js';
import { parseConfig } from '../dist/config/config.js';
import { silentLogger } from '../dist/log/logger.js';
import { CONTAINER_EVENTS, TraceInstance, locateTracefs } from '../dist/tracefs/tracefs.js';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const COUNT = arg('--count', 300_000);
const RUNS = arg('--runs', 5);
const DD = ['/bin/busybox', 'dd', 'if=/dev/zero', 'of=/dev/null', 'bs=1', `count=${COUNT}`];

/** Start dd held at a `read` until released, so tracing can be set up on its pid first. */
function heldDd(prefix = []) {
  const script = `read x; exec ${[...prefix, ...DD].join(' ')} 2>/dev/null`;
  const child = spawn('/bin/sh', ['-c', script], { stdio: ['pipe', 'ignore', 'ignore'] });
  const exited = new Promise((r) => child.on('exit', () => r(performance.now())));
  return { child, exited, release: () => { const t = performance.now(); child.stdin.end('go\n'); return t; } };
}

async function timeBare() {
  const d = heldDd();
  const t0 = d.release();
  return (await d.exited) - t0;
}

async function timeStrace() {
  const d = heldDd(['strace', '-f', '-qq', '-o', '/dev/null']);
  const t0 = d.release();
  return (await d.exited) - t0;
}

async function timeTraced(root, mode) {
  const work = mkdtempSync(path.join(tmpdir(), 'oci-ftrace-bench-'));
  const inst = new TraceInstance(root, `oci-ftrace-bench-${process.pid}`);
  const d = heldDd();
  inst.create({ bufferSizeKb: 8192, clock: 'mono', pids: [d.child.pid], events: CONTAINER_EVENTS });
  let collector;
  let running;
  if (mode !== 'raw') {
    const config = parseConfig({ outputDir: path.join(work, 'out'), stateDir: path.join(work, 'state'), logFile: path.join(work, 'log.json'), writeLog: mode === 'log' });
    const state = { version: 1, id: 'bench', tracefsRoot: root, instance: inst.name, pid: d.child.pid, bundle: '/', clock: 'mono', arch: process.arch === 'arm64' ? 'aarch64' : 'x86_64', recordedAt: new Date().toISOString(), initialTasks: [d.child.pid] };
    collector = new Collector(state, config, silentLogger());
    running = collector.run();
  }
  const t0 = d.release();
  const elapsed = (await d.exited) - t0;
  collector?.requestStop();
  await running;
  const lost = inst.cpuStats().reduce((n, s) => n + s.overrun + s.dropped, 0);
  inst.remove();
  rmSync(work, { recursive: true, force: true });
  return { elapsed, lost };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  if (process.getuid() !== 0) throw new Error('run as root');
  if (spawnSync('strace', ['-V']).status !== 0) throw new Error('strace is not installed');
  const root = await locateTracefs();
  const rows = [];
  const measure = async (name, fn, runs = RUNS) => {
    const times = [];
    const lost = [];
    for (let i = 0; i < runs; i++) {
      const r = await fn();
      times.push(typeof r === 'number' ? r : r.elapsed);
      if (typeof r !== 'number') lost.push(r.lost);
    }
    rows.push({ name, ms: median(times), lost: lost.length ? median(lost) : undefined });
    process.stderr.write(`${name}: ${median(times).toFixed(0)} ms\n`);
  };
  await measure('bare', timeBare);
  await measure('raw ftrace instance, no reader', () => timeTraced(root, 'raw'));
  await measure('oci-ftrace collector (aggregate)', () => timeTraced(root, 'aggregate'));
  await measure('oci-ftrace collector (full log)', () => timeTraced(root, 'log'));
  // strace is two orders of magnitude slower: one run says enough and keeps the bench short.
  await measure('strace -f (1 run)', timeStrace, 1);
  const bare = rows[0].ms;
  const raw = rows[1].ms;
  console.log(`workload: busybox dd bs=1 count=${COUNT} (${2 * COUNT} syscalls); ${RUNS} runs each, medians; ${process.arch}, ${spawnSync('nproc').stdout.toString().trim()} CPUs`);
  console.log('case'.padEnd(36) + 'median ms'.padStart(11) + 'vs bare'.padStart(10) + 'vs raw'.padStart(9) + 'lost events'.padStart(13));
  for (const r of rows) {
    console.log(r.name.padEnd(36) + r.ms.toFixed(0).padStart(11) + `${(r.ms / bare).toFixed(2)}x`.padStart(10) + `${(r.ms / raw).toFixed(2)}x`.padStart(9) + String(r.lost ?? '-').padStart(13));
  }
}

await main();
