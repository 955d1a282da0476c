import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { excludeIdsFilter } from '../../src/ingest/distinct-filter.js';
import { RawSpool, SpoolTruncatedError, spoolFrames } from '../../src/ingest/spool.js';
import { TaskTable } from '../../src/ingest/task-table.js';
import { TimeOrderBuffer } from '../../src/ingest/time-order.js';
import { RotatingLog } from '../../src/report/log-writer.js';
import type { TraceEvent } from '../../src/trace/events.js';
import { SyscallPairer, type SyscallRecord } from '../../src/trace/syscall-pairing.js';
import { recordedLayout } from './raw-fixtures.js';

const ev = (timestamp: number, pid = 1): TraceEvent => ({ kind: 'sys_exit', comm: '', pid, tgid: undefined, cpu: 0, timestamp, nr: 0, ret: 0n });

describe('excludeIdsFilter', () => {
  it('folds seen ids into ranges the kernel filter grammar accepts', () => {
    expect(excludeIdsFilter([0, 1, 2, 3, 9, 11, 12])).toBe('(id < 0 || id > 3) && id != 9 && (id < 11 || id > 12)');
    expect(excludeIdsFilter([])).toBe('0');
    expect(excludeIdsFilter([5, 5, -1])).toBe('id != 5');
  });
});

describe('TimeOrderBuffer', () => {
  it('merges per-CPU queues in time order and holds back what is past the watermark', () => {
    const b = new TimeOrderBuffer();
    b.add(0, [ev(1), ev(4), ev(9)]);
    b.add(1, [ev(2), ev(3), ev(10)]);
    const out: number[] = [];
    expect(b.release(5, (e) => out.push(e.timestamp))).toBe(4);
    expect(out).toEqual([1, 2, 3, 4]);
    b.add(0, [ev(11)]);
    b.release(Infinity, (e) => out.push(e.timestamp));
    expect(out).toEqual([1, 2, 3, 4, 9, 10, 11]);
    expect(b.size).toBe(0);
  });
});

describe('TaskTable', () => {
  it('names tasks from fork and exec, asking /proc only once per task', () => {
    let asked = 0;
    const t = new TaskTable({ comm: () => { asked++; return 'runc:[2:INIT]'; }, tgid: () => undefined });
    const fork: TraceEvent = { kind: 'fork', comm: '', pid: 10, tgid: undefined, cpu: 0, timestamp: 1, parentPid: 10, childComm: 'sh', childPid: 11 };
    t.annotate(fork);
    expect(fork.comm).toBe('runc:[2:INIT]');
    const child = ev(2, 11);
    t.annotate(child);
    expect(child.comm).toBe('sh');
    const exec: TraceEvent = { kind: 'exec', comm: '', pid: 11, tgid: undefined, cpu: 0, timestamp: 3, filename: '/usr/bin/a-very-long-binary-name', execPid: 11, oldPid: 11 };
    t.annotate(exec);
    expect(exec.comm).toBe('a-very-long-bin'); // the kernel's 15-character comm
    expect(t.commOf(10)).toBe('runc:[2:INIT]');
    expect(asked).toBe(1);
  });

  it("forgets a task at its exit (its pid is the kernel's next task's), and remembers first names for a replay within a bound", () => {
    const t = new TaskTable({ comm: () => undefined, tgid: () => undefined });
    const fork = (pid: number, childPid: number, childComm: string): TraceEvent => ({ kind: 'fork', comm: '', pid, tgid: pid, cpu: 0, timestamp: 1, parentPid: pid, childComm, childPid, thread: false });
    const exit = (pid: number): TraceEvent => ({ kind: 'exit', comm: '', pid, tgid: pid, cpu: 0, timestamp: 3, exitPid: pid });
    t.annotate(fork(1, 500, 'true'));
    t.annotate(ev(2, 500));
    t.annotate(exit(500));
    expect(t.commOf(500)).toBe('<...>');
    t.annotate(fork(1, 500, 'date'));
    const again = ev(4, 500);
    t.annotate(again);
    expect([again.comm, again.tgid]).toEqual(['date', 500]);
    expect(t.asReader().comm(500)).toBe('date');
    // 20,000 short tasks: the replay's names are the latest 16,384.
    for (let pid = 1000; pid < 21_000; pid++) {
      t.annotate(fork(1, pid, `t${pid}`));
      t.annotate(ev(5, pid));
      t.annotate(exit(pid));
    }
    expect(t.asReader().comm(1000)).toBeUndefined();
    expect(t.asReader().comm(20_999)).toBe('t20999');
  });
});

describe('RotatingLog', () => {
  let dir: string | undefined;
  afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('caps each file and keeps N rotated parts, each with the header', () => {
    dir = mkdtempSync(path.join(tmpdir(), 'oci-ftrace-log-'));
    const file = path.join(dir, 'x.log');
    const log = new RotatingLog(file, { maxBytes: 200, keep: 2, header: ['# head'] });
    for (let i = 0; i < 5000; i++) log.write(`line ${i} ${'x'.repeat(20)}`);
    log.close();
    expect(readdirSync(dir).sort()).toEqual(['x.log', 'x.log.1', 'x.log.2']);
    for (const f of readdirSync(dir)) expect(readFileSync(path.join(dir, f), 'utf8').startsWith('# head\n')).toBe(true);
    expect(readFileSync(file, 'utf8')).toContain('line 4999 ');
    expect(log.rotations).toBeGreaterThan(2);
  });
});

describe('spoolFrames', () => {
  it('reads back pages and round markers, and refuses a truncated segment', () => {
    const frame = (kind: number, cpu: number, payload: Buffer) => {
      const h = Buffer.alloc(12);
      h.writeUInt32LE(kind, 0);
      h.writeUInt32LE(cpu, 4);
      h.writeUInt32LE(payload.length, 8);
      return Buffer.concat([h, payload]);
    };
    const wm = Buffer.alloc(8);
    wm.writeDoubleLE(12.5, 0);
    const bytes = Buffer.concat([frame(1, 1, Buffer.from('page')), frame(2, 0, wm)]);
    const frames = [...spoolFrames(bytes)];
    expect(frames).toEqual([{ kind: 'page', cpu: 1, page: Buffer.from('page') }, { kind: 'round', watermark: 12.5 }]);
    expect(() => [...spoolFrames(bytes.subarray(0, 14))]).toThrow(SpoolTruncatedError);
    // Cut inside the next frame's header, too (a writer killed mid-write).
    expect(() => [...spoolFrames(bytes.subarray(0, 16 + 5))]).toThrow(SpoolTruncatedError);
  });
});

describe('RawSpool', () => {
  let dir: string | undefined;
  afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));
  const layout = recordedLayout();
  /** A page read from the kernel (its bytes do not matter here; 4,000 of them are spooled). */
  const page = () => Buffer.alloc(layout.page.subBufferSize, 1);
  const onDisk = (d: string) => readdirSync(d).reduce((n, f) => n + statSync(path.join(d, f)).size, 0);

  it('stays within its cap while it is written, dropping its oldest segments, and says how many went', () => {
    dir = mkdtempSync(path.join(tmpdir(), 'oci-ftrace-spool-'));
    const spool = new RawSpool(path.join(dir, '.spool'), layout.page, 64 * 1024, 256 * 1024);
    let most = 0;
    for (let round = 0; round < 400; round++) {
      for (let i = 0; i < 4; i++) spool.appendPage(0, page(), 4000);
      spool.endRound(round);
      most = Math.max(most, onDisk(spool.dir));
    }
    spool.closeSegment();
    // 6.4 MB spooled; never more on disk than the cap and the segment being written.
    expect(most).toBeLessThanOrEqual(256 * 1024 + 64 * 1024 + 16 * 1024);
    expect(onDisk(spool.dir)).toBeLessThanOrEqual(256 * 1024 + 64 * 1024);
    expect(spool.droppedBytes).toBeGreaterThan(5_000_000);
    const left = spool.closedSegments();
    expect(spool.droppedSegments()).toBe(Number(/segment-(\d+)/.exec(left[0] as string)?.[1]) - 1);
    expect(spool.droppedSegments()).toBeGreaterThan(70);
  });

  it("continues after the segments an earlier agent left, leaving them as they are", () => {
    dir = mkdtempSync(path.join(tmpdir(), 'oci-ftrace-spool-'));
    const first = new RawSpool(path.join(dir, '.spool'), layout.page, 1 << 20);
    first.appendPage(0, page(), 4000);
    first.endRound(1);
    first.closeSegment();
    const before = readFileSync(first.closedSegments()[0] as string);
    const next = new RawSpool(path.join(dir, '.spool'), layout.page, 1 << 20);
    next.appendPage(1, page(), 4000);
    next.endRound(2);
    next.closeSegment();
    const segments = next.closedSegments();
    expect(segments.map((p) => path.basename(p))).toEqual(['segment-00000001.raw', 'segment-00000002.raw']);
    expect(readFileSync(segments[0] as string).equals(before)).toBe(true);
    expect([...spoolFrames(readFileSync(segments[1] as string))].map((f) => f.kind === 'page' ? f.cpu : f.watermark)).toEqual([1, 2]);
    expect(next.droppedSegments()).toBe(0);
    // The renderer notes the dead agent's gap between the two.
    expect(segments.map((p) => next.isInherited(p))).toEqual([true, false]);
  });
});

describe('SyscallPairer after a gap in the log', () => {
  const exit = (pid: number, nr: number): TraceEvent => ({ kind: 'sys_exit', comm: 'x', pid, tgid: pid, cpu: 0, timestamp: 1, nr, ret: 0n });
  it("takes each task's first exit for a call begun in the dropped part, not a blocked one", () => {
    const out: SyscallRecord[] = [];
    const pairer = new SyscallPairer((r) => out.push(r));
    pairer.push(exit(7, 0));
    pairer.everyTaskMayBeMidCall();
    pairer.push(exit(8, 0));
    pairer.push(exit(8, 1));
    expect(out.map((r) => [r.pid, r.blocked === true])).toEqual([[7, true], [8, false], [8, true]]);
  });
});
