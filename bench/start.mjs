// Container start latency: `create` then `start` of a busybox bundle, as containerd calls the
// runtime, until the container runs; then `delete`, where a traced container's report is written
// (poststop). Bare runc against the front door with the container not traced (the agent answers
// "not traced"), opted out by annotation, traced with the agent up, and traced as the first
// container after the agent starts (the agent is stopped before each of those runs, so the front
// door starts it). Each case has its own config, hence its own agent, as a host would run.
//
//   sudo node bench/start.mjs              (BENCH_RUNS=N, default 20)
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  cleanUpBench,
  FRONT_DOOR,
  RUNC,
  SYSTEM_PATH,
  benchEnvironment,
  labModules,
  machineLine,
  median,
  printTable,
  rounds,
  runsFromEnv,
  stopAgent,
  tempDir,
  timeSync,
  waitForReport,
  waitInstanceGone,
  withCleanup,
} from './lib.mjs';

benchEnvironment();
const runs = runsFromEnv(20);
const work = tempDir('oci-ftrace-bench-start-');
const root = path.join(work, 'runc-root');
const idPrefix = `bench-start-${process.pid}-`;
const created = new Set();
const configs = [];

/** A config of its own (its own agent): output, state and log under the bench's directory. */
function configFor(name, extra = {}) {
  const dir = path.join(work, name);
  const c = { path: `${dir}.json`, outputDir: path.join(dir, 'out'), stateDir: path.join(dir, 'state'), logFile: path.join(dir, 'oci-ftrace.log') };
  writeFileSync(c.path, JSON.stringify({ outputDir: c.outputDir, stateDir: c.stateDir, logFile: c.logFile, ...extra }));
  configs.push(c);
  return c;
}

function runtime(file, config, args, allowFailure = false) {
  const env = { PATH: SYSTEM_PATH, ...(config ? { OCI_FTRACE_CONFIG: config.path } : {}) };
  return timeSync(file, ['--root', root, ...args], { env, allowFailure, outputFile: path.join(work, 'runtime.out') });
}

/** Waits until the container's process has exited (status stopped), untimed. */
function waitStopped(id) {
  for (let i = 0; i < 1000; i++) {
    const r = spawnSync(RUNC, ['--root', root, 'state', id], { encoding: 'utf8' });
    if (r.status !== 0 || JSON.parse(r.stdout).status === 'stopped') return;
    spawnSync('sleep', ['0.01']);
  }
  throw new Error(`${id} did not stop`);
}

await withCleanup(
  async () => {
    const { makeBusyboxBundle } = await labModules();
    const bundle = await makeBusyboxBundle(path.join(work, 'bundle'), { args: ['true'] });
    const pristine = readFileSync(bundle.configPath, 'utf8');
    const optedOut = JSON.stringify({ ...JSON.parse(pristine), annotations: { 'oci-ftrace/trace': 'false' } }, null, 2);

    let n = 0;
    const kase = (name, file, config, opts = {}) => ({
      name,
      before: async () => {
        writeFileSync(bundle.configPath, opts.annotated ? optedOut : pristine);
        if (opts.coldAgent) await stopAgent(config.stateDir);
      },
      run: async () => {
        const id = `${idPrefix}${n++}`;
        created.add(id);
        const create = runtime(file, config, ['create', '--bundle', bundle.bundleDir, id]);
        const start = runtime(file, config, ['start', id]);
        waitStopped(id);
        const del = runtime(file, config, ['delete', id]);
        created.delete(id);
        if (opts.traced) {
          const summary = await waitForReport(config.outputDir, id);
          if (summary.loss.lost !== 0) throw new Error(`${name}: ${id} lost ${summary.loss.lost} events`);
          await waitInstanceGone(id);
        }
        if (readFileSync(bundle.configPath, 'utf8') !== (opts.annotated ? optedOut : pristine)) throw new Error(`${name}: config.json was not left as found`);
        return { create, 'create+start': create + start, delete: del };
      },
      after: () => {
        for (const id of created) runtime(RUNC, undefined, ['delete', '--force', id], true);
        created.clear();
      },
    });
    const cases = [
      kase('runc (bare)', RUNC, undefined),
      kase('front door, not traced (trace: never)', FRONT_DOOR, configFor('never', { trace: 'never' })),
      kase('front door, not traced (trace: annotated, not annotated)', FRONT_DOOR, configFor('annotated', { trace: 'annotated' })),
      kase('front door, opted out (annotation oci-ftrace/trace: false)', FRONT_DOOR, configFor('opted-out'), { annotated: true }),
      kase('front door, traced, agent up', FRONT_DOOR, configFor('traced'), { traced: true }),
      kase('front door, traced, first container after the agent starts', FRONT_DOOR, configFor('cold'), { traced: true, coldAgent: true }),
    ];

    console.log(`Container start: runc create + start of a busybox bundle (args: true), then delete\n${machineLine()}`);
    const results = await rounds(cases, { runs, warmup: 1 });
    printTable(`create, create+start (the container runs) and delete (poststop: the report), ${runs} runs each, interleaved`, results, { columns: ['create', 'create+start', 'delete'] });
    const byName = (prefix) => results.find((r) => r.name.startsWith(prefix));
    const bare = byName('runc (bare)');
    const never = byName('front door, not traced (trace: never)');
    const traced = byName('front door, traced, agent up');
    const cold = byName('front door, traced, first');
    const diff = (a, b, col) => (median(a.samples[col]) - median(b.samples[col])).toFixed(1);
    console.log(
      `\nadded to create+start (differences of medians): asking the agent ${diff(never, bare, 'create+start')} ms; ` +
        `tracing (prepare, record hook, the start traced) ${diff(traced, never, 'create+start')} ms; starting the agent ${diff(cold, traced, 'create+start')} ms`,
    );
  },
  () => cleanUpBench({ root, ids: created, stateDirs: configs.map((c) => c.stateDir), idPrefix, work }),
);
