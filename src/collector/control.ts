import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { binScript } from '../install/bin-paths.js';
import { processIdentity } from '../state/process-identity.js';

/** The collector's entry point, beside this module in dist/. */
export function collectorEntryPoint(): string {
  return join(dirname(fileURLToPath(import.meta.url)), 'main.js');
}

/**
 * Start the detached collector for a container (bin/oci-ftrace-collector): its own session, stdio
 * on /dev/null (runc waits for the hook's stdout/stderr to close, so nothing that outlives the
 * hook may hold them), inherited descriptors closed. With `serve`, it serves the container's hooks.
 */
export function startCollector(id: string, env: NodeJS.ProcessEnv, opts: { serve?: boolean; pidFile?: string; runtimePid?: number } = {}): number {
  // The runtime, named by pid and start time (pid reuse): a serving collector watches it until
  // the record hook comes, and puts the bundle back if it exits first (src/collector/serve.ts).
  const runtime = opts.runtimePid !== undefined ? processIdentity(opts.runtimePid) : undefined;
  const args = [process.execPath, collectorEntryPoint(), id, ...(opts.serve ? ['--serve'] : []), ...(runtime ? ['--runtime-pid', runtime] : [])];
  const child = spawn(binScript('oci-ftrace-collector'), args, { detached: true, stdio: 'ignore', env });
  if (child.pid === undefined) throw new Error('cannot start the collector');
  child.unref();
  // Recorded at once (the collector writes it too, but only after loading): the record hook, which
  // may run before the collector is up, must find it rather than start a second one.
  if (opts.pidFile) {
    mkdirSync(dirname(opts.pidFile), { recursive: true, mode: 0o700 });
    writeFileSync(opts.pidFile, String(child.pid));
  }
  return child.pid;
}

/** A collector already started for this container (by the prepare step), if one is alive. */
export function runningCollector(pidFile: string, id: string): number | undefined {
  try {
    const pid = Number(readFileSync(pidFile, 'utf8'));
    return Number.isInteger(pid) && pid > 0 && isOurCollector(pid, id) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Is pid a live (not zombie) collector of this container? Guards against pid reuse. */
export function isOurCollector(pid: number, id: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
    // Also matches the bash that is about to exec it (its argv carries the same arguments).
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.some((a) => a.endsWith('collector/main.js')) && argv.includes(id);
  } catch {
    return false;
  }
}

/** Was pid started to serve the hooks (--serve)? */
export function isServingCollector(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('--serve');
  } catch {
    return false;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Ask the collector to drain and finish, and wait for it (bounded). 'finished': it exited in time;
 * 'absent': it was not running; 'killed': it did not finish in time and was killed.
 */
export async function stopCollector(pid: number, id: string, readyFile: string, timeoutMs: number): Promise<'finished' | 'absent' | 'killed'> {
  if (!isOurCollector(pid, id)) return 'absent';
  // A collector still starting up would die of SIGTERM's default action: wait until it listens.
  for (const started = Date.now(); !existsSync(readyFile) && Date.now() - started < timeoutMs; ) {
    if (!isOurCollector(pid, id)) return 'absent';
    await sleep(5);
  }
  process.kill(pid, 'SIGTERM');
  for (const started = Date.now(); Date.now() - started < timeoutMs; ) {
    if (!isOurCollector(pid, id)) return 'finished';
    await sleep(10);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone meanwhile */
  }
  return 'killed';
}

/** Ask a running collector for a live summary and wait until it says it wrote one. */
export async function requestLiveDump(pid: number, id: string, files: { ready: string; liveAck: string }, timeoutMs: number): Promise<boolean> {
  if (!isOurCollector(pid, id)) return false;
  const ackFile = files.liveAck;
  for (const started = Date.now(); !existsSync(files.ready); ) {
    if (!isOurCollector(pid, id) || Date.now() - started > timeoutMs) return false;
    await sleep(5);
  }
  const before = readAck(ackFile);
  process.kill(pid, 'SIGUSR1');
  for (const started = Date.now(); Date.now() - started < timeoutMs; ) {
    if (readAck(ackFile) !== before) return true;
    if (!isOurCollector(pid, id)) return false;
    await sleep(10);
  }
  return false;
}

function readAck(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
