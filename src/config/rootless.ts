import { readFileSync } from 'node:fs';

/**
 * Pure: whether a /proc/PID/uid_map is the initial user namespace's (uid 0 is the host's root, and
 * every uid maps to itself). Rootless podman runs the runtime as uid 0 of a namespace whose 0 is
 * the user: that is not root's host.
 */
export function isInitialUidMap(uidMap: string): boolean {
  const lines = uidMap.trim().split('\n').map((l) => l.trim().split(/\s+/));
  return lines.length === 1 && lines[0]?.[0] === '0' && lines[0]?.[1] === '0' && lines[0]?.[2] === '4294967295';
}

let rootless: boolean | undefined;

/**
 * Not root of the host: a user (rootless runc, crun), or root of a user namespace (rootless
 * podman's runtime). Either way the user's own directories, and tracefs through the pool.
 */
export function isRootless(): boolean {
  if (rootless === undefined) {
    let initial = true;
    try {
      initial = isInitialUidMap(readFileSync('/proc/self/uid_map', 'utf8'));
    } catch {
      /* no /proc: as the uid says */
    }
    rootless = (process.geteuid?.() ?? 0) !== 0 || !initial;
  }
  return rootless;
}
