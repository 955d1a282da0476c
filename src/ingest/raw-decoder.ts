import type { TraceEvent } from '../trace/events.js';
import type { EventFormat, FieldFormat } from '../tracefs/event-format.js';
import type { RawRecord } from './raw-page.js';

/*
 * Binary ring-buffer records -> the TraceEvent values the text parser produces, so the rest of the
 * pipeline does not care which path read the trace. Field offsets come from the kernel's format
 * files; values are rendered exactly as the kernel's print fmt does (`%lx` args, `%ld` ret).
 * Pure. Little-endian host assumed (see raw-page.ts).
 */

export class RawDecodeError extends Error {
  override name = 'RawDecodeError';
}

/** What binary records lack: the text header's comm and tgid come from the caller's task table. */
export interface TaskLookup {
  commOf(pid: number): string;
  tgidOf?(pid: number): number | undefined;
}

export interface DecodedRecords {
  events: TraceEvent[];
  /** Records whose event id is none of the formats the decoder was built with. */
  unknownEvents: number;
}

export interface RawEventDecoder {
  /** One record; undefined when its event id is unknown. */
  decode(record: RawRecord, cpu: number, tasks: TaskLookup): TraceEvent | undefined;
  decodeRecords(records: readonly RawRecord[], cpu: number, tasks: TaskLookup): DecodedRecords;
}

type Reader<T> = (data: Buffer) => T;
/** Object literals with every field spelled out: spreading a header object is 10x slower here. */
type BodyDecoder = (data: Buffer, comm: string, pid: number, tgid: number | undefined, cpu: number, timestamp: number) => TraceEvent;

function field(format: EventFormat, name: string): FieldFormat {
  const f = format.fields.get(name);
  if (!f) throw new RawDecodeError(`event ${format.system}/${format.name} has no field ${name}`);
  return f;
}

/** An integer field as a number (pids, syscall numbers: exact well below 2^53). */
function intReader(format: EventFormat, name: string): Reader<number> {
  const f = field(format, name);
  const o = f.offset;
  switch (f.size) {
    case 1:
      return f.signed ? (d) => d.readInt8(o) : (d) => d.readUInt8(o);
    case 2:
      return f.signed ? (d) => d.readInt16LE(o) : (d) => d.readUInt16LE(o);
    case 4:
      return f.signed ? (d) => d.readInt32LE(o) : (d) => d.readUInt32LE(o);
    case 8:
      return f.signed
        ? (d) => d.readInt32LE(o + 4) * 0x100000000 + d.readUInt32LE(o)
        : (d) => d.readUInt32LE(o + 4) * 0x100000000 + d.readUInt32LE(o);
    default:
      throw new RawDecodeError(`field ${format.name}.${name} has unsupported size ${f.size}`);
  }
}

/** A signed 64-bit (or narrower) field as a bigint, for return values that may be pointers. */
function bigintReader(format: EventFormat, name: string): Reader<bigint> {
  const f = field(format, name);
  const o = f.offset;
  if (f.size === 8) return f.signed ? (d) => d.readBigInt64LE(o) : (d) => d.readBigUInt64LE(o);
  const small = intReader(format, name);
  return (d) => BigInt(small(d));
}

/** An array of unsigned words rendered like `%lx`: lowercase hex, no 0x, no leading zeros. */
function hexArrayReader(format: EventFormat, name: string): Reader<string[]> {
  const f = field(format, name);
  const count = f.arrayLength;
  if (count === undefined || count === 0 || f.size % count !== 0) {
    throw new RawDecodeError(`field ${format.name}.${name} is not a fixed array`);
  }
  const width = f.size / count;
  if (width !== 4 && width !== 8) throw new RawDecodeError(`field ${format.name}.${name} has ${width}-byte elements`);
  const o = f.offset;
  return (d) => {
    const out = new Array<string>(count);
    for (let i = 0; i < count; i++) {
      const at = o + i * width;
      const lo = d.readUInt32LE(at);
      const hi = width === 8 ? d.readUInt32LE(at + 4) : 0;
      out[i] = hi === 0 ? lo.toString(16) : hi.toString(16) + lo.toString(16).padStart(8, '0');
    }
    return out;
  };
}

function cString(d: Buffer, start: number, end: number): string {
  const nul = d.indexOf(0, start);
  return d.toString('utf8', start, nul >= 0 && nul < end ? nul : end);
}

/** A string field: __data_loc / __rel_loc (u32 offset|length<<16) or a fixed char array. */
function stringReader(format: EventFormat, name: string): Reader<string> {
  const f = field(format, name);
  const o = f.offset;
  if (f.isDataLoc || f.isRelLoc) {
    const relativeTo = f.isRelLoc ? o + f.size : 0;
    return (d) => {
      const loc = d.readUInt32LE(o);
      const start = relativeTo + (loc & 0xffff);
      const end = start + (loc >>> 16);
      if (end > d.length) throw new RawDecodeError(`string ${format.name}.${name} at ${start}+${loc >>> 16} lies outside its ${d.length}-byte record`);
      return cString(d, start, end);
    };
  }
  if (f.isArray) return (d) => cString(d, o, o + f.size);
  throw new RawDecodeError(`field ${format.name}.${name} is not a string`);
}

/** Shared by entries whose arguments were not asked for: no allocation on the hot path. */
const NO_ARGS: string[] = Object.freeze([]) as unknown as string[];

export interface RawDecoderOptions {
  /**
   * Which syscalls' arguments to render. Rendering six hex strings per call dominates the cost of a
   * busy trace; the live aggregate needs only a few (the seccomp load), the log needs all.
   */
  wantArgs?: (nr: number) => boolean;
}

function bodyDecoder(format: EventFormat, opts: RawDecoderOptions): BodyDecoder {
  const key = `${format.system}/${format.name}`;
  switch (key) {
    case 'raw_syscalls/sys_enter': {
      const nr = intReader(format, 'id');
      const args = hexArrayReader(format, 'args');
      const want = opts.wantArgs;
      if (want) {
        return (d, comm, pid, tgid, cpu, timestamp) => {
          const n = nr(d);
          return { comm, pid, tgid, cpu, timestamp, kind: 'sys_enter', nr: n, args: want(n) ? args(d) : NO_ARGS };
        };
      }
      return (d, comm, pid, tgid, cpu, timestamp) => ({ comm, pid, tgid, cpu, timestamp, kind: 'sys_enter', nr: nr(d), args: args(d) });
    }
    case 'raw_syscalls/sys_exit': {
      const nr = intReader(format, 'id');
      const ret = bigintReader(format, 'ret');
      return (d, comm, pid, tgid, cpu, timestamp) => ({ comm, pid, tgid, cpu, timestamp, kind: 'sys_exit', nr: nr(d), ret: ret(d) });
    }
    case 'sched/sched_process_exec': {
      const filename = stringReader(format, 'filename');
      const execPid = intReader(format, 'pid');
      const oldPid = intReader(format, 'old_pid');
      return (d, comm, pid, tgid, cpu, timestamp) => ({ comm, pid, tgid, cpu, timestamp, kind: 'exec', filename: filename(d), execPid: execPid(d), oldPid: oldPid(d) });
    }
    case 'sched/sched_process_fork': {
      const parentPid = intReader(format, 'parent_pid');
      const childComm = stringReader(format, 'child_comm');
      const childPid = intReader(format, 'child_pid');
      return (d, comm, pid, tgid, cpu, timestamp) => ({ comm, pid, tgid, cpu, timestamp, kind: 'fork', parentPid: parentPid(d), childComm: childComm(d), childPid: childPid(d) });
    }
    case 'task/task_newtask': {
      const childPid = intReader(format, 'pid');
      const childComm = stringReader(format, 'comm');
      const flags = field(format, 'clone_flags');
      if (flags.size !== 8) throw new RawDecodeError(`field ${format.name}.clone_flags has size ${flags.size}`);
      // CLONE_THREAD (0x10000) is in the low word.
      const thread = (d: Buffer): boolean => (d.readUInt32LE(flags.offset) & 0x10000) !== 0;
      return (d, comm, pid, tgid, cpu, timestamp) => ({ comm, pid, tgid, cpu, timestamp, kind: 'fork', parentPid: pid, childComm: childComm(d), childPid: childPid(d), thread: thread(d) });
    }
    case 'task/task_rename': {
      const renamedPid = intReader(format, 'pid');
      const newComm = stringReader(format, 'newcomm');
      return (d, comm, pid, tgid, cpu, timestamp) => ({ comm, pid, tgid, cpu, timestamp, kind: 'rename', renamedPid: renamedPid(d), newComm: newComm(d) });
    }
    case 'sched/sched_process_exit': {
      const exitPid = intReader(format, 'pid');
      return (d, comm, pid, tgid, cpu, timestamp) => ({ comm, pid, tgid, cpu, timestamp, kind: 'exit', exitPid: exitPid(d) });
    }
    case 'capability/cap_capable': {
      const cap = intReader(format, 'cap');
      const ret = intReader(format, 'ret');
      const target = field(format, 'target_ns');
      const own = field(format, 'capable_ns');
      if (target.size !== own.size) throw new RawDecodeError(`fields ${format.name}.target_ns and capable_ns differ in size`);
      // Pointers compared, never shown. capable_ns is NULL when the check was denied.
      const sameNs = (d: Buffer): boolean => d.compare(d, target.offset, target.offset + target.size, own.offset, own.offset + own.size) === 0;
      return (d, comm, pid, tgid, cpu, timestamp) => {
        const r = ret(d);
        return { comm, pid, tgid, cpu, timestamp, kind: 'capable', cap: cap(d), ret: r, sameNamespace: r === 0 ? sameNs(d) : null };
      };
    }
    default:
      throw new RawDecodeError(`no binary decoder for event ${key}`);
  }
}

/**
 * Build a decoder for the given event formats (any of raw_syscalls/sys_enter, sys_exit,
 * task/task_newtask, task/task_rename, sched/sched_process_exec, _fork, _exit and capability/cap_capable). Timestamps become seconds (ns / 1e9) in the clock
 * of the instance, as the text output shows them (which rounds to microseconds).
 */
export function createRawEventDecoder(formats: readonly EventFormat[], opts: RawDecoderOptions = {}): RawEventDecoder {
  const first = formats[0];
  if (!first) throw new RawDecodeError('no event formats to decode');
  // Every event shares the common_* fields; take their layout from the kernel, not a constant.
  const eventId = intReader(first, 'common_type');
  const commonPid = intReader(first, 'common_pid');
  const bodies = new Map<number, BodyDecoder>();
  for (const format of formats) {
    const common = field(format, 'common_type');
    const firstCommon = field(first, 'common_type');
    if (common.offset !== firstCommon.offset || common.size !== firstCommon.size) {
      throw new RawDecodeError(`event ${format.name} has a different common_type layout`);
    }
    bodies.set(format.id, bodyDecoder(format, opts));
  }

  const decode = (record: RawRecord, cpu: number, tasks: TaskLookup): TraceEvent | undefined => {
    const d = record.data;
    if (d.length < 8) throw new RawDecodeError(`ring-buffer record of ${d.length} bytes is too short for an event`);
    const body = bodies.get(eventId(d));
    if (!body) return undefined;
    const pid = commonPid(d);
    const tgid = tasks.tgidOf ? tasks.tgidOf(pid) : undefined;
    return body(d, tasks.commOf(pid), pid, tgid, cpu, record.timestampNs / 1e9);
  };

  return {
    decode,
    decodeRecords(records, cpu, tasks) {
      const events: TraceEvent[] = [];
      let unknownEvents = 0;
      for (const record of records) {
        const event = decode(record, cpu, tasks);
        if (event) events.push(event);
        else unknownEvents++;
      }
      return { events, unknownEvents };
    },
  };
}
