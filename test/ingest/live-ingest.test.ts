import { describe, expect, it } from 'vitest';
import { LiveIngest } from '../../src/ingest/live-ingest.js';
import { createRawEventDecoder } from '../../src/ingest/raw-decoder.js';
import { SCANNED_TIMESTAMP_NS, scanRawPage } from '../../src/ingest/raw-page.js';
import { TaskTable } from '../../src/ingest/task-table.js';
import { TraceAggregate } from '../../src/report/aggregate.js';
import { TraceAnalyzer } from '../support/text-analyzer.js';
import { containerCaptureMeta, fixtureText, recordedFormats, recordedLayout, recordedPages } from './raw-fixtures.js';

// x86_64 numbers, as the fixtures were recorded there.
const FORK = new Set([56, 57, 58, 435]);
const KNOWN = { seccomp: 317, prctl: 157 };
const NO_PROC = { comm: () => undefined, tgid: () => undefined };

function ingestFixture(): TraceAggregate {
  const formats = recordedFormats();
  const byName = (n: string) => formats.find((f) => f.name === n)!;
  const agg = new TraceAggregate(KNOWN);
  // The capture followed one shell (pid 930), blocked in poll(2) when tracing began.
  const ingest = new LiveIngest({ enter: byName('sys_enter'), exit: byName('sys_exit') }, recordedLayout(), agg, new TaskTable(NO_PROC), createRawEventDecoder(formats), KNOWN, FORK, [930]);
  // Whole CPUs one after the other: the worst arrival order (tasks migrate between them mid-call).
  for (const [cpu, pages] of recordedPages('raw-busybox')) for (const page of pages) ingest.page(page, cpu);
  ingest.release(Infinity);
  return agg;
}

function analyzeText(): TraceAggregate {
  const a = new TraceAnalyzer({ forkSyscalls: FORK, known: KNOWN, initialTasks: [930] });
  for (const line of fixtureText('raw-busybox.trace').split('\n')) a.feedLine(line);
  return a.finish();
}

type Arrival = 'cpu by cpu' | 'cpus in reverse' | 'page by page' | 'rounds' | 'rounds in batches';

/**
 * The container capture (integration/container-raw.test.ts): a shell and seccomp-probe under a
 * profile that stops mkdir (EPERM) and kills chmod, traced from createRuntime. Pages arrive in the
 * given order; 'rounds' releases after each round of one page per CPU, up to the latest time every
 * CPU has been read past, as the drain does with its watermark; 'rounds in batches' releases
 * each round a few records at a time, as the drain does between its reads of the kernel's buffers.
 */
function ingestContainer(arrival: Arrival): { agg: TraceAggregate; ingest: LiveIngest } {
  const meta = containerCaptureMeta();
  const formats = recordedFormats();
  const byName = (n: string) => formats.find((f) => f.name === n)!;
  const agg = new TraceAggregate(KNOWN);
  const tasks = new TaskTable(NO_PROC, new Map(), new Map(meta.initialTasks.map((t) => [t, meta.initPid])));
  const ingest = new LiveIngest({ enter: byName('sys_enter'), exit: byName('sys_exit') }, recordedLayout(), agg, tasks, createRawEventDecoder(formats), KNOWN, FORK, meta.initialTasks);
  const cpus = [...recordedPages('raw-container')];
  if (arrival === 'cpu by cpu' || arrival === 'cpus in reverse') {
    for (const [cpu, pages] of arrival === 'cpu by cpu' ? cpus : cpus.reverse()) for (const page of pages) ingest.page(page, cpu);
  } else {
    const layout = recordedLayout();
    const lastTs = new Map<number, number>();
    for (let i = 0; cpus.some(([, pages]) => i < pages.length); i++) {
      for (const [cpu, pages] of cpus) {
        const page = pages[i];
        if (!page) {
          lastTs.set(cpu, Infinity);
          continue;
        }
        ingest.page(page, cpu);
        let last = 0;
        scanRawPage(page, layout, () => (last = SCANNED_TIMESTAMP_NS[0] as number));
        lastTs.set(cpu, last);
      }
      if (arrival === 'rounds') ingest.release(Math.min(...lastTs.values()));
      if (arrival === 'rounds in batches') while (ingest.release(Math.min(...lastTs.values()), 7) === 7);
    }
  }
  ingest.release(Infinity);
  return { agg, ingest };
}

function analyzeContainerText(): TraceAggregate {
  const a = new TraceAnalyzer({ forkSyscalls: FORK, known: KNOWN, initialTasks: containerCaptureMeta().initialTasks });
  for (const line of fixtureText('raw-container.trace').split('\n')) a.feedLine(line);
  return a.finish();
}

const MKDIR = 83;

describe('LiveIngest on a real container under its own seccomp profile, pages in any order', () => {
  const view = (agg: TraceAggregate) =>
    Object.fromEntries(
      [...agg.syscalls.values()].map((s) => [s.nr, { count: s.count, errors: s.errors, errnos: Object.fromEntries(s.errnos), blocked: s.blocked?.count ?? 0, blockedErrnos: Object.fromEntries(s.blocked?.errnos ?? []), killed: s.blocked?.killed ?? 0 }]),
    );
  const tree = (agg: TraceAggregate) => agg.allProcesses().map((p) => ({ pid: p.pid, parent: p.parentPid, comm: p.comm, threads: [...p.threads].sort(), syscalls: p.syscalls, blocked: p.blocked })).sort((a, b) => a.pid - b.pid);

  it.each<Arrival>(['cpu by cpu', 'cpus in reverse', 'page by page', 'rounds', 'rounds in batches'])('%s: counts, blocked calls and the process tree are those of the time-ordered text', (arrival) => {
    const { agg } = ingestContainer(arrival);
    const text = analyzeContainerText();
    expect(view(agg)).toEqual(view(text));
    expect(tree(agg)).toEqual(tree(text));
    expect(agg.totalBlocked).toBe(3);
  });

  it('shows each call the profile stopped as blocked: mkdir twice with EPERM, the chmod shell killed', () => {
    const { agg } = ingestContainer('cpus in reverse');
    const mkdir = agg.syscalls.get(MKDIR);
    expect(mkdir).toMatchObject({ count: 0, errors: 0 });
    expect(mkdir?.blocked).toMatchObject({ count: 2, killed: 0 });
    expect(Object.fromEntries(mkdir?.blocked?.errnos ?? [])).toEqual({ 1: 2 });
    const killed = [...agg.syscalls.values()].filter((s) => (s.blocked?.killed ?? 0) > 0);
    expect(killed).toHaveLength(1);
    expect([268, 90, 452]).toContain(killed[0]?.nr); // fchmodat, chmod or fchmodat2
  });

  it('gives every process its parent and name, but the container init; threads fold into their process', () => {
    const meta = containerCaptureMeta();
    for (const arrival of ['cpu by cpu', 'cpus in reverse'] as const) {
      const procs = ingestContainer(arrival).agg.allProcesses();
      expect(procs.filter((p) => p.parentPid === undefined).map((p) => p.pid)).toEqual([meta.initPid]);
      expect(procs.filter((p) => p.comm === '<...>' || p.comm === '')).toEqual([]);
      const probe = procs.find((p) => p.execs.includes('/bin/seccomp-probe'));
      expect(probe?.threads.size).toBe(3);
      expect(procs.filter((p) => p.parentPid === probe?.pid)).toHaveLength(6);
      // The init's threads (runc's Go runtime) are one process.
      const init = procs.find((p) => p.pid === meta.initPid);
      expect([...(init?.threads ?? [])].sort()).toEqual([...meta.initialTasks].sort());
    }
  });

  it('finds the seccomp load, by the init, with its arguments, whichever CPU its pages came from', () => {
    const meta = containerCaptureMeta();
    const text = analyzeContainerText();
    for (const arrival of ['cpu by cpu', 'cpus in reverse', 'rounds', 'rounds in batches'] as const) {
      const { agg } = ingestContainer(arrival);
      expect(agg.seccompLoad?.pid).toBe(meta.initPid);
      expect(agg.seccompLoad?.timestamp).toBeCloseTo(text.seccompLoad?.timestamp ?? 0, 5);
    }
  });

  it('holds back nothing once released to the end', () => {
    expect(ingestContainer('rounds').ingest.queued).toBe(0);
  });
});

describe('LiveIngest (raw pages straight into the aggregate)', () => {
  it('counts exactly what the paired text path counts, syscall by syscall, on the same real buffer', () => {
    const live = ingestFixture();
    const text = analyzeText();
    const view = (agg: TraceAggregate) =>
      Object.fromEntries([...agg.syscalls.values()].map((s) => [s.nr, { count: s.count, errors: s.errors, errnos: Object.fromEntries(s.errnos), pids: [...s.pids].sort() }]));
    expect(live.syscalls.size).toBeGreaterThan(10);
    expect(view(live)).toEqual(view(text));
    expect(live.totalSyscalls).toBe(text.totalSyscalls);
  });

  it('agrees with the text path on the process tree it learns from fork and exec', () => {
    const live = ingestFixture();
    const text = analyzeText();
    const execs = (agg: TraceAggregate) => agg.allProcesses().flatMap((p) => p.execs).sort();
    expect(execs(live)).toEqual(execs(text));
    // The text output rounds to microseconds; the binary has nanoseconds.
    expect(live.firstExec?.pid).toBe(text.firstExec?.pid);
    expect(live.firstExec?.timestamp).toBeCloseTo(text.firstExec?.timestamp ?? 0, 5);
  });
});

describe('scanRawPage', () => {
  it('reports the missed-events count the kernel stored on the first page after a loss', () => {
    const layout = recordedLayout();
    const missed = [...recordedPages('raw-loss').values()].flatMap((pages) => pages.map((p) => scanRawPage(p, layout, () => undefined).missedEvents));
    const fromStats = [0, 1].map((cpu) => Number(/^overrun: (\d+)/m.exec(fixtureText(`raw-loss-stats-cpu${cpu}.txt`))?.[1] ?? 0));
    expect(missed.reduce<number>((n, m) => n + (typeof m === 'number' ? m : 0), 0)).toBe(fromStats.reduce((a, b) => a + b, 0));
  });
});
