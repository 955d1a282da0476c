// Shared pieces of the wrapper's integration tests: an isolated oci-ftrace config per test, and
// reading back what a traced container left (summary validated with the product's own schema).
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { findReportDir } from '../../src/report/report-index.js';
import { SummarySchema, type Summary } from '../../src/report/summary.js';
import { requireLab } from '../lab/env.js';

/**
 * A seccomp profile of the bundle's own, as engines give one (docker's, containerd's RuntimeDefault):
 * the runtime loads it, which marks where a profile made from the trace starts. It stops only what
 * busybox workloads never call.
 */
export const OWN_PROFILE = {
  defaultAction: 'SCMP_ACT_ALLOW',
  architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
  syscalls: [{ names: ['keyctl', 'add_key', 'request_key'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
};

export interface TracedEnv {
  dir: string;
  outputDir: string;
  stateDir: string;
  logFile: string;
  configPath: string;
  /** Environment for the wrapper: our config, and the real runtime to delegate to. */
  env(runtime: string): Record<string, string>;
  cleanup(): void;
}

export function makeTracedEnv(extra: Record<string, unknown> = {}): TracedEnv {
  const dir = mkdtempSync(path.join(tmpdir(), 'oci-ftrace-it-'));
  const outputDir = path.join(dir, 'out');
  const stateDir = path.join(dir, 'state');
  const logFile = path.join(dir, 'oci-ftrace.log');
  const configPath = path.join(dir, 'config.json');
  // An agent per test config, gone soon after its last container.
  writeFileSync(configPath, JSON.stringify({ outputDir, stateDir, logFile, agentIdleExitSeconds: 3, ...extra }, null, 2));
  return {
    dir,
    outputDir,
    stateDir,
    logFile,
    configPath,
    env: (runtime) => ({ OCI_FTRACE_CONFIG: configPath, OCI_FTRACE_RUNTIME: runtime }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface TraceResult {
  summary: Summary;
  log: string;
  files: string[];
}

/**
 * A container's report, once its log is written too: the summary is there when the report hook is
 * answered, the text log follows (the summary says "pending" until then).
 */
export async function readTraceResult(env: TracedEnv, id: string, timeoutMs = 30_000): Promise<TraceResult> {
  for (const started = Date.now(); ; ) {
    // Wherever the product filed it (OUTPUT_DIR/<id>/, or NS/POD/CONTAINER/ for a pod's container).
    const dir = findReportDir(env.outputDir, id) ?? path.join(env.outputDir, id);
    const summaryPath = path.join(dir, 'summary.json');
    if (existsSync(summaryPath)) {
      const summary = SummarySchema.parse(JSON.parse(readFileSync(summaryPath, 'utf8')));
      if (summary.log !== 'pending') {
        const logPath = path.join(dir, 'ftrace_syscalls_dump.log');
        const log = existsSync(logPath) ? readFileSync(logPath, 'utf8') : '';
        return { summary, log, files: readdirSync(dir).filter((f) => !f.startsWith('.')).sort() };
      }
    }
    if (Date.now() - started > timeoutMs) throw new Error(`no complete report for ${id} in ${env.outputDir} after ${timeoutMs} ms; our log says:\n${ourLog(env)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function ourLog(env: TracedEnv): string {
  return existsSync(env.logFile) ? readFileSync(env.logFile, 'utf8') : '(no log file)';
}

/** pids of the container's processes, from the summary. */
export function containerPids(summary: Summary): number[] {
  return Object.values(summary.processes).flatMap((p) => p.threads);
}

/** Log lines naming one syscall, as `<ts> <task> <pid> <name>(`. */
export function logLinesFor(log: string, syscall: string): { pid: number; line: string }[] {
  const re = new RegExp(`^\\d+\\.\\d+ .* (\\d+) ${syscall}\\(`);
  return log
    .split('\n')
    .map((line) => ({ line, m: re.exec(line) }))
    .filter((x) => x.m)
    .map((x) => ({ pid: Number(x.m![1]), line: x.line }));
}

/**
 * A test file's scratch directory and its traced environments: made when its tests begin (on a
 * lab machine only), removed when they end. Call at the top of the file.
 */
export function tracedSuite(prefix: string): { work: () => string; tracedEnv: (extra?: Record<string, unknown>) => TracedEnv } {
  let dir: string | undefined;
  const envs: TracedEnv[] = [];
  beforeAll(() => {
    requireLab();
    dir = mkdtempSync(path.join(tmpdir(), prefix));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    for (const e of envs) e.cleanup();
  });
  return {
    work: () => {
      if (!dir) throw new Error('tracedSuite: no scratch directory before the tests begin');
      return dir;
    },
    tracedEnv: (extra = {}) => {
      const e = makeTracedEnv(extra);
      envs.push(e);
      return e;
    },
  };
}
