import type { Summary } from './summary.js';
import { capabilitiesDenied, capabilitiesHeldUnchecked, isOnlyNoAuditLikely, reportHeadline, syscallsSinceProfileStart } from './summary.js';

/** `socket:2 setsockopt:1`, the syscalls a capability was checked in. */
function inSyscalls(calls: Record<string, { granted: number; denied: number; noAuditLikely?: true }>, which: 'granted' | 'denied'): string {
  return Object.entries(calls)
    .filter(([, c]) => c[which] > 0)
    .map(([name, c]) => `${name}:${c[which]}${c.noAuditLikely ? ' (no-audit likely)' : ''}`)
    .join(' ');
}

function capabilityLines(s: Summary): string[] {
  const section = s.capabilities;
  if (!section) return [];
  const lines = ['', 'capabilities used (granted; in which syscalls):'];
  const used = Object.entries(section.checks).filter(([, c]) => c.granted > 0);
  if (used.length === 0) lines.push('  (none)');
  for (const [name, c] of used) {
    const ns = c.namespace.other > 0 ? `, ${c.namespace.other} against another user namespace` : '';
    const maybe = isOnlyNoAuditLikely(c) ? '  [no-audit likely: perhaps not needed]' : '';
    lines.push(`  ${name}: ${c.granted} granted in ${inSyscalls(c.syscalls, 'granted')}; first by ${c.firstComm} (${c.firstPid})${ns}${maybe}`);
  }
  const denied = capabilitiesDenied(s);
  if (denied.length > 0) {
    lines.push('', 'capabilities asked for but denied (the call, and how it ended):');
    for (const { name, check } of denied) {
      const calls = Object.entries(check.syscalls)
        .filter(([, c]) => c.denied > 0)
        .map(([syscall, c]) => {
          const ended = Object.entries(c.deniedOutcomes ?? {}).map(([e, n]) => `${e === 'ok' ? 'succeeded' : e}:${n}`).join(' ');
          return `${syscall} ${c.denied}x${ended ? ` -> ${ended}` : ''}${c.noAuditLikely ? ' (no-audit likely: harmless)' : ''}`;
        });
      lines.push(`  ${name}: ${calls.join('; ')}`);
    }
  }
  if (section.held) {
    const unchecked = capabilitiesHeldUnchecked(s);
    lines.push('', `capabilities held but never checked: ${unchecked.length > 0 ? unchecked.join(' ') : '(none)'}`);
  }
  lines.push(`(${section.runtimeChecks} checks before the start were the runtime's; ${section.note})`);
  return lines;
}

/** Human-readable rendering of a summary (pure). */
export function renderSummaryText(s: Summary): string {
  const lines = [reportHeadline(s)];
  if (s.seccomp) lines.push(`seccomp: ${s.seccomp.note}`);
  lines.push('');
  const rows = Object.entries(s.syscalls)
    .filter(([, st]) => st.count > 0)
    .sort((a, b) => b[1].count - a[1].count || (a[0] < b[0] ? -1 : 1));
  // The table has every call the trace saw; a profile has those at or after its start (the same
  // rule that makes one), and the rest are marked.
  const inProfile = new Set(syscallsSinceProfileStart(s));
  const setupOnly = rows.filter(([name]) => !inProfile.has(name)).length;
  if (setupOnly > 0 && s.profileStart.timestamp !== null) {
    const start = s.profileStart.kind === 'seccomp-load' ? `the seccomp filter's load (pid ${s.profileStart.pid})` : `the first exec (pid ${s.profileStart.pid})`;
    lines.push(`profile's start: ${start}: ${rows.length - setupOnly} of the ${rows.length} syscalls came at or after it.`);
    lines.push(`The ${setupOnly} marked "setup" came only before it, while the runtime set the container up: a profile made from this report need not allow them (\`oci-ftrace profile\` names the few it adds for the runtime).`, '');
  }
  const width = Math.max(8, ...Object.keys(s.syscalls).map((n) => n.length));
  lines.push(`${'syscall'.padEnd(width)}  ${'count'.padStart(9)}  ${'errors'.padStart(7)}  errnos`);
  for (const [name, st] of rows) {
    const errnos = Object.entries(st.errnos).map(([e, c]) => `${e}:${c}`).join(' ');
    const setup = inProfile.has(name) ? '' : errnos ? '  setup' : 'setup';
    lines.push(`${name.padEnd(width)}  ${String(st.count).padStart(9)}  ${String(st.errors).padStart(7)}  ${errnos}${setup}`.trimEnd());
  }
  const blocked = Object.entries(s.syscalls)
    .filter((e): e is [string, Summary['syscalls'][string] & { blocked: NonNullable<Summary['syscalls'][string]['blocked']> }] => e[1].blocked !== undefined)
    .sort((a, b) => b[1].blocked.count - a[1].blocked.count || (a[0] < b[0] ? -1 : 1));
  if (blocked.length > 0) {
    lines.push('', 'blocked by seccomp (never ran):');
    lines.push(`${'syscall'.padEnd(width)}  ${'count'.padStart(9)}  answer`);
    for (const [name, st] of blocked) {
      const b = st.blocked;
      const answers = [...Object.entries(b.errnos).map(([e, c]) => `${e}:${c}`), ...(b.killed > 0 ? [`SIGSYS:${b.killed}`] : [])].join(' ');
      lines.push(`${name.padEnd(width)}  ${String(b.count).padStart(9)}  ${answers}${b.rule ? `  (${b.rule})` : ''}`);
    }
  }
  lines.push(...capabilityLines(s));
  lines.push('', 'processes:');
  // Exec'd processes count from the container's filter load as the init does, or, with no filter, from their exec.
  const execStart = s.profileStart.kind === 'seccomp-load' ? 'its seccomp load' : 'its exec of the command';
  for (const p of Object.values(s.processes)) {
    const exec = p.execs.length > 0 ? ` exec ${p.execs.join(', ')}` : '';
    const stopped = p.blocked > 0 ? `, ${p.blocked} blocked` : '';
    const entered = p.exec ? ` [exec'd${p.runtimeCalls ? `; ${p.runtimeCalls} calls of the runtime's before ${execStart}` : ''}]` : '';
    lines.push(`  ${p.pid} ${p.comm}${p.parentPid !== null ? ` (parent ${p.parentPid})` : ''}: ${p.syscalls} syscalls${stopped}, ${p.threads.length} thread(s)${exec}${entered}`);
  }
  const f = s.processesFolded;
  if (f) {
    const names = Object.entries(f.byComm);
    const shown = names.slice(0, 10).map(([name, n]) => `${name} ${n}`).join(', ');
    lines.push(`  and ${f.count} more that ended, folded: ${f.syscalls} syscalls${f.blocked > 0 ? `, ${f.blocked} blocked` : ''}; by name: ${shown}${names.length > 10 ? `, and ${names.length - 10} more names` : ''}`);
  }
  return lines.join('\n') + '\n';
}
