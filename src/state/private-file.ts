import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Our own state files (run state, saved bundles): readable by root only, replaced whole so that a
 * reader never sees half of one. No fsync: the state directory is a tmpfs (/run), gone at reboot
 * together with every container it describes.
 */
export function writePrivateFileAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, path);
}
