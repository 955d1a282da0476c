/**
 * Which rule of the container's own profile stopped a call it made (pure). A blocked call's exit
 * carries its syscall number and its answer (-errno, or SIGSYS), not its arguments (its entry never
 * fired), so a rule that depends on arguments is named as a candidate, and the answer picks among
 * candidates. libseccomp gives the most restrictive matching action precedence
 * (KILL_PROCESS > KILL_THREAD > TRAP > ERRNO > USER_NOTIF > TRACE > LOG > ALLOW), which is how
 * the default action and the rules are weighed here.
 */
import { EPERM, isAllowingAction, type SeccompAction, type SeccompProfile, type SeccompRule } from './seccomp.js';

export interface BlockedAnswers {
  /** errno -> calls answered with it. */
  errnos: ReadonlyMap<number, number>;
  /** Calls answered with SIGSYS. */
  killed: number;
}

const SIGSYS_ACTIONS: readonly SeccompAction[] = ['SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP'];

/** What an action answers a call with: an errno, SIGSYS, or nothing we can see. */
function answerOf(action: SeccompAction, errnoRet: number | undefined): { errno?: number; sigsys: boolean } {
  if (action === 'SCMP_ACT_ERRNO') return { errno: errnoRet ?? EPERM, sigsys: false };
  if (action === 'SCMP_ACT_TRACE') return { errno: 38, sigsys: false }; // ENOSYS without a tracer
  return { sigsys: SIGSYS_ACTIONS.includes(action) };
}

function describeAction(action: SeccompAction, errnoRet: number | undefined, errnoName: (n: number) => string | undefined): string {
  if (action !== 'SCMP_ACT_ERRNO') return action;
  const errno = errnoRet ?? EPERM;
  return `${action} ${errnoName(errno) ?? `E${errno}`}`;
}

/** Does this rule or default action explain the answers seen? */
function explains(answer: { errno?: number; sigsys: boolean }, seen: BlockedAnswers): boolean {
  if (answer.sigsys) return seen.killed > 0;
  return answer.errno !== undefined && seen.errnos.has(answer.errno);
}

/**
 * The rule (by its index in the profile's syscalls) or the default action that stops `name`, as
 * one line, e.g. `rule 12 (mkdir mkdirat: SCMP_ACT_ERRNO EPERM)` or `defaultAction SCMP_ACT_ERRNO
 * EPERM`. Undefined when the profile allows the call outright (then it was not this profile).
 */
export function describeBlockingRule(profile: SeccompProfile, name: string, seen: BlockedAnswers, errnoName: (n: number) => string | undefined): string | undefined {
  const rules = profile.syscalls.map((rule, index) => ({ rule, index })).filter(({ rule }) => rule.names.includes(name));
  const blocking = rules.filter(({ rule }) => !isAllowingAction(rule.action));
  const label = ({ rule, index }: { rule: SeccompRule; index: number }): string =>
    `rule ${index} (${rule.names.slice(0, 4).join(' ')}${rule.names.length > 4 ? ' ...' : ''}: ${describeAction(rule.action, rule.errnoRet, errnoName)}${rule.args?.length ? ', for some arguments' : ''})`;
  // A blocking rule with no argument conditions always applies.
  const outright = blocking.find(({ rule }) => !rule.args?.length);
  if (outright) return label(outright);
  const conditional = blocking.filter(({ rule }) => explains(answerOf(rule.action, rule.errnoRet), seen));
  const unconditionalAllow = rules.some(({ rule }) => isAllowingAction(rule.action) && !rule.args?.length);
  const byDefault = !unconditionalAllow && !isAllowingAction(profile.defaultAction);
  const parts = conditional.map(label);
  if (byDefault && (rules.length === 0 || explains(answerOf(profile.defaultAction, profile.defaultErrnoRet), seen))) {
    parts.push(`defaultAction ${describeAction(profile.defaultAction, profile.defaultErrnoRet, errnoName)}${rules.length > 0 ? ' (for arguments no rule allows)' : ''}`);
  }
  if (parts.length === 0 && blocking.length > 0) parts.push(...blocking.map(label));
  return parts.length > 0 ? parts.join(' or ') : undefined;
}
