/** Compiles and runs small C programs with the host gcc, to read facts from system headers and libraries. */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** True when `gcc` runs. */
export function hasGcc(): boolean {
  return spawnSync('gcc', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Compiles `source` (linking `libs`, e.g. `-l:libseccomp.so.2`) and returns its stdout. */
export function runC(source: string, libs: string[] = [], args: string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), 'oci-ftrace-c-'));
  try {
    writeFileSync(join(dir, 'prog.c'), source);
    const exe = join(dir, 'prog');
    execFileSync('gcc', ['-std=gnu11', '-O0', '-o', exe, join(dir, 'prog.c'), ...libs], { stdio: ['ignore', 'ignore', 'pipe'] });
    return execFileSync(exe, args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** True when a trivial program links against `lib` (e.g. `-l:libseccomp.so.2`). */
export function canLink(lib: string): boolean {
  if (!hasGcc()) return false;
  try {
    runC('int main(void) { return 0; }\n', [lib]);
    return true;
  } catch {
    return false;
  }
}

/** Lines of "key value" (split at the first space) into a Map. */
export function parsePairs(output: string): Map<string, string> {
  const pairs = new Map<string, string>();
  for (const line of output.split('\n')) {
    const space = line.indexOf(' ');
    if (space > 0) pairs.set(line.slice(0, space), line.slice(space + 1));
  }
  return pairs;
}
