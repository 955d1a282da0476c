/**
 * The kernel's wake-ups on a trace_pipe_raw descriptor, in the event loop: tracefs implements poll
 * for it (readable once the CPU's buffer is `buffer_percent` full), so libuv can watch it with epoll
 * as it watches a pipe. Node offers that only through its pipe handle, which opens any descriptor
 * for polled, non-blocking reads (net.Socket refuses a tracefs file by its type, not by what it can
 * do). Each read returns one ring-buffer page into the one buffer given, which the callback must be
 * done with when it returns. Nothing runs while the buffer stays below its wake-up level.
 */
import { Socket } from 'node:net';

export interface ReadableWatch {
  /** Stop the event loop's reads; the descriptor stays open, to be read to the end. */
  pause(): void;
  /** Start them again. */
  resume(): void;
  /** Close the descriptor (the watch owns it from watchReadable on). */
  close(): void;
}

interface PipeHandle {
  open(fd: number): number;
}

type PipeWrap = { Pipe: new (type: number) => PipeHandle; constants: { SOCKET: number } };

let pipeWrap: PipeWrap | undefined;
function binding(): PipeWrap {
  // The documented net API cannot take such a descriptor; this binding is what net uses inside.
  pipeWrap ??= (process as unknown as { binding(name: string): PipeWrap }).binding('pipe_wrap');
  return pipeWrap;
}

/** Watch fd, which the returned watch owns from now on (it closes it). */
export function watchReadable(fd: number, pageSize: number, onPage: (page: Buffer) => void, onError: (err: Error) => void): ReadableWatch {
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
      callback: (n: number) => {
        if (n > 0) onPage(n === buffer.length ? buffer : buffer.subarray(0, n));
        return true;
      },
    },
  } as ConstructorParameters<typeof Socket>[0]);
  socket.on('error', onError);
  // Waiting for the kernel is not a reason to keep the process alive.
  socket.unref();
  return {
    pause() {
      socket.pause();
      (socket as unknown as { _handle?: { readStop?: () => number } })._handle?.readStop?.();
    },
    resume() {
      (socket as unknown as { _handle?: { readStart?: () => number } })._handle?.readStart?.();
      socket.resume();
    },
    close() {
      socket.destroy();
    },
  };
}
