// Shared pieces of the benchmarks: timing commands, interleaved rounds, medians and the tables.
// Plain Node (no build step of its own); the lab (private containerd/dockerd) is the integration
// tests' own code, compiled on the fly by esbuild (see labModules).
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** What engines run: the front door (npm run build), which asks the host agent about creates. */
export const FRONT_DOOR = path.join(REPO, 'dist', 'bin', 'oci-ftrace-runc');
export const RUNC = '/usr/sbin/runc';
export const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Runs per case; BENCH_RUNS overrides every script's default. */
export function runsFromEnv(fallback) {
  const n = Number(process.env.BENCH_RUNS);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

/**
 * Engines run from systemd with a small environment. NODE_EXTRA_CA_CERTS in particular makes
 * every Node process read a CA bundle as it starts (about 30 ms here): not what a host's engine
 * sees, so not what we measure.
 */
export function benchEnvironment() {
  delete process.env.NODE_EXTRA_CA_CERTS;
  delete process.env.NODE_OPTIONS;
}

export function median(values) {
  return quantile(values, 0.5);
}

export function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Wall time of one synchronous run (for calls of a few ms, where an event loop adds noise). */
export function timeSync(file, args, opts = {}) {
  const started = process.hrtime.bigint();
  // A runtime's create hands its stdio to the container, which outlives the call: with pipes the
  // wait would last as long as the container. Output goes to files instead.
  const out = opts.outputFile ? openSync(opts.outputFile, 'w') : 'ignore';
  let r;
  try {
    r = spawnSync(file, args, { stdio: ['ignore', out, out], ...opts });
  } finally {
    if (typeof out === 'number') closeSync(out);
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.error) throw r.error;
  if (r.status !== 0 && !opts.allowFailure) {
    const output = opts.outputFile ? readFileSync(opts.outputFile, 'utf8').trim() : '(run with outputFile to see its output)';
    throw new Error(`${file} ${args.join(' ')}: exit ${r.status ?? r.signal}: ${output}`);
  }
  return ms;
}

/** Wall time of one run, until it exits and its output is closed. Throws on failure. */
export function timeAsync(file, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let stderr = '';
    child.stdout.resume();
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (code === 0 || opts.allowFailure) resolve(ms);
      else reject(new Error(`${file} ${args.join(' ')}: exit ${code ?? signal}: ${stderr.trim()}`));
    });
  });
}

/**
 * Runs every case `runs` times, in interleaved rounds (one run of each case per round, starting
 * with a different case each round), so that drift in a noisy machine's load spreads over all
 * cases alike. A case: { name, run: () => ms | {column: ms}, before?(), after?() } (before and
 * after are not timed). Returns { name, samples: {column: ms[]}, roundOf: {column: round[]} } per
 * case: roundOf says which round each sample came from, so that printTable can pair them.
 */
export async function rounds(cases, { runs, warmup = 1 }) {
  const results = cases.map((c) => ({ name: c.name, skip: c.skip, samples: {}, roundOf: {} }));
  for (let round = 0; round < warmup + runs; round++) {
    for (let k = 0; k < cases.length; k++) {
      const i = (k + round) % cases.length;
      const c = cases[i];
      if (c.skip) continue;
      await c.before?.();
      let timed;
      try {
        timed = await c.run();
      } finally {
        await c.after?.();
      }
      if (round < warmup) continue;
      const columns = typeof timed === 'number' ? { ms: timed } : timed;
      for (const [column, ms] of Object.entries(columns)) {
        (results[i].samples[column] ??= []).push(ms);
        (results[i].roundOf[column] ??= []).push(round);
      }
    }
    if (process.stderr.isTTY) process.stderr.write(`\r  round ${round + 1}/${warmup + runs}`);
  }
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  return results;
}

/**
 * A case's samples of a column divided by the baseline's of the same round: on a machine whose
 * speed drifts (a shared host), a ratio within one round cancels the drift that a ratio of two
 * medians keeps (cases of one round run seconds apart, their medians' samples minutes apart).
 */
export function pairedRatios(result, base, column) {
  const baseByRound = new Map((base.roundOf?.[column] ?? []).map((round, j) => [round, base.samples[column][j]]));
  const out = [];
  (result.roundOf?.[column] ?? []).forEach((round, j) => {
    const b = baseByRound.get(round);
    if (b !== undefined && b > 0) out.push(result.samples[column][j] / b);
  });
  return out;
}

/**
 * Prints one table: case, runs, then per column the median (p25-p75) and the ratio against the
 * baseline case (the first case unless named): the median of the rounds' ratios (pairedRatios),
 * with their p25-p75.
 */
export function printTable(title, results, { columns, baseline, labels = {} } = {}) {
  const cols = columns ?? Object.keys(results.find((r) => !r.skip)?.samples ?? { ms: [] });
  const base = results.find((r) => r.name === baseline) ?? results[0];
  const header = ['case', 'runs'];
  for (const col of cols) header.push(`${col === 'ms' ? '' : `${labels[col] ?? col}: `}median ms (p25-p75)`, 'ratio (p25-p75), per round');
  const rows = results.map((r) => {
    if (r.skip) return [r.name, '-', ...cols.flatMap(() => [typeof r.skip === 'string' ? `skipped: ${r.skip}` : 'skipped', ''])];
    const row = [r.name, String(r.samples[cols[0]]?.length ?? 0)];
    for (const col of cols) {
      const s = r.samples[col] ?? [];
      if (s.length === 0) {
        row.push('-', '');
        continue;
      }
      const m = median(s);
      const paired = r === base ? [] : pairedRatios(r, base, col);
      const ratio = r === base ? '1.00x' : paired.length > 0 ? `${median(paired).toFixed(2)}x (${quantile(paired, 0.25).toFixed(2)}-${quantile(paired, 0.75).toFixed(2)})` : '';
      row.push(`${m.toFixed(1)} (${quantile(s, 0.25).toFixed(1)}-${quantile(s, 0.75).toFixed(1)})`, ratio);
    }
    return row;
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log(`\n${title}\n`);
  console.log(line(header));
  console.log(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`);
  for (const row of rows) console.log(line(row));
}

/** One line naming the machine the figures came from. */
export function machineLine() {
  const cpu = cpus();
  const version = (file, args) => {
    try {
      return spawnSync(file, args, { encoding: 'utf8' }).stdout.split('\n')[0].trim();
    } catch {
      return '?';
    }
  };
  const os = existsSync('/etc/os-release') ? (/PRETTY_NAME="([^"]*)"/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? '') : '';
  return [
    `${os}, kernel ${release()}, ${cpu.length} x ${cpu[0]?.model ?? '?'}`,
    `node ${process.version}, ${version(RUNC, ['--version'])}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`,
  ].join('\n');
}

export function tempDir(prefix) {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** Removes a bench's directory; BENCH_KEEP=1 keeps it (our log, the reports) and says where. */
export function removeDir(dir) {
  if (process.env.BENCH_KEEP === '1') console.error(`bench: kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}

/** The node the front door starts the agent with (dist/node-path). */
export function nodeBinary() {
  try {
    return readFileSync(path.join(REPO, 'dist', 'node-path'), 'utf8').trim() || process.execPath;
  } catch {
    return process.execPath;
  }
}

let lab;
/**
 * The integration lab (integration/lab/*.ts: busybox rootfs and images, private containerd and
 * dockerd that stop and clean up after themselves), compiled on the fly with esbuild into a temp
 * file: the benchmarks reuse exactly what the tests start and stop.
 */
export async function labModules() {
  if (lab) return lab;
  const dir = tempDir('oci-ftrace-bench-lab-');
  const entry = path.join(dir, 'lab-entry.ts');
  const { writeFileSync } = await import('node:fs');
  const labDir = path.join(REPO, 'integration', 'lab');
  writeFileSync(
    entry,
    ['bundle', 'containerd', 'cri', 'dockerd', 'image', 'leaks', 'cleanup', 'daemon', 'env'].map((m) => `export * from ${JSON.stringify(path.join(labDir, `${m}.ts`))};`).join('\n'),
  );
  // Under this checkout's dist/ (node_modules may be shared with other checkouts): Node resolves
  // the lab's packages from REPO/node_modules above it.
  const outfile = path.join(REPO, 'dist', '.cache', 'oci-ftrace-bench', 'lab.mjs');
  const esbuild = await import('esbuild');
  await esbuild.build({ entryPoints: [entry], outfile, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'warning' });
  await esbuild.stop();
  removeDir(dir);
  lab = await import(outfile);
  return lab;
}

/** Run fn, then cleanup, also on SIGINT/SIGTERM (a benchmark starts daemons and containers). */
export async function withCleanup(fn, cleanup) {
  let cleaning;
  const clean = () => (cleaning ??= Promise.resolve().then(cleanup));
  const onSignal = (sig) => {
    process.stderr.write(`\n${sig}: cleaning up\n`);
    clean().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await fn();
  } finally {
    await clean();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

/** Kills, by pid, the processes whose command line contains text (what a failed run left). */
export function killProcessesNaming(text) {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
    } catch {
      continue;
    }
    if (!cmdline.includes(text)) continue;
    try {
      process.kill(Number(entry), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/**
 * Waits (untimed, bounded) until the agent has removed a finished container's ftrace instance: the
 * kernel's removal (40 to 60 ms, under the lock every instance shares) follows the report, and
 * would otherwise land on whichever case is measured next.
 */
export async function waitInstanceGone(id, timeoutMs = 5000) {
  const dir = path.join('/sys/kernel/tracing/instances', `oci-ftrace-${id}`);
  for (const started = Date.now(); existsSync(dir) && Date.now() - started < timeoutMs; ) await new Promise((r) => setTimeout(r, 5));
}

/** Removes the ftrace instances whose names start with prefix (what a failed run left). */
export function removeTraceInstances(prefix) {
  const dir = '/sys/kernel/tracing/instances';
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir).filter((n) => n.startsWith(prefix))) {
    try {
      rmdirSync(path.join(dir, name));
    } catch {
      /* busy: left for the next report */
    }
  }
}

/** The agent serving a state directory (STATE_DIR/agent.json, as the CLI finds it), if it runs. */
export function agentOf(stateDir) {
  try {
    const a = JSON.parse(readFileSync(path.join(stateDir, 'agent.json'), 'utf8'));
    process.kill(a.pid, 0);
    return a;
  } catch {
    return undefined;
  }
}

/** Stops the agent of a state directory (SIGTERM: it finishes what it traces) and waits until it is gone. */
export async function stopAgent(stateDir, timeoutMs = 30_000) {
  const a = agentOf(stateDir);
  if (!a) return;
  try {
    process.kill(a.pid, 'SIGTERM');
  } catch {
    return;
  }
  for (const started = Date.now(); existsSync(`/proc/${a.pid}`); ) {
    if (Date.now() - started > timeoutMs) throw new Error(`the agent ${a.pid} of ${stateDir} did not stop in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Resident and proportional set sizes (KiB) and CPU time (ms, all threads) of a process. */
export function processUsage(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  let pssKb = NaN;
  try {
    pssKb = Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? NaN);
  } catch {
    /* no smaps_rollup on this kernel */
  }
  // Fields after the command (which may hold spaces): utime and stime are the 12th and 13th.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { rssKb: kb('VmRSS'), pssKb, cpuMs: (ticks * 1000) / CLOCK_TICKS };
}

/** USER_HZ: the unit of /proc/PID/stat's times (100 on every Linux build that matters). */
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** Waits until a container's report is complete: its summary, with the log written (or off). */
export async function waitForReport(outputDir, id, timeoutMs = 60_000) {
  const summaryPath = path.join(outputDir, id, 'summary.json');
  for (const started = Date.now(); ; ) {
    if (existsSync(summaryPath)) {
      try {
        const summary = JSON.parse(readFileSync(summaryPath, 'utf8'));
        if (summary.log !== 'pending') return summary;
      } catch {
        /* being replaced: read it again */
      }
    }
    if (Date.now() - started > timeoutMs) throw new Error(`no complete report for ${id} in ${outputDir} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * What a container benchmark leaves on any path, success or not: its containers (force-deleted
 * under runc's root), the agents of its state directories, processes naming its ids, their ftrace
 * instances, and its directory.
 */
export async function cleanUpBench({ root, ids, stateDirs, idPrefix, work }) {
  for (const id of ids) spawnSync(RUNC, ['--root', root, 'delete', '--force', id], { stdio: 'ignore' });
  for (const stateDir of stateDirs) await stopAgent(stateDir).catch((err) => console.error(`cleanup: ${err.message}`));
  killProcessesNaming(idPrefix);
  removeTraceInstances(`oci-ftrace-${idPrefix}`);
  removeDir(work);
}
