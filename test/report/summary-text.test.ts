import { describe, expect, it } from 'vitest';
import { renderSummaryText } from '../../src/report/summary-text.js';
import { SummarySchema, syscallsSinceProfileStart } from '../../src/report/summary.js';
import { fixtureText } from '../ingest/raw-fixtures.js';

// A real report: runc running `ls` (NoNewPrivileges off), traced from its createRuntime hook.
const recorded = () => SummarySchema.parse(JSON.parse(fixtureText('profile-runc-ls-no-nnp.summary.json')));

/** show's syscall table: name -> whether the row is marked "setup". */
function tableRows(text: string): Map<string, boolean> {
  const lines = text.split('\n');
  const from = lines.findIndex((l) => /^syscall +count +errors +errnos$/.test(l));
  const rows = new Map<string, boolean>();
  for (const line of lines.slice(from + 1)) {
    if (line === '') break;
    rows.set(line.split(/ +/)[0] as string, / setup$/.test(line));
  }
  return rows;
}

describe('show: the calls before the profile\'s start', () => {
  it('marks exactly those a profile leaves out (the runtime setting the container up), and says how many', () => {
    const s = recorded();
    const text = renderSummaryText(s);
    const rows = tableRows(text);
    const inProfile = new Set(syscallsSinceProfileStart(s));
    const marked = [...rows].filter(([, setup]) => setup).map(([name]) => name);
    expect(rows.size).toBe(Object.values(s.syscalls).filter((c) => c.count > 0).length);
    expect(marked.length).toBeGreaterThan(0);
    expect(marked).toContain('pivot_root');
    for (const [name, setup] of rows) expect(setup).toBe(!inProfile.has(name));
    expect(text).toContain(`profile's start: the seccomp filter's load (pid ${s.profileStart.pid}): ${rows.size - marked.length} of the ${rows.size} syscalls came at or after it.`);
    expect(text).toContain(`The ${marked.length} marked "setup" came only before it`);
  });

  it('marks nothing when the trace has no start (every call counts)', () => {
    const s = { ...recorded(), profileStart: { kind: 'none' as const, timestamp: null, pid: null } };
    const text = renderSummaryText(s);
    expect([...tableRows(text).values()].some((setup) => setup)).toBe(false);
    expect(text).not.toContain("profile's start");
  });
});
