import { describe, expect, it } from 'vitest';
import { TraceAggregate } from '../../src/report/aggregate.js';
import { buildSummary, syscallsSinceProfileStart } from '../../src/report/summary.js';
import { errnoName, syscallName, syscallNumber } from '../../src/syscalls/index.js';
import type { TraceEvent } from '../../src/trace/events.js';

// The x86_64 table's numbers, as the drain sees them.
const NAMES = ['read', 'write', 'openat', 'futex', 'setns', 'seccomp', 'getdents64', 'execve', 'nanosleep'] as const;
const NR = Object.fromEntries(NAMES.map((n) => [n, syscallNumber(n, 'x86_64') as number])) as Record<(typeof NAMES)[number], number>;

function fork(ts: number, parent: number, child: number): TraceEvent {
  return { kind: 'fork', comm: 'x', pid: parent, tgid: parent, cpu: 0, timestamp: ts, parentPid: parent, childComm: 'x', childPid: child };
}
function exec(ts: number, pid: number, filename: string): TraceEvent {
  return { kind: 'exec', comm: 'x', pid, tgid: pid, cpu: 0, timestamp: ts, filename, execPid: pid, oldPid: pid };
}

/**
 * A container whose init (pid 10) loads its filter at t=1 and runs `read`; then, at t=5, the
 * runtime's exec (root 50, the front door become runc exec) starts its init 51, which joins the
 * namespaces (setns), loads the filter at t=6 and execs `ls` (getdents64), which forks 52 (write).
 */
function containerWithExec(): TraceAggregate {
  const agg = new TraceAggregate({ seccomp: NR.seccomp });
  const proc = (pid: number) => agg.processOf(pid, pid, 'x', 0);
  // As the drain's hot path counts a call: its time set, then counted.
  const countCall = (p: ReturnType<typeof proc>, nr: number, ts: number): void => {
    agg.callTime[0] = ts;
    agg.countCall(p, nr);
  };
  countCall(proc(10), NR.seccomp, 0.9);
  agg.noteFilterLoad(1, 10);
  countCall(proc(10), NR.read, 2);
  agg.markExecRoot(50);
  countCall(proc(50), NR.futex, 5.0); // runc exec's own Go runtime
  countCall(proc(50), NR.openat, 5.01);
  agg.addEvent(exec(5.02, 50, '/usr/sbin/runc'));
  agg.addEvent(fork(5.1, 50, 51));
  countCall(proc(51), NR.setns, 5.2);
  countCall(proc(51), NR.seccomp, 5.9);
  agg.noteFilterLoad(6, 51);
  countCall(proc(51), NR.nanosleep, 6.1);
  countCall(proc(51), NR.execve, 6.2);
  agg.addEvent(exec(6.3, 51, '/bin/ls'));
  countCall(proc(51), NR.getdents64, 6.4);
  agg.addEvent(fork(6.5, 51, 52));
  countCall(proc(52), NR.write, 6.6);
  countCall(proc(50), NR.futex, 7); // runc exec waiting for it
  return agg;
}

function summaryOf(agg: TraceAggregate) {
  return buildSummary(agg, {
    containerId: 'c',
    arch: 'x86_64',
    kind: 'final',
    source: 'collector',
    clock: 'mono',
    loss: { lost: 0, overrun: 0, dropped: 0, perCpu: [] },
    now: new Date(0),
    syscallName: (nr) => syscallName(nr, 'x86_64'),
    errnoName,
  });
}

describe("the runtime's exec into a container", () => {
  it("counts an exec'd process's calls from its own seccomp load, as the init's, and its children's", () => {
    const s = summaryOf(containerWithExec());
    expect(syscallsSinceProfileStart(s)).toEqual(['execve', 'getdents64', 'nanosleep', 'read', 'write']);
    // The runtime's part of the exec (runc exec itself, its init before the load) is not the container's.
    expect(s.syscalls.setns).toBeUndefined();
    expect(s.syscalls.futex).toBeUndefined();
    expect(s.syscalls.openat).toBeUndefined();
    expect(s.processes['50']).toMatchObject({ exec: true, syscalls: 0, runtimeCalls: 3 });
    expect(s.processes['51']).toMatchObject({ exec: true, syscalls: 3, runtimeCalls: 2, parentPid: 50 });
    expect(s.processes['52']).toMatchObject({ exec: true, syscalls: 1, runtimeCalls: 0, parentPid: 51 });
    expect(s.processes['10']?.exec).toBeUndefined();
  });

  it("leaves the profile's start at the init's load, and the first exec the init's", () => {
    const agg = containerWithExec();
    expect(agg.profileStart()).toEqual({ kind: 'seccomp-load', timestamp: 1, pid: 10 });
    expect(agg.firstExec).toBeUndefined();
  });

  it('keeps the errors of the runtime part out of the counts', () => {
    const agg = new TraceAggregate({ seccomp: NR.seccomp });
    agg.markExecRoot(50);
    const p = agg.processOf(50, 50, 'runc', 1);
    agg.addSyscall({ nr: NR.openat, pid: 50, tgid: 50, comm: 'runc', timestamp: 1, args: [], ret: -2n, blocked: false } as never);
    expect(p.runtimeCalls).toBe(1);
    expect(agg.syscalls.get(NR.openat)).toBeUndefined();
  });

  it('with no filter to load (an unconfined container), counts from the exec of the command, not the runtime\'s re-execs', () => {
    // runc exec (root 50) starts its init 51 as /proc/self/exe, which re-execs a sealed copy of itself
    // (/dev/fd/N), joins the namespaces and execs `ls`; the init (10) had no filter either.
    const agg = new TraceAggregate({ seccomp: NR.seccomp }, { filterLoadExpected: false, workloadBegun: true });
    const proc = (pid: number) => agg.processOf(pid, pid, 'x', 0);
    const countCall = (p: ReturnType<typeof proc>, nr: number, ts: number): void => {
      agg.callTime[0] = ts;
      agg.countCall(p, nr);
    };
    agg.markExecRoot(50);
    agg.addEvent(exec(5.0, 50, '/usr/sbin/runc'));
    countCall(proc(50), NR.futex, 5.01);
    agg.addEvent(fork(5.1, 50, 51));
    agg.addEvent(exec(5.2, 51, '/proc/self/exe'));
    countCall(proc(51), NR.openat, 5.3);
    agg.addEvent(exec(5.4, 51, '/dev/fd/7'));
    countCall(proc(51), NR.setns, 5.5);
    // The execve is counted at its return, which follows the exec event.
    agg.addEvent(exec(5.6, 51, '/bin/ls'));
    countCall(proc(51), NR.execve, 5.61);
    countCall(proc(51), NR.getdents64, 5.7);
    agg.addEvent(fork(5.8, 51, 52));
    countCall(proc(52), NR.write, 5.9);
    const s = summaryOf(agg);
    expect(Object.keys(s.syscalls).sort()).toEqual(['execve', 'getdents64', 'write']);
    expect(s.processes['50']).toMatchObject({ exec: true, syscalls: 0, runtimeCalls: 1 });
    expect(s.processes['51']).toMatchObject({ exec: true, syscalls: 2, runtimeCalls: 2 });
    expect(s.processes['52']).toMatchObject({ exec: true, syscalls: 1, runtimeCalls: 0 });
  });
});
