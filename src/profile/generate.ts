/**
 * The profile itself, pure: which syscalls a container may make, from what it was recorded
 * making after the runtime loaded its filter, constrained by any input profiles.
 *
 * - Deny by default with EPERM, as Docker's default profile does (defaultErrnoRet 1).
 * - Everything recorded is allowed, unless an input profile blocks or restricts it: then the
 *   input's own rules for that syscall are kept, so a syscall the input blocks stays blocked.
 * - Unrecorded syscalls are denied, whatever the inputs allow: the profile stays minimal.
 * - clone3, when not allowed, answers ENOSYS instead of EPERM: glibc (2.34+) creates threads with
 *   clone3 and falls back to clone only on ENOSYS (Docker's default profile does the same).
 * - What the runtimes it will run under may do after their filter load at moments no recording
 *   can pin down is allowed too (RUNTIME_ASYNC_SYSCALLS).
 */
import { seccompArchitectures, syscallNumber, type Arch } from '../syscalls/index.js';
import { ProfileError } from './input-profile.js';
import type { RecordedSyscalls } from './recorded.js';
import { ENOSYS, EPERM, isAllowingAction, type SeccompProfile, type SeccompRule } from './seccomp.js';

export interface ProfileInput {
  source: string;
  /** Already resolved for the arch (resolveInputProfile). */
  profile: SeccompProfile;
}

export const RUNTIMES = ['runc', 'crun'] as const;
export type Runtime = (typeof RUNTIMES)[number];

/**
 * Syscalls a runtime's own code may make between its seccomp load and its exec of the workload
 * at moments set by timing, not by its program order, so that one recording may see them and the
 * next run need them.
 *
 * runc is a Go program: until the exec, Go's runtime may park or yield the filtered thread in its
 * scheduler (futex, nanosleep, sched_yield) or run a signal handler and return from it
 * (rt_sigreturn; Go preempts goroutines with SIGURG). Measured with runc 1.1.5: a profile holding
 * exactly one recording's syscalls failed 5 of 25 reruns (rt_sigreturn blocked: SIGSEGV) and,
 * without futex and nanosleep, 9 of 60 (the kernel's exit events showed them blocked); with these
 * four, none of 420 (320 with NoNewPrivileges on, 100 off).
 * crun is single-threaded C: what it does after the load follows its program order, and the
 * recording has it (when recorded under crun: with NoNewPrivileges off it calls setresuid,
 * setresgid, rt_sigaction and rt_sigprocmask after the load, which runc does not).
 */
export function isRuntime(value: string): value is Runtime {
  return (RUNTIMES as readonly string[]).includes(value);
}

export const RUNTIME_ASYNC_SYSCALLS: Readonly<Record<Runtime, readonly string[]>> = Object.freeze({
  runc: Object.freeze(['futex', 'nanosleep', 'rt_sigreturn', 'sched_yield']),
  crun: Object.freeze([]),
});

export interface GenerateOptions {
  recorded: readonly RecordedSyscalls[];
  inputs?: readonly ProfileInput[];
  /** The runtimes the profile will run under (default: runc and crun). */
  runtimes?: readonly Runtime[];
}

export interface GeneratedProfile {
  arch: Arch;
  profile: SeccompProfile;
  /** Syscalls the profile allows outright (recorded, or added for the runtimes). */
  allowed: string[];
  /** Syscalls an input blocks or restricts, and which input decided. */
  constrained: { name: string; source: string }[];
  /** Allowed for the runtimes (RUNTIME_ASYNC_SYSCALLS) though not recorded. */
  runtimeAdded: string[];
  /** Whether clone3 answers ENOSYS. */
  clone3Enosys: boolean;
  containerIds: string[];
}

export const CLONE3 = 'clone3';

type Decision =
  | { kind: 'allow' }
  /** `fromDefault`: no rule of the input names it; its default action decides. */
  | { kind: 'keep'; rules: SeccompRule[]; source: string; fromDefault: boolean };

export function generateProfile(opts: GenerateOptions): GeneratedProfile {
  const first = opts.recorded[0];
  if (!first) throw new ProfileError('no reports to make a profile from');
  const arch = first.arch;
  const mixed = opts.recorded.find((r) => r.arch !== arch);
  if (mixed) throw new ProfileError(`${mixed.source} was recorded on ${mixed.arch}, ${first.source} on ${arch}: one profile covers one architecture`);

  const recordedNames = new Set(opts.recorded.flatMap((r) => r.syscalls));
  const runtimeNames = (opts.runtimes ?? RUNTIMES).flatMap((runtime) => RUNTIME_ASYNC_SYSCALLS[runtime] ?? []);
  const runtimeAdded = [...new Set(runtimeNames)].filter((name) => !recordedNames.has(name) && syscallNumber(name, arch) !== undefined).sort();
  const wanted = [...recordedNames, ...runtimeAdded].sort();
  const inputs = opts.inputs ?? [];
  const allowed: string[] = [];
  const kept: SeccompRule[] = [];
  const constrained: GeneratedProfile['constrained'] = [];
  let clone3Decided = false;

  // Blocked by the container's own profile, never run: they stay stopped as the input stops them
  // (its errno, its kill), not merely by our default; with no input that stops them, by our default.
  const blockedOnly = [...new Set(opts.recorded.flatMap((r) => r.blocked ?? []))].filter((name) => !recordedNames.has(name) && !runtimeAdded.includes(name)).sort();
  for (const name of blockedOnly) {
    const decision = combine(name, inputs.map((input) => decide(input, name)));
    if (decision.kind === 'allow') continue;
    constrained.push({ name, source: decision.source });
    if (name === CLONE3 && decision.fromDefault) continue;
    if (name === CLONE3) clone3Decided = true;
    kept.push(...decision.rules.filter((rule) => !isSameAsDefault(rule)));
  }

  for (const name of wanted) {
    const decision = combine(name, inputs.map((input) => decide(input, name)));
    if (decision.kind === 'allow') {
      allowed.push(name);
      if (name === CLONE3) clone3Decided = true;
      continue;
    }
    constrained.push({ name, source: decision.source });
    // An input that blocks clone3 only by its default action gets the ENOSYS rule below instead.
    if (name === CLONE3 && decision.fromDefault) continue;
    if (name === CLONE3) clone3Decided = true;
    kept.push(...decision.rules.filter((rule) => !isSameAsDefault(rule)));
  }

  const syscalls: SeccompRule[] = [];
  if (allowed.length > 0) syscalls.push({ names: allowed, action: 'SCMP_ACT_ALLOW' });
  syscalls.push(...groupRules(kept));
  const clone3Enosys = !clone3Decided && syscallNumber(CLONE3, arch) !== undefined;
  if (clone3Enosys) syscalls.push({ names: [CLONE3], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS });

  return {
    arch,
    profile: {
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: EPERM,
      architectures: [...seccompArchitectures(arch)],
      syscalls,
    },
    allowed,
    constrained,
    runtimeAdded,
    clone3Enosys,
    containerIds: [...new Set(opts.recorded.map((r) => r.containerId))],
  };
}

/** What one input says about one recorded syscall. */
function decide(input: ProfileInput, name: string): Decision {
  const { profile, source } = input;
  const rules = profile.syscalls.filter((rule) => rule.names.includes(name)).map((rule) => ({ ...rule, names: [name] }));
  if (rules.length === 0) {
    if (profile.defaultAction === 'SCMP_ACT_ALLOW') return { kind: 'allow' };
    const rule: SeccompRule = { names: [name], action: profile.defaultAction };
    if (profile.defaultErrnoRet !== undefined) rule.errnoRet = profile.defaultErrnoRet;
    return { kind: 'keep', rules: [rule], source, fromDefault: true };
  }
  if (rules.every((rule) => rule.action === 'SCMP_ACT_ALLOW' && !rule.args?.length)) return { kind: 'allow' };
  // Calls matching no argument rule fall to the input's default. If that allows them, a
  // deny-by-default profile would have to allow "everything but these arguments": not expressible.
  const hasUnconditional = rules.some((rule) => !rule.args?.length);
  if (!hasUnconditional && isAllowingAction(profile.defaultAction)) {
    if (profile.defaultAction === 'SCMP_ACT_ALLOW' && rules.every((rule) => rule.action === 'SCMP_ACT_ALLOW')) return { kind: 'allow' };
    throw new ProfileError(`${source}: ${name} is blocked only for some arguments under an allowing default action, which a deny-by-default profile cannot express`);
  }
  return { kind: 'keep', rules, source, fromDefault: false };
}

/** Several inputs on one syscall: the first that blocks it outright wins; identical restrictions agree. */
function combine(name: string, decisions: Decision[]): Decision {
  const keeps = decisions.filter((d): d is Extract<Decision, { kind: 'keep' }> => d.kind === 'keep');
  const [firstKeep] = keeps;
  if (!firstKeep) return { kind: 'allow' };
  const blocking = keeps.find((d) => d.rules.some((rule) => !rule.args?.length && !isAllowingAction(rule.action)));
  if (blocking) return blocking;
  const conflicting = keeps.find((d) => JSON.stringify(d.rules, bigintReplacer) !== JSON.stringify(firstKeep.rules, bigintReplacer));
  if (conflicting) {
    throw new ProfileError(`${firstKeep.source} and ${conflicting.source} restrict ${name} by different argument rules; merge those inputs by hand`);
  }
  return firstKeep;
}

/** A rule that says what the default action says anyway (deny with EPERM). */
function isSameAsDefault(rule: SeccompRule): boolean {
  return !rule.args?.length && rule.action === 'SCMP_ACT_ERRNO' && (rule.errnoRet ?? EPERM) === EPERM;
}

/** Rules that differ only in their names become one rule; the order of first appearance is kept. */
function groupRules(rules: readonly SeccompRule[]): SeccompRule[] {
  const byShape = new Map<string, SeccompRule>();
  for (const rule of rules) {
    const { names, ...shape } = rule;
    const key = JSON.stringify(shape, bigintReplacer);
    const existing = byShape.get(key);
    if (existing) existing.names.push(...names.filter((n) => !existing.names.includes(n)));
    else byShape.set(key, { ...rule, names: [...names] });
  }
  return [...byShape.values()];
}

function bigintReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
