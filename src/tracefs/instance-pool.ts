/**
 * ftrace instances for rootless tracing. The kernel gives every file of a new instance mode 0640
 * (0440 to read-only ones) and the owner and group of `instances/`, whoever made it: a group can
 * never be given write access to instances its members make. So the administrator makes a pool of
 * instances once (`oci-ftrace setup-rootless --group G`, as root): each owned by root and group G,
 * with group write on exactly the files the agent writes. `instances/` itself stays root's (0751:
 * members may pass through, not list; instances root's agent makes stay root:root 0750), and the
 * tracefs root becomes root:G 0710.
 *
 * A rootless agent claims a free pooled instance per container: an O_EXCL claim file in the claims
 * directory (root:G, 1770, so only its owner removes a claim), released at the container's end. A
 * claim names its state directory and container, so the agent of that state directory frees its own
 * stale claims when it reconciles. What the group can do: see docs in the README (a member can trace
 * any process on the host through a pooled instance).
 */
import { accessSync, chmodSync, chownSync, closeSync, constants, existsSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, rmdirSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { CAPABILITY_EVENT, CONTAINER_EVENTS } from './container-events.js';
import { TracefsError } from './errors.js';

export const POOL_PREFIX = 'oci-ftrace-pool-';
/** The claims, and pool.json (its size and group), on tmpfs: the pool, like tracefs, lasts until reboot. */
export const POOL_DIR = '/run/oci-ftrace-pool';
/** Per CPU, what an idle pooled instance keeps (the kernel's smallest is a page). */
const IDLE_BUFFER_KB = 4;

/** Every file of an instance the agent writes (configure, start, reset, the distinct-mode filters). */
export const POOL_WRITABLE_FILES: readonly string[] = [
  'tracing_on',
  'trace',
  'set_event_pid',
  'buffer_size_kb',
  'buffer_percent',
  'trace_clock',
  'options/event-fork',
  'options/record-tgid',
  ...[...CONTAINER_EVENTS, CAPABILITY_EVENT].map((e) => `events/${e}/enable`),
  'events/raw_syscalls/sys_enter/filter',
  'events/raw_syscalls/sys_exit/filter',
];

const PoolFileSchema = z.object({ size: z.number().int().positive(), gid: z.number().int().nonnegative(), group: z.string() }).strict();
export type PoolFile = z.infer<typeof PoolFileSchema>;

const ClaimSchema = z.object({ stateDir: z.string(), id: z.string(), uid: z.number().int(), at: z.string() }).strict();
export type Claim = z.infer<typeof ClaimSchema>;

export function isPooledInstance(name: string): boolean {
  return name.startsWith(POOL_PREFIX);
}

export function pooledName(n: number): string {
  return `${POOL_PREFIX}${n}`;
}

function claimPath(name: string, dir = POOL_DIR): string {
  return join(dir, `${name}.claim`);
}

function firstLine(err: unknown): string {
  return String(err instanceof Error ? err.message : err).split('\n')[0] ?? '';
}

export function readPoolFile(dir = POOL_DIR): PoolFile | undefined {
  try {
    return PoolFileSchema.parse(JSON.parse(readFileSync(join(dir, 'pool.json'), 'utf8')));
  } catch {
    return undefined;
  }
}

const SETUP = 'as root: oci-ftrace setup-rootless --group GROUP, and add this user to GROUP';

/** What keeps this process from tracing through the pool, and what fixes it. */
export interface PoolAccessProblem {
  problem: string;
  fix: string;
}

/** Why this process cannot trace through the pool (naming the file), and the fix; undefined when it can. */
export function poolAccess(tracefsRoot: string, dir = POOL_DIR): PoolAccessProblem | undefined {
  const pool = readPoolFile(dir);
  if (!pool) return { problem: `no rootless instance pool (${join(dir, 'pool.json')} cannot be read)`, fix: SETUP };
  const probe = join(tracefsRoot, 'instances', pooledName(0), 'set_event_pid');
  try {
    accessSync(probe, constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    if (code === 'ENOENT') return { problem: `cannot open ${probe}: ENOENT (the pool goes at reboot)`, fix: SETUP.replace('GROUP, and add this user to GROUP', pool.group) };
    return { problem: `cannot open ${probe} for writing: ${code} (not in group ${pool.group}, or logged in before joining it)`, fix: `as root: usermod -aG ${pool.group} USER, then log in again` };
  }
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    return { problem: `cannot write claims in ${dir}: ${(err as NodeJS.ErrnoException).code ?? firstLine(err)}`, fix: `as root: usermod -aG ${pool.group} USER, then log in again` };
  }
  return undefined;
}

/** The same as one line: the problem, then what to run. */
export function poolAccessProblem(tracefsRoot: string, dir = POOL_DIR): string | undefined {
  const p = poolAccess(tracefsRoot, dir);
  return p ? `${p.problem}; to fix it, ${p.fix}` : undefined;
}

/** Claim a free pooled instance for container `id` of the agent of `stateDir`; its name. */
export function claimPooledInstance(tracefsRoot: string, claim: Omit<Claim, 'at' | 'uid'>, dir = POOL_DIR): string {
  const problem = poolAccessProblem(tracefsRoot, dir);
  if (problem) throw new TracefsError(problem);
  const pool = readPoolFile(dir) as PoolFile;
  const body = JSON.stringify({ ...claim, uid: process.getuid?.() ?? -1, at: new Date().toISOString() });
  for (let n = 0; n < pool.size; n++) {
    const name = pooledName(n);
    if (!existsSync(join(tracefsRoot, 'instances', name))) continue;
    let fd: number;
    try {
      fd = openSync(claimPath(name, dir), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o640);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw new TracefsError(`cannot claim ${name} in ${dir}: ${firstLine(err)}`);
    }
    try {
      writeSync(fd, body);
    } finally {
      closeSync(fd);
    }
    return name;
  }
  throw new TracefsError(`all ${pool.size} pooled ftrace instances are in use (as root: oci-ftrace setup-rootless --group ${pool.group} --instances N for more)`);
}

export function releaseClaim(name: string, dir = POOL_DIR): void {
  rmSync(claimPath(name, dir), { force: true });
}

/** The claims this state directory's agent holds, by instance name. */
export function claimsOf(stateDir: string, dir = POOL_DIR): Map<string, Claim> {
  const out = new Map<string, Claim>();
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.claim'));
  } catch {
    return out;
  }
  for (const f of files) {
    try {
      const c = ClaimSchema.parse(JSON.parse(readFileSync(join(dir, f), 'utf8')));
      if (c.stateDir === stateDir) out.set(f.slice(0, -'.claim'.length), c);
    } catch {
      /* another user's, unreadable, or half-written: not ours */
    }
  }
  return out;
}

/**
 * `setup-rootless` (root): the pool of `size` instances for group `gid`, idle (not recording, a page
 * per CPU), and the claims directory. Idempotent: an existing pool is kept and grown, never shrunk
 * while claimed.
 */
export function setupPool(tracefsRoot: string, group: { gid: number; name: string }, size: number, dir = POOL_DIR): { created: string[]; kept: string[] } {
  const instances = join(tracefsRoot, 'instances');
  // Members pass through the root and instances/ to the pool; nothing else of tracefs opens to them.
  chownSync(tracefsRoot, 0, group.gid);
  chmodSync(tracefsRoot, 0o710);
  chmodSync(instances, 0o751);
  const created: string[] = [];
  const kept: string[] = [];
  for (let n = 0; n < size; n++) {
    const name = pooledName(n);
    const path = join(instances, name);
    if (existsSync(path)) kept.push(name);
    else {
      mkdirSync(path);
      created.push(name);
    }
    grantTree(path, group.gid);
    for (const f of POOL_WRITABLE_FILES) {
      const file = join(path, f);
      if (existsSync(file)) chmodSync(file, (statSync(file).mode & 0o777) | 0o060);
    }
    if (!existsSync(claimPath(name, dir))) idle(path);
  }
  mkdirSync(dir, { recursive: true });
  chownSync(dir, 0, group.gid);
  // Members claim (sticky: only a claim's owner removes it); anyone may read pool.json, to be told what to ask for.
  chmodSync(dir, 0o1771);
  writeFileSync(join(dir, 'pool.json'), JSON.stringify({ size: Math.max(size, readPoolFile(dir)?.size ?? 0), gid: group.gid, group: group.name }) + '\n', { mode: 0o644 });
  return { created, kept };
}

/** Group `gid` on every directory and file of an instance, group read on all, pass on directories. */
function grantTree(path: string, gid: number): void {
  chownSync(path, 0, gid);
  const st = lstatSync(path);
  if (st.isDirectory()) {
    chmodSync(path, (st.mode & 0o777) | 0o050);
    for (const e of readdirSync(path)) grantTree(join(path, e), gid);
  } else {
    chmodSync(path, (st.mode & 0o777) | ((st.mode & 0o400) !== 0 ? 0o040 : 0));
  }
}

/** A pooled instance between containers: recording nothing, for no pid, its buffer empty and a page per CPU. */
export function idle(path: string): void {
  const write = (f: string, v: string): void => {
    const file = join(path, f);
    if (existsSync(file)) writeFileSync(file, v);
  };
  write('tracing_on', '0');
  for (const e of [...CONTAINER_EVENTS, CAPABILITY_EVENT]) write(`events/${e}/enable`, '0');
  write('events/raw_syscalls/sys_enter/filter', '0');
  write('events/raw_syscalls/sys_exit/filter', '0');
  write('set_event_pid', '');
  write('trace', '');
  write('buffer_size_kb', String(IDLE_BUFFER_KB));
}

/**
 * `setup-rootless --remove` (root): the pool's unclaimed instances removed, tracefs's permissions as
 * the kernel makes them (root 0700, instances/ 0750, root's), the claims directory gone. A claimed
 * instance is left (its container is traced), and said.
 */
export function removePool(tracefsRoot: string, dir = POOL_DIR): { removed: string[]; claimed: string[] } {
  const instances = join(tracefsRoot, 'instances');
  const size = readPoolFile(dir)?.size ?? 0;
  const removed: string[] = [];
  const claimed: string[] = [];
  for (let n = 0; n < size; n++) {
    const name = pooledName(n);
    if (existsSync(claimPath(name, dir))) {
      claimed.push(name);
      continue;
    }
    const path = join(instances, name);
    if (existsSync(path)) {
      rmdirSync(path);
      removed.push(name);
    }
  }
  if (claimed.length === 0) {
    chownSync(tracefsRoot, 0, 0);
    chmodSync(tracefsRoot, 0o700);
    chmodSync(instances, 0o750);
    rmSync(dir, { recursive: true, force: true });
  }
  return { removed, claimed };
}
