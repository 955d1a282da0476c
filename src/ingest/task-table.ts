import type { TraceEvent } from '../trace/events.js';

/** Reads a live task's comm and tgid; undefined once it is gone. Injected so tests need no /proc. */
export interface ProcReader {
  comm(pid: number): string | undefined;
  tgid(pid: number): number | undefined;
}

/**
 * Names remembered for a later replay of the same events (the log), at most: the replay learns
 * names from the creation events it reads, and needs these only for tasks whose creation it does
 * not see (tracing began after it, or the log's cap dropped it).
 */
const FIRST_COMMS_KEPT = 16384;

/**
 * Task names and thread groups for binary records, which carry only a pid. Learned in time order
 * from fork (child's comm, and the parent as a hint) and exec (the binary's name), else asked of
 * /proc once while the task still lives. Bounded by the tasks alive (a task's entries go at its
 * exit: its pid may be the kernel's next task's) and FIRST_COMMS_KEPT.
 */
export class TaskTable {
  private readonly comms = new Map<number, string>();
  private readonly tgids = new Map<number, number>();
  /** The name each task had when first met, for a later replay of the same events. */
  private readonly firstComms = new Map<number, string>();

  constructor(private readonly proc: ProcReader, seed: ReadonlyMap<number, string> = new Map(), seedTgids: ReadonlyMap<number, number> = new Map()) {
    for (const [pid, comm] of seed) this.comms.set(pid, comm);
    for (const [pid, tgid] of seedTgids) this.tgids.set(pid, tgid);
  }

  /** Fill in comm and tgid, and learn from the event; call in time order. */
  annotate(event: TraceEvent): void {
    const pid = event.pid;
    if (event.kind === 'exec') {
      const base = event.filename.slice(event.filename.lastIndexOf('/') + 1);
      if (base) this.comms.set(event.execPid, base.slice(0, 15));
    } else if (event.kind === 'rename' && event.newComm !== '') {
      this.comms.set(event.renamedPid, event.newComm);
    }
    let comm = this.comms.get(pid);
    if (comm === undefined) {
      comm = this.proc.comm(pid) ?? '<...>';
      this.comms.set(pid, comm);
    }
    if (!this.firstComms.has(pid)) this.rememberFirst(pid, comm);
    let tgid = this.tgids.get(pid);
    if (tgid === undefined) {
      tgid = this.proc.tgid(pid);
      if (tgid !== undefined) this.tgids.set(pid, tgid);
    }
    event.comm = comm;
    event.tgid = tgid;
    if (event.kind === 'fork') {
      this.comms.set(event.childPid, event.childComm);
      // task_newtask says what the child is: a thread of the parent's process, or a process.
      if (event.thread !== undefined) this.tgids.set(event.childPid, event.thread ? (tgid ?? pid) : event.childPid);
      // A new task with this pid: what a replay remembers of the pid is its first name.
      this.firstComms.delete(event.childPid);
    } else if (event.kind === 'exit') {
      // Its last event: nothing more is asked of this pid until a new task has it.
      this.comms.delete(event.exitPid);
      this.tgids.delete(event.exitPid);
    }
  }

  private rememberFirst(pid: number, comm: string): void {
    if (this.firstComms.size >= FIRST_COMMS_KEPT) this.firstComms.delete(this.firstComms.keys().next().value as number);
    this.firstComms.set(pid, comm);
  }

  /** The task's current name (asked of /proc once, at first sight). */
  commOf(pid: number): string {
    let comm = this.comms.get(pid);
    if (comm === undefined) {
      comm = this.proc.comm(pid) ?? '<...>';
      this.comms.set(pid, comm);
      this.rememberFirst(pid, comm);
    }
    return comm;
  }

  tgidOf(pid: number): number | undefined {
    let tgid = this.tgids.get(pid);
    if (tgid === undefined) {
      tgid = this.proc.tgid(pid);
      // Remember misses too (as the pid itself): a dead task must not cost a /proc read per event.
      this.tgids.set(pid, tgid ?? pid);
    }
    return tgid;
  }

  /** What this table learned, as a reader for another table replaying the same events later. */
  asReader(): ProcReader {
    return { comm: (pid) => this.firstComms.get(pid), tgid: (pid) => this.tgids.get(pid) };
  }
}
