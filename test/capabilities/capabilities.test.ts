// Capability checks from a recorded real trace (test/fixtures/raw-caps-*, by
// integration/capabilities-raw.test.ts): a container holding CAP_NET_RAW but not CAP_CHOWN runs
// ping (granted) and chown (denied, EPERM), under a seccomp profile of its own.
import { describe, expect, it } from 'vitest';
import { capabilityName, capabilityNumber, canonicalCapability, isLikelyNoAudit, heldCapabilitiesOfSpec, sortCapabilities } from '../../src/capabilities/index.js';
import { LiveIngest } from '../../src/ingest/live-ingest.js';
import { LogConverter } from '../../src/ingest/log-converter.js';
import { createRawEventDecoder } from '../../src/ingest/raw-decoder.js';
import { decodeRawPage } from '../../src/ingest/raw-page.js';
import { TaskTable } from '../../src/ingest/task-table.js';
import { diffSyscalls, isSameSyscalls } from '../../src/profile/diff.js';
import { capabilitiesOfReports, runOptions, renderRunOptions } from '../../src/profile/run-options.js';
import { TraceAggregate } from '../../src/report/aggregate.js';
import { mergeSummaryParts } from '../../src/report/merge.js';
import { buildSummary, capabilitiesDenied, capabilitiesHeldUnchecked, capabilitiesUsed, type Summary } from '../../src/report/summary.js';
import { renderSummaryText } from '../../src/report/summary-text.js';
import { errnoName, syscallName } from '../../src/syscalls/index.js';
import type { CapableEvent } from '../../src/trace/events.js';
import { capabilityCaptureMeta, fixtureText, recordedFormats, recordedLayout, recordedPages } from '../ingest/raw-fixtures.js';

const FORK = new Set([56, 57, 58, 435]);
const KNOWN = { seccomp: 317, prctl: 157 };
const NO_PROC = { comm: () => undefined, tgid: () => undefined };
const LOSS = { lost: 0, overrun: 0, dropped: 0, perCpu: [] };

function ingestCaptured(opts: { filterLoadExpected: boolean; workloadBegun?: boolean }): TraceAggregate {
  const meta = capabilityCaptureMeta();
  const formats = recordedFormats();
  const byName = (n: string) => formats.find((f) => f.name === n)!;
  const agg = new TraceAggregate(KNOWN, opts);
  const tasks = new TaskTable(NO_PROC, new Map(), new Map(meta.initialTasks.map((t) => [t, meta.initPid])));
  const ingest = new LiveIngest({ enter: byName('sys_enter'), exit: byName('sys_exit'), capable: byName('cap_capable') }, recordedLayout(), agg, tasks, createRawEventDecoder(formats), KNOWN, FORK, meta.initialTasks);
  // Whole CPUs in reverse: the worst arrival order.
  for (const [cpu, pages] of [...recordedPages('raw-caps')].reverse()) for (const page of pages) ingest.page(page, cpu);
  ingest.release(Infinity);
  return agg;
}

function summaryOf(agg: TraceAggregate, held: string[] | null = capabilityCaptureMeta().capabilities): Summary {
  return buildSummary(agg, { containerId: 'caps', arch: 'x86_64', kind: 'final', source: 'collector', clock: 'mono', loss: LOSS, now: new Date(0), syscallName: (nr) => syscallName(nr, 'x86_64'), errnoName, capabilities: { held } });
}

/** The kernel's own text of the capture: cap and ret of each check, in order. */
function textChecks(): number[][] {
  return fixtureText('raw-caps.trace').split('\n').filter((l) => l.includes('cap_capable:')).map((l) => /cap (\d+), ret (-?\d+)/.exec(l)!.slice(1).map(Number));
}

describe('capability names', () => {
  it('look up both ways, in the spellings docker and Kubernetes use', () => {
    expect(capabilityName(13)).toBe('CAP_NET_RAW');
    expect(capabilityName(99)).toBe('CAP_99');
    expect(capabilityNumber('CAP_NET_RAW')).toBe(13);
    expect(capabilityNumber('net_raw')).toBe(13);
    expect(capabilityNumber('NOPE')).toBeUndefined();
    expect(canonicalCapability('chown')).toBe('CAP_CHOWN');
    expect(sortCapabilities(['CAP_NET_RAW', 'CAP_CHOWN', 'CAP_NET_RAW'])).toEqual(['CAP_CHOWN', 'CAP_NET_RAW']);
  });

  it('no-audit checks are likely only where the kernel makes them', () => {
    expect(isLikelyNoAudit('CAP_SYS_ADMIN', 'mmap')).toBe(true);
    expect(isLikelyNoAudit('CAP_SYS_ADMIN', '(none)')).toBe(true);
    expect(isLikelyNoAudit('CAP_SYS_ADMIN', 'mount')).toBe(false);
    expect(isLikelyNoAudit('CAP_NET_RAW', 'socket')).toBe(false);
  });

  it("a spec's held capabilities are all its sets together; none given is not known", () => {
    expect(heldCapabilitiesOfSpec({ process: { capabilities: { bounding: ['CAP_KILL'], effective: ['CAP_KILL', 'CAP_CHOWN'], ambient: ['bogus'] } } })?.sort()).toEqual(['CAP_CHOWN', 'CAP_KILL']);
    expect(heldCapabilitiesOfSpec({ process: {} })).toBeUndefined();
  });
});

describe('capability checks of a recorded container', () => {
  it('decodes cap_capable records as the kernel printed them', () => {
    const formats = recordedFormats();
    const decoder = createRawEventDecoder(formats);
    const decoded: CapableEvent[] = [];
    for (const [cpu, pages] of recordedPages('raw-caps')) {
      for (const page of pages) for (const e of decoder.decodeRecords(decodeRawPage(page, recordedLayout()).records, cpu, { commOf: () => '' }).events) if (e.kind === 'capable') decoded.push(e);
    }
    decoded.sort((a, b) => a.timestamp - b.timestamp);
    expect(decoded.map((e) => [e.cap, e.ret])).toEqual(textChecks());
    expect(decoded.every((e) => (e.ret === 0) === (e.sameNamespace !== null))).toBe(true);
  });

  it("counts the workload's checks from its exec after the seccomp load, and none of the runtime's setup", () => {
    const agg = ingestCaptured({ filterLoadExpected: true });
    const counted = [...agg.capabilities.values()].reduce((n, c) => n + c.granted + c.denied, 0);
    expect(counted + agg.runtimeCapabilityChecks).toBe(textChecks().length);
    expect(agg.runtimeCapabilityChecks).toBeGreaterThan(10);
    const s = summaryOf(agg);
    expect(capabilitiesUsed(s)).toEqual(['CAP_NET_RAW']);
    expect(Object.keys(s.capabilities!.checks.CAP_NET_RAW!.syscalls)).toEqual(['socket']);
    expect(s.capabilities!.checks.CAP_NET_RAW!.namespace).toEqual({ own: 1, other: 0 });
    // The runtime mounts and drops capabilities (CAP_SYS_ADMIN, CAP_SETPCAP) before the workload: not counted.
    expect(s.capabilities!.checks.CAP_SETPCAP).toBeUndefined();
    expect(s.capabilities!.checks.CAP_SYS_ADMIN?.granted ?? 0).toBe(0);
  });

  it('names a denied capability with its syscall and errno, and what was held but never checked', () => {
    const s = summaryOf(ingestCaptured({ filterLoadExpected: true }));
    const chown = capabilitiesDenied(s).find((d) => d.name === 'CAP_CHOWN');
    const calls = Object.entries(chown!.check.syscalls);
    expect(calls.map(([n]) => n)).toEqual(['chown']);
    expect(calls[0]![1].deniedOutcomes).toEqual({ EPERM: 1 });
    // The overcommit check: CAP_SYS_ADMIN denied in brk/clone/execve, which succeeded: marked.
    const admin = Object.values(s.capabilities!.checks.CAP_SYS_ADMIN!.syscalls);
    expect(admin.length).toBeGreaterThan(0);
    expect(admin.every((c) => c.noAuditLikely === true)).toBe(true);
    expect(capabilitiesHeldUnchecked(s)).toEqual(['CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_AUDIT_WRITE']);
    const text = renderSummaryText(s);
    expect(text).toMatch(/^ {2}CAP_NET_RAW: 1 granted in socket:1; first by /m);
    expect(text).toMatch(/^ {2}CAP_CHOWN: chown 1x -> EPERM:1$/m);
    expect(text).toMatch(/no-audit likely: harmless/);
    expect(text).toContain('never less');
  });

  it('without a filter load to wait for, the workload starts at its first exec: the same here', () => {
    expect(capabilitiesUsed(summaryOf(ingestCaptured({ filterLoadExpected: false })))).toEqual(['CAP_NET_RAW']);
  });

  it('adopted from an agent that died, a process whose start was not seen is the workload\'s: no check is missed', () => {
    const agg = ingestCaptured({ filterLoadExpected: true, workloadBegun: true });
    expect(agg.runtimeCapabilityChecks).toBe(0);
    expect([...agg.capabilities.values()].reduce((n, c) => n + c.granted + c.denied, 0)).toBe(textChecks().length);
  });

  it('two parts of one trace merge to the counts of the whole', () => {
    const s = summaryOf(ingestCaptured({ filterLoadExpected: true }));
    const merged = mergeSummaryParts(s, s, LOSS);
    expect(merged.capabilities!.checks.CAP_NET_RAW!.granted).toBe(2 * s.capabilities!.checks.CAP_NET_RAW!.granted);
    expect(merged.capabilities!.runtimeChecks).toBe(2 * s.capabilities!.runtimeChecks);
    expect(merged.capabilities!.checks.CAP_CHOWN!.syscalls.chown!.deniedOutcomes).toEqual({ EPERM: 2 });
  });

  it('the log gets a line per check, before the call it was made in', () => {
    const meta = capabilityCaptureMeta();
    const formats = recordedFormats();
    const lines: string[] = [];
    const log = { write: (l: string) => lines.push(l), flush: () => undefined } as never;
    const converter = new LogConverter(recordedLayout(), createRawEventDecoder(formats), log, { syscallName: (nr) => syscallName(nr, 'x86_64'), argNames: () => undefined, describeReturn: (r) => String(r) }, FORK, NO_PROC, meta.initialTasks);
    const frames: Buffer[] = [];
    for (const [cpu, pages] of recordedPages('raw-caps')) for (const page of pages) frames.push(spoolFrame(cpu, page));
    converter.begin(Buffer.concat(frames));
    converter.step(Infinity);
    converter.finish();
    const socketCheck = lines.findIndex((l) => / cap_capable: CAP_NET_RAW granted$/.test(l));
    expect(socketCheck).toBeGreaterThanOrEqual(0);
    const pid = lines[socketCheck]!.split(' ')[2];
    const socketCall = lines.findIndex((l, i) => i > socketCheck && l.split(' ')[2] === pid && / socket\(/.test(l));
    expect(socketCall).toBeGreaterThan(socketCheck);
    expect(lines.some((l) => / cap_capable: CAP_CHOWN denied$/.test(l))).toBe(true);
  });
});

describe('run options and diff from capability reports', () => {
  const s = summaryOf(ingestCaptured({ filterLoadExpected: true }));

  it('keep the used capabilities only, in every form', () => {
    const caps = capabilitiesOfReports([{ path: 'a', summary: s }]);
    expect(caps).toEqual({ used: ['CAP_NET_RAW'], noAuditLikely: [] });
    const o = runOptions(caps.used, caps.noAuditLikely, '/x/web.seccomp.json');
    expect(o.docker).toEqual(['--cap-drop=ALL', '--cap-add=NET_RAW', '--security-opt', 'seccomp=/x/web.seccomp.json']);
    expect(o.oci.capabilities).toEqual({ bounding: ['CAP_NET_RAW'], effective: ['CAP_NET_RAW'], permitted: ['CAP_NET_RAW'], inheritable: [], ambient: [] });
    expect(o.kubernetes.securityContext).toEqual({ capabilities: { drop: ['ALL'], add: ['NET_RAW'] }, seccompProfile: { type: 'Localhost', localhostProfile: 'web.seccomp.json' } });
    expect(renderRunOptions(o)).toContain('--cap-drop=ALL --cap-add=NET_RAW --security-opt seccomp=/x/web.seccomp.json');
  });

  it('refuse a report whose capabilities were not traced', () => {
    const { capabilities: _c, ...without } = s;
    expect(() => capabilitiesOfReports([{ path: 'old.json', summary: without as Summary }])).toThrow(/old\.json: its capabilities were not traced/);
  });

  it('diff tells capabilities only one side has', () => {
    const side = (caps: string[] | undefined) => ({ source: 'x', kind: 'report' as const, names: new Set(['read']), conditional: new Set<string>(), capabilities: caps ? new Set(caps) : undefined });
    const d = diffSyscalls(side(['CAP_NET_RAW', 'CAP_CHOWN']), side(['CAP_NET_RAW']));
    expect(d.capabilities).toEqual({ a: ['CAP_CHOWN'], b: [], common: 1 });
    expect(isSameSyscalls(d)).toBe(false);
    expect(diffSyscalls(side(['CAP_CHOWN']), side(undefined)).capabilities).toBeUndefined();
  });
});

/** One page as a spool frame (src/ingest/spool.ts): u32 kind 1, u32 cpu, u32 length, the page. */
function spoolFrame(cpu: number, page: Buffer): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt32LE(1, 0);
  header.writeUInt32LE(cpu, 4);
  header.writeUInt32LE(page.length, 8);
  return Buffer.concat([header, page]);
}
