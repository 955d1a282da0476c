/*
 * The hook FIFOs' files (see hook-channel.ts): made by whoever starts the serving collector (the
 * prepare step) or by that collector itself (started by the launcher), removed by the collector.
 * Apart from hook-channel.ts, so that the prepare step does not load node:net.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, renameSync, rmSync, statSync } from 'node:fs';
import type { CollectorFiles } from './files.js';

const MKFIFO = ['/usr/bin/mkfifo', '/bin/mkfifo'];

/**
 * Make the two FIFOs, replacing any of an earlier container with this id: new inodes, so a
 * collector of that container still holding the old ones never hears this one's hooks.
 */
export function createHookFifos(files: Pick<CollectorFiles, 'request' | 'reply'>): void {
  const temp = [files.request, files.reply].map((f) => `${f}.${process.pid}.tmp`);
  for (const t of temp) rmSync(t, { force: true });
  // Node has no mkfifo of its own. By path: engines may run us with no PATH (conmon clears it).
  const made = spawnSync(MKFIFO.find((p) => existsSync(p)) ?? 'mkfifo', ['-m', '600', ...temp], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', timeout: 5000 });
  if (made.status !== 0) throw new Error(`cannot make the hook FIFOs: ${(made.stderr || made.error?.message || `mkfifo exit ${made.status}`).trim().split('\n')[0]}`);
  renameSync(temp[0] as string, files.request);
  renameSync(temp[1] as string, files.reply);
}

export interface Inode {
  dev: number;
  ino: number;
}

export function inodeOf(path: string): Inode | undefined {
  try {
    const s = statSync(path);
    return { dev: s.dev, ino: s.ino };
  } catch {
    return undefined;
  }
}

/** Remove path only if it is still the very file we knew (a newer container may own the name now). */
export function removeIfSame(path: string, known: Inode | undefined): void {
  const now = inodeOf(path);
  if (known && now && now.dev === known.dev && now.ino === known.ino) rmSync(path, { force: true });
}

