/**
 * Which containers are traced: the config's "trace" policy with the container's annotation
 * oci-ftrace/trace.
 *
 *   always     (default) every container, except one annotated "false" (opt out);
 *   annotated  only a container annotated "true" (opt in);
 *   never      none.
 *
 * The launcher (bin/oci-ftrace-runc) reads "trace" from the config file as it reads "runtime", and
 * skips the prepare step, that is Node, when the container is certainly not traced: always under
 * "never", and under "annotated" when the bundle's config.json cannot hold the opt-in. So a
 * container left untraced costs only the launcher. test/runtime/trace-policy.test.ts keeps the
 * launcher and this module in agreement.
 */
export const TRACE_POLICIES = ['always', 'annotated', 'never'] as const;
export type TracePolicy = (typeof TRACE_POLICIES)[number];

/** The per-container annotation: "false" opts out (always), "true" opts in (annotated). */
export const TRACE_ANNOTATION = 'oci-ftrace/trace';

export function isTracedBy(policy: TracePolicy, annotations: Readonly<Record<string, string>> | null | undefined): boolean {
  const value = annotations?.[TRACE_ANNOTATION];
  switch (policy) {
    case 'never':
      return false;
    case 'annotated':
      return value === 'true';
    case 'always':
      return value !== 'false';
  }
}
