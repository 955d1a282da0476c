import { describe, expect, it } from 'vitest';
import { createRawEventDecoder, RawDecodeError, type TaskLookup } from '../../src/ingest/raw-decoder.js';
import { decodeRawPage, type RawRecord } from '../../src/ingest/raw-page.js';
import type { TraceEvent } from '../../src/trace/events.js';
import { parseEventFormat } from '../../src/tracefs/event-format.js';
import { nsToMicros, recordedFormats, recordedFormatTexts, recordedLayout, recordedPages, recordedTextEvents, secondsToMicros } from './raw-fixtures.js';

const layout = recordedLayout();
const formats = recordedFormats();
const text = recordedTextEvents();
const pages = recordedPages('raw-busybox');

function recordsOf(cpu: number): RawRecord[] {
  return (pages.get(cpu) ?? []).flatMap((p) => decodeRawPage(p, layout).records);
}

/** comm and tgid are not in binary records; the collector's task table supplies them. Here: the text's. */
const fromText: TaskLookup = {
  commOf: (pid) => text.find((e) => e.pid === pid)?.comm ?? '?',
  tgidOf: (pid) => text.find((e) => e.pid === pid)?.tgid,
};

/** Replace the float seconds by the microseconds the text shows, so both sides compare exactly. */
function atMicros(e: TraceEvent, micros: number): Omit<TraceEvent, 'timestamp'> & { micros: number } {
  const { timestamp: _t, ...rest } = e;
  return { ...rest, micros };
}

describe('createRawEventDecoder on recorded pages', () => {
  const decoder = createRawEventDecoder(formats);

  it('produces exactly the events parseTraceLine reads from the text of the same buffer', () => {
    for (const cpu of pages.keys()) {
      const records = recordsOf(cpu);
      const decoded = records.map((r) => {
        const e = decoder.decode(r, cpu, fromText);
        if (!e) throw new Error('unknown event in the busybox capture');
        return atMicros(e, nsToMicros(r.timestampNs));
      });
      const expected = text.filter((e) => e.cpu === cpu).map((e) => atMicros(e, secondsToMicros(e.timestamp)));
      expect(decoded).toEqual(expected);
    }
  });

  it('covers every event kind, negative returns and 64-bit arguments', () => {
    const events = [...pages.keys()].flatMap((cpu) => decoder.decodeRecords(recordsOf(cpu), cpu, fromText).events);
    expect(new Set(events.map((e) => e.kind))).toEqual(new Set(['sys_enter', 'sys_exit', 'exec', 'fork', 'exit']));
    expect(events.some((e) => e.kind === 'sys_exit' && e.ret < 0n)).toBe(true);
    expect(events.some((e) => e.kind === 'sys_enter' && e.args.some((a) => a.length > 8))).toBe(true);
  });

  it('gives seconds within half a microsecond of the printed time', () => {
    for (const cpu of pages.keys()) {
      const events = decoder.decodeRecords(recordsOf(cpu), cpu, fromText).events;
      const printed = text.filter((e) => e.cpu === cpu);
      events.forEach((e, i) => expect(Math.abs(e.timestamp - (printed[i]?.timestamp ?? NaN))).toBeLessThanOrEqual(0.5e-6 + 1e-9));
    }
  });

  it('renders arguments like %lx for words the capture happened not to contain', () => {
    // A real sys_enter record with its args rewritten: low halves with leading zeros, all ones.
    const enter = formats.find((f) => f.name === 'sys_enter');
    const record = [...pages.keys()].flatMap(recordsOf).find((r) => r.data.readUInt16LE(0) === enter?.id);
    const args = enter?.fields.get('args');
    if (!record || !args) throw new Error('no sys_enter record in the busybox capture');
    const values = [0n, 1n, 0x1_0000_0001n, 0x7ffc_0000_abcdn, 0xffff_ffff_ffff_ffffn, 0x8000_0000n];
    const data = Buffer.from(record.data);
    values.forEach((v, i) => data.writeBigUInt64LE(v, args.offset + i * 8));
    const e = decoder.decode({ timestampNs: record.timestampNs, data }, 0, fromText);
    expect(e?.kind === 'sys_enter' ? e.args : undefined).toEqual(values.map((v) => v.toString(16)));
  });

  it('leaves tgid undefined without a tgidOf and asks commOf by pid', () => {
    const asked = new Set<number>();
    const cpu = [...pages.keys()][0] ?? 0;
    const { events } = decoder.decodeRecords(recordsOf(cpu), cpu, { commOf: (pid) => (asked.add(pid), `task${pid}`) });
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e.tgid === undefined && e.comm === `task${e.pid}`)).toBe(true);
    expect(asked).toEqual(new Set(events.map((e) => e.pid)));
  });
});

describe('events the decoder was not built for', () => {
  it('skips and counts them', () => {
    const syscallsOnly = createRawEventDecoder(formats.filter((f) => f.system === 'raw_syscalls'));
    for (const cpu of pages.keys()) {
      const { events, unknownEvents } = syscallsOnly.decodeRecords(recordsOf(cpu), cpu, fromText);
      const printed = text.filter((e) => e.cpu === cpu);
      expect(unknownEvents).toBe(printed.filter((e) => e.kind !== 'sys_enter' && e.kind !== 'sys_exit').length);
      expect(events.length + unknownEvents).toBe(printed.length);
    }
  });

  it('refuses formats it cannot render and formats missing a field', () => {
    const enterText = recordedFormatTexts().get('raw_syscalls/sys_enter') ?? '';
    expect(() => createRawEventDecoder([parseEventFormat(enterText.replace('name: sys_enter', 'name: sys_other'), 'raw_syscalls')])).toThrow(
      /no binary decoder for event raw_syscalls\/sys_other/,
    );
    expect(() => createRawEventDecoder([parseEventFormat(enterText.replace(/args\[6\]/, 'argv[6]'), 'raw_syscalls')])).toThrow(RawDecodeError);
    expect(() => createRawEventDecoder([])).toThrow(RawDecodeError);
  });

  it('rejects a __data_loc string pointing outside its record', () => {
    const decoder = createRawEventDecoder(formats);
    const exec = recordsOf(0).concat(recordsOf(1)).find((r) => r.data.readUInt16LE(0) === formats.find((f) => f.name === 'sched_process_exec')?.id);
    if (!exec) throw new Error('no exec record in the busybox capture');
    const data = Buffer.from(exec.data);
    const filename = formats.find((f) => f.name === 'sched_process_exec')?.fields.get('filename');
    data.writeUInt32LE(((200 << 16) | (data.length - 4)) >>> 0, filename?.offset ?? 8);
    expect(() => decoder.decode({ timestampNs: exec.timestampNs, data }, 0, fromText)).toThrow(/outside its/);
  });
});
