// The stop path of a big trace: a container that made 5,000,000 syscalls (dd's one-byte reads and
// writes), stopped, then `delete`d. Bare runc's delete against the front door's, which returns once
// the agent has drained the rest of the ring buffer and written the summary and profile; the text
// log follows. Each traced round checks that summary as delete returns: 0 lost, and the exact counts
// (dd's reads and writes, plus the same few of the shell and runtime that a 1,000-byte run makes).
//
//   sudo node bench/delete.mjs        (BENCH_RUNS=R rounds, default 3; BENCH_DELETE_BYTES=N, default 2,500,000)
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  cleanUpBench,
  FRONT_DOOR,
  RUNC,
  SYSTEM_PATH,
  benchEnvironment,
  labModules,
  machineLine,
  printTable,
  rounds,
  runsFromEnv,
  tempDir,
  timeSync,
  waitForReport,
  withCleanup,
} from './lib.mjs';

benchEnvironment();
const runs = runsFromEnv(3);
const bytes = Number(process.env.BENCH_DELETE_BYTES) || 2_500_000;
const SMALL = 1000;
const work = tempDir('oci-ftrace-bench-delete-');
const root = path.join(work, 'runc-root');
const idPrefix = `bench-del-${process.pid}-`;
const config = { path: path.join(work, 'oci-ftrace.json'), outputDir: path.join(work, 'out'), stateDir: path.join(work, 'state'), logFile: path.join(work, 'oci-ftrace.log') };
writeFileSync(config.path, JSON.stringify({ outputDir: config.outputDir, stateDir: config.stateDir, logFile: config.logFile }));
const tracedEnv = { PATH: SYSTEM_PATH, OCI_FTRACE_CONFIG: config.path };
const bareEnv = { PATH: SYSTEM_PATH };
const live = new Set();
let serial = 0;

function statusOf(id) {
  const r = spawnSync(RUNC, ['--root', root, 'state', id], { encoding: 'utf8' });
  return r.status === 0 ? JSON.parse(r.stdout).status : undefined;
}

async function runToStop(file, bundle, id, env) {
  live.add(id);
  const out = path.join(work, 'runtime.out');
  timeSync(file, ['--root', root, 'create', '--bundle', bundle, id], { env, outputFile: out });
  timeSync(file, ['--root', root, 'start', id], { env, outputFile: out });
  for (const started = Date.now(); statusOf(id) !== 'stopped'; ) {
    if (Date.now() - started > 300_000) throw new Error(`${id} did not stop in 300 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function deleteTimed(file, id, env) {
  const ms = timeSync(file, ['--root', root, 'delete', id], { env, outputFile: path.join(work, 'runtime.out') });
  live.delete(id);
  return ms;
}

/** The summary as delete left it: there already (the log may still be pending). */
function summaryNow(id) {
  const file = path.join(config.outputDir, id, 'summary.json');
  if (!existsSync(file)) throw new Error(`${id}: no summary.json when delete returned`);
  return JSON.parse(readFileSync(file, 'utf8'));
}

const counts = (s) => ({ read: s.syscalls.read?.count ?? 0, write: s.syscalls.write?.count ?? 0 });

await withCleanup(
  async () => {
    const { makeBusyboxBundle } = await labModules();
    const dd = (n) => ['sh', '-c', `exec dd if=/dev/zero of=/dev/null bs=1 count=${n}`];
    const big = await makeBusyboxBundle(path.join(work, 'big'), { args: dd(bytes) });
    const small = await makeBusyboxBundle(path.join(work, 'small'), { args: dd(SMALL) });

    // The shell's and runtime's own reads and writes: a small run's counts beyond its dd's.
    const smallId = `${idPrefix}small`;
    await runToStop(FRONT_DOOR, small.bundleDir, smallId, tracedEnv);
    deleteTimed(FRONT_DOOR, smallId, tracedEnv);
    const base = counts(await waitForReport(config.outputDir, smallId));
    const extra = { read: base.read - SMALL, write: base.write - SMALL };

    const checked = [];
    const cases = [
      {
        name: 'runc (bare)',
        before: () => runToStop(RUNC, big.bundleDir, (bareId = `${idPrefix}${serial++}b`), bareEnv),
        run: () => ({ delete: deleteTimed(RUNC, bareId, bareEnv) }),
      },
      {
        name: 'front door, traced',
        before: () => runToStop(FRONT_DOOR, big.bundleDir, (tracedId = `${idPrefix}${serial++}t`), tracedEnv),
        run: () => {
          const ms = deleteTimed(FRONT_DOOR, tracedId, tracedEnv);
          const s = summaryNow(tracedId);
          const got = counts(s);
          if (s.loss.lost !== 0) throw new Error(`${tracedId}: ${s.loss.lost} events lost`);
          if (got.read !== bytes + extra.read || got.write !== bytes + extra.write) {
            throw new Error(`${tracedId}: read ${got.read}, write ${got.write}; expected ${bytes + extra.read} and ${bytes + extra.write}`);
          }
          checked.push({ id: tracedId, logPending: s.log === 'pending' });
          return { delete: ms };
        },
        // The log follows: wait for it outside the timing, so rounds do not overlap.
        after: async () => {
          const started = Date.now();
          await waitForReport(config.outputDir, tracedId, 300_000);
          logMs.push(Date.now() - started);
        },
      },
    ];
    let bareId;
    let tracedId;
    const logMs = [];

    console.log(`delete of a stopped container that made ${(2 * bytes).toLocaleString('en')} syscalls\n${machineLine()}`);
    const results = await rounds(cases, { runs, warmup: 1 });
    printTable(`${runs} rounds, interleaved (delete: until the runtime call returns)`, results, { columns: ['delete'] });
    const pending = checked.filter((c) => c.logPending).length;
    console.log(
      `\nsummaries checked as delete returned: ${checked.length} (0 lost; read and write exactly ${bytes.toLocaleString('en')} + the shell's ${extra.read} and ${extra.write}); ` +
        `log still pending at that moment in ${pending}, written within ${Math.max(...logMs)} ms after`,
    );
  },
  () => cleanUpBench({ root, ids: live, stateDirs: [config.stateDir], idPrefix, work }),
);
