/**
 * Profiles handed to us (to merge in, to enforce, to compare): an OCI `linux.seccomp` object, a
 * whole config.json, or a Docker seccomp profile, resolved to the rules that apply on one
 * architecture, as Docker itself resolves its own profile when it creates a container.
 */
import type { Arch } from '../syscalls/index.js';
import { describeIssue } from '../oci-config/schema.js';
import {
  InputSeccompSchema,
  toBigInt,
  toSmallInt,
  type InputFilter,
  type InputRule,
  type InputSeccomp,
  type SeccompArg,
  type SeccompProfile,
  type SeccompRule,
} from './seccomp.js';

export class ProfileError extends Error {
  override name = 'ProfileError';
}

/** What Docker's includes/excludes conditions are evaluated against. */
export interface ResolveContext {
  arch: Arch;
  /** The container's bounding capabilities (Docker checks `includes.caps` against these). */
  capabilities: ReadonlySet<string>;
  /** The host kernel, `<kernel>.<major>`, for `minKernel`. */
  kernel: KernelVersion;
}

export interface KernelVersion {
  kernel: number;
  major: number;
}

/** What `docker run` grants without --cap-add (moby oci/caps defaults), for Docker profiles merged without a bundle. */
export const DOCKER_DEFAULT_CAPABILITIES: readonly string[] = Object.freeze([
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
]);

/** `6.18.0-1-amd64` -> { kernel: 6, major: 18 }, as Docker reads the host's uname release. */
export function parseKernelRelease(release: string): KernelVersion {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) throw new ProfileError(`cannot read a kernel version from "${release}"`);
  return { kernel: Number(m[1]), major: Number(m[2]) };
}

/**
 * Find the seccomp object in a parsed JSON value: a profile itself, or a config.json holding one
 * under `linux.seccomp`. Then validate it; errors are one line naming `source` and the field.
 */
export function parseInputProfile(value: unknown, source: string): InputSeccomp {
  let candidate = value;
  if (isRecord(value) && 'ociVersion' in value) {
    const linux = value.linux;
    candidate = isRecord(linux) ? linux.seccomp : undefined;
    if (candidate === undefined || candidate === null) throw new ProfileError(`${source}: config.json has no linux.seccomp`);
  }
  if (!isRecord(candidate) || !('defaultAction' in candidate)) {
    throw new ProfileError(`${source}: not a seccomp profile (no defaultAction), an oci-ftrace report, or a config.json`);
  }
  const r = InputSeccompSchema.safeParse(candidate);
  if (!r.success) throw new ProfileError(`${source}: ${describeIssue(r.error)}`);
  for (const [i, rule] of (r.data.syscalls ?? []).entries()) {
    if (rule.name !== undefined && (rule.names?.length ?? 0) > 0) {
      throw new ProfileError(`${source}: syscalls[${i}] has both 'name' and 'names' (Docker refuses that too)`);
    }
  }
  return r.data;
}

/** Go's GOARCH, which Docker matches `includes.arches`/`excludes.arches` against. */
const GO_ARCH: Readonly<Record<Arch, string>> = { x86_64: 'amd64', aarch64: 'arm64' };

/** libseccomp's name of the native architecture. */
export const NATIVE_SECCOMP_ARCH: Readonly<Record<Arch, string>> = { x86_64: 'SCMP_ARCH_X86_64', aarch64: 'SCMP_ARCH_AARCH64' };

/**
 * The OCI profile an input amounts to on ctx.arch: Docker's archMap expanded to the native entry,
 * conditional rules kept or dropped exactly as Docker decides (moby setupSeccomp), `name` turned
 * into `names`, numbers into plain values.
 */
export function resolveInputProfile(input: InputSeccomp, ctx: ResolveContext): SeccompProfile {
  const syscalls: SeccompRule[] = [];
  for (const rule of input.syscalls ?? []) {
    if (!dockerRuleApplies(rule, ctx)) continue;
    syscalls.push(toRule(rule));
  }
  const profile: SeccompProfile = {
    defaultAction: input.defaultAction,
    architectures: resolveArchitectures(input, ctx.arch),
    syscalls,
  };
  if (input.defaultErrnoRet !== undefined && input.defaultErrnoRet !== null) profile.defaultErrnoRet = toSmallInt(input.defaultErrnoRet);
  if (input.flags && input.flags.length > 0) profile.flags = [...input.flags];
  return profile;
}

function resolveArchitectures(input: InputSeccomp, arch: Arch): string[] {
  if (input.architectures && input.architectures.length > 0) return [...input.architectures];
  const native = NATIVE_SECCOMP_ARCH[arch];
  const entry = input.archMap?.find((a) => a.architecture === native);
  return entry ? [entry.architecture, ...(entry.subArchitectures ?? [])] : [];
}

function dockerRuleApplies(rule: InputRule, ctx: ResolveContext): boolean {
  const goArch = GO_ARCH[ctx.arch];
  const ex = rule.excludes;
  if (ex) {
    if (ex.arches?.length && ex.arches.includes(goArch)) return false;
    if (ex.caps?.length && ex.caps.some((c) => ctx.capabilities.has(c))) return false;
    if (ex.minKernel && kernelAtLeast(ctx.kernel, ex.minKernel)) return false;
  }
  const inc = rule.includes;
  if (inc) {
    if (inc.arches?.length && !inc.arches.includes(goArch)) return false;
    if (inc.caps?.length && !inc.caps.every((c) => ctx.capabilities.has(c))) return false;
    if (inc.minKernel && !kernelAtLeast(ctx.kernel, inc.minKernel)) return false;
  }
  return true;
}

function kernelAtLeast(host: KernelVersion, min: NonNullable<InputFilter['minKernel']>): boolean {
  const [kernel, major] = min.split('.').map(Number) as [number, number];
  return host.kernel > kernel || (host.kernel === kernel && host.major >= major);
}

function toRule(rule: InputRule): SeccompRule {
  const out: SeccompRule = {
    names: rule.names && rule.names.length > 0 ? [...rule.names] : [rule.name as string],
    action: rule.action,
  };
  if (rule.errnoRet !== undefined && rule.errnoRet !== null) out.errnoRet = toSmallInt(rule.errnoRet);
  if (rule.args && rule.args.length > 0) {
    out.args = rule.args.map((a): SeccompArg => {
      const arg: SeccompArg = { index: toSmallInt(a.index), value: toBigInt(a.value), op: a.op };
      if (a.valueTwo !== undefined && a.valueTwo !== null) arg.valueTwo = toBigInt(a.valueTwo);
      return arg;
    });
  }
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
