import { z } from 'zod';

/**
 * Container ids come from whoever runs the container; they become file and instance names, so
 * only runc's own id alphabet is accepted, with no leading dot (no `.`/`..`) and a length bound.
 */
export const ContainerIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_+-][A-Za-z0-9_.+-]{0,199}$/, 'invalid container id (allowed: letters, digits, _ . + -, at most 200, no leading dot)');

export function validateContainerId(id: string): string {
  const r = ContainerIdSchema.safeParse(id);
  if (!r.success) throw new Error(`${r.error.issues[0]?.message ?? 'invalid container id'}: ${JSON.stringify(id).slice(0, 80)}`);
  return r.data;
}

/**
 * The state a runtime writes to a hook's stdin (runtime-spec "state"). runc and crun differ:
 * status strings vary by stage and crun passes pid 0 at poststop, so pid is optional-ish here.
 */
export const OciStateSchema = z
  .object({
    ociVersion: z.string(),
    id: ContainerIdSchema,
    status: z.string(),
    pid: z.number().int().nonnegative().optional(),
    bundle: z.string(),
    annotations: z.record(z.string(), z.string()).optional(),
  })
  .passthrough();
export type OciState = z.infer<typeof OciStateSchema>;

export function parseOciState(text: string): OciState {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`hook state on stdin is not JSON: ${(err as Error).message}`);
  }
  const r = OciStateSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new Error(`hook state on stdin is invalid: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
  }
  return r.data;
}

/** Read all of stdin (the hook's state); bounded, since a runtime never sends megabytes. */
export async function readStdin(limitBytes = 1 << 20): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limitBytes) throw new Error(`hook state on stdin exceeds ${limitBytes} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}
