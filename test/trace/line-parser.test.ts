import { describe, expect, it } from 'vitest';
import { parseEntriesHeader, parseTraceLine } from '../support/line-parser.js';

describe('parseTraceLine', () => {
  it('parses sys_enter with tgid column', () => {
    const e = parseTraceLine('           uname-14789   (  14789) [000] .....   583.782802: sys_enter: NR 63 (7ffdd8a6ba16, 818c8b0, 2, 0, 0, 0)');
    expect(e).toEqual({ kind: 'sys_enter', comm: 'uname', pid: 14789, tgid: 14789, cpu: 0, timestamp: 583.782802, nr: 63, args: ['7ffdd8a6ba16', '818c8b0', '2', '0', '0', '0'] });
  });

  it('parses sys_exit with negative return and the NR -1 of rt_sigreturn', () => {
    const e = parseTraceLine('  ls-14779   (  14779) [001] .N...   583.779035: sys_exit: NR -1 = -38');
    expect(e).toMatchObject({ kind: 'sys_exit', nr: -1, ret: -38n, cpu: 1 });
  });

  it('keeps task names with dashes, spaces and brackets', () => {
    const e = parseTraceLine(' runc:[2:INIT]-4242    (   4242) [001] .....   10.000001: sys_exit: NR 0 = 29');
    expect(e).toMatchObject({ comm: 'runc:[2:INIT]', pid: 4242 });
    const k = parseTraceLine(' kworker/0:1-ev-77 [000] ..... 5.5: sys_enter: NR 1 (0, 0, 0, 0, 0, 0)');
    expect(k).toMatchObject({ comm: 'kworker/0:1-ev', pid: 77, tgid: undefined });
  });

  it('parses tgid placeholders for unknown thread groups', () => {
    expect(parseTraceLine('  <...>-99 (-------) [000] ..... 1.000000: sys_exit: NR 1 = 1')).toMatchObject({ comm: '<...>', pid: 99, tgid: undefined });
  });

  it('parses process lifecycle events', () => {
    expect(parseTraceLine('  ls-1 (  1) [000] ..... 1.5: sched_process_exec: filename=/bin/sh pid=1 old_pid=1')).toMatchObject({ kind: 'exec', filename: '/bin/sh', execPid: 1, oldPid: 1 });
    expect(parseTraceLine('  ls-1 (  1) [000] ..... 1.5: sched_process_fork: comm=sh pid=1 child_comm=sh child_pid=2')).toMatchObject({ kind: 'fork', parentPid: 1, childPid: 2, childComm: 'sh' });
    expect(parseTraceLine('  ls-1 (  1) [000] ..... 1.5: sched_process_exit: comm=ls pid=1 prio=120 group_dead=true')).toMatchObject({ kind: 'exit', exitPid: 1 });
    expect(parseTraceLine('  ls-1 [000] ..... 1.5: sched_process_exit: comm=ls pid=1 prio=120')).toMatchObject({ kind: 'exit', exitPid: 1 });
  });

  it('ignores comments, blanks and other events', () => {
    expect(parseTraceLine('# tracer: nop')).toBeUndefined();
    expect(parseTraceLine('')).toBeUndefined();
    expect(parseTraceLine('  ls-1 (  1) [000] ..... 1.5: sched_switch: prev_comm=ls')).toBeUndefined();
  });

  it('reads the entries header', () => {
    expect(parseEntriesHeader('# entries-in-buffer/entries-written: 645/700   #P:2')).toEqual({ inBuffer: 645, written: 700 });
  });
});
