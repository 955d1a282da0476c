import { describe, expect, it } from 'vitest';
import { isPodSandbox, isTracedBy } from '../../src/prepare/trace-policy.js';

const SANDBOX = { 'io.kubernetes.cri.container-type': 'sandbox', 'io.kubernetes.cri.sandbox-name': 'web' };
const WORKLOAD = { 'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.container-name': 'app' };
const CRIO_SANDBOX = { 'io.kubernetes.cri-o.ContainerType': 'sandbox' };

describe('isTracedBy', () => {
  it('always: everything but an opt-out', () => {
    expect(isTracedBy({ trace: 'always', traceSandboxes: false }, {})).toBe(true);
    expect(isTracedBy({ trace: 'always', traceSandboxes: false }, { 'oci-ftrace/trace': 'false' })).toBe(false);
  });

  it('annotated: only an opt-in', () => {
    expect(isTracedBy({ trace: 'annotated', traceSandboxes: false }, {})).toBe(false);
    expect(isTracedBy({ trace: 'annotated', traceSandboxes: false }, { 'oci-ftrace/trace': 'true' })).toBe(true);
  });

  it('never traces a pod sandbox (containerd or CRI-O) unless traceSandboxes, even one the pod annotation opts in', () => {
    for (const sandbox of [SANDBOX, CRIO_SANDBOX]) {
      expect(isPodSandbox(sandbox)).toBe(true);
      expect(isTracedBy({ trace: 'always', traceSandboxes: false }, sandbox)).toBe(false);
      expect(isTracedBy({ trace: 'annotated', traceSandboxes: false }, { ...sandbox, 'oci-ftrace/trace': 'true' })).toBe(false);
      expect(isTracedBy({ trace: 'always', traceSandboxes: true }, sandbox)).toBe(true);
    }
  });

  it("traces the pod's workload container with the pod's annotation", () => {
    expect(isPodSandbox(WORKLOAD)).toBe(false);
    expect(isTracedBy({ trace: 'annotated', traceSandboxes: false }, { ...WORKLOAD, 'oci-ftrace/trace': 'true' })).toBe(true);
  });
});
