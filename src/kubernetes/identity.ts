/**
 * Who a container is in Kubernetes, from the annotations the CRI runtime puts in its bundle
 * (containerd's io.kubernetes.cri.*, CRI-O's io.kubernetes.*), pure. The names become directories
 * under the output directory, and a container's author can set annotations: every name must be
 * what Kubernetes itself accepts (DNS labels and subdomains), or the identity is not used at all.
 */
import { z } from 'zod';

/** RFC 1123 label: namespaces and container names. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** RFC 1123 subdomain: pod names. */
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export const KubernetesIdentitySchema = z
  .object({
    namespace: z.string().regex(DNS_LABEL),
    pod: z.string().regex(DNS_SUBDOMAIN),
    podUid: z.string().max(128).optional(),
    container: z.string().regex(DNS_LABEL),
    image: z.string().max(4096).optional(),
  })
  .strict();
export type KubernetesIdentity = z.infer<typeof KubernetesIdentitySchema>;

/** Where each CRI runtime writes each part (first match wins). */
const KEYS = {
  namespace: ['io.kubernetes.cri.sandbox-namespace', 'io.kubernetes.pod.namespace'],
  pod: ['io.kubernetes.cri.sandbox-name', 'io.kubernetes.pod.name'],
  podUid: ['io.kubernetes.cri.sandbox-uid', 'io.kubernetes.pod.uid'],
  container: ['io.kubernetes.cri.container-name', 'io.kubernetes.container.name'],
  image: ['io.kubernetes.cri.image-name', 'io.kubernetes.cri-o.ImageName'],
} as const;

/** The identity, or none; problem: why annotations that were there could not name the report. */
export interface IdentityResult {
  identity: KubernetesIdentity | undefined;
  problem?: string;
}

/**
 * The workload container's identity; undefined without CRI annotations (a plain runc, docker or
 * podman container) or with names Kubernetes would not accept (problem says which).
 */
export function kubernetesIdentity(annotations: Readonly<Record<string, string>> | null | undefined): IdentityResult {
  if (!annotations) return { identity: undefined };
  const pick = (keys: readonly string[]): string | undefined => keys.map((k) => annotations[k]).find((v) => v !== undefined);
  const raw = { namespace: pick(KEYS.namespace), pod: pick(KEYS.pod), podUid: pick(KEYS.podUid), container: pick(KEYS.container), image: pick(KEYS.image) };
  if (raw.namespace === undefined && raw.pod === undefined && raw.container === undefined) return { identity: undefined };
  const parsed = KubernetesIdentitySchema.safeParse(Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined)));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { identity: undefined, problem: `Kubernetes ${issue?.path.join('.') ?? 'identity'} ${JSON.stringify(String(raw[issue?.path[0] as keyof typeof raw] ?? '')).slice(0, 80)} is not a name Kubernetes accepts` };
  }
  return { identity: parsed.data };
}

/** NS/POD/CONTAINER, the report's place under the output directory (names already validated). */
export function identityPath(identity: KubernetesIdentity): string {
  return `${identity.namespace}/${identity.pod}/${identity.container}`;
}
