import type { EventHeaderFormat, PageHeaderFormat } from '../tracefs/event-format.js';

/*
 * Decoding of one ring-buffer sub-buffer ("page") as read from per_cpu/cpuN/trace_pipe_raw. Pure.
 *
 * Page: [u64 timestamp][long commit][data...]. commit's low 32 bits hold the data length, with
 * bit 31 = events were lost before this page and bit 30 = their count is stored as a `long` right
 * after the data (absent when the page had no room for it). The kernel adds the flags as ints to a
 * 64-bit local_t, so bit 31 sign-extends into the high half: only the low 32 bits are meaningful.
 *
 * Event: u32 header {type_len:5, time_delta:27} then a payload:
 *   1..28 data of type_len*4 bytes; 0 data whose length (+4 for itself) is in the next u32;
 *   29 padding (time_delta 0: rest of the page is empty; else a discarded event of next-u32+4 bytes);
 *   30 time extend (delta += next-u32 << 27 | time_delta); 31 absolute time stamp (same encoding).
 * The running timestamp follows the kernel's own reader (rb_update_read_stamp): data and time
 * extends add their delta, absolute stamps replace it, padding adds nothing.
 *
 * Little-endian hosts only (x86_64, aarch64): the kernel writes host-endian words and the C
 * bitfield order above is the little-endian one.
 */

export class RawPageError extends Error {
  override name = 'RawPageError';
}

export interface RawRecord {
  /**
   * Nanoseconds in the instance's clock, as a double: exact below 2^53 ns (104 days of uptime), and
   * after that to within the double's step (2 ns until 208 days), which orders calls all the same.
   */
  timestampNs: number;
  /** The event's bytes (a view into the page), starting at common_type. May carry tail padding. */
  data: Buffer;
}

export interface DecodedPage {
  /** Bytes of event data on the page (commit without its flag bits). */
  dataLength: number;
  records: RawRecord[];
  /**
   * Events the kernel overwrote (overwrite mode) between the previous page read and this one:
   * the exact count, 'unknown' when the kernel flagged a loss but had no room to store the count.
   */
  missedEvents: number | 'unknown';
}

export interface RawPageLayout {
  page: PageHeaderFormat;
  event: EventHeaderFormat;
}

const MISSED_EVENTS = 0x80000000;
const MISSED_STORED = 0x40000000;
/** The data length in a page's commit word (the rest are flags). */
export const COMMIT_LENGTH_MASK = 0x3fffffff;
// Absolute stamps carry 59 bits; the top 5 come from the running timestamp (kernel rb_fix_abs_ts).
const TS_MSB = 0xf8n << 56n;

function fixAbsoluteTimestamp(abs: bigint, previous: bigint): bigint {
  if ((previous & TS_MSB) === 0n) return abs;
  let ts = abs | (previous & TS_MSB);
  if (ts < previous) ts += 1n << 59n;
  return ts;
}

/**
 * One page's records as objects (the log's rendering, tests): scanRawPage's walk, each event kept.
 * Throws RawPageError on a page that contradicts the layout.
 */
export function decodeRawPage(page: Buffer, layout: RawPageLayout): DecodedPage {
  const records: RawRecord[] = [];
  const { dataLength, missedEvents } = scanRawPage(page, layout, (start, end) => {
    records.push({ timestampNs: SCANNED_TIMESTAMP_NS[0] as number, data: page.subarray(start, end) });
  });
  return { dataLength, records, missedEvents };
}

/**
 * Called by scanRawPage for each event of a page: its bytes are page[start, end); its timestamp (ns) is in
 * SCANNED_TIMESTAMP_NS[0] meanwhile. A double passed as an argument is boxed on the heap per call:
 * 16 bytes an event, 32 MB per million syscalls, the drain's largest cause of collections.
 */
export type RawEventVisitor = (start: number, end: number) => void;

/** The timestamp (ns) of the event scanRawPage is visiting. */
export const SCANNED_TIMESTAMP_NS = new Float64Array(1);

const wordViews = new WeakMap<ArrayBufferLike, Uint32Array>();

/**
 * A page as 32-bit words, for the hot path: `words[base + (offset >> 2)]` is the host-endian u32 at
 * byte `offset` of the page (events and their fields are 4-byte aligned; the kernel pads them so).
 * A page not itself 4-byte aligned in memory is copied into one that is (pages read from the
 * kernel never are: each is read into a buffer of its own).
 */
export function pageWords(page: Buffer): { page: Buffer; words: Uint32Array; base: number } {
  if ((page.byteOffset & 3) !== 0) {
    const aligned = Buffer.alloc(page.length);
    page.copy(aligned);
    page = aligned;
  }
  const buffer = page.buffer;
  let words = wordViews.get(buffer);
  if (!words) {
    words = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
    wordViews.set(buffer, words);
  }
  return { page, words, base: page.byteOffset >>> 2 };
}

/**
 * The walk of a page's events, allocating nothing per event (no record objects, no bigints): the
 * drain's hot path, where a busy container produces millions of events a second, and under
 * decodeRawPage. It reads the page as words (pageWords). Timestamps are nanoseconds as doubles
 * (see RawRecord); the rare absolute stamps go through the bigint path. Returns the page's data
 * length and missed count (a count the kernel flagged but could not store is 'unknown').
 */
export function scanRawPage(page: Buffer, layout: RawPageLayout, visit: RawEventVisitor): { dataLength: number; missedEvents: number | 'unknown' } {
  const { page: ph, event: eh } = layout;
  if (page.length < ph.dataOffset) throw new RawPageError(`ring-buffer page of ${page.length} bytes is shorter than its ${ph.dataOffset}-byte header`);
  const { words, base: wordBase } = pageWords(page);
  const commit = page.readUInt32LE(ph.commit.offset);
  const dataLength = commit & COMMIT_LENGTH_MASK;
  const start = ph.dataOffset;
  const end = start + dataLength;
  if (dataLength > ph.dataSize || end > page.length) {
    throw new RawPageError(`ring-buffer page commit ${dataLength} exceeds its data area (${Math.min(ph.dataSize, page.length - start)} bytes)`);
  }
  if ((start & 3) !== 0) throw new RawPageError(`ring-buffer page data at offset ${start} is not 4-byte aligned`);
  let missedEvents: number | 'unknown' = 0;
  if ((commit & MISSED_EVENTS) !== 0) {
    if ((commit & MISSED_STORED) === 0 || end + ph.commit.size > page.length) missedEvents = 'unknown';
    else missedEvents = ph.commit.size === 8 ? Number(page.readBigUInt64LE(end)) : page.readUInt32LE(end);
  }
  const typeLenBits = eh.typeLenBits;
  const typeLenMask = (1 << typeLenBits) - 1;
  const dataMaxTypeLen = eh.dataMaxTypeLen;
  const paddingType = eh.paddingType;
  const timeExtendType = eh.timeExtendType;
  const extendScale = 2 ** eh.timeDeltaBits;
  // The running time as a base and the deltas since: past 2^53 ns each event's time is rounded
  // once, where a running sum would round at every event and drift.
  let base = page.readUInt32LE(ph.timestamp.offset + 4) * 0x100000000 + page.readUInt32LE(ph.timestamp.offset);
  let since = 0;
  let pos = start;
  while (pos < end) {
    if (pos + 4 > end) throw new RawPageError(`ring-buffer event header at page offset ${pos} runs past commit ${end}`);
    const header = words[wordBase + (pos >>> 2)] as number;
    const typeLen = header & typeLenMask;
    const delta = header >>> typeLenBits;
    let dataStart: number;
    let next: number;
    if (typeLen !== 0 && typeLen <= dataMaxTypeLen) {
      dataStart = pos + 4;
      next = dataStart + typeLen * 4;
    } else if (typeLen === 0) {
      if (pos + 8 > end) throw new RawPageError(`ring-buffer event length at page offset ${pos} runs past commit ${end}`);
      const length = words[wordBase + ((pos + 4) >>> 2)] as number;
      if (length < 4) throw new RawPageError(`ring-buffer event at page offset ${pos} has length ${length}`);
      dataStart = pos + 8;
      next = pos + 4 + length;
    } else if (typeLen === paddingType) {
      if (delta === 0) break;
      if (pos + 8 > end) throw new RawPageError(`ring-buffer padding at page offset ${pos} runs past commit ${end}`);
      pos += 4 + (words[wordBase + ((pos + 4) >>> 2)] as number);
      continue;
    } else if (typeLen === timeExtendType) {
      if (pos + 8 > end) throw new RawPageError(`ring-buffer time event at page offset ${pos} runs past commit ${end}`);
      since += (words[wordBase + ((pos + 4) >>> 2)] as number) * extendScale + delta;
      pos += 8;
      continue;
    } else if (typeLen === eh.timeStampType) {
      if (pos + 8 > end) throw new RawPageError(`ring-buffer time event at page offset ${pos} runs past commit ${end}`);
      const value = (BigInt(page.readUInt32LE(pos + 4)) << BigInt(eh.timeDeltaBits)) + BigInt(delta);
      base = Number(fixAbsoluteTimestamp(value, BigInt(base + since)));
      since = 0;
      pos += 8;
      continue;
    } else {
      throw new RawPageError(`ring-buffer event at page offset ${pos} has unknown type_len ${typeLen}`);
    }
    if (next > end) throw new RawPageError(`ring-buffer event at page offset ${pos} runs past commit ${end}`);
    since += delta;
    SCANNED_TIMESTAMP_NS[0] = base + since;
    visit(dataStart, next);
    pos = next;
  }
  return { dataLength, missedEvents };
}
