/**
 * How a traced container's seccomp profile is treated while it is recorded.
 *
 *   keep        (the default, and the only mode our config can choose) the runtime loads the
 *               bundle's own profile exactly as without us. A call the profile blocks never enters
 *               the kernel, so raw_syscalls/sys_enter does not fire for it, but sys_exit does (with
 *               -errno, or with the syscall number when the kernel kills the task): the report shows
 *               it as blocked. A bundle with a profile marks the profile's start point itself (the
 *               runtime's load is traced); a bundle with none has no load to mark it, and we add
 *               none: a filter that blocks nothing still changes what the container sees
 *               (prctl(PR_GET_SECCOMP) answers 2, seccomp strict mode fails with EINVAL).
 *   permissive  recording a profile from scratch: the runtime loads a filter that blocks nothing
 *               in place of the bundle's own profile (or of none), so every call runs and the load
 *               marks the start. Only a container's own annotation can ask for this, never our
 *               config: a drop-in must not take away protection on its own. Such a container is
 *               annotated to say so, and its report says it ran without its profile.
 *
 * The bundle's own profile survives either way: config.json is restored as found once the runtime
 * has read it (src/wrapper/bundle-original.ts), and the report reads the profile from the saved
 * original. The annotation ORIGINAL_SECCOMP_ANNOTATION in the prepared spec is only for a bundle
 * left prepared by a run that was killed before it could restore it: the next prepare step undoes
 * that preparation first (unprepareModifier).
 *
 * Verified: runc 1.1.5 (prctl) and crun 1.8.1 (seccomp(2)) both load a filter whose defaultAction
 * is SCMP_ACT_ALLOW with no rules. The architectures are listed so that 32-bit calls are allowed too
 * (libseccomp kills calls from an architecture a filter does not list).
 */
import { parseJsonLossless, stringifyJsonLossless } from '../oci-config/lossless-json.js';
import { SpecError } from '../oci-config/errors.js';
import type { SpecModifier } from '../oci-config/modifiers.js';
import type { OciSpec } from '../oci-config/schema.js';
import { seccompArchitectures, type Arch } from '../syscalls/index.js';

export const RECORD_SECCOMP_MODES = ['keep', 'permissive'] as const;
export type RecordSeccompMode = (typeof RECORD_SECCOMP_MODES)[number];

/** Per container: "keep" (the default) or "permissive" (record without the container's own profile). */
export const RECORD_SECCOMP_ANNOTATION = 'oci-ftrace/record-seccomp';
/** Set by us in permissive mode: the bundle's linux.seccomp before we replaced it, as JSON ("null": none). */
export const ORIGINAL_SECCOMP_ANNOTATION = 'oci-ftrace/original-seccomp';
/** Set by us in permissive mode, for whoever reads the container's state (runc state, crictl inspect). */
export const UNCONFINED_ANNOTATION = 'oci-ftrace/seccomp';
export const UNCONFINED_ANNOTATION_VALUE = "not enforced while traced: recording from scratch (oci-ftrace/record-seccomp: permissive), the container's own profile is not loaded";

export const RECORD_MODE_MODIFIER_NAME = 'record-seccomp:permissive';

/** The filter loaded while recording from scratch: allows every syscall of every architecture of `arch`. */
export function permissiveRecordProfile(arch: Arch): { defaultAction: 'SCMP_ACT_ALLOW'; architectures: string[] } {
  return { defaultAction: 'SCMP_ACT_ALLOW', architectures: [...seccompArchitectures(arch)] };
}

/** The container's record mode, from its annotation (pure). Throws SpecError on a value we do not know. */
export function recordModeOf(annotations: Readonly<Record<string, string>> | null | undefined): RecordSeccompMode {
  const value = annotations?.[RECORD_SECCOMP_ANNOTATION];
  if (value === undefined) return 'keep';
  if ((RECORD_SECCOMP_MODES as readonly string[]).includes(value)) return value as RecordSeccompMode;
  throw new SpecError(`annotation ${RECORD_SECCOMP_ANNOTATION}: "${value.slice(0, 40)}" is not one of ${RECORD_SECCOMP_MODES.join(', ')}`);
}

export function recordModeModifier(arch: Arch): SpecModifier {
  const permissive = permissiveRecordProfile(arch);
  return {
    name: RECORD_MODE_MODIFIER_NAME,
    apply(spec: OciSpec): OciSpec {
      if (recordModeOf(spec.annotations) === 'keep') return spec;
      if (spec.annotations?.[ORIGINAL_SECCOMP_ANNOTATION] !== undefined) return spec;
      const linux = (spec.linux ?? {}) as Record<string, unknown>;
      const original = linux.seccomp ?? null;
      return {
        ...spec,
        annotations: { ...(spec.annotations ?? {}), [ORIGINAL_SECCOMP_ANNOTATION]: compactJson(original), [UNCONFINED_ANNOTATION]: UNCONFINED_ANNOTATION_VALUE },
        linux: { ...linux, seccomp: { ...permissive, architectures: [...permissive.architectures] } },
      };
    },
  };
}

/**
 * Undo what recordModeModifier did, for a bundle a killed run left prepared: its own profile back
 * (from the annotation), our annotations gone. A spec without our annotation is returned as is.
 */
export function undoRecordMode(spec: OciSpec): OciSpec {
  const saved = spec.annotations?.[ORIGINAL_SECCOMP_ANNOTATION];
  if (saved === undefined) return spec;
  const original = parseJsonLossless(saved, `annotation ${ORIGINAL_SECCOMP_ANNOTATION}`);
  const { [ORIGINAL_SECCOMP_ANNOTATION]: _saved, [UNCONFINED_ANNOTATION]: _said, ...annotations } = spec.annotations ?? {};
  // In place, so that the key keeps its position.
  const linux: Record<string, unknown> = { ...((spec.linux ?? {}) as Record<string, unknown>) };
  if (original === null) delete linux.seccomp;
  else linux.seccomp = original;
  const next: OciSpec = { ...spec, linux };
  if (Object.keys(annotations).length > 0) next.annotations = annotations;
  else delete next.annotations;
  return next;
}

// Lossless: argument values and masks above 2^53 must survive into the saved copy.
function compactJson(value: unknown): string {
  return stringifyJsonLossless(value, '').trimEnd();
}
