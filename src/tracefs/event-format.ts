import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/*
 * The self-description tracefs gives of its binary records, so that the raw decoder reads offsets
 * from the running kernel instead of hard-coding them:
 *  - events/<system>/<event>/format: one event's ID and field layout;
 *  - events/header_page: the ring-buffer sub-buffer ("page") header and data area;
 *  - events/header_event: the 32-bit event header and its special type_len values.
 * Parsers are pure; the read* functions are the I/O edge. `root` may be the tracefs root or an
 * instance directory (instances/X/events/header_page reflects that instance's sub-buffer size).
 */

export class EventFormatError extends Error {
  override name = 'EventFormatError';
}

export interface FieldFormat {
  name: string;
  /** The C type without the name and array suffix (`unsigned long`, `char`, `pid_t`). */
  type: string;
  /** Byte offset from the start of the record (common_type is at 0). */
  offset: number;
  /** Total size in bytes (the whole array for arrays; 4 for __data_loc / __rel_loc). */
  size: number;
  signed: boolean;
  isArray: boolean;
  /** Element count of a fixed array (`args[6]` gives 6); undefined for scalars and `char[]`. */
  arrayLength: number | undefined;
  /** A u32 in the record: low 16 bits = offset from the record start, high 16 bits = length. */
  isDataLoc: boolean;
  /** Like __data_loc, but the offset counts from the end of this field (newer kernels). */
  isRelLoc: boolean;
}

export interface EventFormat {
  id: number;
  name: string;
  system: string;
  fields: Map<string, FieldFormat>;
}

const FIELD_LINE = /^\s*field:\s*(.*?);\s*offset:\s*(\d+);\s*size:\s*(\d+);\s*signed:\s*(\d+);/;

function parseFieldLine(line: string): FieldFormat | undefined {
  const m = FIELD_LINE.exec(line);
  if (!m) return undefined;
  let decl = (m[1] ?? '').trim();
  const isDataLoc = decl.startsWith('__data_loc ');
  const isRelLoc = decl.startsWith('__rel_loc ');
  if (isDataLoc || isRelLoc) decl = decl.replace(/^__(data|rel)_loc\s+/, '');
  // `unsigned long args[6]`, `char comm[16]`, `char[] filename` (data_loc puts [] on the type).
  const d = /^(.*?)\s*(\[\d*\])?\s*([A-Za-z_][A-Za-z0-9_]*)\s*(\[(\d*)\])?$/.exec(decl);
  if (!d) throw new EventFormatError(`cannot parse field declaration: ${JSON.stringify(decl)}`);
  const typeArray = d[2] !== undefined;
  const nameArray = d[4] !== undefined;
  const length = d[5];
  return {
    name: d[3] ?? '',
    type: (d[1] ?? '').trim(),
    offset: Number(m[2]),
    size: Number(m[3]),
    signed: m[4] === '1',
    isArray: typeArray || nameArray,
    arrayLength: nameArray && length !== undefined && length !== '' ? Number(length) : undefined,
    isDataLoc,
    isRelLoc,
  };
}

/** Parse an event `format` file. The file does not name the system, so the caller passes it. */
export function parseEventFormat(text: string, system: string): EventFormat {
  const name = /^name:\s*(\S+)/m.exec(text)?.[1];
  const idText = /^ID:\s*(\d+)/m.exec(text)?.[1];
  if (name === undefined || idText === undefined) {
    throw new EventFormatError(`event format of ${system} has no name or ID line`);
  }
  const fields = new Map<string, FieldFormat>();
  for (const line of text.split('\n')) {
    const field = parseFieldLine(line);
    if (field) fields.set(field.name, field);
  }
  if (fields.size === 0) throw new EventFormatError(`event format ${system}/${name} has no fields`);
  return { id: Number(idText), name, system, fields };
}

/** Where the sub-buffer header's fields and the event data lie (events/header_page). */
export interface PageHeaderFormat {
  timestamp: { offset: number; size: number };
  /** Data length in the low bits, loss flags in bits 31 and 30; `long` sized (8 on 64-bit). */
  commit: { offset: number; size: number };
  dataOffset: number;
  /** Bytes available for events: the sub-buffer size minus the header. */
  dataSize: number;
  /** dataOffset + dataSize: the size of one trace_pipe_raw read. */
  subBufferSize: number;
}

export function parsePageHeaderFormat(text: string): PageHeaderFormat {
  const fields = new Map<string, { offset: number; size: number }>();
  for (const line of text.split('\n')) {
    // header_page writes `field: u64 timestamp;` with a space the event formats do not have.
    const m = /^\s*field:\s*(?:.*?\s)?([A-Za-z_][A-Za-z0-9_]*);\s*offset:\s*(\d+);\s*size:\s*(\d+);/.exec(line);
    if (m) fields.set(m[1] ?? '', { offset: Number(m[2]), size: Number(m[3]) });
  }
  const timestamp = fields.get('timestamp');
  const commit = fields.get('commit');
  const data = fields.get('data');
  if (!timestamp || !commit || !data) throw new EventFormatError('header_page lacks timestamp, commit or data');
  if (timestamp.size !== 8) throw new EventFormatError(`header_page timestamp is ${timestamp.size} bytes, expected 8`);
  if (commit.size !== 4 && commit.size !== 8) throw new EventFormatError(`header_page commit is ${commit.size} bytes`);
  return { timestamp, commit, dataOffset: data.offset, dataSize: data.size, subBufferSize: data.offset + data.size };
}

/** The compressed event header (events/header_event). */
export interface EventHeaderFormat {
  typeLenBits: number;
  timeDeltaBits: number;
  paddingType: number;
  timeExtendType: number;
  timeStampType: number;
  dataMaxTypeLen: number;
}

export function parseEventHeaderFormat(text: string): EventHeaderFormat {
  const bits = (name: string): number | undefined => {
    const m = new RegExp(`^\\s*${name}\\s*:\\s*(\\d+) bits`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const type = (name: string): number | undefined => {
    const m = new RegExp(`^\\s*${name}\\s*:\\s*type == (\\d+)`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const parsed = {
    typeLenBits: bits('type_len'),
    timeDeltaBits: bits('time_delta'),
    paddingType: type('padding'),
    timeExtendType: type('time_extend'),
    timeStampType: type('time_stamp'),
    dataMaxTypeLen: /data max type_len\s*==\s*(\d+)/.exec(text)?.[1],
  };
  const missing = Object.entries(parsed).filter(([, v]) => v === undefined).map(([k]) => k);
  if (missing.length > 0) throw new EventFormatError(`header_event lacks ${missing.join(', ')}`);
  const result = {
    typeLenBits: Number(parsed.typeLenBits),
    timeDeltaBits: Number(parsed.timeDeltaBits),
    paddingType: Number(parsed.paddingType),
    timeExtendType: Number(parsed.timeExtendType),
    timeStampType: Number(parsed.timeStampType),
    dataMaxTypeLen: Number(parsed.dataMaxTypeLen),
  };
  if (result.typeLenBits + result.timeDeltaBits !== 32) {
    throw new EventFormatError(`header_event type_len + time_delta is ${result.typeLenBits + result.timeDeltaBits} bits, expected 32`);
  }
  return result;
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const msg = String(err instanceof Error ? err.message : err).split('\n')[0] ?? '';
    throw new EventFormatError(`cannot read ${path}: ${msg}`);
  }
}

export function readEventFormat(root: string, system: string, event: string): EventFormat {
  return parseEventFormat(readText(join(root, 'events', system, event, 'format')), system);
}

export function readPageHeaderFormat(root: string): PageHeaderFormat {
  return parsePageHeaderFormat(readText(join(root, 'events', 'header_page')));
}

export function readEventHeaderFormat(root: string): EventHeaderFormat {
  return parseEventHeaderFormat(readText(join(root, 'events', 'header_event')));
}
