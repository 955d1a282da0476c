import { closeSync, fchmodSync, fchownSync, fstatSync, fsyncSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { SpecError } from './errors.js';
import { detectJsonIndent, parseJsonLossless, stringifyJsonLossless } from './lossless-json.js';
import type { SpecModifier } from './modifiers.js';
import { validateSpec, type OciSpec } from './schema.js';

/** The runtime-spec's fixed name for a bundle's configuration. */
export const BUNDLE_CONFIG_FILE = 'config.json';

export type BundleSpec = {
  /** The validated spec: the parsed tree itself, so key order and unknown fields are intact. */
  spec: OciSpec;
  /** The same tree before validation, as lossless-json parsed it (numbers are LosslessNumbers). */
  raw: unknown;
};

export type BundleEditResult = {
  /** Whether config.json was rewritten. */
  changed: boolean;
  /** config.json as it was read: its path, exact bytes, mode and owner (to put it back as found). */
  original: { path: string; bytes: Buffer; mode: number; uid: number; gid: number };
  /** The text written in its place, when it changed. */
  written?: string;
  /** The spec's text after each modifier, in order (the last is what is on disk now). */
  texts: string[];
  /** Names of the modifiers that changed something, in order. */
  applied: string[];
  /** The spec as it now is on disk. */
  spec: OciSpec;
};

export type AtomicWriteOptions = {
  /** Permission bits of the new file; default: the replaced file's, or 0666 minus umask for a new file. */
  mode?: number;
  /** Owner of the new file; default: the replaced file's, or the process's for a new file. */
  uid?: number;
  gid?: number;
};

/** Read and validate BUNDLE/config.json. Errors are one-line SpecErrors naming file and problem. */
export async function readBundleSpec(bundleDir: string): Promise<BundleSpec> {
  const { tree, spec } = await loadBundleConfig(bundleDir);
  return { spec, raw: tree };
}

/**
 * Apply modifiers to BUNDLE/config.json and replace it atomically if the result differs. Fields we
 * do not touch keep their values, spelling of numbers and key order; the file keeps its mode and
 * owner. When nothing changes the file is not written at all (its inode and mtime stay).
 * `afterLoad` sees the spec as read, before any modifier; `beforeWrite` sees the result before the
 * file is written (and is told nothing if it fails).
 */
export async function editBundleSpec(
  bundleDir: string,
  modifiers: readonly SpecModifier[],
  options: { afterLoad?: (spec: OciSpec) => void; beforeWrite?: (result: BundleEditResult) => void } = {},
): Promise<BundleEditResult> {
  const loaded = await loadBundleConfig(bundleDir);
  options.afterLoad?.(loaded.spec);
  const indent = detectJsonIndent(loaded.text);
  const originalText = stringifyJsonLossless(loaded.spec, indent);

  let spec = loaded.spec;
  let text = originalText;
  const applied: string[] = [];
  const texts: string[] = [];
  for (const modifier of modifiers) {
    const next = applyModifier(modifier, spec, loaded.path);
    const nextText = stringifyJsonLossless(next, indent);
    if (nextText !== text) applied.push(modifier.name);
    spec = next;
    text = nextText;
    texts.push(text);
  }

  const changed = text !== originalText;
  const original = { path: loaded.path, bytes: loaded.bytes, mode: loaded.mode, uid: loaded.uid, gid: loaded.gid };
  const result: BundleEditResult = { changed, applied, spec, original, texts, ...(changed ? { written: text } : {}) };
  // The outcome is known before the (slow, fsync'd) write: a caller may act on it meanwhile.
  options.beforeWrite?.(result);
  if (changed) {
    await writeFileAtomic(loaded.path, text, { mode: loaded.mode, uid: loaded.uid, gid: loaded.gid });
  }
  return result;
}

/** Serialize `value` losslessly (see stringifyJsonLossless) and write it with writeFileAtomic. */
export async function writeJsonAtomic(
  path: string,
  value: unknown,
  options: AtomicWriteOptions & { indent?: string } = {},
): Promise<void> {
  const { indent, ...writeOptions } = options;
  await writeFileAtomic(path, stringifyJsonLossless(value, indent), writeOptions);
}

/**
 * Replace `path` so that readers see either the old or the new content, never a mix, even across
 * a crash: write a uniquely named temp file in the same directory (O_EXCL), give it the mode and
 * owner, fsync it, rename it over `path`, fsync the directory. On failure the temp file is removed
 * and `path` is untouched.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  let existing: Stats | undefined;
  try {
    existing = await statIfExists(path);
  } catch (err) {
    throw new SpecError(`${path}: cannot write: ${errorMessage(err)}`, { cause: err });
  }
  const mode = options.mode ?? (existing ? existing.mode & 0o7777 : undefined);
  const uid = options.uid ?? existing?.uid;
  const gid = options.gid ?? existing?.gid;
  const dir = dirname(path);
  const tempPath = join(dir, `.${basename(path)}.${process.pid}.${uniqueSuffix()}.tmp`);

  // Synchronous calls: this sits in every traced container's start path (the prepare step), where
  // each async call would add a thread-pool round trip; nothing else runs meanwhile.
  let fd: number | undefined;
  let created = false;
  try {
    // 'wx' is O_CREAT|O_EXCL: never reuse or follow something already at that name.
    fd = openSync(tempPath, 'wx', mode ?? 0o666);
    created = true;
    writeFileSync(fd, data);
    const tempStat = fstatSync(fd);
    if ((uid !== undefined && uid !== tempStat.uid) || (gid !== undefined && gid !== tempStat.gid)) {
      fchownSync(fd, uid ?? tempStat.uid, gid ?? tempStat.gid);
    }
    // After chown, which clears setuid/setgid bits; also undoes the umask applied by open.
    if (mode !== undefined) fchmodSync(fd, mode);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tempPath, path);
    created = false;
  } catch (err) {
    if (fd !== undefined) closeQuietly(fd);
    if (created) unlinkQuietly(tempPath);
    throw new SpecError(`${path}: cannot write: ${errorMessage(err)}`, { cause: err });
  }

  try {
    const dirFd = openSync(dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  } catch (err) {
    throw new SpecError(`${path}: replaced, but syncing directory ${dir} failed: ${errorMessage(err)}`, { cause: err });
  }
}

/** Unique enough for a temp name beside the file (O_EXCL refuses a clash); no crypto to load. */
let tempCounter = 0;
function uniqueSuffix(): string {
  tempCounter += 1;
  return `${Date.now().toString(36)}${tempCounter.toString(36)}${Math.floor(Math.random() * 2 ** 32).toString(36)}`;
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    /* the write already failed: that is the error to report */
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* gone already */
  }
}

type LoadedBundleConfig = {
  path: string;
  text: string;
  bytes: Buffer;
  tree: unknown;
  spec: OciSpec;
  mode: number;
  uid: number;
  gid: number;
};

async function loadBundleConfig(bundleDir: string): Promise<LoadedBundleConfig> {
  const dirStat = await statIfExists(bundleDir).catch((err: unknown) => {
    throw new SpecError(`bundle directory ${bundleDir}: cannot access: ${errorMessage(err)}`, { cause: err });
  });
  if (!dirStat) throw new SpecError(`bundle directory ${bundleDir} does not exist`);
  if (!dirStat.isDirectory()) throw new SpecError(`bundle ${bundleDir} is not a directory`);

  const path = join(bundleDir, BUNDLE_CONFIG_FILE);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') throw new SpecError(`${path}: bundle has no ${BUNDLE_CONFIG_FILE}`, { cause: err });
    throw new SpecError(`${path}: cannot open: ${errorMessage(err)}`, { cause: err });
  }
  let bytes: Buffer;
  let fileStat: Stats;
  try {
    // Mode and owner from the very file we read, not from whatever the name points to later.
    fileStat = fstatSync(fd);
    if (!fileStat.isFile()) throw new SpecError(`${path}: not a regular file`);
    bytes = readFileSync(fd);
  } catch (err) {
    if (err instanceof SpecError) throw err;
    throw new SpecError(`${path}: cannot read: ${errorMessage(err)}`, { cause: err });
  } finally {
    closeSync(fd);
  }

  const text = decodeUtf8(bytes, path);
  const tree = parseJsonLossless(text, path);
  const spec = validateSpec(tree, path);
  return { path, text, bytes, tree, spec, mode: fileStat.mode & 0o7777, uid: fileStat.uid, gid: fileStat.gid };
}

/**
 * Strict UTF-8: lenient decoding would turn bad bytes into U+FFFD and our rewrite would then
 * silently change them. A BOM is kept so the parser rejects it, as runc's Go decoder does.
 */
function decodeUtf8(bytes: Uint8Array, path: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (err) {
    throw new SpecError(`${path}: not valid UTF-8`, { cause: err });
  }
}

function applyModifier(modifier: SpecModifier, spec: OciSpec, path: string): OciSpec {
  let next: OciSpec;
  try {
    next = modifier.apply(spec);
  } catch (err) {
    throw new SpecError(`${path}: modifier ${modifier.name} failed: ${errorMessage(err)}`, { cause: err });
  }
  // A modifier's bug must not reach the runtime as a broken config.
  return validateSpec(next, `${path}: after modifier ${modifier.name}`);
}

async function statIfExists(path: string): Promise<Stats | undefined> {
  try {
    return statSync(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
