// Many containers at once, as a node starting a deployment does: N busybox containers created at
// the same moment, then all started, run, and all deleted at the same moment. Bare runc against the
// front door tracing every one (the agent up). Each traced round checks every report: there, 0
// events lost, and holding only its own container's processes (its init's pid, none of another's).
//
//   sudo node bench/concurrent.mjs         (BENCH_CONCURRENT=N containers, default 50; BENCH_RUNS=R rounds, default 3)
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
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
  tempDir,
  waitForReport,
  withCleanup,
} from './lib.mjs';

benchEnvironment();
const runs = runsFromEnv(3);
const count = Number(process.env.BENCH_CONCURRENT) || 50;
const work = tempDir('oci-ftrace-bench-concurrent-');
const root = path.join(work, 'runc-root');
const idPrefix = `bench-conc-${process.pid}-`;
const config = { path: path.join(work, 'oci-ftrace.json'), outputDir: path.join(work, 'out'), stateDir: path.join(work, 'state'), logFile: path.join(work, 'oci-ftrace.log') };
// BENCH_LOG_LEVEL=debug makes our log say where each create's time went (with BENCH_KEEP=1 to read it).
writeFileSync(config.path, JSON.stringify({ outputDir: config.outputDir, stateDir: config.stateDir, logFile: config.logFile, ...(process.env.BENCH_LOG_LEVEL ? { logLevel: process.env.BENCH_LOG_LEVEL } : {}) }));
const live = new Set();

/** One runtime call, timed until it exits; a create's stdio goes to a file (the container keeps it). */
function call(file, args, env) {
  return new Promise((resolve, reject) => {
    const out = openSync(path.join(work, 'runtime.out'), 'a');
    const started = process.hrtime.bigint();
    const child = spawn(file, ['--root', root, ...args], { env, stdio: ['ignore', out, out] });
    closeSync(out);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (code === 0) resolve(ms);
      else reject(new Error(`${file} ${args.join(' ')}: exit ${code ?? signal} (see ${path.join(work, 'runtime.out')})`));
    });
  });
}

function statusOf(id) {
  const r = spawnSync(RUNC, ['--root', root, 'state', id], { encoding: 'utf8' });
  return r.status === 0 ? JSON.parse(r.stdout) : undefined;
}

async function waitAllStopped(ids) {
  for (const started = Date.now(); ids.some((id) => statusOf(id)?.status !== 'stopped'); ) {
    if (Date.now() - started > 120_000) throw new Error('containers did not stop in 120 s');
    await new Promise((r) => setTimeout(r, 50));
  }
}

let round = 0;
await withCleanup(
  async () => {
    const { makeBusyboxBundle } = await labModules();
    // Each container lives long enough for all to overlap, and makes a few hundred syscalls. Each
    // has a bundle of its own, as engines give them (their config.json, one shared rootfs).
    const template = await makeBusyboxBundle(path.join(work, 'bundle'), { args: ['sh', '-c', 'ls / >/dev/null; sleep 1; cat /etc/hostname >/dev/null'] });
    const spec = JSON.parse(readFileSync(template.configPath, 'utf8'));
    const bundles = Array.from({ length: count }, (_, i) => {
      const dir = path.join(work, `bundle-${i}`);
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...spec, root: { ...spec.root, path: template.rootfsDir } }, null, 2));
      return dir;
    });

    const kase = (name, file, traced) => ({
      name,
      run: async () => {
        const ids = Array.from({ length: count }, (_, i) => `${idPrefix}${round}-${i}${traced ? 't' : 'b'}`);
        round++;
        const env = { PATH: SYSTEM_PATH, ...(traced ? { OCI_FTRACE_CONFIG: config.path } : {}) };
        ids.forEach((id) => live.add(id));
        const wall = process.hrtime.bigint();
        const creates = await Promise.all(ids.map((id, i) => call(file, ['create', '--bundle', bundles[i], id], env)));
        const createWall = Number(process.hrtime.bigint() - wall) / 1e6;
        const inits = new Map(ids.map((id) => [id, statusOf(id)?.pid]));
        await Promise.all(ids.map((id) => call(file, ['start', id], env)));
        await waitAllStopped(ids);
        const deletes = await Promise.all(ids.map((id) => call(file, ['delete', id], env)));
        ids.forEach((id) => live.delete(id));
        if (traced) {
          // Every report there, lossless, with its own init and no process of another container.
          const summaries = await Promise.all(ids.map((id) => waitForReport(config.outputDir, id)));
          const owner = new Map();
          summaries.forEach((s, i) => {
            if (s.loss.lost !== 0) throw new Error(`${ids[i]}: ${s.loss.lost} events lost`);
            const pids = Object.values(s.processes).flatMap((p) => p.threads);
            if (!pids.includes(inits.get(ids[i]))) throw new Error(`${ids[i]}: its init ${inits.get(ids[i])} is not in its report`);
            for (const pid of pids) {
              if (owner.has(pid)) throw new Error(`pid ${pid} is in the reports of both ${owner.get(pid)} and ${ids[i]}`);
              owner.set(pid, ids[i]);
            }
          });
          reportsChecked += summaries.length;
        }
        return { 'max create': Math.max(...creates), 'median create': median(creates), 'all created': createWall, 'max delete': Math.max(...deletes) };
      },
    });
    let reportsChecked = 0;
    const cases = [kase('runc (bare)', RUNC, false), kase('front door, every container traced', FRONT_DOOR, true)];

    console.log(`${count} containers created at once, then started, then deleted at once\n${machineLine()}`);
    const results = await rounds(cases, { runs, warmup: 1 });
    printTable(`${count} at once, ${runs} rounds each, interleaved (per round: the slowest create, the median create, until all were created, the slowest delete)`, results, {
      columns: ['max create', 'median create', 'all created', 'max delete'],
    });
    console.log(`\nreports checked: ${reportsChecked} (each there, 0 lost, its own init, no pid of another container's)`);
  },
  () => cleanUpBench({ root, ids: live, stateDirs: [config.stateDir], idPrefix, work }),
);
