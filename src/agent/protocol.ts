/**
 * What the front door (src/front-door/oci-ftrace-runc.c, in C) and the CLI say to the agent, and
 * what it answers, over the agent's unix socket: one request and one reply per connection, each a
 * 4-byte big-endian length and that many bytes of UTF-8 JSON. Every message is checked here, with
 * zod, before anything acts on it: the socket is root's only, but the state a runtime passes to a
 * hook, and the annotations in it, come from whoever runs the container.
 */
import { z } from 'zod';
import { OciStateSchema } from '../state/oci-state.js';

export const PROTOCOL_VERSION = 1;
/** Far more than any request we send (a hook's state is bounded by the runtime, argv by the kernel's ARG_MAX). */
export const MAX_MESSAGE_BYTES = 4 << 20;

/** The front door, for a command line that may create or enter a container, before it execs the runtime. */
export const PrepareRequestSchema = z
  .object({
    v: z.literal(PROTOCOL_VERSION),
    kind: z.literal('prepare'),
    /** The front door's pid: the runtime's, once it execs it. */
    pid: z.number().int().positive(),
    /** Its start time (field 22 of /proc/PID/stat): with the pid, a name pid reuse cannot fool. */
    start: z.string().regex(/^[0-9]{1,20}$/),
    cwd: z.string().startsWith('/'),
    /** The real runtime the front door will exec. */
    runtime: z.string().startsWith('/'),
    /** Our config's path as the front door chose the agent by it ("": the default). */
    config: z.string(),
    /** argv without argv[0]. */
    argv: z.array(z.string()).max(100_000),
  })
  .strict();
export type PrepareRequest = z.infer<typeof PrepareRequestSchema>;

/** A hook (the front door as oci-ftrace-hook), with the runtime's state on its stdin. */
export const HookRequestSchema = z
  .object({
    v: z.literal(PROTOCOL_VERSION),
    kind: z.enum(['record', 'report']),
    state: OciStateSchema,
  })
  .strict();
export type HookRequest = z.infer<typeof HookRequestSchema>;

/** The CLI. */
export const CliRequestSchema = z.discriminatedUnion('kind', [
  z.object({ v: z.literal(PROTOCOL_VERSION), kind: z.literal('livedump'), id: z.string() }).strict(),
  z.object({ v: z.literal(PROTOCOL_VERSION), kind: z.literal('gc') }).strict(),
  z.object({ v: z.literal(PROTOCOL_VERSION), kind: z.literal('status') }).strict(),
]);
export type CliRequest = z.infer<typeof CliRequestSchema>;

export type Request = PrepareRequest | HookRequest | CliRequest;

/** Parse one request (pure); a one-line error says what is wrong with it. */
export function parseRequest(bytes: Buffer): Request {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new Error(`request is not JSON: ${(err as Error).message}`);
  }
  const kind = (raw as { kind?: unknown } | null)?.kind;
  const schema = kind === 'prepare' ? PrepareRequestSchema : kind === 'record' || kind === 'report' ? HookRequestSchema : CliRequestSchema;
  const r = schema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new Error(`request ${JSON.stringify(String(kind ?? '?')).slice(0, 40)} is invalid: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
  }
  return r.data as Request;
}

/** To the front door: exec the runtime, or (strict mode) refuse with this line on stderr. */
export type PrepareReply = { v: 1; go: true } | { v: 1; go: false; message: string };
/** To a hook: done, or (strict mode) fail with this line. */
export type HookReply = { v: 1; ok: true } | { v: 1; ok: false; message: string };
export type CliReply = { v: 1; ok: true; [key: string]: unknown } | { v: 1; ok: false; message: string };

/** One frame: the length, then the JSON. */
export function encodeFrame(value: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(value), 'utf8');
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
}

/**
 * Collects one frame from a stream's chunks (pure over the bytes): undefined until it is whole.
 * Throws on a frame larger than MAX_MESSAGE_BYTES.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private size = 0;

  push(chunk: Buffer): Buffer | undefined {
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.size < 4) return undefined;
    const all = Buffer.concat(this.chunks);
    this.chunks = [all];
    const length = all.readUInt32BE(0);
    if (length > MAX_MESSAGE_BYTES) throw new Error(`message of ${length} bytes is larger than ${MAX_MESSAGE_BYTES}`);
    if (all.length < 4 + length) return undefined;
    return all.subarray(4, 4 + length);
  }
}
