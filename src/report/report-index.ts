/**
 * The reports under the output directory, found by what they say of themselves (summary.json):
 * the index `oci-ftrace ls` prints, and how a container id finds a report filed under its
 * Kubernetes names. Nothing is kept beside the reports to go stale: the summaries are the index.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { SUMMARY_FILE_NAME, containerOutputDir } from '../state/paths.js';
import { SummarySchema, type Summary } from './summary.js';

export interface IndexedReport {
  /** The report's directory, and the same relative to the output directory. */
  dir: string;
  path: string;
  containerId: string;
  kind: Summary['kind'];
  generatedAt: string;
  lost: number;
  kubernetes?: Summary['kubernetes'];
}

/** NS/POD/CONTAINER is three levels down; nothing of ours is deeper. */
const MAX_DEPTH = 3;

/** Every report (final summaries), sorted by path; unreadable ones are skipped. */
export function listReports(outputDir: string): IndexedReport[] {
  const found: IndexedReport[] = [];
  const walk = (dir: string, depth: number): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    if (entries.some((e) => e.isFile() && e.name === SUMMARY_FILE_NAME)) {
      const report = readReport(outputDir, dir);
      if (report) found.push(report);
    }
    if (depth === MAX_DEPTH) return;
    // Directories only, never links: the output directory is ours, what a link points at is not.
    for (const e of entries) if (e.isDirectory() && !e.name.startsWith('.')) walk(join(dir, e.name), depth + 1);
  };
  walk(outputDir, 0);
  return found.filter((r) => r.dir !== outputDir).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function readReport(outputDir: string, dir: string): IndexedReport | undefined {
  try {
    const s = SummarySchema.parse(JSON.parse(readFileSync(join(dir, SUMMARY_FILE_NAME), 'utf8')));
    return { dir, path: relative(outputDir, dir), containerId: s.containerId, kind: s.kind, generatedAt: s.generatedAt, lost: s.loss.lost, ...(s.kubernetes ? { kubernetes: s.kubernetes } : {}) };
  } catch {
    return undefined;
  }
}

/**
 * The reports of one Kubernetes workload: `NS/POD` (every container of the pod, every restart) or
 * `NS/POD/CONTAINER`; `*` in a part matches any run of characters (a Deployment's replicas:
 * `default/web-*`/app).
 */
export function reportsOfWorkload(outputDir: string, selector: string, parts: 2 | 3): IndexedReport[] {
  const wanted = selector.split('/');
  if (wanted.length !== parts || wanted.some((w) => w === '')) throw new Error(`"${selector}" is not ${parts === 2 ? 'NAMESPACE/POD' : 'NAMESPACE/POD/CONTAINER'}`);
  const globs = wanted.map((w) => new RegExp(`^${w.split('*').map((x) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`));
  return listReports(outputDir).filter((r) => {
    const k = r.kubernetes;
    if (!k || r.kind !== 'final') return false;
    return [k.namespace, k.pod, k.container].slice(0, parts).every((v, i) => globs[i]!.test(v));
  });
}

/** A container's report directory: OUTPUT_DIR/<id>/, else the one whose summary names it. */
export function findReportDir(outputDir: string, id: string): string | undefined {
  const plain = containerOutputDir(outputDir, id);
  if (existsSync(join(plain, SUMMARY_FILE_NAME))) return plain;
  return listReports(outputDir).find((r) => r.containerId === id)?.dir;
}
