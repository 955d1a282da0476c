// Container start latency: `create` then `start` of a busybox bundle, as containerd calls the
// runtime, until the container runs; then `delete`, where a traced container's report runs
// (poststop). Bare runc against the launcher with the container not traced, opted out (the
// prepare step runs and adds nothing; the collector the launcher started beside it is told to go),
// traced (with the collector serving the hooks, and without a collector: Node hooks, report from
// the ring buffer), and traced with a seccomp profile written at report.
//
//   sudo node bench/start.mjs              (BENCH_RUNS=N, default 20)
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  LAUNCHER,
  RUNC,
  SYSTEM_PATH,
  benchEnvironment,
  hasProfileCommand,
  killProcessesNaming,
  labModules,
  machineLine,
  median,
  printTable,
  removeDir,
  removeTraceInstances,
  rounds,
  runsFromEnv,
  tempDir,
  timeSync,
  withCleanup,
} from './lib.mjs';

benchEnvironment();
const runs = runsFromEnv(20);
const work = tempDir('oci-ftrace-bench-start-');
const root = path.join(work, 'runc-root');
const configPath = path.join(work, 'oci-ftrace.json');
const base = { outputDir: path.join(work, 'out'), stateDir: path.join(work, 'state'), logFile: path.join(work, 'oci-ftrace.log') };
const env = { PATH: SYSTEM_PATH, OCI_FTRACE_CONFIG: configPath };
const created = new Set();

function runtime(file, args, allowFailure = false) {
  return timeSync(file, ['--root', root, ...args], { env, allowFailure, outputFile: path.join(work, 'runtime.out') });
}

/** Waits until the container's process has exited (status stopped), untimed. */
function waitStopped(file, id) {
  for (let i = 0; i < 500; i++) {
    const r = spawnSync(file, ['--root', root, 'state', id], { env, encoding: 'utf8' });
    if (r.status !== 0 || JSON.parse(r.stdout).status === 'stopped') return;
    spawnSync('sleep', ['0.01']);
  }
  throw new Error(`${id} did not stop`);
}

await withCleanup(
  async () => {
    const { makeBusyboxBundle } = await labModules();
    const bundle = await makeBusyboxBundle(path.join(work, 'bundle'), { args: ['true'] });
    const pristine = JSON.parse(readFileSync(bundle.configPath, 'utf8'));
    const profile = hasProfileCommand();

    let n = 0;
    const kase = (name, file, config, annotations, opts = {}) => ({
      name,
      skip: opts.skip,
      before: () => {
        writeFileSync(configPath, JSON.stringify({ ...base, ...config }));
        writeFileSync(bundle.configPath, JSON.stringify(annotations ? { ...pristine, annotations } : pristine, null, 2));
      },
      run: () => {
        const id = `bench-start-${process.pid}-${n++}`;
        created.add(id);
        const create = runtime(file, ['create', '--bundle', bundle.bundleDir, id]);
        const start = runtime(file, ['start', id]);
        waitStopped(file, id);
        const del = runtime(file, ['delete', id]);
        created.delete(id);
        if (opts.traced && !existsSync(path.join(base.outputDir, id, 'summary.json'))) throw new Error(`${name}: no report for ${id}; see ${base.logFile}`);
        return { create, 'create+start': create + start, delete: del };
      },
      after: () => {
        for (const id of created) runtime(file, ['delete', '--force', id], true);
        created.clear();
      },
    });
    const cases = [
      kase('runc (bare)', RUNC, {}, undefined),
      kase('oci-ftrace-runc, not traced (trace: never)', LAUNCHER, { trace: 'never' }, undefined),
      kase('oci-ftrace-runc, not traced (trace: annotated, not annotated)', LAUNCHER, { trace: 'annotated' }, undefined),
      kase('oci-ftrace-runc, opted out (prepare step runs, adds no hooks)', LAUNCHER, {}, { 'oci-ftrace/trace': 'false' }),
      kase('oci-ftrace-runc, traced (record + report)', LAUNCHER, {}, undefined, { traced: true }),
      kase('oci-ftrace-runc, traced, no collector (report reads the ring buffer)', LAUNCHER, { collector: false }, undefined, { traced: true }),
      kase('oci-ftrace-runc, traced + seccomp profile at report', LAUNCHER, { seccompProfile: true }, undefined, {
        traced: true,
        skip: profile ? undefined : '`oci-ftrace profile --help` fails',
      }),
    ];

    console.log(`Container start: runc create + start of a busybox bundle (args: true), then delete\n${machineLine()}`);
    const results = await rounds(cases, { runs, warmup: 1 });
    printTable(`create, create+start (the container runs) and delete (poststop: report), ${runs} runs each, interleaved`, results, { columns: ['create', 'create+start', 'delete'] });
    const byName = (prefix) => results.find((r) => r.name.startsWith(prefix));
    const traced = byName('oci-ftrace-runc, traced (');
    const optedOut = byName('oci-ftrace-runc, opted out');
    const bare = byName('runc (bare)');
    const notTraced = byName('oci-ftrace-runc, not traced (trace: never)');
    const diff = (a, b, col) => (median(a.samples[col]) - median(b.samples[col])).toFixed(1);
    console.log(`\nadded to create+start: launcher ${diff(notTraced, bare, 'create+start')} ms, prepare step ${diff(optedOut, notTraced, 'create+start')} ms, tracing (the record hook, and the start traced) ${diff(traced, optedOut, 'create+start')} ms (differences of medians)`);
  },
  () => {
    for (const id of created) spawnSync(RUNC, ['--root', root, 'delete', '--force', id], { env, stdio: 'ignore' });
    // Anything a failed run left: collectors and ftrace instances, named by the container id.
    killProcessesNaming(`bench-start-${process.pid}-`);
    removeTraceInstances(`oci-ftrace-bench-start-${process.pid}-`);
    removeDir(work);
  },
);
