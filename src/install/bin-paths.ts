import { realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package root, from where this module is: dist/install/ (tsc), dist/bundle/install/ (a
 * bundle: scripts/bundle.mjs mirrors dist/'s layout), or src/install/ (tests).
 */
export function packageRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return basename(dirname(here)) === 'bundle' ? join(here, '..', '..', '..') : join(here, '..', '..');
}

/**
 * The front door (dist/bin/oci-ftrace-runc), which also runs as our hooks, as the real absolute
 * path: runtimes exec hooks with no PATH, and a path through a symlink would break if the link moved.
 */
export function frontDoorPath(): string {
  const path = join(packageRoot(), 'dist', 'bin', 'oci-ftrace-runc');
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
