// Reports recorded for real (busybox `ls /`, oci-ftrace-runc in record mode) and small helpers.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SummarySchema, type Summary } from '../../src/report/summary.js';
import type { LoadedReport } from '../../src/profile/sources.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

/**
 * - runc-ls-nnp: runc 1.1.5, NoNewPrivileges on (runc loads its filter just before the exec);
 * - runc-ls-no-nnp, crun-ls-no-nnp: NoNewPrivileges off, runc 1.1.5 and crun 1.8.1.
 */
export type SummaryFixture = 'runc-ls-nnp' | 'runc-ls-no-nnp' | 'crun-ls-no-nnp';

export function summaryFixture(name: SummaryFixture): Summary {
  const file = path.join(FIXTURES, `profile-${name}.summary.json`);
  return SummarySchema.parse(JSON.parse(readFileSync(file, 'utf8')));
}

export function reportFixture(name: SummaryFixture): LoadedReport {
  return { kind: 'report', path: `fixtures/profile-${name}.summary.json`, summary: summaryFixture(name) };
}

/** A summary that says exactly which syscalls happened after the load (for rules that need a known set). */
export function syntheticSummary(names: string[], opts: { before?: string[]; id?: string } = {}): Summary {
  const base = summaryFixture('runc-ls-nnp');
  const start = base.profileStart.timestamp ?? 0;
  const syscalls: Summary['syscalls'] = {};
  const entry = (seen: number) => ({ nr: 0, count: 1, errors: 0, errnos: {}, firstSeen: seen, lastSeen: seen, pids: [1] });
  for (const name of opts.before ?? []) syscalls[name] = entry(start - 1);
  for (const name of names) syscalls[name] = entry(start + 1);
  return { ...base, containerId: opts.id ?? 'synthetic', syscalls };
}

export const X86_64_ARCHES = ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'];
