// Calls the container's own profile stopped, from the recorded container capture (see
// integration/container-raw.test.ts) through the time-ordered text path: the log line, the summary
// and `show`.
import { describe, expect, it } from 'vitest';
import { TraceAggregate } from '../../src/report/aggregate.js';
import { TraceAnalyzer } from '../support/text-analyzer.js';
import { formatSyscallLine } from '../../src/report/log-format.js';
import { SummarySchema, blockedSinceProfileStart, buildSummary, reportHeadline, seccompSummary, syscallsSinceProfileStart } from '../../src/report/summary.js';
import { renderSummaryText } from '../../src/report/summary-text.js';
import type { SyscallRecord } from '../../src/trace/syscall-pairing.js';
import { describeReturn, errnoName, syscallName } from '../../src/syscalls/index.js';
import { containerCaptureMeta, fixtureText } from '../ingest/raw-fixtures.js';

const FORK = new Set([56, 57, 58, 435]);
const KNOWN = { seccomp: 317, prctl: 157 };
const format = { syscallName: (nr: number) => syscallName(nr, 'x86_64'), argNames: () => undefined, describeReturn };

function analyze(): { agg: TraceAggregate; records: SyscallRecord[] } {
  const records: SyscallRecord[] = [];
  const a = new TraceAnalyzer({ forkSyscalls: FORK, known: KNOWN, initialTasks: containerCaptureMeta().initialTasks, onRecord: (r) => records.push(r) });
  for (const line of fixtureText('raw-container.trace').split('\n')) a.feedLine(line);
  return { agg: a.finish(), records };
}

function summary() {
  return buildSummary(analyze().agg, {
    containerId: 'c1',
    arch: 'x86_64',
    kind: 'final',
    source: 'collector',
    clock: 'mono',
    loss: { lost: 0, overrun: 0, dropped: 0, perCpu: [] },
    now: new Date(0),
    syscallName: (nr) => syscallName(nr, 'x86_64'),
    errnoName,
    seccomp: seccompSummary('keep', true),
    blockingRule: (name) => (name === 'mkdir' ? 'rule 0 (mkdir mkdirat: SCMP_ACT_ERRNO EPERM)' : 'rule 1 (chmod fchmodat fchmodat2: SCMP_ACT_KILL)'),
  });
}

describe('blocked calls in the log', () => {
  it('an answered one: its errno, said to be seccomp\'s', () => {
    const lines = analyze().records.filter((r) => r.blocked && r.nr === 83).map((r) => formatSyscallLine(r, format));
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line).toMatch(/ mkdir\(\?\) = -1 EPERM \(Operation not permitted\) \(blocked by seccomp\)$/);
  });

  it('a killed one: "= ?" with SIGSYS, never the syscall number as a return value', () => {
    const killed = analyze().records.filter((r) => r.blocked && r.ret === BigInt(r.nr));
    expect(killed).toHaveLength(1);
    expect(formatSyscallLine(killed[0]!, format)).toMatch(/ (chmod|fchmodat|fchmodat2)\(\?\) = \? SIGSYS \(blocked by seccomp\)$/);
  });

  it('the call the init was inside when tracing began is a call, not a blocked one', () => {
    const first = analyze().records[0]!;
    expect(first).toMatchObject({ nr: 0, args: [] });
    expect(first.blocked).toBeUndefined();
  });
});

describe('blocked calls in the summary and show', () => {
  it('are counted apart from the calls that ran, with their answers and rule, and validate', () => {
    const s = SummarySchema.parse(JSON.parse(JSON.stringify(summary())));
    expect(s.schemaVersion).toBe(2);
    expect(s.syscalls.mkdir).toMatchObject({ count: 0, errors: 0, firstSeen: null, lastSeen: null, blocked: { count: 2, errnos: { EPERM: 2 }, killed: 0, rule: 'rule 0 (mkdir mkdirat: SCMP_ACT_ERRNO EPERM)' } });
    expect(s.trace.blockedTotal).toBe(3);
    expect(Object.values(s.processes).reduce((n, p) => n + p.blocked, 0)).toBe(3);
    // A profile allows what ran, and keeps stopped what was stopped.
    expect(syscallsSinceProfileStart(s)).not.toContain('mkdir');
    expect(blockedSinceProfileStart(s)).toContain('mkdir');
  });

  it('show says so, with the profile kept', () => {
    const text = renderSummaryText(summary());
    expect(text.split('\n')[0]).toBe(reportHeadline(summary()));
    expect(text.split('\n')[0]).toMatch(/, 3 blocked by seccomp, 0 events lost$/);
    expect(text).toContain("seccomp: the container's own seccomp profile was enforced; calls it stopped are shown as blocked");
    expect(text).toMatch(/^blocked by seccomp \(never ran\):$/m);
    expect(text).toMatch(/^mkdir +2  EPERM:2  \(rule 0 \(mkdir mkdirat: SCMP_ACT_ERRNO EPERM\)\)$/m);
  });

  it('says loudly when the container ran without its profile', () => {
    const s = { ...summary(), seccomp: seccompSummary('permissive', true) };
    expect(reportHeadline(s)).toMatch(/RAN WITHOUT ITS SECCOMP PROFILE$/);
    expect(renderSummaryText(s)).toContain('seccomp: RAN WITHOUT ITS SECCOMP PROFILE: recorded from scratch');
    // A bundle without a profile lost none.
    expect(reportHeadline({ ...summary(), seccomp: seccompSummary('permissive', false) })).not.toMatch(/WITHOUT/);
  });

  it('reads a schema 1 summary as a 2 without blocked calls', () => {
    const v1 = JSON.parse(fixtureText('profile-runc-ls-nnp.summary.json')) as Record<string, unknown>;
    expect(v1.schemaVersion).toBe(1);
    const s = SummarySchema.parse(v1);
    expect(s.schemaVersion).toBe(2);
    expect(s.trace.blockedTotal).toBe(0);
    expect(Object.values(s.processes).every((p) => p.blocked === 0)).toBe(true);
  });
});
