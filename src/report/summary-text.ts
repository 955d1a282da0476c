import type { Summary } from './summary.js';
import { reportHeadline } from './summary.js';

/** Human-readable rendering of a summary (pure). */
export function renderSummaryText(s: Summary): string {
  const lines = [reportHeadline(s)];
  if (s.seccomp) lines.push(`seccomp: ${s.seccomp.note}`);
  lines.push('');
  const rows = Object.entries(s.syscalls)
    .filter(([, st]) => st.count > 0)
    .sort((a, b) => b[1].count - a[1].count || (a[0] < b[0] ? -1 : 1));
  const width = Math.max(8, ...Object.keys(s.syscalls).map((n) => n.length));
  lines.push(`${'syscall'.padEnd(width)}  ${'count'.padStart(9)}  ${'errors'.padStart(7)}  errnos`);
  for (const [name, st] of rows) {
    const errnos = Object.entries(st.errnos).map(([e, c]) => `${e}:${c}`).join(' ');
    lines.push(`${name.padEnd(width)}  ${String(st.count).padStart(9)}  ${String(st.errors).padStart(7)}  ${errnos}`);
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
  lines.push('', 'processes:');
  for (const p of Object.values(s.processes)) {
    const exec = p.execs.length > 0 ? ` exec ${p.execs.join(', ')}` : '';
    const stopped = p.blocked > 0 ? `, ${p.blocked} blocked` : '';
    const entered = p.exec ? ` [exec'd${p.runtimeCalls ? `; ${p.runtimeCalls} calls of the runtime's before its seccomp load` : ''}]` : '';
    lines.push(`  ${p.pid} ${p.comm}${p.parentPid !== null ? ` (parent ${p.parentPid})` : ''}: ${p.syscalls} syscalls${stopped}, ${p.threads.length} thread(s)${exec}${entered}`);
  }
  return lines.join('\n') + '\n';
}
