import { isAbsolute, join, relative, resolve } from 'node:path';
import { validateContainerId } from './oci-state.js';

export class PathConfinementError extends Error {
  override name = 'PathConfinementError';
}

/**
 * Resolve `rel` under `base` and refuse anything that escapes it. Hooks run as root with input a
 * container author controls (ids, annotations), so every such path goes through here.
 */
export function confinedPath(base: string, rel: string): string {
  const root = resolve(base);
  const full = resolve(root, rel);
  const r = relative(root, full);
  if (r === '' || r.startsWith('..') || isAbsolute(r)) {
    throw new PathConfinementError(`path ${JSON.stringify(rel)} escapes ${root}`);
  }
  return full;
}

/** Reports of one container: OUTPUT_DIR/<id>/. */
export function containerOutputDir(outputDir: string, id: string): string {
  return confinedPath(outputDir, validateContainerId(id));
}

export function instanceNameFor(id: string): string {
  return `oci-ftrace-${validateContainerId(id)}`;
}

export function runStatePath(stateDir: string, id: string): string {
  return join(confinedPath(stateDir, validateContainerId(id)) + '.json');
}

export const LOG_FILE_NAME = 'ftrace_syscalls_dump.log';
export const SUMMARY_FILE_NAME = 'summary.json';
