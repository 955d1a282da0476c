// Starting a long-running engine daemon with its output in a log file, waiting for it, and stopping it by pid.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { isProcessAlive } from './leaks.js';

export interface DaemonProcess {
  pid: number;
  logPath: string;
  /** Resolves with the exit code (or signal name) once the daemon has exited. */
  exited: Promise<number | string>;
  hasExited(): boolean;
}

export function startDaemon(file: string, args: readonly string[], logPath: string, env?: Record<string, string>): DaemonProcess {
  const logFd = openSync(logPath, 'a');
  try {
    const child = spawn(file, args, { stdio: ['ignore', logFd, logFd], env: { ...process.env, ...env } });
    let done = false;
    const exited = new Promise<number | string>((resolve, reject) => {
      child.once('error', (err) => {
        done = true;
        reject(err);
      });
      child.once('exit', (code, signal) => {
        done = true;
        resolve(code ?? signal ?? 'unknown');
      });
    });
    exited.catch(() => undefined); // observed through hasExited()/pid checks; never an unhandled rejection
    if (child.pid === undefined) throw new Error(`could not start ${file}`);
    return { pid: child.pid, logPath, exited, hasExited: () => done };
  } finally {
    closeSync(logFd);
  }
}

export function tailOfFile(filePath: string, lines = 15): string {
  try {
    return readFileSync(filePath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls check until it returns true; throws naming `what` (and the daemon's log tail) on timeout or daemon death. */
export async function waitUntilReady(
  what: string,
  daemon: DaemonProcess,
  check: () => Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (daemon.hasExited()) {
      throw new Error(`${what} exited during startup:\n${tailOfFile(daemon.logPath)}`);
    }
    if (await check()) return;
    if (Date.now() > deadline) {
      throw new Error(`${what} not ready after ${timeoutMs} ms:\n${tailOfFile(daemon.logPath)}`);
    }
    await sleep(100);
  }
}

/**
 * SIGTERM, then SIGKILL after graceMs. Works for processes that are not our children too (shims),
 * by polling /proc. Returns how the process ended.
 */
export async function stopProcess(pid: number, graceMs = 15_000): Promise<'gone' | 'terminated' | 'killed'> {
  if (!isProcessAlive(pid)) return 'gone';
  if (!signal(pid, 'SIGTERM')) return 'gone';
  if (await waitForExit(pid, graceMs)) return 'terminated';
  signal(pid, 'SIGKILL');
  if (await waitForExit(pid, 5_000)) return 'killed';
  throw new Error(`process ${pid} survived SIGKILL`);
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isProcessAlive(pid)) return true;
    await sleep(50);
  }
  return !isProcessAlive(pid);
}

function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false; // already gone
  }
}
