/*
 * The channel between bin/oci-ftrace-hook and the container's collector: two FIFOs beside the run
 * state, made before the runtime runs the hooks (by the collector the launcher starts, or by the
 * prepare step before it starts one; the prepare step waits for them either way).
 *
 *   request (hook -> collector): one line per request, `KIND NONCE STATE`, STATE the runtime's
 *            state JSON on one line (the hook turns newlines into spaces: JSON allows none inside
 *            strings, so this is the same JSON).
 *   reply   (collector -> hook): one line, `NONCE ok` (done) or `NONCE fallback REASON` (the
 *            Node hook is to do the work instead).
 *
 * Both ends open both FIFOs read-write, so no open ever blocks and no write ever meets a missing
 * reader; the nonce pairs a reply with its request, so an answer the hook stopped waiting for is
 * never taken for the next one.
 */
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { OciStateSchema, type OciState } from '../state/oci-state.js';
import type { CollectorFiles } from './files.js';
import { inodeOf, removeIfSame, type Inode } from './hook-fifos.js';

export type HookKind = 'record' | 'report';

export interface HookRequest {
  kind: HookKind;
  nonce: string;
  state: OciState;
}

/** A line that is not a request we can act on; `nonce` when there is one to answer. */
export interface BadHookRequest {
  error: string;
  nonce?: string;
}

const NONCE = /^[A-Za-z0-9._-]{1,64}$/;
/** A state far larger than a runtime sends: the hook itself sends nothing above 60 KB. */
const MAX_LINE_BYTES = 1 << 20;

/** Parse one request line (pure). The state is validated with the hook's own schema. */
export function parseHookRequest(line: string): HookRequest | BadHookRequest {
  const first = line.indexOf(' ');
  const second = first < 0 ? -1 : line.indexOf(' ', first + 1);
  if (second < 0) return { error: 'not KIND NONCE STATE' };
  const kind = line.slice(0, first);
  const nonce = line.slice(first + 1, second);
  if (!NONCE.test(nonce)) return { error: 'invalid nonce' };
  if (kind !== 'record' && kind !== 'report') return { error: `unknown request ${JSON.stringify(kind.slice(0, 20))}`, nonce };
  let raw: unknown;
  try {
    raw = JSON.parse(line.slice(second + 1));
  } catch (err) {
    return { error: `state is not JSON: ${(err as Error).message}`, nonce };
  }
  const parsed = OciStateSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { error: `state is invalid: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`, nonce };
  }
  return { kind, nonce, state: parsed.data };
}

export function isBadRequest(r: HookRequest | BadHookRequest): r is BadHookRequest {
  return 'error' in r;
}

/** The reply line for a request (pure): `ok`, or `fallback` with a reason on one line. */
export function formatReply(nonce: string, answer: { ok: true } | { fallback: string }): string {
  return 'ok' in answer ? `${nonce} ok\n` : `${nonce} fallback ${answer.fallback.replace(/[\r\n]+/g, ' ').slice(0, 300)}\n`;
}

/** The collector's end: requests as they arrive (event-driven), replies written at once. */
export class HookChannel {
  private readonly requestFd: number;
  private readonly replyFd: number;
  private readonly socket: Socket;
  private readonly inodes: { request: Inode | undefined; reply: Inode | undefined };
  private pending = '';
  private handler: ((r: HookRequest | BadHookRequest) => void) | undefined;
  private readonly queued: (HookRequest | BadHookRequest)[] = [];
  private cancelWait: (() => void) | undefined;

  private constructor(private readonly files: Pick<CollectorFiles, 'request' | 'reply'>) {
    this.inodes = { request: inodeOf(files.request), reply: inodeOf(files.reply) };
    for (const [name, inode] of Object.entries(this.inodes)) {
      if (!inode) throw new Error(`hook FIFO ${name === 'request' ? files.request : files.reply} does not exist`);
    }
    this.requestFd = openSync(files.request, constants.O_RDWR | constants.O_NONBLOCK);
    try {
      this.replyFd = openSync(files.reply, constants.O_RDWR | constants.O_NONBLOCK);
    } catch (err) {
      closeSync(this.requestFd);
      throw err;
    }
    // A FIFO becomes a libuv pipe: its data arrives as events, with no polling delay.
    this.socket = new Socket({ fd: this.requestFd, readable: true, writable: false });
    this.socket.setEncoding('utf8');
    this.socket.on('data', (chunk: string) => this.onData(chunk));
    this.socket.on('error', () => undefined);
    // Waiting for a request must not be what keeps the process alive.
    this.socket.unref();
  }

  static open(files: Pick<CollectorFiles, 'request' | 'reply'>): HookChannel {
    return new HookChannel(files);
  }

  private onData(chunk: string): void {
    this.pending += chunk;
    if (this.pending.length > MAX_LINE_BYTES && !this.pending.includes('\n')) this.pending = '';
    for (let nl = this.pending.indexOf('\n'); nl >= 0; nl = this.pending.indexOf('\n')) {
      const line = this.pending.slice(0, nl);
      this.pending = this.pending.slice(nl + 1);
      if (line.trim() === '') continue;
      const request = parseHookRequest(line);
      if (this.handler) this.handler(request);
      else this.queued.push(request);
    }
  }

  /** Requests in arrival order, those already queued first. */
  onRequest(handler: (r: HookRequest | BadHookRequest) => void): void {
    this.handler = handler;
    for (const r of this.queued.splice(0)) handler(r);
  }

  /** The next request, or undefined after timeoutMs or cancel() (bad lines are answered and skipped). */
  next(timeoutMs: number): Promise<HookRequest | undefined> {
    this.cancel();
    return new Promise((resolve) => {
      // A timer that does keep the process alive: this is what the process waits for.
      const timer = setTimeout(() => end(undefined), timeoutMs);
      const end = (r: HookRequest | undefined): void => {
        clearTimeout(timer);
        this.handler = undefined;
        this.cancelWait = undefined;
        resolve(r);
      };
      this.cancelWait = () => end(undefined);
      this.onRequest((r) => {
        if (!isBadRequest(r)) end(r);
        else if (r.nonce) this.reply(r.nonce, { fallback: r.error });
      });
    });
  }

  /** End a pending next() now, with no request. */
  cancel(): void {
    this.cancelWait?.();
  }

  reply(nonce: string, answer: { ok: true } | { fallback: string }): void {
    try {
      writeSync(this.replyFd, formatReply(nonce, answer));
    } catch {
      /* a full FIFO means nobody is listening: the hook gave up and went to Node */
    }
  }

  /** Remove the FIFOs (if still ours) and close our ends; a hook that opens them now goes to Node. */
  close(): void {
    this.cancel();
    removeIfSame(this.files.request, this.inodes.request);
    removeIfSame(this.files.reply, this.inodes.reply);
    this.handler = undefined;
    this.socket.destroy();
    try {
      closeSync(this.replyFd);
    } catch {
      /* closed already */
    }
  }
}
