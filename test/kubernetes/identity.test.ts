import { describe, expect, it } from 'vitest';
import { identityPath, kubernetesIdentity } from '../../src/kubernetes/identity.js';

const CONTAINERD = {
  'io.kubernetes.cri.container-type': 'container',
  'io.kubernetes.cri.sandbox-namespace': 'shop',
  'io.kubernetes.cri.sandbox-name': 'web-7d4b9c-x2kq1',
  'io.kubernetes.cri.sandbox-uid': '3f1c2a44-0b7e-4d1b-9a57-2c1e0b0f6f11',
  'io.kubernetes.cri.container-name': 'app',
  'io.kubernetes.cri.image-name': 'docker.io/library/busybox:1.36',
};

describe('kubernetesIdentity', () => {
  it("reads containerd's annotations, and files the report under NS/POD/CONTAINER", () => {
    const { identity } = kubernetesIdentity(CONTAINERD);
    expect(identity).toEqual({ namespace: 'shop', pod: 'web-7d4b9c-x2kq1', podUid: '3f1c2a44-0b7e-4d1b-9a57-2c1e0b0f6f11', container: 'app', image: 'docker.io/library/busybox:1.36' });
    expect(identityPath(identity!)).toBe('shop/web-7d4b9c-x2kq1/app');
  });

  it("reads CRI-O's", () => {
    expect(kubernetesIdentity({ 'io.kubernetes.pod.namespace': 'kube-system', 'io.kubernetes.pod.name': 'dns.a', 'io.kubernetes.container.name': 'coredns' }).identity).toEqual({ namespace: 'kube-system', pod: 'dns.a', container: 'coredns' });
  });

  it('is none for a container without them', () => {
    expect(kubernetesIdentity({ 'oci-ftrace/trace': 'true' })).toEqual({ identity: undefined });
    expect(kubernetesIdentity(undefined)).toEqual({ identity: undefined });
  });

  it('refuses names Kubernetes would not accept, so none can leave the output directory', () => {
    for (const [key, bad] of [
      ['io.kubernetes.cri.sandbox-namespace', '..'],
      ['io.kubernetes.cri.sandbox-name', '../../etc'],
      ['io.kubernetes.cri.container-name', 'a/b'],
      ['io.kubernetes.cri.container-name', 'App'],
      ['io.kubernetes.cri.sandbox-namespace', 'x'.repeat(64)],
    ] as const) {
      const r = kubernetesIdentity({ ...CONTAINERD, [key]: bad });
      expect(r.identity, `${key}=${bad}`).toBeUndefined();
      expect(r.problem).toMatch(/is not a name Kubernetes accepts/);
    }
    expect(kubernetesIdentity({ 'io.kubernetes.cri.sandbox-name': 'web' }).identity).toBeUndefined();
  });
});
