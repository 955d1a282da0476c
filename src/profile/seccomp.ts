/**
 * The seccomp profile model shared by every form we read and write (OCI `linux.seccomp`, Docker's
 * JSON, the SPO resource), and the zod schema that checks profiles handed to us.
 *
 * Docker's JSON is a superset of the OCI object (moby embeds specs.LinuxSeccomp and adds archMap,
 * per-rule `name`, `comment`, `includes`, `excludes`), so one schema reads both.
 */
import { isLosslessNumber } from 'lossless-json';
import { z } from 'zod';
import { jsonNumber, type JsonNumber } from '../oci-config/schema.js';

export const SECCOMP_ACTIONS = [
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_LOG',
  'SCMP_ACT_NOTIFY',
] as const;
export type SeccompAction = (typeof SECCOMP_ACTIONS)[number];

export const SECCOMP_OPERATORS = [
  'SCMP_CMP_NE',
  'SCMP_CMP_LT',
  'SCMP_CMP_LE',
  'SCMP_CMP_EQ',
  'SCMP_CMP_GE',
  'SCMP_CMP_GT',
  'SCMP_CMP_MASKED_EQ',
] as const;
export type SeccompOperator = (typeof SECCOMP_OPERATORS)[number];

/** EPERM and ENOSYS: the same numbers on x86_64 and aarch64 (asm-generic). */
export const EPERM = 1;
export const ENOSYS = 38;

export interface SeccompArg {
  index: number;
  /** 64-bit register values: bigint, since masks and -1 as u64 exceed 2^53. */
  value: bigint;
  valueTwo?: bigint;
  op: SeccompOperator;
}

export interface SeccompRule {
  names: string[];
  action: SeccompAction;
  errnoRet?: number;
  args?: SeccompArg[];
}

/** A profile as we generate and enforce it: OCI semantics, one architecture family. */
export interface SeccompProfile {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  /** libseccomp names, native first (SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32). */
  architectures: string[];
  flags?: string[];
  syscalls: SeccompRule[];
}

/** Actions under which a syscall runs. LOG also runs it, but we keep LOG rules as written. */
export function isAllowingAction(action: SeccompAction): boolean {
  return action === 'SCMP_ACT_ALLOW' || action === 'SCMP_ACT_LOG';
}

// --- reading profiles we are given ---------------------------------------------------------

const U32_MAX = 2 ** 32 - 1;
const U64_MAX = 2n ** 64n - 1n;

function numberText(value: JsonNumber): string {
  return isLosslessNumber(value) ? value.value : String(value);
}

const smallUint = (max: number, what: string) =>
  jsonNumber.refine((v) => /^(0|[1-9][0-9]*)$/.test(numberText(v)) && Number(numberText(v)) <= max, { message: `${what} must be an integer from 0 to ${max}` });

const u64 = jsonNumber.refine((v) => /^(0|[1-9][0-9]*)$/.test(numberText(v)) && BigInt(numberText(v)) <= U64_MAX, {
  message: 'must be an integer from 0 to 2^64-1',
});

const archName = z.string().regex(/^SCMP_ARCH_[A-Z0-9_]+$/, 'must be a libseccomp architecture name (SCMP_ARCH_...)');
const syscallNameText = z.string().regex(/^[a-z0-9_]+$/, 'must be a syscall name');

/** Docker's conditional-rule filter (moby profiles/seccomp Filter). */
const FilterSchema = z
  .object({
    caps: z.array(z.string()).nullable().optional(),
    arches: z.array(z.string()).nullable().optional(),
    minKernel: z.string().regex(/^\d+\.\d+$/, 'minKernel must be "<kernel>.<major>"').nullable().optional(),
  })
  .strict();

const ArgSchema = z
  .object({
    index: smallUint(5, 'index'),
    value: u64,
    valueTwo: u64.nullable().optional(),
    op: z.enum(SECCOMP_OPERATORS),
  })
  .strict();

const RuleSchema = z
  .object({
    names: z.array(syscallNameText).nullable().optional(),
    name: syscallNameText.optional(),
    action: z.enum(SECCOMP_ACTIONS),
    errnoRet: smallUint(4095, 'errnoRet').nullable().optional(),
    args: z.array(ArgSchema).max(6).nullable().optional(),
    comment: z.string().optional(),
    includes: FilterSchema.nullable().optional(),
    excludes: FilterSchema.nullable().optional(),
  })
  .strict()
  .refine((r) => (r.names?.length ?? 0) > 0 || r.name !== undefined, { message: 'a rule needs names (or Docker\'s name)' });

/** An OCI `linux.seccomp` object or a Docker seccomp profile. Unknown keys are refused: a typo must not silently widen a profile. */
export const InputSeccompSchema = z
  .object({
    defaultAction: z.enum(SECCOMP_ACTIONS),
    defaultErrnoRet: smallUint(4095, 'defaultErrnoRet').nullable().optional(),
    architectures: z.array(archName).nullable().optional(),
    archMap: z
      .array(z.object({ architecture: archName, subArchitectures: z.array(archName).nullable().optional() }).strict())
      .nullable()
      .optional(),
    flags: z.array(z.string().regex(/^SECCOMP_FILTER_FLAG_[A-Z_]+$/, 'must be a SECCOMP_FILTER_FLAG_ name')).nullable().optional(),
    listenerPath: z.string().optional(),
    listenerMetadata: z.string().optional(),
    syscalls: z.array(RuleSchema).nullable().optional(),
  })
  .strict()
  .refine((p) => !(p.architectures?.length && p.archMap?.length), {
    message: "'architectures' and 'archMap' are both set (Docker refuses that too)",
  });
export type InputSeccomp = z.infer<typeof InputSeccompSchema>;
export type InputRule = NonNullable<InputSeccomp['syscalls']>[number];
export type InputFilter = z.infer<typeof FilterSchema>;

export function toBigInt(value: JsonNumber): bigint {
  return BigInt(numberText(value));
}

export function toSmallInt(value: JsonNumber): number {
  return Number(numberText(value));
}
