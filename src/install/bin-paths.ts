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
 * One of our scripts in bin/, as the real absolute path: runtimes exec hooks with no PATH, and a
 * path through a symlink would break if the link moved.
 */
export function binScript(name: 'oci-ftrace-hook' | 'oci-ftrace-collector'): string {
  const script = join(packageRoot(), 'bin', name);
  try {
    return realpathSync(script);
  } catch {
    return script;
  }
}
