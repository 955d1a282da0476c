import { describe, expect, it } from 'vitest';
import { LiveIngest } from '../../src/collector/live-ingest.js';
import { createRawEventDecoder } from '../../src/collector/raw-decoder.js';
import { decodeRawPage, scanRawPage } from '../../src/collector/raw-page.js';
import { TaskTable } from '../../src/collector/task-table.js';
import { TraceAggregate } from '../../src/report/aggregate.js';
import { TraceAnalyzer } from '../../src/report/analyzer.js';
import { fixtureText, recordedFormats, recordedLayout, recordedPages } from './raw-fixtures.js';

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
  ingest.resolveInFlightCalls();
  return agg;
}

function analyzeText(): TraceAggregate {
  const a = new TraceAnalyzer({ forkSyscalls: FORK, known: KNOWN });
  for (const line of fixtureText('raw-busybox.trace').split('\n')) a.feedLine(line);
  return a.finish();
}

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
    const execs = (agg: TraceAggregate) => [...agg.processes.values()].flatMap((p) => p.execs).sort();
    expect(execs(live)).toEqual(execs(text));
    // The text output rounds to microseconds; the binary has nanoseconds.
    expect(live.firstExec?.pid).toBe(text.firstExec?.pid);
    expect(live.firstExec?.timestamp).toBeCloseTo(text.firstExec?.timestamp ?? 0, 5);
  });
});

describe('scanRawPage', () => {
  it('visits the same events at the same times as decodeRawPage', () => {
    const layout = recordedLayout();
    for (const pages of recordedPages('raw-busybox').values()) {
      for (const page of pages) {
        const seen: Array<[number, number]> = [];
        scanRawPage(page, layout, (start, _end, ts) => seen.push([start, ts]));
        const decoded = decodeRawPage(page, layout).records.map((r) => [r.data.byteOffset - page.byteOffset, Number(r.timestampNs)]);
        expect(seen).toEqual(decoded);
      }
    }
  });

  it('reports the missed-events count the kernel stored on the first page after a loss', () => {
    const layout = recordedLayout();
    const missed = [...recordedPages('raw-loss').values()].flatMap((pages) => pages.map((p) => scanRawPage(p, layout, () => undefined).missedEvents));
    const fromStats = [0, 1].map((cpu) => Number(/^overrun: (\d+)/m.exec(fixtureText(`raw-loss-stats-cpu${cpu}.txt`))?.[1] ?? 0));
    expect(missed.reduce<number>((n, m) => n + (typeof m === 'number' ? m : 0), 0)).toBe(fromStats.reduce((a, b) => a + b, 0));
  });
});
