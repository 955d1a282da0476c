/** The CPU architectures whose syscall tables oci-ftrace carries. */
export type Arch = 'x86_64' | 'aarch64';

export const ARCHES: readonly Arch[] = Object.freeze(['x86_64', 'aarch64']);

export function isArch(value: string): value is Arch {
  return (ARCHES as readonly string[]).includes(value);
}

/** The Arch of a Node.js `process.arch` value (x64, arm64). */
export function archFromNodeArch(nodeArch: string): Arch {
  if (nodeArch === 'x64') return 'x86_64';
  if (nodeArch === 'arm64') return 'aarch64';
  throw new Error(`unsupported architecture "${nodeArch}": oci-ftrace supports x86_64 and aarch64`);
}

/** The Arch this process runs on; throws on any other architecture. */
export function hostArch(): Arch {
  return archFromNodeArch(process.arch);
}

// Grouped as Docker's default seccomp profile groups them (archMap): a native arch plus the
// compat ABIs its kernel can also run, which a profile must cover or deny.
const SECCOMP_ARCHITECTURES: Readonly<Record<Arch, readonly string[]>> = Object.freeze({
  x86_64: Object.freeze(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']),
  aarch64: Object.freeze(['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']),
});

/** OCI/libseccomp architecture names for a seccomp profile on `arch`, native first. */
export function seccompArchitectures(arch: Arch): readonly string[] {
  if (!isArch(arch)) throw new Error(`unsupported architecture "${String(arch)}": oci-ftrace supports x86_64 and aarch64`);
  return SECCOMP_ARCHITECTURES[arch];
}
