import { closeSync, constants, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';

/*
 * The I/O edge of the binary path: drain what a per-CPU trace_pipe_raw holds right now. Each read
 * of exactly one sub-buffer size returns one page (the kernel copies a partial page when fewer
 * bytes are asked for, so never ask for less). Reads consume: pages are gone from the buffer.
 */

export class RawPipeError extends Error {
  override name = 'RawPipeError';
}

/** Read pages until the kernel says there is nothing more (EAGAIN under O_NONBLOCK, or 0). */
export function drainTracePipeRaw(path: string, subBufferSize: number): Buffer[] {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new RawPipeError(`cannot open ${path}: ${firstLine(err)}`);
  }
  const pages: Buffer[] = [];
  try {
    for (;;) {
      const page = Buffer.alloc(subBufferSize);
      let filled = 0;
      while (filled < subBufferSize) {
        const n = readOrEmpty(fd, page, filled, path);
        if (n === 0) break;
        filled += n;
      }
      if (filled === 0) break;
      if (filled < subBufferSize) throw new RawPipeError(`${path} returned a partial page of ${filled} bytes`);
      pages.push(page);
    }
  } finally {
    closeSync(fd);
  }
  return pages;
}

function readOrEmpty(fd: number, into: Buffer, offset: number, path: string): number {
  try {
    return readSync(fd, into, offset, into.length - offset, null);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return 0;
    throw new RawPipeError(`cannot read ${path}: ${firstLine(err)}`);
  }
}

/** The CPU numbers of an instance (or the top-level buffer): per_cpu/cpuN. */
export function listTraceCpus(instanceDir: string): number[] {
  return readdirSync(join(instanceDir, 'per_cpu'))
    .filter((d) => /^cpu\d+$/.test(d))
    .map((d) => Number(d.slice(3)))
    .sort((a, b) => a - b);
}

export function tracePipeRawPath(instanceDir: string, cpu: number): string {
  return join(instanceDir, 'per_cpu', `cpu${cpu}`, 'trace_pipe_raw');
}

function firstLine(err: unknown): string {
  return String(err instanceof Error ? err.message : err).split('\n')[0] ?? '';
}
