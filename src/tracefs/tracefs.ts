import { execFile } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { POOL_PREFIX, idle, releaseClaim } from './instance-pool.js';
import { TracefsError } from './errors.js';
import { selectedClock } from './trace-clock.js';

export { TracefsError };

const CANDIDATES = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];

function isTracefsRoot(dir: string): boolean {
  return existsSync(join(dir, 'instances')) && existsSync(join(dir, 'events'));
}

/**
 * Find a mounted tracefs, mounting it at /sys/kernel/tracing when nothing is (as root in the
 * host mount namespace, which is where runc runs hooks).
 */
export async function locateTracefs(override?: string): Promise<string> {
  if (override) {
    if (isTracefsRoot(override)) return override;
    throw new TracefsError(`tracefs not found at configured path ${override}`);
  }
  for (const dir of CANDIDATES) if (isTracefsRoot(dir)) return dir;
  const primary = CANDIDATES[0] as string;
  try {
    mkdirSync(primary, { recursive: true });
    // node:child_process, not execa: loading execa costs every hook ~30 ms, for a rare mount.
    await promisify(execFile)('mount', ['-t', 'tracefs', 'nodev', primary], { timeout: 5000 });
  } catch (err) {
    throw new TracefsError(`tracefs is not mounted and mounting it at ${primary} failed: ${firstLine(err)}`);
  }
  if (isTracefsRoot(primary)) return primary;
  throw new TracefsError(`tracefs mounted at ${primary} has no instances/ or events/ (kernel without ftrace events?)`);
}

function firstLine(err: unknown): string {
  return String(err instanceof Error ? err.message : err).split('\n')[0] ?? '';
}

export interface CpuStats {
  cpu: number;
  entries: number;
  overrun: number;
  dropped: number;
  /** Events lost because a nested write (an interrupt's) wrapped the buffer while one was being committed. */
  commitOverrun: number;
  /** Events the kernel has handed to readers of this buffer, in all. */
  readEvents: number;
}

/** Parse one `per_cpu/cpuN/stats` file (pure). */
export function parseCpuStats(cpu: number, text: string): CpuStats {
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s*(\\d+)`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  };
  return { cpu, entries: field('entries'), overrun: field('overrun'), dropped: field('dropped events'), commitOverrun: field('commit overrun'), readEvents: field('read events') };
}

/** Pure: the instance clock's time when the kernel wrote a `per_cpu/cpuN/stats` file (`now ts: S.US`), in seconds. */
export function parseNowTs(text: string): number | undefined {
  const m = /^now ts:\s*(\d+\.\d+)/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

/**
 * The current time in an instance's own clock, which for any clock but `mono` no syscall of ours
 * reads: the kernel prints it in each CPU's stats file (to the microsecond), read again at offset 0
 * on one open descriptor.
 */
export class InstanceClock {
  private readonly fd: number;
  private readonly buffer = Buffer.alloc(512);

  constructor(instancePath: string, cpu: number) {
    this.fd = openSync(join(instancePath, 'per_cpu', `cpu${cpu}`, 'stats'), 'r');
  }

  nowSeconds(): number {
    const n = readSync(this.fd, this.buffer, 0, this.buffer.length, 0);
    const now = parseNowTs(this.buffer.toString('latin1', 0, n));
    if (now === undefined) throw new TracefsError('the instance\'s stats file has no "now ts" line');
    return now;
  }

  close(): void {
    closeSync(this.fd);
  }
}

export { CAPABILITY_EVENT, CONTAINER_EVENTS } from './container-events.js';

export interface InstanceSettings {
  /** Kernel memory for the whole instance, all CPUs together: each CPU gets its share. */
  bufferKbTotal: number;
  /** A clock that is consistent across CPUs, so enter/exit of a migrating task stay ordered (trace-clock.ts). */
  clock: string;
  /** How full a CPU's buffer must be before a reader is woken (where the kernel has buffer_percent). */
  wakePercent?: number;
  events: readonly string[];
}

/** Each CPU's share of an instance's buffer, in KB (the kernel rounds up to whole pages). */
export function perCpuKb(totalKb: number, cpus: number): number {
  return Math.max(64, Math.floor(totalKb / Math.max(1, cpus)));
}

/** One ftrace instance (a directory under instances/): its own buffers, pid filter and events. */
export class TraceInstance {
  readonly path: string;

  /** The clock configure gave it. */
  private configuredClock: string | undefined;

  constructor(readonly tracefsRoot: string, readonly name: string) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.+-]*$/.test(name) || name.length > 255) {
      throw new TracefsError(`invalid ftrace instance name: ${JSON.stringify(name)}`);
    }
    this.path = join(tracefsRoot, 'instances', name);
  }

  exists(): boolean {
    return existsSync(this.path);
  }

  file(rel: string): string {
    return join(this.path, rel);
  }

  write(rel: string, value: string): void {
    try {
      writeFileSync(this.file(rel), value);
    } catch (err) {
      throw new TracefsError(`cannot write ${JSON.stringify(value)} to ${this.file(rel)}: ${firstLine(err)}`);
    }
  }

  private async writeAsync(rel: string, value: string): Promise<void> {
    try {
      await writeFile(this.file(rel), value);
    } catch (err) {
      throw new TracefsError(`cannot write ${JSON.stringify(value)} to ${this.file(rel)}: ${firstLine(err)}`);
    }
  }

  read(rel: string): string {
    return readFileSync(this.file(rel), 'utf8');
  }

  /**
   * Create the instance with its buffer, clock and options, recording nothing yet. This is most of
   * the kernel's work (buffer_size_kb waits for an RCU grace period, 10 to 25 ms; a new clock resets
   * the buffer through two more, 20 to 40 ms, which is why the instance's own `local` is kept where
   * it will do: trace-clock.ts), so it runs off the caller's thread (libuv's pool) and ahead of the
   * container, before the record step names the pids. An instance of this name must not exist (see
   * waitGone).
   */
  async configure(settings: InstanceSettings): Promise<void> {
    // A pooled instance (rootless, src/tracefs/instance-pool.ts) exists already, idle: it is claimed, not made.
    const pooled = this.name.startsWith(POOL_PREFIX);
    try {
      if (!pooled) await mkdir(this.path);
    } catch (err) {
      throw new TracefsError(`cannot create ftrace instance ${this.path}: ${firstLine(err)}`);
    }
    try {
      for (const ev of settings.events) {
        if (!existsSync(this.file(`events/${ev}`))) throw new TracefsError(`this kernel has no ftrace event ${ev}`);
      }
      if (!existsSync(this.file('options/event-fork'))) throw new TracefsError('this kernel has no options/event-fork');
      await this.writeAsync('tracing_on', '0');
      if (pooled) {
        // Whatever the last container left: no events, no pids, an empty buffer.
        idle(this.path);
      }
      const cpus = readdirSync(this.file('per_cpu')).filter((d) => /^cpu\d+$/.test(d)).length;
      await this.writeAsync('buffer_size_kb', String(perCpuKb(settings.bufferKbTotal, cpus)));
      if (selectedClock(await readFile(this.file('trace_clock'), 'utf8')) !== settings.clock) await this.writeAsync('trace_clock', settings.clock);
      this.configuredClock = settings.clock;
      await this.writeAsync('options/event-fork', '1');
      if (existsSync(this.file('options/record-tgid'))) await this.writeAsync('options/record-tgid', '1');
      if (settings.wakePercent !== undefined && existsSync(this.file('buffer_percent'))) await this.writeAsync('buffer_percent', String(settings.wakePercent));
    } catch (err) {
      await this.removeAsync(undefined).catch(() => undefined);
      throw err;
    }
  }

  /** The clock configure gave the instance (the record step notes it in the run state). */
  clock(): string {
    if (!this.configuredClock) throw new TracefsError(`${this.path} was not configured here: its clock is its run state's`);
    return this.configuredClock;
  }

  /*
   * The record step's writes and reads, on the agent's thread: each is well under a millisecond,
   * where one through libuv's pool cost a round trip each on a busy 2-CPU host (the record step took
   * 5 to 31 ms as six of them, on every traced container's start). The kernel holds such a write
   * while another instance is created or removed (up to 50 ms); the agent's own are one at a time
   * in its kernel lane, so only another tracer's can, and the drains run on their own threads meanwhile.
   */

  /** Start recording these tasks (and, through event-fork, what they start) on a configured instance. */
  start(pids: readonly number[], events: readonly string[]): void {
    // Pid filter first, events second: nothing from other tasks can slip in between.
    this.write('set_event_pid', pids.join(' '));
    for (const ev of events) this.write(`events/${ev}/enable`, '1');
    this.write('tracing_on', '1');
  }

  /** Add tasks to the pid filter (appending keeps the ones already there). */
  addPids(pids: readonly number[]): void {
    if (pids.length === 0) return;
    try {
      appendFileSync(this.file('set_event_pid'), pids.join(' '));
    } catch (err) {
      throw new TracefsError(`cannot add pids to ${this.file('set_event_pid')}: ${firstLine(err)}`);
    }
  }

  /** The pids currently in the filter. */
  eventPids(): number[] {
    return readFileSync(this.file('set_event_pid'), 'utf8').split(/\s+/).filter((s) => /^\d+$/.test(s)).map(Number);
  }

  /** Stop recording (the buffer stays readable). */
  async stop(): Promise<void> {
    if (this.exists()) await this.writeAsync('tracing_on', '0');
  }

  cpuStats(): CpuStats[] {
    const dir = this.file('per_cpu');
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((d) => /^cpu\d+$/.test(d))
      .map((d) => parseCpuStats(Number(d.slice(3)), readFileSync(join(dir, d, 'stats'), 'utf8')))
      .sort((a, b) => a.cpu - b.cpu);
  }

  /** The instance directory's inode now (undefined when there is none): which instance a name holds. */
  inode(): number | undefined {
    try {
      return statSync(this.path).ino;
    } catch {
      return undefined;
    }
  }

  /**
   * Remove the instance without blocking the event loop (the kernel takes 40 to 120 ms), and only
   * while the name still holds the instance whose inode is given: a container created meanwhile
   * with the same id may own the name by the time a retry comes.
   */
  async removeAsync(ino: number | undefined): Promise<void> {
    if (this.name.startsWith(POOL_PREFIX)) {
      // A pooled instance is given back, idle, not removed (its owner made it for the group).
      if (!this.exists()) return releaseClaim(this.name);
      try {
        idle(this.path);
      } finally {
        releaseClaim(this.name);
      }
      return;
    }
    // The kernel refuses (EBUSY) while a reader still holds one of its files open: retry briefly.
    let lastErr: unknown;
    for (let attempt = 0; attempt < 50; attempt++) {
      const now = this.inode();
      if (now === undefined || (ino !== undefined && now !== ino)) return;
      try {
        await rmdir(this.path);
        return;
      } catch (err) {
        lastErr = err;
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return;
        if (code !== 'EBUSY') break;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    throw new TracefsError(`cannot remove ftrace instance ${this.path}: ${firstLine(lastErr)}`);
  }

  /** Wait (bounded) until no instance of this name exists: one an earlier container is still removing. */
  async waitGone(timeoutMs: number): Promise<boolean> {
    for (const started = Date.now(); this.exists(); ) {
      if (Date.now() - started > timeoutMs) return false;
      await new Promise((r) => setTimeout(r, 10));
    }
    return true;
  }
}

/** Arguments of each syscall as the kernel names them (events/syscalls/sys_enter_X/format). */
export function readSyscallArgNames(tracefsRoot: string, syscall: string): string[] | undefined {
  for (const event of syscallEventNames(syscall)) {
    try {
      return parseSyscallFormatArgs(readFileSync(join(tracefsRoot, 'events', 'syscalls', `sys_enter_${event}`, 'format'), 'utf8'));
    } catch {
      /* try the next spelling */
    }
  }
  return undefined;
}

/**
 * Tracefs names some syscall events after the kernel function, not the __NR_ name that seccomp
 * uses (uname is sys_enter_newuname, umount2 is sys_enter_umount, sendfile is sendfile64).
 */
export function syscallEventNames(syscall: string): string[] {
  const special: Record<string, string> = { umount2: 'umount', sendfile: 'sendfile64' };
  const names = [syscall, `new${syscall}`];
  const alias = special[syscall];
  if (alias) names.unshift(alias);
  return names;
}

/** Pure: the argument names in a syscall enter event's format (fields after __syscall_nr). */
export function parseSyscallFormatArgs(format: string): string[] {
  const names: string[] = [];
  let afterNr = false;
  for (const line of format.split('\n')) {
    const m = /^\s*field:(.*?);\s*offset:/.exec(line);
    if (!m) continue;
    const decl = (m[1] ?? '').trim();
    const name = /([A-Za-z_][A-Za-z0-9_]*)(\[\d*\])?$/.exec(decl)?.[1];
    if (!name) continue;
    if (name === '__syscall_nr') {
      afterNr = true;
      continue;
    }
    if (afterNr) names.push(name);
  }
  return names;
}
