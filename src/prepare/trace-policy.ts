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
 * docker 20.10 cannot pass annotations at all (`--annotation` needs API 1.43), so the container's
 * environment variable OCI_FTRACE_TRACE ("true"/"false", `docker run -e`) says the same where the
 * annotation is absent. The trade-off: the workload sees it in its environment (the bundle is
 * left as found, so it is not taken out).
 *
 * The agent alone decides (src/agent/agent.ts asks this module through the prepare step).
 */
import type { Config } from '../config/config.js';

/** The per-container annotation: "false" opts out (always), "true" opts in (annotated). */
export const TRACE_ANNOTATION = 'oci-ftrace/trace';

/** The same choice as an environment variable of the container's process, for engines without annotations. */
export const TRACE_ENV = 'OCI_FTRACE_TRACE';

/** What of a spec the policy reads. */
export interface TracedSpec {
  annotations?: Readonly<Record<string, string>> | null | undefined;
  process?: { env?: readonly string[] | null | undefined } | null | undefined;
}

/** How the CRI runtimes mark a pod's sandbox container in its bundle (containerd, CRI-O). */
const SANDBOX_MARKS: readonly (readonly [string, string])[] = [
  ['io.kubernetes.cri.container-type', 'sandbox'],
  ['io.kubernetes.cri-o.ContainerType', 'sandbox'],
];

export function isPodSandbox(annotations: Readonly<Record<string, string>> | null | undefined): boolean {
  return SANDBOX_MARKS.some(([key, value]) => annotations?.[key] === value);
}

/** The container's own say: its annotation, else its environment variable (the last, as execve reads it). */
function containerChoice(spec: TracedSpec): string | undefined {
  const annotated = spec.annotations?.[TRACE_ANNOTATION];
  if (annotated !== undefined) return annotated;
  const prefix = `${TRACE_ENV}=`;
  return spec.process?.env?.filter((e) => e.startsWith(prefix)).at(-1)?.slice(prefix.length);
}

export function isTracedBy(config: Pick<Config, 'trace' | 'traceSandboxes'>, spec: TracedSpec): boolean {
  if (!config.traceSandboxes && isPodSandbox(spec.annotations)) return false;
  const value = containerChoice(spec);
  switch (config.trace) {
    case 'never':
      return false;
    case 'annotated':
      return value === 'true';
    case 'always':
      return value !== 'false';
  }
}
