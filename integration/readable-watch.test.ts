// The drain's wake-ups (src/ingest/readable.ts) on a real trace_pipe_raw with a busy writer and a
// small buffer (a many-CPU host's share): there, libuv reading on after a wake-up reaches the page
// the kernel is writing, where a read can return 0, which libuv takes for end of file (and closed
// the descriptor the drain read with). A watch reads one page per wake-up, on a descriptor of its
// own, so the drain's descriptor stays open whatever the watch meets. Needs root and tracefs.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listTraceCpus, tracePipeRawPath } from '../src/ingest/raw-pipe-reader.js';
import { watchReadable, type ReadableWatch } from '../src/ingest/readable.js';
import { CONTAINER_EVENTS, TraceInstance } from '../src/tracefs/tracefs.js';
import { tracefsRoot } from './lab/env.js';
import { listTracefsInstances } from './lab/leaks.js';

const PREFIX = 'oci-ftrace-watchtest-';
let root: string;
const created: TraceInstance[] = [];

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('the watch tests need root');
  const found = tracefsRoot();
  if (found === undefined) throw new Error('tracefs is not mounted at /sys/kernel/tracing');
  root = found;
});

afterAll(async () => {
  for (const instance of created) await instance.removeAsync(undefined).catch(() => undefined);
  expect(listTracefsInstances(PREFIX)).toEqual([]);
});

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
    const instance = new TraceInstance(root, PREFIX + randomBytes(4).toString('hex'));
    created.push(instance);
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
