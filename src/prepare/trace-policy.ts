/**
 * Which containers are traced: the config's "trace" policy (src/config/config.ts) with the
 * container's annotation oci-ftrace/trace.
 *
 *   always     (default) every container, except one annotated "false" (opt out);
 *   annotated  only a container annotated "true" (opt in);
 *   never      none.
 *
 * The agent alone decides (src/agent/agent.ts asks this module through the prepare step); the front
 * door only asks it.
 */
import type { TracePolicy } from '../config/config.js';

export type { TracePolicy };

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
