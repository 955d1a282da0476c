// What a test may leave behind on the machine: tracefs instances, processes, open descriptors. Tests assert these are empty.
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { tracefsRoot } from './env.js';

/** Names of tracefs instances starting with prefix. */
export function listTracefsInstances(prefix = 'oci-ftrace'): string[] {
  const root = tracefsRoot();
  if (root === undefined) return [];
  return readdirSync(path.join(root, 'instances')).filter((name) => name.startsWith(prefix));
}

export interface ProcessInfo {
  pid: number;
  /** argv joined by single spaces. */
  cmdline: string;
}

/** Live (non-zombie) processes other than this one whose command line matches pattern. */
export function processesMatching(pattern: RegExp): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const cmdline = readProcText(pid, 'cmdline')?.split('\0').filter(Boolean).join(' ');
    // Kernel threads and zombies have an empty cmdline.
    if (!cmdline || !pattern.test(cmdline)) continue;
    found.push({ pid, cmdline });
  }
  return found;
}

/** True while pid exists and is not a zombie. */
export function isProcessAlive(pid: number): boolean {
  const stat = readProcText(pid, 'stat');
  if (stat === undefined) return false;
  // The state letter follows the parenthesised command name, which may itself contain ") ".
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

function readProcText(pid: number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return undefined; // exited while we looked
  }
}

/** Mount points at or below dir, deepest first. */
export function mountsUnder(dir: string): string[] {
  const prefix = path.resolve(dir);
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((field): field is string => field !== undefined)
    .map(decodeMountinfoPath)
    .filter((mp) => mp === prefix || mp.startsWith(`${prefix}/`))
    .sort((a, b) => b.length - a.length);
}

/** Open descriptors of any process (`PID FD -> PATH`) on a file at or below dir: what would pin its file system. */
export function descriptorsUnder(dir: string): string[] {
  const prefix = path.resolve(dir);
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue; // exited while we looked
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${entry}/fd/${fd}`);
      } catch {
        continue;
      }
      if (target === prefix || target.startsWith(`${prefix}/`)) found.push(`${entry} ${fd} -> ${target}`);
    }
  }
  return found;
}

// mountinfo escapes space, tab, newline and backslash as \ooo octal.
function decodeMountinfoPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/**
 * Our processes that must not outlive a container's create or delete: hooks (the front door as
 * oci-ftrace-hook) and the CLI. The agent is not among them: it stays until it has been idle for
 * agentIdleExitSeconds (see agentProcesses).
 */
export const OUR_PROCESSES = /(^|\/| )oci-ftrace-hook |bundle\/cli\/oci-ftrace\.js|bin\/oci-ftrace /;

/** Our agents: `node .../agent/main.js agent --socket PATH`. */
export const AGENT_PROCESS = /agent\/main\.js agent --socket /;

/** The agents running now, optionally only the one serving a socket. */
export function agentProcesses(socket?: string): ProcessInfo[] {
  return processesMatching(AGENT_PROCESS).filter((p) => socket === undefined || p.cmdline.includes(`--socket ${socket}`));
}

export interface Leftovers {
  instances: string[];
  processes: ProcessInfo[];
  stateFiles: string[];
}

/**
 * What a traced container left, once it has had time to go: the agent removes its ftrace instance
 * (the kernel takes 40 to 120 ms) after it answered the report hook. Polls until nothing is left or
 * timeoutMs passed, and returns what is still there.
 */
export async function leftovers(opts: { stateDir?: string; timeoutMs?: number } = {}): Promise<Leftovers> {
  const look = (): Leftovers => ({
    instances: listTracefsInstances(),
    processes: processesMatching(OUR_PROCESSES),
    // agent.json: the agent itself, which stays while idle.
    stateFiles: opts.stateDir !== undefined && existsSync(opts.stateDir) ? readdirSync(opts.stateDir).filter((f) => f !== 'agent.json') : [],
  });
  const deadline = Date.now() + (opts.timeoutMs ?? 5000);
  for (;;) {
    const now = look();
    if ((now.instances.length === 0 && now.processes.length === 0 && now.stateFiles.length === 0) || Date.now() > deadline) return now;
    await new Promise((r) => setTimeout(r, 20));
  }
}
