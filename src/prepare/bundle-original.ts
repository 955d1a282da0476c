/**
 * A traced container's bundle is left as found. The prepare step must write our hooks (and, when
 * the container asks for it, the permissive profile) into config.json, because that is the only way
 * to hand them to the runtime; but the runtime reads config.json once, at create (runc and crun
 * copy the spec into their own state, and start, exec, kill and delete use that copy). So:
 *
 *   prepare  saves config.json's exact bytes, mode and owner here (STATE_DIR/<id>.bundle.json),
 *            before it writes the prepared spec;
 *   record   (createRuntime) proves the runtime has read it: the original goes back, atomically;
 *   refusal  when the runtime exits without running the record hook (no rootfs, a bad cwd, a usage
 *            error), whoever watches it puts the original back the same way.
 *
 * A later bare run of the bundle is then neither traced nor unconfined. The original is written back
 * only over the very bytes we wrote: a config.json someone changed meanwhile is theirs, and left.
 */
import { readFileSync, rmSync } from 'node:fs';
import { heldCapabilitiesOfSpec } from '../capabilities/index.js';
import { z } from 'zod';
import { writeFileAtomic } from '../oci-config/bundle-config.js';
import { parseJsonLossless, stringifyJsonLossless } from '../oci-config/lossless-json.js';
import { runStatePath } from '../state/paths.js';
import { writePrivateFileAtomic } from '../state/private-file.js';

const SavedBundleSchema = z
  .object({
    version: z.literal(1),
    id: z.string(),
    path: z.string().startsWith('/'),
    mode: z.number().int().nonnegative(),
    uid: z.number().int().nonnegative(),
    gid: z.number().int().nonnegative(),
    /** The bytes to put back (base64): config.json as found. */
    original: z.string(),
    /** The bytes config.json holds after the prepare step (base64). */
    prepared: z.string(),
    /**
     * The runtime this preparation is for (`PID:STARTTIME`, the front door that becomes it by exec):
     * only a watcher of that runtime puts the bundle back on its exit, never one of an earlier
     * attempt with the same id.
     */
    runtime: z.string().optional(),
  })
  .strict();
export type SavedBundle = z.infer<typeof SavedBundleSchema>;

export function savedBundlePath(stateDir: string, id: string): string {
  return runStatePath(stateDir, id).replace(/\.json$/, '.bundle.json');
}

export interface BundleToSave {
  runtime?: string | undefined;
  path: string;
  mode: number;
  uid: number;
  gid: number;
  original: Uint8Array;
  prepared: Uint8Array;
}

export function saveBundleOriginal(stateDir: string, id: string, bundle: BundleToSave): void {
  const saved: SavedBundle = {
    version: 1,
    id,
    path: bundle.path,
    mode: bundle.mode,
    uid: bundle.uid,
    gid: bundle.gid,
    original: Buffer.from(bundle.original).toString('base64'),
    prepared: Buffer.from(bundle.prepared).toString('base64'),
    ...(bundle.runtime ? { runtime: bundle.runtime } : {}),
  };
  writePrivateFileAtomic(savedBundlePath(stateDir, id), JSON.stringify(saved));
}

export function readSavedBundle(stateDir: string, id: string): SavedBundle | undefined {
  let text: string;
  try {
    text = readFileSync(savedBundlePath(stateDir, id), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const r = SavedBundleSchema.safeParse(JSON.parse(text));
  if (!r.success || r.data.id !== id) throw new Error(`${savedBundlePath(stateDir, id)}: not a saved bundle of container ${id}`);
  return r.data;
}

/** The bundle's own linux.seccomp as found, as compact lossless JSON ("null": none). Pure. */
export function bundleSeccompOf(saved: SavedBundle): string {
  const tree = parseJsonLossless(Buffer.from(saved.original, 'base64').toString('utf8'), saved.path) as { linux?: { seccomp?: unknown } | null };
  return stringifyJsonLossless(tree?.linux?.seccomp ?? null, '').trimEnd();
}

/** The capabilities the bundle's process holds, in any of its sets (bounding, effective, permitted, inheritable, ambient). Pure. */
export function bundleCapabilitiesOf(saved: SavedBundle): string[] | undefined {
  return heldCapabilitiesOfSpec(parseJsonLossless(Buffer.from(saved.original, 'base64').toString('utf8'), saved.path));
}

export type RestoreOutcome =
  /** The original is back. */
  | 'restored'
  /** config.json already held the original (nothing of ours was written, or someone put it back). */
  | 'as-found'
  /** Someone changed config.json since we prepared it: theirs, left as it is. */
  | 'changed-since'
  /** config.json is gone. */
  | 'gone';

/**
 * Put the saved original back over what we wrote (atomically: temp file, fsync, rename, with the
 * original mode and owner), and forget it. Idempotent: a second call finds nothing saved.
 */
export async function restoreBundleOriginal(stateDir: string, saved: SavedBundle): Promise<RestoreOutcome> {
  const original = Buffer.from(saved.original, 'base64');
  const prepared = Buffer.from(saved.prepared, 'base64');
  let current: Buffer | undefined;
  try {
    current = readFileSync(saved.path);
  } catch {
    current = undefined;
  }
  let outcome: RestoreOutcome;
  if (current === undefined) outcome = 'gone';
  else if (current.equals(original)) outcome = 'as-found';
  else if (!current.equals(prepared)) outcome = 'changed-since';
  else {
    await writeFileAtomic(saved.path, original, { mode: saved.mode, uid: saved.uid, gid: saved.gid });
    outcome = 'restored';
  }
  rmSync(savedBundlePath(stateDir, saved.id), { force: true });
  return outcome;
}
