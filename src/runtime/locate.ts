// Which real runtime the wrapper runs. The reference for the rules: bin/oci-ftrace-runc repeats
// them in bash and the front door src/launcher/oci-ftrace-runc.c in C (tests hold the three
// together), so that the wrapper never ends up running itself, even when installed as
// /usr/local/bin/runc ahead of the real one on PATH.

import { accessSync, closeSync, constants, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** A line of bin/oci-ftrace-runc: a script carrying it is our launcher (or a copy), not a runtime. */
export const LAUNCHER_MARKER = '# oci-ftrace-runc launcher';
/** How far into a candidate we look for the marker. */
const MARKER_WINDOW_BYTES = 512;
/** Tried in this order when no runtime is configured. */
export const DEFAULT_RUNTIMES = ['runc', 'crun'] as const;

/**
 * The selfPaths of the package at packageRoot: the bash launcher and the front door that
 * scripts/build-launcher.mjs builds from src/launcher/.
 */
export function ownLaunchers(packageRoot: string): string[] {
  return [join(packageRoot, 'bin', 'oci-ftrace-runc'), join(packageRoot, 'dist', 'bin', 'oci-ftrace-runc')];
}

export class RuntimeLookupError extends Error {
  override name = 'RuntimeLookupError';
}

export interface LocateRuntimeOptions {
  /** config "runtime", already overridden by OCI_FTRACE_RUNTIME: absolute path or bare name. */
  configured?: string | undefined;
  /** The PATH to search (the caller's environment). */
  pathEnv: string;
  /**
   * Our own launchers (ownLaunchers), never to be picked: nor is any file that is the same file as
   * one (device and inode, as bash's -ef and the front door compare), a symlink or hard link to it.
   */
  selfPaths: readonly string[];
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** A script (#!) whose first 512 bytes hold the marker as a whole line: our launcher, or a copy of it. */
export function isLauncherFile(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const head = Buffer.alloc(MARKER_WINDOW_BYTES);
    const length = readSync(fd, head, 0, MARKER_WINDOW_BYTES, 0);
    const text = head.subarray(0, length).toString('latin1');
    return text.startsWith('#!') && `\n${text}`.includes(`\n${LAUNCHER_MARKER}\n`);
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function sameFile(a: string, b: string): boolean {
  try {
    const [x, y] = [statSync(a, { bigint: true }), statSync(b, { bigint: true })];
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

function isSelf(path: string, selfPaths: readonly string[]): boolean {
  return selfPaths.some((self) => sameFile(path, self)) || isLauncherFile(path);
}

/**
 * The first executable NAME on PATH that is not ourselves. Empty and relative PATH entries are
 * skipped: a runtime must never be picked up from whatever directory the engine runs us in.
 */
function findOnPath(name: string, pathEnv: string, selfPaths: readonly string[]): string | undefined {
  for (const dir of pathEnv.split(':')) {
    if (!dir.startsWith('/')) continue;
    const candidate = `${dir.endsWith('/') ? dir.slice(0, -1) : dir}/${name}`;
    if (isExecutableFile(candidate) && !isSelf(candidate, selfPaths)) return candidate;
  }
  return undefined;
}

/**
 * The real runtime's path: the configured one (absolute path, or name looked up on PATH), else
 * runc on PATH, else crun on PATH; never our own launcher. Throws RuntimeLookupError (one line).
 */
export function locateRuntime(options: LocateRuntimeOptions): string {
  const { configured, pathEnv, selfPaths } = options;
  if (configured !== undefined && configured !== '') {
    if (configured.startsWith('/')) {
      if (!isExecutableFile(configured)) {
        throw new RuntimeLookupError(`runtime ${configured} is not an executable file`);
      }
      if (isSelf(configured, selfPaths)) {
        throw new RuntimeLookupError(`runtime ${configured} is oci-ftrace-runc itself, not a real runtime`);
      }
      return configured;
    }
    if (configured.includes('/')) {
      throw new RuntimeLookupError(`runtime "${configured}" must be an absolute path or a name to look up on PATH`);
    }
    const found = findOnPath(configured, pathEnv, selfPaths);
    if (found === undefined) throw new RuntimeLookupError(`runtime "${configured}" not found on PATH`);
    return found;
  }
  for (const name of DEFAULT_RUNTIMES) {
    const found = findOnPath(name, pathEnv, selfPaths);
    if (found !== undefined) return found;
  }
  throw new RuntimeLookupError(
    'neither runc nor crun found on PATH; set "runtime" in the config file or OCI_FTRACE_RUNTIME',
  );
}
