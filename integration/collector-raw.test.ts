// The binary ring-buffer path against the kernel's own text rendering of the same buffer.
// Needs root and tracefs. RECORD_RAW_FIXTURES=1 also rewrites the unit-test fixtures from the capture.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRawEventDecoder } from '../src/ingest/raw-decoder.js';
import { decodeRawPage, type RawPageLayout } from '../src/ingest/raw-page.js';
import { watchReadable, type ReadableWatch } from '../src/ingest/readable.js';
import { drainTracePipeRaw, listTraceCpus, tracePipeRawPath } from '../src/ingest/raw-pipe-reader.js';
import type { TraceEvent } from '../src/trace/events.js';
import { nsToMicros } from '../test/ingest/raw-fixtures.js';
import { parseEntriesHeader, parseTraceLine } from '../test/support/line-parser.js';
import { readEventFormat, readEventHeaderFormat, readPageHeaderFormat, type EventFormat } from '../src/tracefs/event-format.js';
import { CONTAINER_EVENTS, TraceInstance } from '../src/tracefs/tracefs.js';
import { REPO_ROOT, tracefsRoot } from './lab/env.js';
import { listTracefsInstances } from './lab/leaks.js';

const BUSYBOX = '/bin/busybox';
const PREFIX = 'oci-ftrace-rawtest-';
const RECORD_FIXTURES = process.env.RECORD_RAW_FIXTURES === '1';
const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures');

let root: string;
let scratch: string;
const created: TraceInstance[] = [];

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('collector-raw tests need root');
  const found = tracefsRoot();
  if (found === undefined) throw new Error('tracefs is not mounted at /sys/kernel/tracing');
  root = found;
  scratch = mkdtempSync(path.join(tmpdir(), PREFIX));
});

afterAll(async () => {
  for (const instance of created) await instance.removeAsync(undefined).catch(() => undefined);
  rmSync(scratch, { recursive: true, force: true });
  expect(listTracefsInstances(PREFIX)).toEqual([]);
});

function newInstance(): TraceInstance {
  const instance = new TraceInstance(root, PREFIX + randomBytes(4).toString('hex'));
  created.push(instance);
  return instance;
}

/**
 * Runs `sh -c script` under busybox, traced from its first line: the shell blocks on `read` until
 * the instance follows its pid, so nothing it does afterwards escapes the filter.
 */
async function traceShell(instance: TraceInstance, bufferSizeKb: number, script: string): Promise<number> {
  const child = spawn(BUSYBOX, ['sh', '-c', `read go; ${script}`], { stdio: ['pipe', 'ignore', 'inherit'] });
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => resolve(code ?? -1));
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('busybox did not start');
  try {
    await instance.configure({ bufferKbTotal: bufferSizeKb * listTraceCpus(root).length, clock: 'mono', events: CONTAINER_EVENTS });
    await instance.start([pid], CONTAINER_EVENTS);
  } finally {
    child.stdin.end('go\n');
  }
  const code = await exited;
  await instance.stop();
  expect(code).toBe(0);
  return pid;
}

function layoutOf(instance: TraceInstance): RawPageLayout {
  return { page: readPageHeaderFormat(instance.path), event: readEventHeaderFormat(instance.path) };
}

function formatsOf(instance: TraceInstance): EventFormat[] {
  return CONTAINER_EVENTS.map((ev) => {
    const [system, event] = ev.split('/') as [string, string];
    return readEventFormat(instance.path, system, event);
  });
}

interface CpuCapture {
  cpu: number;
  pages: Buffer[];
}

function drainAll(instance: TraceInstance, layout: RawPageLayout): CpuCapture[] {
  return listTraceCpus(instance.path).map((cpu) => ({
    cpu,
    pages: drainTracePipeRaw(tracePipeRawPath(instance.path, cpu), layout.page.subBufferSize),
  }));
}

/** What both paths must agree on: everything but comm/tgid (not in binary records) and float time. */
function comparable(e: TraceEvent, micros: number): Record<string, unknown> {
  const { comm: _comm, tgid: _tgid, timestamp: _ts, ...rest } = e;
  return { ...rest, micros };
}


describe('raw ring-buffer pages against the text trace of the same buffer', () => {
  it('decodes a busybox session to exactly the events the kernel prints', async () => {
    const instance = newInstance();
    // An exec path longer than the 112-byte small-event limit forces a type_len 0 record; the sleep
    // leaves a gap beyond 2^27 ns, forcing a time-extend record (unless the next event begins a page,
    // which carries a full timestamp: hence several gaps, on each CPU).
    const longDir = path.join(scratch, 'd'.repeat(60), 'e'.repeat(60));
    mkdirSync(longDir, { recursive: true });
    symlinkSync(BUSYBOX, path.join(longDir, 'true'));
    // taskset puts work on both CPUs (and migrates tasks between enter and exit) when there are two.
    const cpus = listTraceCpus(root);
    const onCpu = (cpu: number) => (cpus.length > 1 ? `taskset ${1 << cpu} ` : '');
    await traceShell(
      instance,
      1024,
      `${onCpu(0)}uname -a; ${onCpu(1)}cat /etc/hostname; ls / >/dev/null; sleep 0.3; ${onCpu(0)}${longDir}/true; ` +
        `${onCpu(0)}sleep 0.2; ${onCpu(1)}sleep 0.2; ${onCpu(0)}uname; ${onCpu(1)}uname; exit 0`,
    );

    const text = instance.read('trace');
    const textEvents = text.split('\n').map(parseTraceLine).filter((e): e is TraceEvent => e !== undefined);
    expect(text).not.toMatch(/LOST \d+ EVENTS/);
    expect(textEvents.length).toBeGreaterThan(200);

    const layout = layoutOf(instance);
    const formats = formatsOf(instance);
    const decoder = createRawEventDecoder(formats);
    const captures = drainAll(instance, layout);
    const comms = new Map(textEvents.map((e) => [e.pid, e.comm]));
    const tasks = { commOf: (pid: number) => comms.get(pid) ?? '<...>' };

    let extents = 0;
    let bigRecords = 0;
    for (const { cpu, pages } of captures) {
      const decoded: Record<string, unknown>[] = [];
      for (const page of pages) {
        const { records, missedEvents } = decodeRawPage(page, layout);
        expect(missedEvents).toBe(0);
        for (const record of records) {
          const event = decoder.decode(record, cpu, tasks);
          expect(event).toBeDefined();
          decoded.push(comparable(event as TraceEvent, nsToMicros(record.timestampNs)));
          if (record.data.length > 112) bigRecords++;
        }
        extents += countTimeExtends(page, layout);
      }
      const expected = textEvents.filter((e) => e.cpu === cpu).map((e) => comparable(e, Math.round(e.timestamp * 1e6)));
      expect(decoded).toEqual(expected);
    }
    expect(captures.reduce((n, c) => n + c.pages.length, 0)).toBeGreaterThan(0);
    expect(textEvents.some((e) => e.kind === 'exec' && e.filename === `${longDir}/true`)).toBe(true);
    expect(bigRecords).toBeGreaterThan(0);
    expect(extents).toBeGreaterThan(0);

    if (RECORD_FIXTURES) writeFixtures('raw-busybox', instance, captures, text);
  });

  it('counts overwritten events exactly as per_cpu stats do', async () => {
    const instance = newInstance();
    // The smallest buffer the kernel allows (it rounds up to two sub-buffers per CPU), no reader.
    await traceShell(instance, 4, 'dd if=/dev/zero of=/dev/null bs=1 count=20000 2>/dev/null');
    const stats = instance.cpuStats();
    const statsText = new Map(listTraceCpus(instance.path).map((cpu) => [cpu, instance.read(`per_cpu/cpu${cpu}/stats`)]));
    const entries = parseEntriesHeader(instance.read('trace').split('\n').find((l) => l.startsWith('# entries-in-buffer')) ?? '');
    const layout = layoutOf(instance);
    const captures = drainAll(instance, layout);

    let totalOverrun = 0;
    let totalKept = 0;
    for (const { cpu, pages } of captures) {
      const stat = stats.find((s) => s.cpu === cpu);
      if (!stat) throw new Error(`no stats for cpu ${cpu}`);
      const decoded = pages.map((p) => decodeRawPage(p, layout));
      const missed = decoded.map((d) => d.missedEvents);
      // The kernel reports the overrun since the previous reader-page swap on the next page it hands
      // out; with tracing stopped before reading, that is all of it, on the first page. (The count is
      // stored only when the page has 8 spare bytes; dd's 68/28-byte events always leave 20 or more.)
      expect(missed.slice(1).every((m) => m === 0)).toBe(true);
      expect(missed[0] ?? 0).toBe(stat.overrun);
      expect(decoded.reduce((n, d) => n + d.records.length, 0)).toBe(stat.entries);
      totalOverrun += stat.overrun;
      totalKept += stat.entries;
    }
    expect(totalOverrun).toBeGreaterThan(10_000);
    expect(entries).toEqual({ inBuffer: totalKept, written: totalKept + totalOverrun });

    if (RECORD_FIXTURES) {
      writeFixtures('raw-loss', instance, captures, undefined);
      for (const [cpu, t] of statsText) writeFileSync(path.join(FIXTURES, `raw-loss-stats-cpu${cpu}.txt`), t);
    }
  });

  it('decodes a large capture exactly (dd counts) and prints the decode rate', async () => {
    const instance = newInstance();
    const count = 200_000;
    const pid = await traceShell(instance, 40 * 1024, `exec /bin/busybox dd if=/dev/zero of=/dev/null bs=1 count=${count} 2>/dev/null`);
    const layout = layoutOf(instance);
    const decoder = createRawEventDecoder(formatsOf(instance));
    const stats = instance.cpuStats();
    const captures = drainAll(instance, layout);
    const tasks = { commOf: () => 'dd' };

    // Timed pass as a streaming collector would run it: decode, hand on, keep nothing.
    const started = process.hrtime.bigint();
    let decoded = 0;
    let missed = 0;
    for (const { cpu, pages } of captures) {
      for (const page of pages) {
        const { records, missedEvents } = decodeRawPage(page, layout);
        if (missedEvents !== 0) missed++;
        decoded += decoder.decodeRecords(records, cpu, tasks).events.length;
      }
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const rate = Math.round(decoded / seconds);
    const mib = captures.reduce((n, c) => n + c.pages.length, 0) * layout.page.subBufferSize / 1048576;
    console.log(`raw decode: ${decoded} events from ${mib.toFixed(1)} MiB of pages in ${seconds.toFixed(3)} s = ${rate} events/s`);

    const events = captures.flatMap(({ cpu, pages }) => pages.flatMap((p) => decoder.decodeRecords(decodeRawPage(p, layout).records, cpu, tasks).events));
    expect(missed).toBe(0);
    expect(stats.every((s) => s.overrun === 0)).toBe(true);
    expect(decoded).toBe(stats.reduce((n, s) => n + s.entries, 0));
    expect(events.length).toBe(decoded);
    // dd's one-byte reads and writes, counted from its exec on (the shell's `read` also reads single
    // bytes). A path makes busybox sh really exec instead of running the applet in-process.
    events.sort((a, b) => a.timestamp - b.timestamp);
    const execAt = events.findIndex((e) => e.kind === 'exec' && e.pid === pid);
    expect(execAt).toBeGreaterThanOrEqual(0);
    const ddCalls = (nr: number) =>
      events.slice(execAt).filter((e) => e.kind === 'sys_enter' && e.pid === pid && e.nr === nr && e.args[2] === '1').length;
    expect(ddCalls(0)).toBe(count);
    expect(ddCalls(1)).toBe(count);
    // Speed is measured and printed here, not asserted: targets live in bench/, this machine is noisy.
    expect(rate).toBeGreaterThan(0);
  });
});

/** Counts type_len 30 headers by walking the page the same way the decoder does. */
function countTimeExtends(page: Buffer, layout: RawPageLayout): number {
  const { page: ph, event: eh } = layout;
  const end = ph.dataOffset + (page.readUInt32LE(ph.commit.offset) & 0x3fffffff);
  let n = 0;
  for (let pos = ph.dataOffset; pos < end; ) {
    const h = page.readUInt32LE(pos);
    const type = h & 31;
    if (type === eh.timeExtendType) n++;
    if (type === 0) pos += 4 + page.readUInt32LE(pos + 4);
    else if (type <= eh.dataMaxTypeLen) pos += 4 + type * 4;
    else if (type === eh.paddingType) pos = h >>> 5 === 0 ? end : pos + 4 + page.readUInt32LE(pos + 4);
    else pos += 8;
  }
  return n;
}

function writeFixtures(name: string, instance: TraceInstance, captures: CpuCapture[], text: string | undefined): void {
  for (const { cpu, pages } of captures) writeFileSync(path.join(FIXTURES, `${name}-cpu${cpu}.bin`), Buffer.concat(pages));
  if (text !== undefined) writeFileSync(path.join(FIXTURES, `${name}.trace`), text);
  writeFileSync(path.join(FIXTURES, 'raw-header_page.txt'), instance.read('events/header_page'));
  writeFileSync(path.join(FIXTURES, 'raw-header_event.txt'), instance.read('events/header_event'));
  for (const ev of CONTAINER_EVENTS) {
    writeFileSync(path.join(FIXTURES, `raw-format-${ev.replace('/', '-')}.txt`), instance.read(`events/${ev}/format`));
  }
}

// The drain's wake-ups (src/ingest/readable.ts) on the same real trace_pipe_raw, with a busy writer
// and a small buffer (a many-CPU host's share): there, libuv reading on after a wake-up reaches the
// page the kernel is writing, where a read can return 0, which libuv takes for end of file (and
// closed the descriptor the drain read with). A watch reads one page per wake-up, on a descriptor of
// its own, so the drain's descriptor stays open whatever the watch meets.
function isOpen(fd: number): boolean {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

describe('a watch on trace_pipe_raw, 128 KiB per CPU, a busy writer', () => {
  it('delivers one page per wake-up, and the reader\'s own descriptor stays open to the end', async () => {
    const instance = newInstance();
    const cpus = listTraceCpus(root).length;
    await instance.configure({ bufferKbTotal: 128 * cpus, clock: 'mono', wakePercent: 10, events: CONTAINER_EVENTS });
    const child = spawn('/bin/busybox', ['sh', '-c', 'read go; exec dd if=/dev/zero of=/dev/null bs=1 count=200000'], { stdio: ['pipe', 'ignore', 'ignore'] });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    const page = 4096;
    const readers = listTraceCpus(instance.path).map((cpu) => openSync(tracePipeRawPath(instance.path, cpu), constants.O_RDONLY | constants.O_NONBLOCK));
    const seen = { wakeups: 0, bytesPerWakeup: new Set<number>(), ended: 0, readByCaller: 0 };
    const watches: ReadableWatch[] = [];
    const buffer = Buffer.alloc(page);
    listTraceCpus(instance.path).forEach((cpu, i) => {
      const reader = readers[i] as number;
      const watch: ReadableWatch = watchReadable(openSync(tracePipeRawPath(instance.path, cpu), constants.O_RDONLY | constants.O_NONBLOCK), page, {
        page: (p) => {
          seen.wakeups += 1;
          seen.bytesPerWakeup.add(p.length);
          // As the drain's round: the rest through the reader's own descriptor, then wait again.
          setImmediate(() => {
            for (;;) {
              let n = 0;
              try {
                n = readSync(reader, buffer, 0, page, null);
              } catch (err) {
                if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
              }
              if (n <= 0) break;
              seen.readByCaller += 1;
            }
            watch.resume();
          });
        },
        ended: () => (seen.ended += 1),
        error: (err) => {
          throw err;
        },
      });
      watches.push(watch);
    });
    try {
      instance.start([child.pid as number], CONTAINER_EVENTS);
      child.stdin.end('go\n');
      await exited;
      await new Promise((r) => setTimeout(r, 100));
      expect(seen.wakeups).toBeGreaterThan(10);
      // One page a wake-up: never a read on into the page being written.
      expect([...seen.bytesPerWakeup]).toEqual([page]);
      expect(seen.readByCaller).toBeGreaterThan(seen.wakeups);
      expect(seen.ended).toBe(0);
      expect(readers.map(isOpen)).toEqual(readers.map(() => true));
    } finally {
      await instance.stop();
      for (const w of watches) w.close();
      for (const fd of readers) if (isOpen(fd)) closeSync(fd);
    }
  }, 60_000);
});
