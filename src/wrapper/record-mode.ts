/**
 * Record mode: while a container is traced, the runtime loads a seccomp filter that blocks
 * nothing, in place of the bundle's own profile (or of none).
 *
 * Why replace it: raw_syscalls/sys_enter fires after the seccomp check, so a call the bundle's
 * profile blocks never shows in the trace, and a profile made from that trace would miss what the
 * workload really needs. Why load a filter at all: the runtime's own seccomp(2) or
 * prctl(PR_SET_SECCOMP) call marks the exact point from which a filter applies, and that is where
 * a profile starts (summary.profileStart). Verified: runc 1.1.5 (prctl) and crun 1.8.1 (seccomp(2))
 * both load a filter whose defaultAction is SCMP_ACT_ALLOW with no rules.
 *
 * The architectures are listed so that 32-bit calls are allowed too (libseccomp kills calls from
 * an architecture a filter does not list). The bundle's own profile is kept verbatim in an
 * annotation, which also marks the bundle as done, so a second create changes nothing.
 */
import { stringifyJsonLossless } from '../spec/lossless-json.js';
import { SpecError } from '../spec/errors.js';
import type { SpecModifier } from '../spec/modifiers.js';
import type { OciSpec } from '../spec/schema.js';
import { seccompArchitectures, type Arch } from '../syscalls/index.js';

export const RECORD_SECCOMP_MODES = ['permissive', 'keep'] as const;
export type RecordSeccompMode = (typeof RECORD_SECCOMP_MODES)[number];

/** Per container: "permissive" or "keep", overriding the config's recordSeccomp. */
export const RECORD_SECCOMP_ANNOTATION = 'oci-ftrace/record-seccomp';
/** Set by us: the bundle's linux.seccomp before record mode replaced it, as JSON ("null": none). */
export const ORIGINAL_SECCOMP_ANNOTATION = 'oci-ftrace/original-seccomp';

export const RECORD_MODE_MODIFIER_NAME = 'record-seccomp:permissive';

/** The filter loaded while recording: allows every syscall of every architecture of `arch`. */
export function permissiveRecordProfile(arch: Arch): { defaultAction: 'SCMP_ACT_ALLOW'; architectures: string[] } {
  return { defaultAction: 'SCMP_ACT_ALLOW', architectures: [...seccompArchitectures(arch)] };
}

export function recordModeModifier(mode: RecordSeccompMode, arch: Arch): SpecModifier {
  const permissive = permissiveRecordProfile(arch);
  return {
    name: RECORD_MODE_MODIFIER_NAME,
    apply(spec: OciSpec): OciSpec {
      if (chosenMode(spec, mode) === 'keep') return spec;
      if (spec.annotations?.[ORIGINAL_SECCOMP_ANNOTATION] !== undefined) return spec;
      const linux = (spec.linux ?? {}) as Record<string, unknown>;
      const original = linux.seccomp ?? null;
      return {
        ...spec,
        annotations: { ...(spec.annotations ?? {}), [ORIGINAL_SECCOMP_ANNOTATION]: compactJson(original) },
        linux: { ...linux, seccomp: { ...permissive, architectures: [...permissive.architectures] } },
      };
    },
  };
}

function chosenMode(spec: OciSpec, configured: RecordSeccompMode): RecordSeccompMode {
  const value = spec.annotations?.[RECORD_SECCOMP_ANNOTATION];
  if (value === undefined) return configured;
  if ((RECORD_SECCOMP_MODES as readonly string[]).includes(value)) return value as RecordSeccompMode;
  throw new SpecError(`annotation ${RECORD_SECCOMP_ANNOTATION}: "${value}" is not one of ${RECORD_SECCOMP_MODES.join(', ')}`);
}

// Lossless: argument values and masks above 2^53 must survive into the saved copy.
function compactJson(value: unknown): string {
  return stringifyJsonLossless(value, '').trimEnd();
}

/** Log fields saying what record mode replaced, from the spec it wrote (undefined if it did nothing). */
export function describeRecordModeEdit(spec: OciSpec): Record<string, unknown> | undefined {
  const saved = spec.annotations?.[ORIGINAL_SECCOMP_ANNOTATION];
  if (saved === undefined) return undefined;
  let original: unknown;
  try {
    original = JSON.parse(saved);
  } catch {
    return { replaced: 'unparsable linux.seccomp' };
  }
  if (original === null || typeof original !== 'object') return { replaced: 'no profile (none in the bundle)' };
  const o = original as { defaultAction?: unknown; syscalls?: unknown };
  return {
    replaced: 'the bundle\'s own profile',
    originalDefaultAction: o.defaultAction,
    originalRules: Array.isArray(o.syscalls) ? o.syscalls.length : 0,
    keptIn: `annotation ${ORIGINAL_SECCOMP_ANNOTATION}`,
  };
}
