// What traced containers cost while they sit idle, as most of a node's containers do: N busybox
// containers running `sleep`, all traced by one agent. Measured: the agent's memory (RSS and PSS,
// all threads), its CPU over a quiet window, and the kernel's ring buffers per container (the
// instance's buffer_total_size_kb, all CPUs together). Then all are deleted at once, and nothing of
// ours may be left.
//
//   sudo node bench/idle.mjs               (BENCH_IDLE=N containers, default 40; BENCH_IDLE_SECONDS=S window, default 30)
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  cleanUpBench,
  FRONT_DOOR,
  SYSTEM_PATH,
  agentOf,
  benchEnvironment,
  labModules,
  machineLine,
  processUsage,
  tempDir,
  timeSync,
  waitForReport,
  withCleanup,
} from './lib.mjs';

benchEnvironment();
const count = Number(process.env.BENCH_IDLE) || 40;
const windowSeconds = Number(process.env.BENCH_IDLE_SECONDS) || 30;
const work = tempDir('oci-ftrace-bench-idle-');
const root = path.join(work, 'runc-root');
const idPrefix = `bench-idle-${process.pid}-`;
const config = { path: path.join(work, 'oci-ftrace.json'), outputDir: path.join(work, 'out'), stateDir: path.join(work, 'state'), logFile: path.join(work, 'oci-ftrace.log') };
writeFileSync(config.path, JSON.stringify({ outputDir: config.outputDir, stateDir: config.stateDir, logFile: config.logFile }));
const env = { PATH: SYSTEM_PATH, OCI_FTRACE_CONFIG: config.path };
const live = [];
const INSTANCES = '/sys/kernel/tracing/instances';

/** An instance's kernel buffer, all CPUs (buffer_total_size_kb; per-CPU size times CPUs without it). */
function bufferKb(instance) {
  const dir = path.join(INSTANCES, instance);
  const total = path.join(dir, 'buffer_total_size_kb');
  if (existsSync(total)) return Number(readFileSync(total, 'utf8').trim());
  const cpus = readdirSync(path.join(dir, 'per_cpu')).filter((d) => /^cpu\d+$/.test(d)).length;
  return Number(readFileSync(path.join(dir, 'buffer_size_kb'), 'utf8').trim()) * cpus;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const mib = (kb) => `${(kb / 1024).toFixed(1)} MiB`;

await withCleanup(
  async () => {
    const { makeBusyboxBundle } = await labModules();
    const bundle = await makeBusyboxBundle(path.join(work, 'bundle'), { args: ['sleep', '3600'] });
    console.log(`${count} idle traced containers (sleep 3600), one agent\n${machineLine()}`);

    for (let i = 0; i < count; i++) {
      const id = `${idPrefix}${i}`;
      live.push(id);
      timeSync(FRONT_DOOR, ['--root', root, 'create', '--bundle', bundle.bundleDir, id], { env, outputFile: path.join(work, 'runtime.out') });
      timeSync(FRONT_DOOR, ['--root', root, 'start', id], { env });
    }
    const agent = agentOf(config.stateDir);
    if (!agent) throw new Error(`no agent serves ${config.stateDir}`);
    // Let start-up work (JIT, first checkpoints) settle before the quiet window.
    await sleep(5000);

    const before = processUsage(agent.pid);
    const t0 = performance.now();
    await sleep(windowSeconds * 1000);
    const after = processUsage(agent.pid);
    const elapsedMs = performance.now() - t0;
    const buffers = live.map((id) => bufferKb(`oci-ftrace-${id}`));
    const cpuPercent = (100 * (after.cpuMs - before.cpuMs)) / elapsedMs;

    console.log(`\nagent (pid ${agent.pid}, all its threads):`);
    console.log(`  RSS ${mib(after.rssKb)}, PSS ${mib(after.pssKb)} for ${count} containers`);
    console.log(`  CPU over ${windowSeconds} s idle: ${cpuPercent.toFixed(2)}% of one core in all (${(after.cpuMs - before.cpuMs).toFixed(0)} ms)`);
    console.log(`kernel ring buffers: ${mib(Math.max(...buffers))} per container at most, ${mib(buffers.reduce((a, b) => a + b, 0))} in all`);

    const started = performance.now();
    for (const id of live) timeSync(FRONT_DOOR, ['--root', root, 'delete', '--force', id], { env });
    console.log(`deleted all ${count} (delete --force, one after another): ${(performance.now() - started).toFixed(0)} ms`);
    const summaries = await Promise.all(live.map((id) => waitForReport(config.outputDir, id)));
    const lost = summaries.reduce((n, s) => n + s.loss.lost, 0);
    console.log(`reports: ${summaries.length} of ${count}, ${lost} events lost in all`);
    live.length = 0;
    await sleep(5000);
    const left = existsSync(INSTANCES) ? readdirSync(INSTANCES).filter((n) => n.startsWith(`oci-ftrace-${idPrefix}`)) : [];
    const state = existsSync(config.stateDir) ? readdirSync(config.stateDir).filter((f) => f !== 'agent.json' && !f.startsWith('.')) : [];
    console.log(`5 s later: ${left.length} instances and ${state.length} state files left`);
    if (left.length || state.length || lost) process.exitCode = 1;
  },
  () => cleanUpBench({ root, ids: live, stateDirs: [config.stateDir], idPrefix, work }),
);
