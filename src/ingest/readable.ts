/**
 * The kernel's wake-ups on a trace_pipe_raw descriptor, in the event loop: tracefs implements poll
 * for it (readable once the CPU's buffer is `buffer_percent` full), so libuv can watch it with epoll
 * as it watches a pipe. Node offers that only through its pipe handle, which opens any descriptor
 * for polled, non-blocking reads (net.Socket refuses a tracefs file by its type, not by what it can
 * do).
 *
 * A watch reads one page per wake-up and then stops until resumed: the caller reads the rest with
 * its own descriptor. libuv reads on until a read fails, and a read that has caught up with the page
 * the kernel is writing may return 0 where an empty buffer gives EAGAIN (seen thousands of times a
 * second right behind a busy writer); libuv takes 0 for end of file and closes the descriptor. One
 * page at the wake-up level is a page the kernel has finished. A watch that ends all the same (a
 * wake-up level under a page, a kernel without buffer_percent) says so, and closes only its own
 * descriptor.
 */
import { Socket } from 'node:net';

export interface ReadableWatch {
  /** Stop waiting for the kernel (the queue is full); nothing is read until resume. */
  pause(): void;
  /** Wait for the next wake-up (after a page was delivered, or a pause). */
  resume(): void;
  /** Close the watch's descriptor. */
  close(): void;
}

interface PipeHandle {
  open(fd: number): number;
  readStart(): number;
  readStop(): number;
  /** Node's own note of whether the handle reads; kept true while it does, as Node keeps it. */
  reading: boolean;
}

type PipeWrap = { Pipe: new (type: number) => PipeHandle; constants: { SOCKET: number } };

let pipeWrap: PipeWrap | undefined;
function binding(): PipeWrap {
  // The documented net API cannot take such a descriptor; this binding is what net uses inside.
  pipeWrap ??= (process as unknown as { binding(name: string): PipeWrap }).binding('pipe_wrap');
  return pipeWrap;
}

export interface WatchEvents {
  /** One page, read at a wake-up: the buffer must be done with on return; the watch waits for resume. */
  page(page: Buffer): void;
  /** The watch is over (its read returned 0): its descriptor is closed; the caller may watch again. */
  ended(): void;
  error(err: Error): void;
}

/** Watch fd, a descriptor of its own (the watch closes it). */
export function watchReadable(fd: number, pageSize: number, on: WatchEvents): ReadableWatch {
  const { Pipe, constants } = binding();
  const handle = new Pipe(constants.SOCKET);
  const rc = handle.open(fd);
  if (rc !== 0) throw new Error(`cannot watch descriptor ${fd}: libuv error ${rc}`);
  const buffer = Buffer.alloc(pageSize);
  const socket = new Socket({
    handle: handle as never,
    readable: true,
    writable: false,
    onread: {
      buffer,
      // false: Node stops the handle's reads (and notes it in handle.reading) until resume.
      callback: (n: number) => {
        if (n > 0) on.page(n === buffer.length ? buffer : buffer.subarray(0, n));
        return false;
      },
    },
  } as ConstructorParameters<typeof Socket>[0]);
  socket.on('error', on.error);
  socket.on('end', on.ended);
  // Waiting for the kernel is not a reason to keep the process alive.
  socket.unref();
  return {
    pause() {
      if (!handle.reading) return;
      handle.reading = false;
      handle.readStop();
    },
    resume() {
      if (handle.reading || socket.destroyed) return;
      handle.reading = true;
      const err = handle.readStart();
      if (err !== 0) handle.reading = false;
    },
    close() {
      socket.destroy();
    },
  };
}
