// Pass-through calls: what an engine pays for every runtime call that creates nothing (state,
// list, --version; containerd also calls start, delete, kill, events...). The front door
// (dist/bin/oci-ftrace-runc, what engines run) must cost one exec of itself and nothing else, and
// must not wake the agent: checked with strace first, then timed against bare runc, beside a
// static program that only calls execv (the floor of any front door).
//
//   sudo node bench/passthrough.mjs        (BENCH_RUNS=N, default 200; needs npm run build)
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FRONT_DOOR, RUNC, SYSTEM_PATH, agentOf, benchEnvironment, labModules, machineLine, median, printTable, removeDir, rounds, runsFromEnv, tempDir, timeSync, withCleanup } from './lib.mjs';

benchEnvironment();
if (!existsSync(FRONT_DOOR)) {
  console.error(`bench: ${FRONT_DOOR} missing: npm run build`);
  process.exit(1);
}
const runs = runsFromEnv(200);
const work = tempDir('oci-ftrace-bench-pass-');
const root = path.join(work, 'runc-root');
const id = `bench-pass-${process.pid}`;
const configPath = path.join(work, 'oci-ftrace.json');
const stateDir = path.join(work, 'state');
writeFileSync(configPath, JSON.stringify({ outputDir: path.join(work, 'out'), stateDir, logFile: path.join(work, 'oci-ftrace.log') }));
const env = { PATH: SYSTEM_PATH, OCI_FTRACE_CONFIG: configPath };
const EXEC_ONLY = path.join(work, 'exec-only');

/** The floor: a static program that execs its first argument with the rest, nothing else. */
function buildExecOnly() {
  const src = `${EXEC_ONLY}.c`;
  writeFileSync(src, '#include <unistd.h>\nint main(int argc, char **argv) { (void)argc; execv(argv[1], argv + 1); return 127; }\n');
  const r = spawnSync('cc', ['-O2', '-static', '-o', EXEC_ONLY, src], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cc: ${r.stderr || r.error?.message}`);
}

/**
 * strace -f of one front door call: the processes it made and what each exec'd. A pass-through is
 * the front door's own exec and then the runtime's, in one process: no bash, no fork, no Node.
 */
function straceExecs(args) {
  const out = path.join(work, 'strace.out');
  const r = spawnSync('strace', ['-f', '-qq', '-e', 'trace=execve,fork,vfork,clone,clone3', '-o', out, FRONT_DOOR, ...args], { env, encoding: 'utf8' });
  if (r.error) return { error: `strace: ${r.error.message}` };
  const lines = readFileSync(out, 'utf8').split('\n').filter(Boolean);
  const execs = lines.filter((l) => /execve\(/.test(l) && !/= -1 /.test(l)).map((l) => /execve\("([^"]+)"/.exec(l)?.[1]);
  const firstPid = lines[0]?.split(/\s+/)[0];
  const runtimeExec = lines.findIndex((l) => l.includes(`execve("${RUNC}"`));
  // Anything the front door's process did before it became the runtime.
  const forksBefore = lines.slice(0, Math.max(runtimeExec, 0)).filter((l) => /\b(fork|vfork|clone3?)\(/.test(l));
  const pids = new Set(lines.map((l) => l.split(/\s+/)[0]));
  return { execs, forksBefore: forksBefore.length, samePid: lines.filter((l) => l.includes('execve(')).every((l) => l.startsWith(`${firstPid} `)), processes: pids.size };
}

const CALLS = (rootDir) => [
  ['--version', ['--version']],
  ['list', ['--root', rootDir, 'list']],
  ['state', ['--root', rootDir, 'state', id]],
];

await withCleanup(
  async () => {
    const { makeBusyboxBundle } = await labModules();
    const bundle = await makeBusyboxBundle(path.join(work, 'bundle'), { args: ['sleep', '3600'] });
    // A container for state to look at (bare runc: the launchers take no part in it).
    timeSync(RUNC, ['--root', root, 'run', '--detach', '--bundle', bundle.bundleDir, id], { env, stdio: 'ignore' });
    buildExecOnly();

    console.log(`Pass-through calls: bare runc, the front door (dist/bin/oci-ftrace-runc), and a static exec-only program\n${machineLine()}`);
    for (const [label, args] of CALLS(root)) {
      const s = straceExecs(args);
      if (s.error) {
        console.log(`strace check skipped: ${s.error}`);
        break;
      }
      const ok = s.execs.length === 2 && s.execs[0] === FRONT_DOOR && s.execs[1] === RUNC && s.forksBefore === 0 && s.samePid;
      console.log(`strace ${label}: ${ok ? 'ok' : 'UNEXPECTED'}: execve ${s.execs.join(' -> ')}; ${s.forksBefore} forks before the runtime; one process until then: ${s.samePid}`);
      if (!ok) process.exitCode = 1;
    }

    const cases = [];
    for (const [label, args] of CALLS(root)) {
      cases.push({ name: `runc ${label}`, group: label, run: () => timeSync(RUNC, args, { env }) });
      cases.push({ name: `front door ${label}`, group: label, run: () => timeSync(FRONT_DOOR, args, { env }) });
      cases.push({ name: `exec-only program ${label}`, group: label, run: () => timeSync(EXEC_ONLY, [RUNC, ...args], { env }) });
    }
    const results = await rounds(cases, { runs, warmup: 5 });
    for (const [label] of CALLS(root)) {
      printTable(`${label} (${runs} runs each, interleaved)`, results.filter((r, i) => cases[i].group === label));
    }
    if (agentOf(stateDir)) {
      console.log('UNEXPECTED: a pass-through call started the agent');
      process.exitCode = 1;
    }

    // One line per call, for the README.
    const m = (name) => median(results.find((r) => r.name === name).samples.ms);
    console.log('\nmedians, ms: bare runc / front door (ratio) / exec-only program (ratio)');
    for (const [label] of CALLS(root)) {
      const [bare, door, floor] = [m(`runc ${label}`), m(`front door ${label}`), m(`exec-only program ${label}`)];
      console.log(`  ${label}: ${bare.toFixed(2)} / ${door.toFixed(2)} (${(door / bare).toFixed(2)}x) / ${floor.toFixed(2)} (${(floor / bare).toFixed(2)}x)`);
    }
  },
  () => {
    spawnSync(RUNC, ['--root', root, 'delete', '--force', id], { env, stdio: 'ignore' });
    removeDir(work);
  },
);
