/**
 * Which containers are traced: the config's "trace" policy (src/config/config.ts) with the
 * container's annotation oci-ftrace/trace.
 *
 *   always     (default) every container, except one annotated "false" (opt out);
 *   annotated  only a container annotated "true" (opt in);
 *   never      none.
 *
 * A Kubernetes pod's sandbox (its pause container) is not traced unless `traceSandboxes` is set,
 * whatever its annotations: containerd copies the pod's annotations onto it and onto the pod's
 * workload containers alike, so a pod annotated to be traced means its workload.
 *
 * The agent alone decides (src/agent/agent.ts asks this module through the prepare step).
 */
import type { Config } from '../config/config.js';

/** The per-container annotation: "false" opts out (always), "true" opts in (annotated). */
export const TRACE_ANNOTATION = 'oci-ftrace/trace';

/** How the CRI runtimes mark a pod's sandbox container in its bundle (containerd, CRI-O). */
const SANDBOX_MARKS: readonly (readonly [string, string])[] = [
  ['io.kubernetes.cri.container-type', 'sandbox'],
  ['io.kubernetes.cri-o.ContainerType', 'sandbox'],
];

export function isPodSandbox(annotations: Readonly<Record<string, string>> | null | undefined): boolean {
  return SANDBOX_MARKS.some(([key, value]) => annotations?.[key] === value);
}

export function isTracedBy(config: Pick<Config, 'trace' | 'traceSandboxes'>, annotations: Readonly<Record<string, string>> | null | undefined): boolean {
  if (!config.traceSandboxes && isPodSandbox(annotations)) return false;
  const value = annotations?.[TRACE_ANNOTATION];
  switch (config.trace) {
    case 'never':
      return false;
    case 'annotated':
      return value === 'true';
    case 'always':
      return value !== 'false';
  }
}
