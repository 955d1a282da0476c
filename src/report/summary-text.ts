import type { Summary } from './summary.js';
import { reportHeadline } from './summary.js';

/** Human-readable rendering of a summary (pure). */
export function renderSummaryText(s: Summary): string {
  const lines = [reportHeadline(s), ''];
  const rows = Object.entries(s.syscalls).sort((a, b) => b[1].count - a[1].count || (a[0] < b[0] ? -1 : 1));
  const width = Math.max(8, ...rows.map(([n]) => n.length));
  lines.push(`${'syscall'.padEnd(width)}  ${'count'.padStart(9)}  ${'errors'.padStart(7)}  errnos`);
  for (const [name, st] of rows) {
    const errnos = Object.entries(st.errnos).map(([e, c]) => `${e}:${c}`).join(' ');
    lines.push(`${name.padEnd(width)}  ${String(st.count).padStart(9)}  ${String(st.errors).padStart(7)}  ${errnos}`);
  }
  lines.push('', 'processes:');
  for (const p of Object.values(s.processes)) {
    const exec = p.execs.length > 0 ? ` exec ${p.execs.join(', ')}` : '';
    lines.push(`  ${p.pid} ${p.comm}${p.parentPid !== null ? ` (parent ${p.parentPid})` : ''}: ${p.syscalls} syscalls, ${p.threads.length} thread(s)${exec}`);
  }
  return lines.join('\n') + '\n';
}
