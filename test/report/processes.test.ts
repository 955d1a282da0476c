import { describe, expect, it } from 'vitest';
import { MAX_ENDED_PROCESSES_KEPT, MAX_PIDS_PER_SYSCALL, TraceAggregate } from '../../src/report/aggregate.js';
import { mergeSummaryParts } from '../../src/report/merge.js';
import { buildSummary, SummarySchema } from '../../src/report/summary.js';
import { renderSummaryText } from '../../src/report/summary-text.js';
import type { TraceEvent } from '../../src/trace/events.js';

// A shell loop as a long-running container makes one: the init (pid 1000) forks a child, which
// execs `true`, makes a few calls and exits; again and again, the kernel handing out pids anew
// after pid_max (32768 here) wraps.
const INIT = 1000;
const READ = 0;
const WRITE = 1;
const header = (pid: number, comm: string, timestamp: number) => ({ pid, tgid: pid, comm, cpu: 0, timestamp });

function shellLoop(agg: TraceAggregate, children: number, pidOf: (i: number) => number): void {
  let t = 1;
  const call = (pid: number, comm: string, nr: number) => agg.addSyscall({ pid, tgid: pid, comm, nr, args: [], timestamp: (t += 1e-6), ret: 0n, exitTimestamp: t });
  call(INIT, 'sh', READ);
  for (let i = 0; i < children; i++) {
    const pid = pidOf(i);
    const comm = i % 2 === 0 ? 'true' : 'date';
    agg.addEvent({ ...header(INIT, 'sh', (t += 1e-6)), kind: 'fork', parentPid: INIT, childComm: 'sh', childPid: pid, thread: false } as TraceEvent);
    agg.addEvent({ ...header(pid, 'sh', (t += 1e-6)), kind: 'exec', filename: `/bin/${comm}`, execPid: pid, oldPid: pid } as TraceEvent);
    call(pid, comm, READ);
    call(pid, comm, WRITE);
    agg.addEvent({ ...header(pid, comm, (t += 1e-6)), kind: 'exit', exitPid: pid } as TraceEvent);
  }
}

const summaryOf = (agg: TraceAggregate) =>
  buildSummary(agg, { containerId: 'c1', arch: 'x86_64', kind: 'final', source: 'collector', clock: 'local', loss: { lost: 0, overrun: 0, dropped: 0, perCpu: [] }, now: new Date(0), syscallName: (nr) => (nr === READ ? 'read' : 'write'), errnoName: () => undefined });

describe('a container that forks for days: the report stays bounded, and counts everything', () => {
  it('keeps the first processes that ended one by one and folds the rest into counts by name', () => {
    const agg = new TraceAggregate();
    const n = 5000;
    shellLoop(agg, n, (i) => 2000 + i);
    const s = SummarySchema.parse(JSON.parse(JSON.stringify(summaryOf(agg))));
    // The init (live) and the first MAX_ENDED_PROCESSES_KEPT children.
    expect(Object.keys(s.processes)).toHaveLength(1 + MAX_ENDED_PROCESSES_KEPT);
    expect(s.processes['2000']).toMatchObject({ comm: 'true', parentPid: INIT, execs: ['/bin/true'], syscalls: 2 });
    expect(s.processesFolded).toEqual({ count: n - MAX_ENDED_PROCESSES_KEPT, syscalls: 2 * (n - MAX_ENDED_PROCESSES_KEPT), blocked: 0, byComm: { date: (n - MAX_ENDED_PROCESSES_KEPT) / 2, true: (n - MAX_ENDED_PROCESSES_KEPT) / 2 } });
    // Nothing is lost from the counts.
    expect(s.trace.syscallsTotal).toBe(1 + 2 * n);
    expect(s.syscalls.write?.count).toBe(n);
    expect(s.syscalls.read?.pids).toHaveLength(MAX_PIDS_PER_SYSCALL);
    expect(s.syscalls.read?.pidsTruncated).toBe(true);
    expect(JSON.stringify(s).length).toBeLessThan(1_000_000);
    expect(renderSummaryText(s)).toContain(`and ${n - MAX_ENDED_PROCESSES_KEPT} more that ended, folded: ${2 * (n - MAX_ENDED_PROCESSES_KEPT)} syscalls; by name: date ${(n - MAX_ENDED_PROCESSES_KEPT) / 2}, true ${(n - MAX_ENDED_PROCESSES_KEPT) / 2}`);
  });

  it('takes a pid the kernel hands out again for another process, with its own name, parent and calls', () => {
    const agg = new TraceAggregate();
    // Every child gets pid 3000, as after each wrap of pid_max.
    shellLoop(agg, 3, () => 3000);
    const s = summaryOf(agg);
    expect(Object.keys(s.processes).sort()).toEqual(['1000', '3000', '3000.2', '3000.3']);
    expect([s.processes['3000']?.comm, s.processes['3000.2']?.comm, s.processes['3000.3']?.comm]).toEqual(['true', 'date', 'true']);
    for (const key of ['3000', '3000.2', '3000.3']) expect(s.processes[key]).toMatchObject({ parentPid: INIT, syscalls: 2, threads: [3000] });
  });

  it("an exec root's pid, once it ended, is an ordinary process's again (its calls count)", () => {
    const agg = new TraceAggregate({}, { filterLoadExpected: false, workloadBegun: true });
    agg.markExecRoot(3000);
    shellLoop(agg, 2, () => 3000);
    const s = summaryOf(agg);
    expect(s.processes['3000']).toMatchObject({ exec: true, syscalls: 0, runtimeCalls: 2 });
    expect(s.processes['3000.2']?.exec).toBeUndefined();
    expect(s.processes['3000.2']?.syscalls).toBe(2);
  });

  it("a child whose parent ended before its first call (crun's middle process) inherits from it all the same", () => {
    const agg = new TraceAggregate({}, { filterLoadExpected: true });
    agg.markExecRoot(3000);
    let t = 1;
    const ev = (e: object) => agg.addEvent({ cpu: 0, timestamp: (t += 1e-6), ...e } as TraceEvent);
    agg.addSyscall({ pid: 3000, tgid: 3000, comm: 'crun', nr: READ, args: [], timestamp: (t += 1e-6), ret: 0n, exitTimestamp: t });
    ev({ kind: 'fork', comm: 'crun', pid: 3000, tgid: 3000, parentPid: 3000, childComm: 'crun', childPid: 3001, thread: false });
    agg.addSyscall({ pid: 3001, tgid: 3001, comm: 'crun', nr: READ, args: [], timestamp: (t += 1e-6), ret: 0n, exitTimestamp: t });
    ev({ kind: 'fork', comm: 'crun', pid: 3001, tgid: 3001, parentPid: 3001, childComm: 'crun', childPid: 3002, thread: false });
    ev({ kind: 'exit', comm: 'crun', pid: 3001, tgid: 3001, exitPid: 3001 });
    ev({ kind: 'exec', comm: 'crun', pid: 3002, tgid: 3002, filename: '/bin/ls', execPid: 3002, oldPid: 3002 });
    agg.addSyscall({ pid: 3002, tgid: 3002, comm: 'ls', nr: WRITE, args: [], timestamp: (t += 1e-6), ret: 0n, exitTimestamp: t });
    const s = summaryOf(agg);
    expect(s.processes['3001']).toMatchObject({ exec: true, parentPid: 3000 });
    expect(s.processes['3002']).toMatchObject({ exec: true, parentPid: 3001, comm: 'ls' });
  });

  it('merges two parts (a dead agent checkpoint and the rest) within the same bounds', () => {
    const a = new TraceAggregate();
    shellLoop(a, 1500, (i) => 2000 + i);
    const b = new TraceAggregate();
    shellLoop(b, 1500, (i) => 10_000 + i);
    const merged = mergeSummaryParts(summaryOf(a), summaryOf(b), { lost: 0, overrun: 0, dropped: 0, perCpu: [] });
    expect(merged.processesFolded?.count).toBe(1000);
    expect(merged.syscalls.write?.pids).toHaveLength(MAX_PIDS_PER_SYSCALL);
    expect(merged.syscalls.write?.pidsTruncated).toBe(true);
    expect(merged.trace.syscallsTotal).toBe(2 * (1 + 3000));
  });
});

describe('process names', () => {
  it('a program that re-ran itself (/proc/self/exe: busybox sh running an applet) takes the name it gives itself', () => {
    const agg = new TraceAggregate();
    let t = 1;
    const ev = (e: object) => agg.addEvent({ cpu: 0, timestamp: (t += 1e-6), ...e } as TraceEvent);
    ev({ kind: 'fork', comm: 'sh', pid: INIT, tgid: INIT, parentPid: INIT, childComm: 'sh', childPid: 4000, thread: false });
    ev({ kind: 'exec', comm: 'exe', pid: 4000, tgid: 4000, filename: '/proc/self/exe', execPid: 4000, oldPid: 4000 });
    ev({ kind: 'rename', comm: 'exe', pid: 4000, tgid: 4000, renamedPid: 4000, newComm: 'cat' });
    ev({ kind: 'fork', comm: 'sh', pid: INIT, tgid: INIT, parentPid: INIT, childComm: 'sh', childPid: 4001, thread: false });
    ev({ kind: 'exec', comm: 'ls', pid: 4001, tgid: 4001, filename: '/bin/ls', execPid: 4001, oldPid: 4001 });
    ev({ kind: 'rename', comm: 'ls', pid: 4001, tgid: 4001, renamedPid: 4001, newComm: 'worker' });
    const s = summaryOf(agg);
    expect(s.processes['4000']).toMatchObject({ comm: 'cat', execs: ['/proc/self/exe'] });
    // One that exec'd a program of its own is named after it, whatever it calls a thread later.
    expect(s.processes['4001']?.comm).toBe('ls');
  });
});
