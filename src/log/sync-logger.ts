import { mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from './logger.js';

/**
 * A small synchronous JSON-lines logger with pino's line format, for the processes in a traced
 * container's start and stop paths (the prepare step, the hooks, the collector): loading pino costs
 * each about 10 ms (see README "Performance"). It writes what pino writes for our calls: `level`
 * as a number, `time` in ms, the bindings (pid, component, then child bindings), the fields, then
 * `msg`; an Error under `err` becomes {type, message, stack}. It covers the calls our code makes
 * (level methods with an optional object first, child, flush, level); the CLI keeps using pino
 * (src/log/logger.ts).
 */
const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

type Fields = Record<string, unknown>;

function serializeError(err: Error): Fields {
  return { ...err, type: err.name === 'Error' ? err.constructor.name : err.name, message: err.message, stack: err.stack };
}

function replacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

export function createSyncFileLogger(opts: { file: string; level: string; component: string }): Logger {
  let fd: number | undefined;
  try {
    mkdirSync(dirname(opts.file), { recursive: true });
    fd = openSync(opts.file, 'a');
  } catch {
    // An unwritable log must not stop a container: log nowhere rather than fail.
    fd = undefined;
  }
  const threshold = opts.level === 'silent' ? Infinity : (LEVELS[opts.level] ?? LEVELS.info!);

  function write(level: number, bindings: Fields, first: unknown, msg: unknown): void {
    if (fd === undefined || level < threshold) return;
    let fields: Fields = {};
    let message = msg;
    if (typeof first === 'string' && msg === undefined) message = first;
    else if (first instanceof Error) fields = { err: serializeError(first) };
    else if (first !== null && typeof first === 'object') fields = { ...(first as Fields) };
    if (fields.err instanceof Error) fields.err = serializeError(fields.err);
    const entry: Fields = { level, time: Date.now(), ...bindings, ...fields };
    if (message !== undefined) entry.msg = String(message);
    let line: string;
    try {
      line = JSON.stringify(entry, replacer);
    } catch (err) {
      line = JSON.stringify({ level, time: entry.time, ...bindings, msg: entry.msg, logError: (err as Error).message }, replacer);
    }
    try {
      writeSync(fd, `${line}\n`);
    } catch {
      /* a full disk must not stop a container */
    }
  }

  function make(bindings: Fields): Logger {
    const logger = {
      level: opts.level,
      child: (more: Fields) => make({ ...bindings, ...more }),
      flush: () => undefined,
      isLevelEnabled: (name: string) => (LEVELS[name] ?? Infinity) >= threshold,
      bindings: () => ({ ...bindings }),
      silent: () => undefined,
    } as Record<string, unknown>;
    for (const [name, level] of Object.entries(LEVELS)) {
      logger[name] = (first?: unknown, msg?: unknown) => write(level, bindings, first, msg);
    }
    return logger as unknown as Logger;
  }

  return make({ pid: process.pid, component: opts.component });
}
