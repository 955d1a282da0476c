import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TraceAnalyzer } from '../support/text-analyzer.js';
import type { SyscallRecord } from '../../src/trace/syscall-pairing.js';
import type { TraceEvent } from '../../src/trace/events.js';
import { parseTraceLine } from '../support/line-parser.js';

// A real trace: `runc run` of busybox `sh -c 'uname -a; cat /etc/hostname; ls /'` on x86_64, recorded
// from createRuntime with event-fork, record-tgid and the sched process events (kernel 6.18).
const FIXTURE = new URL('../fixtures/runc-busybox-sh.trace', import.meta.url);

/** The tasks tracing began with: those in the trace that no fork event created (the init's threads). */
function initialTasksOf(lines: string[]): number[] {
  const events = lines.map(parseTraceLine).filter((e): e is TraceEvent => e !== undefined);
  const born = new Set(events.flatMap((e) => (e.kind === 'fork' ? [e.childPid] : [])));
  return [...new Set(events.map((e) => e.pid))].filter((pid) => !born.has(pid));
}

function analyze(): { analyzer: TraceAnalyzer; records: SyscallRecord[] } {
  const records: SyscallRecord[] = [];
  const lines = readFileSync(FIXTURE, 'utf8').split('\n');
  // x86_64: clone, fork, vfork, clone3.
  const analyzer = new TraceAnalyzer({ forkSyscalls: new Set([56, 57, 58, 435]), onRecord: (r) => records.push(r), initialTasks: initialTasksOf(lines) });
  for (const line of lines) analyzer.feedLine(line);
  analyzer.finish();
  return { analyzer, records };
}

describe('TraceAnalyzer on a real runc trace', () => {
  const { analyzer, records } = analyze();
  const agg = analyzer.aggregate;

  it('understands every event line', () => {
    expect(analyzer.linesUnparsed).toBe(0);
    expect(analyzer.entries).toEqual({ inBuffer: 645, written: 645 });
  });

  it('sees uname in sh (busybox asks at start-up) and in the forked uname applet, execve in sh and cat', () => {
    expect(agg.syscalls.get(63)?.count).toBe(2); // uname
    expect([...(agg.syscalls.get(63)?.pids ?? [])].sort()).toEqual([14779, 14789]);
    expect([...(agg.syscalls.get(59)?.pids ?? [])].sort()).toEqual([14779, 14790]); // execve
    expect(agg.syscalls.get(217)?.count).toBeGreaterThan(0); // getdents64 from ls
  });

  it('never invents a syscall from the NR -1 exit of rt_sigreturn', () => {
    expect([...agg.syscalls.keys()].every((nr) => nr >= 0)).toBe(true);
    const sigreturns = records.filter((r) => r.nr === 15);
    expect(sigreturns.length).toBeGreaterThan(0);
    expect(sigreturns.every((r) => r.ret !== undefined)).toBe(true);
  });

  it('counts one record per entry, plus the call already in progress when tracing began, not the child half of clone', () => {
    const text = readFileSync(FIXTURE, 'utf8');
    const enters = text.split('\n').filter((l) => l.includes(' sys_enter: ')).length;
    // The init process was blocked in read(2) on runc's sync pipe when the hook ran: its exit
    // (`NR 0 = 29`, first event) has no entry, and still is a call the container made.
    expect(records[0]).toMatchObject({ nr: 0, ret: 29n, args: [] });
    expect(agg.totalSyscalls).toBe(enters + 1);
    // Each forked child's first event is clone returning 0 in the child: the parent's call.
    expect(agg.syscalls.get(56)?.count).toBe(2);
    expect([...(agg.syscalls.get(56)?.pids ?? [])]).toEqual([14779]);
  });

  it('leaves exit_group unfinished and counts it once per process', () => {
    const exits = records.filter((r) => r.nr === 231);
    expect(exits.map((r) => r.pid).sort()).toEqual([14779, 14789, 14790]);
    expect(exits.every((r) => r.ret === undefined)).toBe(true);
  });

  it('builds the process tree with exec history', () => {
    expect(agg.allProcesses().find((p) => p.pid === 14779)?.execs).toEqual(['/bin/sh']);
    expect(agg.allProcesses().find((p) => p.pid === 14789)?.parentPid).toBe(14779);
    expect(agg.allProcesses().find((p) => p.pid === 14790)?.execs).toEqual(['/proc/self/exe']);
    expect(agg.allProcesses().find((p) => p.pid === 14790)?.parentPid).toBe(14779);
  });

  it('counts errors by errno', () => {
    for (const s of agg.syscalls.values()) {
      const byErrno = [...s.errnos.values()].reduce((a, b) => a + b, 0);
      expect(byErrno).toBe(s.errors);
    }
    const failed = records.filter((r) => r.ret !== undefined && r.ret < 0n && r.ret >= -4095n).length;
    expect([...agg.syscalls.values()].reduce((a, s) => a + s.errors, 0)).toBe(failed);
    expect(failed).toBeGreaterThan(0);
  });
});
