// Where the time of a traced container's steps goes, each step run alone as the runtime runs it:
// the hooks as bin/oci-ftrace-hook runs them, served by a collector that is up (what a traced
// container normally pays), against the Node hooks they fall back to (Node's start, our code and
// the kernel's instance setup), and the prepare step. Then the kernel's tracefs work, timed in
// this process.
//
//   sudo node bench/hooks.mjs              (BENCH_RUNS=N, default 30)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO, SYSTEM_PATH, benchEnvironment, killProcessesNaming, labModules, machineLine, median, nodeBinary, printTable, removeDir, removeTraceInstances, rounds, runsFromEnv, tempDir, timeSync, withCleanup } from './lib.mjs';

benchEnvironment();
const runs = runsFromEnv(30);
const work = tempDir('oci-ftrace-bench-hooks-');
const node = nodeBinary();
const base = { outputDir: path.join(work, 'out'), stateDir: path.join(work, 'state'), logFile: path.join(work, 'oci-ftrace.log') };
const configs = { served: path.join(work, 'served.json'), node: path.join(work, 'node.json') };
writeFileSync(configs.served, JSON.stringify(base));
// No collector: the Node record hook alone (the collector it would start is not waited for).
writeFileSync(configs.node, JSON.stringify({ ...base, collector: false }));
const envFor = (config) => ({ PATH: SYSTEM_PATH, OCI_FTRACE_CONFIG: config });
const CLI = path.join(REPO, 'dist', 'bundle', 'cli', 'oci-ftrace.js');
const PREPARE = path.join(REPO, 'dist', 'bundle', 'cli', 'runc-prepare.js');
const idPrefix = `bench-hooks-${process.pid}-`;
let n = 0;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The kernel's part of record: each tracefs write, timed in this process. */
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
    time('buffer_size_kb 16384', () => writeFileSync(`${dir}/buffer_size_kb`, '16384'));
    time('trace_clock mono', () => writeFileSync(`${dir}/trace_clock`, 'mono'));
    time('options, set_event_pid, 5 events, tracing_on', () => {
      for (const o of ['event-fork', 'record-tgid']) writeFileSync(`${dir}/options/${o}`, '1');
      writeFileSync(`${dir}/set_event_pid`, String(pid));
      for (const e of ['raw_syscalls/sys_enter', 'raw_syscalls/sys_exit', 'sched/sched_process_exec', 'task/task_newtask', 'task/task_rename', 'sched/sched_process_exit']) writeFileSync(`${dir}/events/${e}/enable`, '1');
      writeFileSync(`${dir}/tracing_on`, '1');
    });
    time('rmdir instances/NAME', () => rmdirSync(dir));
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
    const state = (id, pid, status = 'created') => JSON.stringify({ ociVersion: '1.0.2', id, status, pid, bundle: bundle.bundleDir });

    /**
     * A collector up and serving a fresh container id: the prepare step (untimed) starts it, and
     * its log says when it listens. Returns the hooks the prepare step wrote into config.json.
     */
    const served = {};
    const serve = async () => {
      writeFileSync(bundle.configPath, pristine);
      const id = `${idPrefix}${n++}`;
      spawnSync(node, [PREPARE, 'create', '--bundle', bundle.bundleDir, id], { env: envFor(configs.served), stdio: 'ignore' });
      const spec = JSON.parse(readFileSync(bundle.configPath, 'utf8'));
      const instance = `/sys/kernel/tracing/instances/oci-ftrace-${id}/trace_clock`;
      for (let i = 0; i < 500 && !(existsSync(instance) && readFileSync(instance, 'utf8').includes('[mono]')); i++) await sleep(2);
      await sleep(50); // its FIFOs open, its loop waiting
      served.id = id;
      served.hooks = { record: spec.hooks.createRuntime.at(-1), report: spec.hooks.poststop.at(-1) };
    };
    /** Runs one hook as runc does: its path, its args after argv[0], its env, the state on stdin. */
    const runHook = (hook, input) => timeSync(hook.path, hook.args.slice(1), { env: Object.fromEntries(hook.env.map((e) => e.split(/=(.*)/s).slice(0, 2))), input, stdio: ['pipe', 'ignore', 'ignore'] });
    /** Until the collector has removed the instance and exited (untimed). */
    const settle = async (id) => {
      for (let i = 0; i < 500 && existsSync(`/sys/kernel/tracing/instances/oci-ftrace-${id}`); i++) await sleep(10);
    };

    const cases = [
      { name: 'node, empty script (the floor of a Node step)', run: () => timeSync(node, [path.join(work, 'empty.cjs')], { env: envFor(configs.node) }) },
      {
        name: 'record hook, served by a collector that is up (bin/oci-ftrace-hook)',
        before: serve,
        run: () => runHook(served.hooks.record, state(served.id, sleeper.pid, 'creating')),
        after: async () => {
          runHook(served.hooks.report, state(served.id, sleeper.pid, 'stopped'));
          await settle(served.id);
        },
      },
      {
        name: 'report hook, served (drain, summary, log; answered before the instance is removed)',
        before: async () => {
          await serve();
          runHook(served.hooks.record, state(served.id, sleeper.pid, 'creating'));
        },
        run: () => runHook(served.hooks.report, state(served.id, sleeper.pid, 'stopped')),
        after: () => settle(served.id),
      },
      {
        name: 'record, Node hook (no collector serving: instance setup included)',
        run: () => {
          const id = `${idPrefix}${n++}`;
          const ms = timeSync(node, [CLI, 'record'], { env: envFor(configs.node), input: state(id, sleeper.pid), stdio: ['pipe', 'ignore', 'ignore'] });
          // Untimed: the report removes the instance and the run state again.
          spawnSync(node, [CLI, 'report'], { env: envFor(configs.node), input: state(id, sleeper.pid), stdio: ['pipe', 'ignore', 'ignore'] });
          return ms;
        },
      },
      {
        name: 'report, Node hook (reads the ring buffer, removes the instance)',
        before: () => {
          served.nodeId = `${idPrefix}${n++}`;
          spawnSync(node, [CLI, 'record'], { env: envFor(configs.node), input: state(served.nodeId, sleeper.pid), stdio: ['pipe', 'ignore', 'ignore'] });
        },
        run: () => timeSync(node, [CLI, 'report'], { env: envFor(configs.node), input: state(served.nodeId, sleeper.pid), stdio: ['pipe', 'ignore', 'ignore'] }),
      },
      {
        name: 'prepare step, opted out (reads, validates, adds nothing)',
        before: () => writeFileSync(bundle.configPath, optedOut),
        run: () => timeSync(node, [PREPARE, 'create', '--bundle', bundle.bundleDir, `${idPrefix}${n++}`], { env: envFor(configs.served) }),
      },
      {
        name: 'prepare step, traced, run alone (adds the hooks, makes the FIFOs, starts the collector)',
        before: () => writeFileSync(bundle.configPath, pristine),
        run: () => {
          const id = `${idPrefix}${n++}`;
          served.prepared = id;
          return timeSync(node, [PREPARE, 'create', '--bundle', bundle.bundleDir, id], { env: envFor(configs.served) });
        },
        // Untimed: the collector it started gives up only after a minute without a container.
        after: async () => {
          killProcessesNaming(served.prepared);
          await sleep(100);
          removeTraceInstances(`oci-ftrace-${served.prepared}`);
        },
      },
    ];
    console.log(`Our steps, each alone, as the runtime runs them\n${machineLine()}`);
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
