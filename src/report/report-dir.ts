/**
 * Where a container's report goes, decided once, when its tracing begins, and kept in its run
 * state: OUTPUT_DIR/NS/POD/CONTAINER/ for a Kubernetes workload, so that a person finds it by the
 * names they know; a restarted container (same names, a new id) gets CONTAINER-<id's first 12>/
 * rather than mixing with the last run; OUTPUT_DIR/<id>/ for everything else.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { identityPath, type KubernetesIdentity } from '../kubernetes/identity.js';
import { validateContainerId } from '../state/oci-state.js';
import { confinedPath, containerOutputDir } from '../state/paths.js';

export function claimReportDir(outputDir: string, id: string, identity: KubernetesIdentity | undefined): string {
  if (!identity) return containerOutputDir(outputDir, id);
  const named = confinedPath(outputDir, identityPath(identity));
  mkdirSync(dirname(named), { recursive: true });
  try {
    // Not recursive: the one that makes it owns it; a restart finds it made.
    mkdirSync(named);
    return named;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return confinedPath(outputDir, `${identityPath(identity)}-${validateContainerId(id).slice(0, 12)}`);
  }
}
