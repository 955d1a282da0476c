// Issue 3, done-when: nothing is lost on a syscall-heavy container, loss is reported honestly when
// the collector is off or dies, memory stays flat on a long run, and livedump answers meanwhile.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectorFiles } from '../src/collector/files.js';
import { SummarySchema } from '../src/report/summary.js';
import { makeBusyboxBundle } from './lab/bundle.js';
import { ANALYZER, RUNC, WRAPPER, uniqueId } from './lab/env.js';
import { isProcessAlive, leftovers } from './lab/leaks.js';
import { runCommand } from './lab/run.js';
import { createAndStart, deleteContainer, waitStopped, type DetachedContainer } from './support/detached.js';
import { ourLog, readTraceResult, tracedSuite } from './support/traced.js';

const N = 500_000;
// One-byte reads and writes: 2 syscalls per byte, 1,000,000 in all, plus the shell's few.
const DD = ['sh', '-c', `uname >/dev/null; exec dd if=/dev/zero of=/dev/null bs=1 count=${N}`];

const suite = tracedSuite('oci-ftrace-collector-');
const tracedEnv = suite.tracedEnv;

/** Lines of dd's own one-byte calls in the log: `read(fd: 0x0, ..., count: 0x1) = 1`. */
function ddCallsInLog(log: string, syscall: 'read' | 'write', fd: number): number {
  const re = new RegExp(` ${syscall}\\(fd: 0x${fd}, buf: 0x[0-9a-f]+, count: 0x1\\) = 1$`, 'gm');
  return (log.match(re) ?? []).length;
}

describe('a container making 1,000,000 syscalls', () => {
  it('with the default buffer: exact counts, 0 lost, and the syscall of its first millisecond', async () => {
    const traced = tracedEnv();
    const b = await makeBusyboxBundle(path.join(suite.work(), 'dd'), { args: DD });
    const id = uniqueId('dd');
    const r = await runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, id], { env: traced.env(RUNC), reject: false, timeoutMs: 170_000 });
    expect(r.exitCode, r.stderr + ourLog(traced)).toBe(0);
    expect(r.stderr).toContain(`${N}+0 records in`);
    const { summary, log } = readTraceResult(traced, id);
    expect(summary.trace.source).toBe('collector');
    expect(summary.loss.lost, JSON.stringify({ loss: summary.loss, uname: summary.syscalls.uname, first: summary.trace.firstTimestamp }) + ourLog(traced)).toBe(0);
    expect(summary.syscalls.uname?.count).toBeGreaterThanOrEqual(1);
    // The workload itself, counted in the log (rendered from the raw pages, not from the aggregate):
    expect(ddCallsInLog(log, 'read', 0)).toBe(N);
    expect(ddCallsInLog(log, 'write', 1)).toBe(N);
    // The aggregate counts the same calls plus the shell's and the runtime's few.
    const read = summary.syscalls.read?.count ?? 0;
    const write = summary.syscalls.write?.count ?? 0;
    expect(read - N).toBeGreaterThanOrEqual(0);
    expect(read - N).toBeLessThan(20);
    expect(write - N).toBeGreaterThanOrEqual(0);
    expect(write - N).toBeLessThan(20);
    // And the log's read lines are exactly the aggregate's reads.
    expect((log.match(/^\S+ .* \d+ read\(/gm) ?? []).length).toBe(read);
    expect((await leftovers()).instances).toEqual([]);
  });

  it('with the collector disabled: the loss is counted, not hidden', async () => {
    const traced = tracedEnv({ collector: false, writeLog: false });
    const b = await makeBusyboxBundle(path.join(suite.work(), 'dd-nocollector'), { args: DD });
    const id = uniqueId('dd-off');
    const r = await runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, id], { env: traced.env(RUNC), reject: false, timeoutMs: 170_000 });
    expect(r.exitCode, r.stderr + ourLog(traced)).toBe(0);
    const summary = SummarySchema.parse(JSON.parse(readFileSync(path.join(traced.outputDir, id, 'summary.json'), 'utf8')));
    expect(summary.trace.source).toBe('ring-buffer');
    expect(summary.loss.lost).toBeGreaterThan(0);
    expect(summary.loss.overrun).toBeGreaterThan(0);
    // What survived plus what was lost accounts for every event the kernel wrote (2 per call).
    expect(summary.syscalls.read?.count ?? 0).toBeLessThan(N);
    const show = await runCommand(ANALYZER, ['show', path.join(traced.outputDir, id, 'summary.json')]);
    expect(show.stdout.split('\n')[0]).toMatch(new RegExp(`${summary.loss.lost} EVENTS LOST`));
  });

  it('with the collector killed mid-run: report falls back to the ring buffer and counts what died with it', async () => {
    const traced = tracedEnv({ writeLog: false });
    const b = await makeBusyboxBundle(path.join(suite.work(), 'dd-killed'), {
      args: ['sh', '-c', `exec dd if=/dev/zero of=/dev/null bs=1 count=${4 * N}`],
    });
    const c: DetachedContainer = { id: uniqueId('dd-kill'), globals: ['--root', path.join(suite.work(), 'root-kill')], env: traced.env(RUNC), runtime: RUNC };
    await createAndStart(c, b.bundleDir, path.join(suite.work(), 'kill.out'));
    const files = collectorFiles(traced.stateDir, c.id);
    const pid = Number(readFileSync(files.pid, 'utf8'));
    // Let it drain and checkpoint for a while, then kill it without warning.
    await new Promise((r) => setTimeout(r, 1500));
    expect(isProcessAlive(pid)).toBe(true);
    process.kill(pid, 'SIGKILL');
    await waitStopped(c, 120_000);
    await deleteContainer(c);
    const summary = SummarySchema.parse(JSON.parse(readFileSync(path.join(traced.outputDir, c.id, 'summary.json'), 'utf8')));
    expect(summary.trace.source).toBe('ring-buffer');
    expect(summary.loss.lost).toBeGreaterThan(0);
    // The checkpoint's part is kept: the count covers more than one ring buffer could hold.
    expect(summary.syscalls.read?.count ?? 0).toBeGreaterThan(0);
    expect(await leftovers({ stateDir: traced.stateDir })).toEqual({ instances: [], processes: [], stateFiles: [] });
  });
});

describe('a container running for 60 s at a steady rate', () => {
  it('keeps the collector flat in memory, and livedump shows the syscalls so far', async () => {
    const traced = tracedEnv();
    // No forks in the loop: ~50 open/read/close per 0.1 s, for 600 rounds.
    const script = 'mkfifo /dev/shm/f; exec 3<>/dev/shm/f; i=0; while [ $i -lt 600 ]; do j=0; while [ $j -lt 50 ]; do read x < /etc/hostname; j=$((j+1)); done; read -t 0.1 x <&3; i=$((i+1)); done';
    const b = await makeBusyboxBundle(path.join(suite.work(), 'steady'), { args: ['sh', '-c', script] });
    const c: DetachedContainer = { id: uniqueId('steady'), globals: ['--root', path.join(suite.work(), 'root-steady')], env: traced.env(RUNC), runtime: RUNC };
    await createAndStart(c, b.bundleDir, path.join(suite.work(), 'steady.out'));
    const pid = Number(readFileSync(collectorFiles(traced.stateDir, c.id).pid, 'utf8'));
    const rss = (): number => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
    await new Promise((r) => setTimeout(r, 8000));
    const rssStart = rss();
    await new Promise((r) => setTimeout(r, 22_000));
    const live = await runCommand(ANALYZER, ['report', '--livedump', c.id], { env: { OCI_FTRACE_CONFIG: traced.configPath } });
    expect(live.stdout).toMatch(/syscalls/);
    const liveSummary = SummarySchema.parse(JSON.parse(readFileSync(path.join(traced.outputDir, c.id, 'summary.live.json'), 'utf8')));
    expect(liveSummary.kind).toBe('live');
    expect(liveSummary.syscalls.openat?.count).toBeGreaterThan(10_000);
    await new Promise((r) => setTimeout(r, 25_000));
    const rssEnd = rss();
    console.log(`collector RSS: ${rssStart} kB at 8 s, ${rssEnd} kB at 55 s`);
    // Flat: the aggregate does not grow with events; allow GC noise.
    expect(rssEnd - rssStart).toBeLessThan(16 * 1024);
    await waitStopped(c, 60_000);
    await deleteContainer(c);
    const { summary } = readTraceResult(traced, c.id);
    expect(summary.loss.lost).toBe(0);
    expect(summary.syscalls.openat?.count).toBeGreaterThanOrEqual(600 * 50);
    expect(summary.syscalls.openat!.count).toBeGreaterThan(liveSummary.syscalls.openat!.count);
    expect((await leftovers()).instances).toEqual([]);
  }, 180_000);
});
