// Where the time of our Node steps goes: Node's own start, loading our code, and the kernel's
// tracefs work. Each step run alone, as the runtime runs it, bundled (dist/bundle/, what the
// launcher and hooks use) against tsc's output (dist/, what they used before the bundles).
//
//   sudo node bench/hooks.mjs              (BENCH_RUNS=N, default 30)
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO, SYSTEM_PATH, benchEnvironment, killProcessesNaming, labModules, machineLine, median, nodeBinary, printTable, removeDir, removeTraceInstances, rounds, runsFromEnv, tempDir, timeSync, withCleanup } from './lib.mjs';

benchEnvironment();
const runs = runsFromEnv(30);
const work = tempDir('oci-ftrace-bench-hooks-');
const node = nodeBinary();
const configPath = path.join(work, 'oci-ftrace.json');
// No collector: this measures the hook itself (the collector runs detached, not waited for).
writeFileSync(configPath, JSON.stringify({ outputDir: path.join(work, 'out'), stateDir: path.join(work, 'state'), logFile: path.join(work, 'oci-ftrace.log'), collector: false }));
const env = { PATH: SYSTEM_PATH, OCI_FTRACE_CONFIG: configPath };
const CLI = { bundled: path.join(REPO, 'dist', 'bundle', 'cli', 'oci-ftrace.js'), tsc: path.join(REPO, 'dist', 'cli', 'oci-ftrace.js') };
const PREPARE = { bundled: path.join(REPO, 'dist', 'bundle', 'cli', 'runc-prepare.js'), tsc: path.join(REPO, 'dist', 'cli', 'runc-prepare.js') };
const idPrefix = `bench-hooks-${process.pid}-`;
let n = 0;

/** The kernel's part of record: each tracefs write record-hook.ts makes, timed in this process. */
function tracefsBreakdown(pid) {
  const root = '/sys/kernel/tracing/instances';
  const steps = {};
  const time = (name, fn) => {
    const started = performance.now();
    fn();
    (steps[name] ??= []).push(performance.now() - started);
  };
  for (let i = 0; i < Math.min(runs, 10); i++) {
    const dir = `${root}/oci-ftrace-${idPrefix}tracefs-${i}`;
    time('mkdir instances/NAME', () => mkdirSync(dir));
    time('buffer_size_kb 8192', () => writeFileSync(`${dir}/buffer_size_kb`, '8192'));
    time('trace_clock mono', () => writeFileSync(`${dir}/trace_clock`, 'mono'));
    time('options, set_event_pid, 5 events, tracing_on', () => {
      for (const o of ['event-fork', 'record-tgid']) writeFileSync(`${dir}/options/${o}`, '1');
      writeFileSync(`${dir}/set_event_pid`, String(pid));
      for (const e of ['raw_syscalls/sys_enter', 'raw_syscalls/sys_exit', 'sched/sched_process_exec', 'sched/sched_process_fork', 'sched/sched_process_exit']) writeFileSync(`${dir}/events/${e}/enable`, '1');
      writeFileSync(`${dir}/tracing_on`, '1');
    });
    time('rmdir instances/NAME (at report)', () => rmdirSync(dir));
  }
  console.log('\ntracefs, in one process (median ms):');
  for (const [name, samples] of Object.entries(steps)) console.log(`  ${name.padEnd(46)} ${median(samples).toFixed(1)}`);
}

await withCleanup(
  async () => {
    const { makeBusyboxBundle } = await labModules();
    const bundle = await makeBusyboxBundle(path.join(work, 'bundle'), { args: ['true'] });
    const pristine = readFileSync(bundle.configPath, 'utf8');
    const optedOut = JSON.stringify({ ...JSON.parse(pristine), annotations: { 'oci-ftrace/trace': 'false' } });
    writeFileSync(path.join(work, 'empty.cjs'), '');
    // The "container": a process to trace that sits still.
    const sleeper = spawn('sleep', ['3600'], { stdio: 'ignore' });
    const state = (id, pid) => JSON.stringify({ ociVersion: '1.0.2', id, status: 'created', pid, bundle: bundle.bundleDir });

    const record = (kind, pid) => ({
      name: `record ${pid ? '(tracefs work included)' : '(no pid: all but the tracefs work)'}, ${kind}`,
      run: () => {
        const id = `${idPrefix}${n++}`;
        const ms = timeSync(node, [CLI[kind], 'record'], { env, input: state(id, pid), stdio: ['pipe', 'ignore', 'ignore'] });
        // Untimed: the report removes the instance and the run state again.
        if (pid) spawnSync(node, [CLI.bundled, 'report'], { env, input: state(id, pid), stdio: ['pipe', 'ignore', 'ignore'] });
        return ms;
      },
    });
    const prepare = (kind, traced) => ({
      name: `prepare step, ${traced ? 'adds the hooks' : 'opted out (reads, validates, adds nothing)'}, ${kind}`,
      before: () => writeFileSync(bundle.configPath, traced ? pristine : optedOut),
      run: () => timeSync(node, [PREPARE[kind], 'create', '--bundle', bundle.bundleDir, `${idPrefix}${n++}`], { env }),
    });
    const cases = [
      { name: 'node, empty script (the floor)', run: () => timeSync(node, [path.join(work, 'empty.cjs')], { env }) },
      record('bundled', 0),
      record('tsc', 0),
      record('bundled', sleeper.pid),
      record('tsc', sleeper.pid),
      prepare('bundled', false),
      prepare('tsc', false),
      prepare('bundled', true),
      prepare('tsc', true),
    ];
    console.log(`Our Node steps, each alone (config: collector off)\n${machineLine()}`);
    const results = await rounds(cases, { runs, warmup: 2 });
    printTable(`${runs} runs each, interleaved; ratio against Node's own start`, results);
    tracefsBreakdown(sleeper.pid);
    sleeper.kill();
  },
  () => {
    killProcessesNaming(idPrefix);
    removeTraceInstances(`oci-ftrace-${idPrefix}`);
    removeDir(work);
  },
);
