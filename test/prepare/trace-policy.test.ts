import { describe, expect, it } from 'vitest';
import { isPodSandbox, isTracedBy } from '../../src/prepare/trace-policy.js';

const SANDBOX = { 'io.kubernetes.cri.container-type': 'sandbox', 'io.kubernetes.cri.sandbox-name': 'web' };
const WORKLOAD = { 'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.container-name': 'app' };
const CRIO_SANDBOX = { 'io.kubernetes.cri-o.ContainerType': 'sandbox' };

describe('isTracedBy', () => {
  it('always: everything but an opt-out', () => {
    expect(isTracedBy({ trace: 'always', traceSandboxes: false }, { annotations: {} })).toBe(true);
    expect(isTracedBy({ trace: 'always', traceSandboxes: false }, { annotations: { 'oci-ftrace/trace': 'false' } })).toBe(false);
  });

  it('annotated: only an opt-in', () => {
    expect(isTracedBy({ trace: 'annotated', traceSandboxes: false }, { annotations: {} })).toBe(false);
    expect(isTracedBy({ trace: 'annotated', traceSandboxes: false }, { annotations: { 'oci-ftrace/trace': 'true' } })).toBe(true);
  });

  it('never traces a pod sandbox (containerd or CRI-O) unless traceSandboxes, even one the pod annotation opts in', () => {
    for (const sandbox of [SANDBOX, CRIO_SANDBOX]) {
      expect(isPodSandbox(sandbox)).toBe(true);
      expect(isTracedBy({ trace: 'always', traceSandboxes: false }, { annotations: sandbox })).toBe(false);
      expect(isTracedBy({ trace: 'annotated', traceSandboxes: false }, { annotations: { ...sandbox, 'oci-ftrace/trace': 'true' } })).toBe(false);
      expect(isTracedBy({ trace: 'always', traceSandboxes: true }, { annotations: sandbox })).toBe(true);
    }
  });

  it("traces the pod's workload container with the pod's annotation", () => {
    expect(isPodSandbox(WORKLOAD)).toBe(false);
    expect(isTracedBy({ trace: 'annotated', traceSandboxes: false }, { annotations: { ...WORKLOAD, 'oci-ftrace/trace': 'true' } })).toBe(true);
  });

  it('takes OCI_FTRACE_TRACE from the container environment where no annotation says (docker 20.10 has no --annotation)', () => {
    const env = (...e: string[]) => ({ process: { env: ['PATH=/bin', ...e] } });
    expect(isTracedBy({ trace: 'annotated', traceSandboxes: false }, env('OCI_FTRACE_TRACE=true'))).toBe(true);
    expect(isTracedBy({ trace: 'annotated', traceSandboxes: false }, env('OCI_FTRACE_TRACE=yes'))).toBe(false);
    expect(isTracedBy({ trace: 'always', traceSandboxes: false }, env('OCI_FTRACE_TRACE=false'))).toBe(false);
    // The last of duplicates, as the process sees it; the annotation wins over the variable.
    expect(isTracedBy({ trace: 'annotated', traceSandboxes: false }, env('OCI_FTRACE_TRACE=false', 'OCI_FTRACE_TRACE=true'))).toBe(true);
    expect(isTracedBy({ trace: 'annotated', traceSandboxes: false }, { ...env('OCI_FTRACE_TRACE=true'), annotations: { 'oci-ftrace/trace': 'false' } })).toBe(false);
  });
});
