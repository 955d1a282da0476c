// Real ring-buffer pages recorded on the lab kernel (6.18 x86_64) by integration/collector-raw.test.ts
// with RECORD_RAW_FIXTURES=1, with the format files and text output of the same buffers.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RawPageLayout } from '../../src/ingest/raw-page.js';
import type { TraceEvent } from '../../src/trace/events.js';
import { parseTraceLine } from '../support/line-parser.js';
import { parseEventFormat, parseEventHeaderFormat, parsePageHeaderFormat, type EventFormat } from '../../src/tracefs/event-format.js';
import { CONTAINER_EVENTS } from '../../src/tracefs/tracefs.js';

export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

export function fixtureText(name: string): string {
  return readFileSync(path.join(FIXTURES, name), 'utf8');
}

export function recordedLayout(): RawPageLayout {
  return { page: parsePageHeaderFormat(fixtureText('raw-header_page.txt')), event: parseEventHeaderFormat(fixtureText('raw-header_event.txt')) };
}

/**
 * The format files of every event a capture may hold, as `system/event` -> raw text: today's
 * CONTAINER_EVENTS, and sched_process_fork, which earlier captures (raw-busybox) used for new tasks.
 */
export function recordedFormatTexts(): Map<string, string> {
  const names = readdirSync(FIXTURES).filter((f) => /^raw-format-.*\.txt$/.test(f));
  const events = names.map((f) => {
    const base = f.slice('raw-format-'.length, -'.txt'.length);
    const system = base.startsWith('raw_syscalls-') ? 'raw_syscalls' : base.slice(0, base.indexOf('-'));
    return `${system}/${base.slice(system.length + 1)}`;
  });
  for (const ev of CONTAINER_EVENTS) if (!events.includes(ev)) throw new Error(`no recorded format for ${ev}`);
  return new Map(events.map((ev, i) => [ev, fixtureText(names[i] as string)]));
}

export function recordedFormats(): EventFormat[] {
  return [...recordedFormatTexts()].map(([ev, text]) => parseEventFormat(text, ev.split('/')[0] ?? ''));
}

/** The pages of one capture, per CPU (files hold the pages back to back, in read order). */
export function recordedPages(capture: 'raw-busybox' | 'raw-loss' | 'raw-container' | 'raw-caps'): Map<number, Buffer[]> {
  const size = recordedLayout().page.subBufferSize;
  const out = new Map<number, Buffer[]>();
  for (let cpu = 0; existsSync(path.join(FIXTURES, `${capture}-cpu${cpu}.bin`)); cpu++) {
    const bytes = readFileSync(path.join(FIXTURES, `${capture}-cpu${cpu}.bin`));
    if (bytes.length % size !== 0) throw new Error(`${capture}-cpu${cpu}.bin is not a whole number of ${size}-byte pages`);
    const pages: Buffer[] = [];
    for (let at = 0; at < bytes.length; at += size) pages.push(bytes.subarray(at, at + size));
    out.set(cpu, pages);
  }
  return out;
}

/** What integration/container-raw.test.ts recorded with the raw-container capture. */
export interface ContainerCaptureMeta {
  initPid: number;
  initialTasks: number[];
  profile: unknown;
  stdout: string;
}

export function containerCaptureMeta(): ContainerCaptureMeta {
  return JSON.parse(fixtureText('raw-container.json')) as ContainerCaptureMeta;
}

/** What integration/capabilities-raw.test.ts recorded with the raw-caps capture. */
export interface CapabilityCaptureMeta {
  initPid: number;
  initialTasks: number[];
  /** The bundle's capability sets (CAP_NET_RAW held, CAP_CHOWN not). */
  capabilities: string[];
  script: string;
  stdout: string;
}

export function capabilityCaptureMeta(): CapabilityCaptureMeta {
  return JSON.parse(fixtureText('raw-caps.json')) as CapabilityCaptureMeta;
}

/** The kernel's text rendering of the busybox capture, parsed. */
export function recordedTextEvents(): TraceEvent[] {
  return fixtureText('raw-busybox.trace').split('\n').map(parseTraceLine).filter((e): e is TraceEvent => e !== undefined);
}

/** The text output's `%5lu.%06lu`: nanoseconds rounded to the nearest microsecond (ns2usecs). */
export function nsToMicros(ns: number): number {
  return Math.floor((ns + 500) / 1000);
}

export function secondsToMicros(seconds: number): number {
  return Math.round(seconds * 1e6);
}
