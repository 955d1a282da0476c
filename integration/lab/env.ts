// Where the lab's real binaries live and whether this machine can run the integration tests.
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout: the nearest directory up with the .ci/ entry point (the lab runs as source, and bundled by bench/). */
function repoRoot(): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, '.ci', 'run')) && existsSync(path.join(dir, 'package.json'))) return dir;
  }
  throw new Error(`no checkout above ${fileURLToPath(import.meta.url)}`);
}
export const REPO_ROOT = repoRoot();
/** What users install and engines run: the front door (npm run build), which hands creates to bin/oci-ftrace-runc. */
export const WRAPPER = path.join(REPO_ROOT, 'dist', 'bin', 'oci-ftrace-runc');
export const ANALYZER = path.join(REPO_ROOT, 'bin', 'oci-ftrace');

export const RUNC = '/usr/sbin/runc';
export const CRUN = '/usr/bin/crun';
export const CONTAINERD = '/usr/bin/containerd';
export const CTR = '/usr/bin/ctr';
export const DOCKERD = '/usr/sbin/dockerd';
// The docker.io package's client (20.10). /usr/local/bin/docker on this VM is a newer, unrelated client.
export const DOCKER = '/usr/bin/docker';
export const PODMAN = '/usr/bin/podman';
export const BUSYBOX = '/bin/busybox';

const TRACEFS_CANDIDATES = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];

/** The mounted tracefs root, or undefined when tracefs is not mounted. */
export function tracefsRoot(): string | undefined {
  return TRACEFS_CANDIDATES.find((dir) => existsSync(path.join(dir, 'instances')));
}

/** Throws one line naming what is missing when this machine is not a lab (see .ci/lab-setup.sh). */
export function requireLab(): void {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root');
  if (tracefsRoot() === undefined) missing.push('tracefs');
  for (const bin of [RUNC, CRUN, CONTAINERD, CTR, DOCKERD, DOCKER, PODMAN, BUSYBOX]) {
    if (!existsSync(bin)) missing.push(bin);
  }
  if (missing.length > 0) {
    throw new Error(`not a lab machine, missing: ${missing.join(', ')} (run .ci/lab-setup.sh as root)`);
  }
}

/** Container ids, namespaces and image tags that cannot collide with another test or another checkout. */
export function uniqueId(prefix = 'lab'): string {
  return `${prefix}-${process.pid}-${randomBytes(4).toString('hex')}`;
}
