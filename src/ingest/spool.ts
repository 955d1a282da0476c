import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { PageHeaderFormat } from '../tracefs/event-format.js';

/*
 * A drain cannot afford to render millions of log lines per second while it drains, so in
 * log mode it spools the raw pages it read (only their used bytes) to disk, in rounds, and renders
 * the text log when it has time: when idle, and at the end. A round marker carries the watermark
 * the live pipeline used, so the replay orders events exactly as the live pipeline did.
 *
 * Segment file: a sequence of frames, each a 12-byte header (u32 kind, u32 cpu, u32 length) and a
 * payload: kind 1 = page bytes, kind 2 = the round's watermark as a float64 (seconds).
 */
const KIND_PAGE = 1;
const KIND_ROUND = 2;
const HEADER = 12;

export type SpoolFrame = { kind: 'page'; cpu: number; page: Buffer } | { kind: 'round'; watermark: number };

const SEGMENT_NAME = /^segment-(\d+)\.raw$/;

/** The segments in a spool directory, oldest first, with their numbers. */
function segmentsIn(dir: string): { path: string; seq: number }[] {
  return readdirSync(dir)
    .map((f) => ({ f, m: SEGMENT_NAME.exec(f) }))
    .filter((x): x is { f: string; m: RegExpExecArray } => x.m !== null)
    .map(({ f, m }) => ({ path: join(dir, f), seq: Number(m[1]) }))
    .sort((a, b) => a.seq - b.seq);
}

/**
 * The spool of one container's log. It stays within `capBytes` (0: no cap) while the container
 * runs, by dropping its oldest segments unrendered: the log keeps its last logMaxBytes x
 * (logKeep + 1) anyway, and a busy container left running for days would otherwise fill the disk
 * before its log is ever rendered.
 */
export class RawSpool {
  private fd: number | undefined;
  private seq: number;
  private current: string | undefined;
  private currentBytes = 0;
  private readonly wm = Buffer.alloc(8);
  /** Frames are staged and written in large chunks: one write per page would double the syscalls. */
  private readonly staging = Buffer.alloc(1 << 20);
  private staged = 0;

  /** Bytes of the segments this spool dropped to stay within its cap. */
  droppedBytes = 0;

  constructor(
    readonly dir: string,
    private readonly pageFormat: PageHeaderFormat,
    private readonly segmentBytes: number,
    private readonly capBytes = 0,
  ) {
    mkdirSync(dir, { recursive: true });
    // An agent that died left its segments here (the trace is adopted): ours follow them, in order,
    // rather than overwrite them.
    this.seq = segmentsIn(dir).at(-1)?.seq ?? 0;
    this.inheritedUpTo = this.seq;
  }

  /** The number of the last segment an earlier agent left (0: none). */
  readonly inheritedUpTo: number;

  /** Whether a segment (a path closedSegments gave) is one an earlier agent left. */
  isInherited(path: string): boolean {
    const m = SEGMENT_NAME.exec(basename(path));
    return m !== null && Number(m[1]) <= this.inheritedUpTo;
  }

  /**
   * Segments dropped before the oldest left (by this spool or an agent's before it): segments are
   * numbered from 1, so the first left says how many went.
   */
  droppedSegments(): number {
    const first = segmentsIn(this.dir).find((x) => x.path !== this.current);
    return first ? first.seq - 1 : Math.max(0, this.seq - 1);
  }

  /** Spool the used part of a page read from trace_pipe_raw (the buffer is reused by the caller). */
  appendPage(cpu: number, page: Buffer, dataLength: number): void {
    const used = this.pageFormat.dataOffset + dataLength;
    // The commit word's flag bits point past the data (missed-events count): loss is accounted
    // live, so the spooled copy keeps only the length.
    const commitAt = this.pageFormat.commit.offset;
    const saved = page.readUInt32LE(commitAt);
    const savedHigh = this.pageFormat.commit.size === 8 ? page.readUInt32LE(commitAt + 4) : 0;
    page.writeUInt32LE(dataLength, commitAt);
    if (this.pageFormat.commit.size === 8) page.writeUInt32LE(0, commitAt + 4);
    this.frame(KIND_PAGE, cpu, page.subarray(0, used));
    page.writeUInt32LE(saved, commitAt);
    if (this.pageFormat.commit.size === 8) page.writeUInt32LE(savedHigh, commitAt + 4);
  }

  /** End of a drain round: everything at or before `watermark` may be released. */
  endRound(watermark: number): void {
    this.wm.writeDoubleLE(watermark, 0);
    this.frame(KIND_ROUND, 0, this.wm);
    if (this.currentBytes >= this.segmentBytes) this.closeSegment();
  }

  /** Segments complete and ready to replay, oldest first. */
  closedSegments(): string[] {
    return segmentsIn(this.dir)
      .map((x) => x.path)
      .filter((p) => p !== this.current);
  }

  closeSegment(): void {
    try {
      this.flush();
    } finally {
      // Closed even when the flush fails (a full disk): a descriptor left open would pin the output
      // directory's file system.
      this.dropSegment();
    }
    this.keepWithinCap();
  }

  /** Gone without a trace, what is staged included (the log is dropped, or rendered). */
  remove(): void {
    this.staged = 0;
    this.dropSegment();
    if (existsSync(this.dir)) rmSync(this.dir, { recursive: true, force: true });
  }

  /** Drop the oldest segments while the spool is over its cap, keeping the newest. */
  private keepWithinCap(): void {
    if (this.capBytes <= 0) return;
    const segments = this.closedSegments().map((path) => ({ path, size: statSync(path).size }));
    let total = segments.reduce((n, x) => n + x.size, 0);
    while (segments.length > 1 && total > this.capBytes) {
      const oldest = segments.shift() as { path: string; size: number };
      rmSync(oldest.path, { force: true });
      total -= oldest.size;
      this.droppedBytes += oldest.size;
    }
  }

  private dropSegment(): void {
    const fd = this.fd;
    this.fd = undefined;
    this.current = undefined;
    this.currentBytes = 0;
    if (fd !== undefined) closeSync(fd);
  }

  private frame(kind: number, cpu: number, payload: Buffer): void {
    if (this.fd === undefined) {
      this.seq += 1;
      this.current = join(this.dir, `segment-${String(this.seq).padStart(8, '0')}.raw`);
      this.fd = openSync(this.current, 'w', 0o600);
    }
    if (this.staged + HEADER + payload.length > this.staging.length) this.flush();
    this.staging.writeUInt32LE(kind, this.staged);
    this.staging.writeUInt32LE(cpu, this.staged + 4);
    this.staging.writeUInt32LE(payload.length, this.staged + 8);
    payload.copy(this.staging, this.staged + HEADER);
    this.staged += HEADER + payload.length;
    this.currentBytes += HEADER + payload.length;
  }

  private flush(): void {
    if (this.fd !== undefined && this.staged > 0) writeSync(this.fd, this.staging, 0, this.staged);
    this.staged = 0;
  }
}

export class SpoolTruncatedError extends Error {
  override name = 'SpoolTruncatedError';
}

/** Read a segment's frames (pure over the bytes). */
export function* spoolFrames(bytes: Buffer): Generator<SpoolFrame> {
  let pos = 0;
  while (pos + HEADER <= bytes.length) {
    const kind = bytes.readUInt32LE(pos);
    const cpu = bytes.readUInt32LE(pos + 4);
    const length = bytes.readUInt32LE(pos + 8);
    const start = pos + HEADER;
    if (start + length > bytes.length) throw new SpoolTruncatedError(`spool segment truncated at offset ${pos}`);
    const payload = bytes.subarray(start, start + length);
    if (kind === KIND_PAGE) yield { kind: 'page', cpu, page: payload };
    else if (kind === KIND_ROUND) yield { kind: 'round', watermark: payload.readDoubleLE(0) };
    else throw new Error(`spool segment has an unknown frame kind ${kind} at offset ${pos}`);
    pos = start + length;
  }
  if (pos < bytes.length) throw new SpoolTruncatedError(`spool segment truncated at offset ${pos}`);
}

export function readSpoolSegment(path: string): Buffer {
  return readFileSync(path);
}
