// Lines in the runtime's own --log, written the way runc's logrus writes them, so that an engine
// reading that log after a failure (containerd reads the last "error" line) shows ours too.

import { goJsonString, goQuote } from './go-quote.js';
import type { RuntimeLogFormat } from './parse.js';

export type RuntimeLogLevel = 'error' | 'warning';

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/**
 * Go's time.RFC3339 in the given zone: second precision, "Z" for UTC, else ±hh:mm. The offset
 * defaults to the process's local zone (TZ), which is also what runc uses.
 */
export function formatRfc3339(now: Date, utcOffsetMinutes = -now.getTimezoneOffset()): string {
  const local = new Date(now.getTime() + utcOffsetMinutes * 60_000);
  const date = `${pad(local.getUTCFullYear(), 4)}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}`;
  const time = `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}`;
  if (utcOffsetMinutes === 0) return `${date}T${time}Z`;
  const sign = utcOffsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(utcOffsetMinutes);
  return `${date}T${time}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** logrus's text format leaves a value bare only when it is made of these characters. */
const LOGRUS_BARE = /^[A-Za-z0-9\-._/@^+]*$/;

/**
 * One line as runc's logrus writes it, without the trailing newline (logrus ends each line with one):
 *   json: {"level":"error","msg":"...","time":"2026-11-23T10:52:22Z"}
 *   text: time="2026-11-23T10:52:22Z" level=error msg="..."
 */
export function formatRuntimeLogLine(
  level: RuntimeLogLevel,
  msg: string,
  format: RuntimeLogFormat,
  now: Date,
  utcOffsetMinutes = -now.getTimezoneOffset(),
): string {
  const time = formatRfc3339(now, utcOffsetMinutes);
  if (format === 'json') {
    // Go encodes a map, so keys come sorted.
    return `{"level":${goJsonString(level)},"msg":${goJsonString(msg)},"time":${goJsonString(time)}}`;
  }
  const value = (text: string): string => (LOGRUS_BARE.test(text) ? text : goQuote(text));
  // logrus leaves msg out entirely when it is empty.
  const message = msg === '' ? '' : ` msg=${value(msg)}`;
  return `time=${value(time)} level=${level}${message}`;
}
