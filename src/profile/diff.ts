/**
 * `oci-ftrace diff A B`, pure: the syscalls one side has that the other lacks. A report has the
 * syscalls its profile would need (made at or after the seccomp load); a profile has those it lets
 * run, on one architecture. Capabilities likewise, where both sides have them: a report those its
 * workload was granted, a config.json those its process holds.
 */
import { sortCapabilities } from '../capabilities/index.js';
import { allSyscallNames, type Arch } from '../syscalls/index.js';
import { isAllowingAction, type SeccompProfile } from './seccomp.js';

export interface SyscallSet {
  /** A label for output (a path). */
  source: string;
  kind: 'report' | 'profile';
  names: ReadonlySet<string>;
  /** Allowed only for some argument values (profiles only). */
  conditional: ReadonlySet<string>;
  /** Capabilities used (a report) or held (a config.json); undefined when the side has none to compare. */
  capabilities?: ReadonlySet<string> | undefined;
}

/** The syscalls `profile` lets run on `arch`; those allowed only for some arguments are also in `conditional`. */
export function syscallsAllowedBy(profile: SeccompProfile, arch: Arch): { names: Set<string>; conditional: Set<string> } {
  const unconditional = new Map<string, boolean>(); // name -> allowed, from rules without args; a block wins
  const argRules = new Map<string, { allowing: boolean; blocking: boolean }>();
  for (const rule of profile.syscalls) {
    const allowing = isAllowingAction(rule.action);
    for (const name of rule.names) {
      if (rule.args?.length) {
        const seen = argRules.get(name) ?? { allowing: false, blocking: false };
        argRules.set(name, { allowing: seen.allowing || allowing, blocking: seen.blocking || !allowing });
      } else if (!unconditional.has(name) || !allowing) {
        unconditional.set(name, allowing);
      }
    }
  }
  const defaultAllows = isAllowingAction(profile.defaultAction);
  const names = new Set<string>();
  const conditional = new Set<string>();
  const candidates = defaultAllows ? allSyscallNames(arch) : [...unconditional.keys(), ...argRules.keys()];
  for (const name of candidates) {
    const verdict = unconditional.get(name);
    if (verdict !== undefined) {
      // A rule without arguments decides every call.
      if (verdict) names.add(name);
      continue;
    }
    const args = argRules.get(name);
    if (defaultAllows) {
      names.add(name);
      if (args?.blocking) conditional.add(name);
    } else if (args?.allowing) {
      names.add(name);
      conditional.add(name);
    }
  }
  return { names, conditional };
}

export interface SyscallDiff {
  a: { source: string; only: string[] };
  b: { source: string; only: string[] };
  common: number;
  /** Syscalls in both where at least one side allows them only for some arguments. */
  conditional: string[];
  /** The capabilities only one side has; absent when a side has none to compare. */
  capabilities?: { a: string[]; b: string[]; common: number };
}

export function diffSyscalls(a: SyscallSet, b: SyscallSet): SyscallDiff {
  const onlyIn = (x: SyscallSet, y: SyscallSet) => [...x.names].filter((n) => !y.names.has(n)).sort();
  const common = [...a.names].filter((n) => b.names.has(n));
  const ca = a.capabilities;
  const cb = b.capabilities;
  return {
    a: { source: a.source, only: onlyIn(a, b) },
    b: { source: b.source, only: onlyIn(b, a) },
    common: common.length,
    conditional: common.filter((n) => a.conditional.has(n) || b.conditional.has(n)).sort(),
    ...(ca && cb
      ? { capabilities: { a: sortCapabilities([...ca].filter((c) => !cb.has(c))), b: sortCapabilities([...cb].filter((c) => !ca.has(c))), common: [...ca].filter((c) => cb.has(c)).length } }
      : {}),
  };
}

/** Nothing in one that the other lacks: syscalls, and capabilities where both have them. */
export function isSameSyscalls(d: SyscallDiff): boolean {
  return d.a.only.length === 0 && d.b.only.length === 0 && (d.capabilities === undefined || (d.capabilities.a.length === 0 && d.capabilities.b.length === 0));
}

export function renderDiffText(d: SyscallDiff): string {
  const line = (side: SyscallDiff['a']) => `only in ${side.source}: ${side.only.length === 0 ? '(none)' : side.only.join(' ')}\n`;
  const cond = d.conditional.length > 0 ? `in both, allowed only for some arguments: ${d.conditional.join(' ')}\n` : '';
  const caps = d.capabilities
    ? `capabilities only in ${d.a.source}: ${d.capabilities.a.join(' ') || '(none)'}\ncapabilities only in ${d.b.source}: ${d.capabilities.b.join(' ') || '(none)'}\ncapabilities in both: ${d.capabilities.common}\n`
    : '';
  return `${line(d.a)}${line(d.b)}${cond}in both: ${d.common}\n${caps}`;
}
