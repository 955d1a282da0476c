import { KubernetesIdentitySchema } from '../kubernetes/identity.js';
import { readFileSync, rmSync } from 'node:fs';
import { z } from 'zod';
import { runStatePath } from './paths.js';
import { writePrivateFileAtomic } from './private-file.js';

/** What record leaves for report (and livedump): where the container's trace lives. */
export const RunStateSchema = z
  .object({
    version: z.literal(1),
    id: z.string(),
    tracefsRoot: z.string(),
    instance: z.string(),
    pid: z.number().int().positive(),
    bundle: z.string(),
    clock: z.string(),
    arch: z.enum(['x86_64', 'aarch64']),
    recordedAt: z.string(),
    /** The init's start time (field 22 of /proc/PID/stat): with pid, whether it still runs. */
    initStart: z.string().regex(/^[0-9]+$/).optional(),
    /** The init process's task name when tracing began (binary records carry no names). */
    initComm: z.string().max(64).optional(),
    /** The tasks set_event_pid was given (the init's threads); all others descend from them. */
    initialTasks: z.array(z.number().int().positive()).max(4096).optional(),
    /** How its seccomp profile was treated (src/wrapper/record-mode.ts). */
    recordSeccomp: z.enum(['keep', 'permissive']).optional(),
    /** The bundle's own linux.seccomp as found, as lossless JSON ("null": it had none). */
    bundleSeccomp: z.string().optional(),
    /** The bundle's process.capabilities, all sets together (what the workload held). */
    heldCapabilities: z.array(z.string().max(64)).max(128).optional(),
    /** Where its report goes (src/report/report-dir.ts); absent: OUTPUT_DIR/<id>/. */
    reportDir: z.string().startsWith('/').optional(),
    /** Its Kubernetes identity, from the CRI runtime's annotations. */
    kubernetes: KubernetesIdentitySchema.optional(),
    /**
     * Its report is written; only the instance's removal is left. Kept till then, so that an agent
     * killed before the kernel removed it leaves the next one (or `gc`) the instance to free.
     */
    reported: z.literal(true).optional(),
  })
  .strict();
export type RunState = z.infer<typeof RunStateSchema>;

export function writeRunState(stateDir: string, state: RunState): void {
  writePrivateFileAtomic(runStatePath(stateDir, state.id), JSON.stringify(state) + '\n');
}

export function readRunState(stateDir: string, id: string): RunState | undefined {
  const path = runStatePath(stateDir, id);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const r = RunStateSchema.safeParse(JSON.parse(text));
  if (!r.success) throw new Error(`run state ${path} is invalid: ${r.error.issues[0]?.message}`);
  return r.data;
}

export function removeRunState(stateDir: string, id: string): void {
  rmSync(runStatePath(stateDir, id), { force: true });
}

/** Remove the run state once its instance is gone, unless a later container of this id has one now. */
export function removeReportedRunState(stateDir: string, state: RunState): void {
  let now: RunState | undefined;
  try {
    now = readRunState(stateDir, state.id);
  } catch {
    return;
  }
  if (now?.reported === true && now.recordedAt === state.recordedAt) removeRunState(stateDir, state.id);
}

/**
 * A container the agent prepared and whose record step has not come yet: its instance (being
 * configured) and the runtime it waits for. A restarted agent learns from it what to undo when
 * that runtime is gone.
 */
export const PendingSchema = z
  .object({
    version: z.literal(1),
    id: z.string(),
    instance: z.string(),
    tracefsRoot: z.string(),
    /** `PID:STARTTIME` of the runtime (the front door that exec'd it). */
    runtime: z.string(),
    bundle: z.string(),
    preparedAt: z.string(),
  })
  .strict();
export type Pending = z.infer<typeof PendingSchema>;

export function pendingPath(stateDir: string, id: string): string {
  return runStatePath(stateDir, id).replace(/\.json$/, '.pending.json');
}

export function writePending(stateDir: string, p: Pending): void {
  writePrivateFileAtomic(pendingPath(stateDir, p.id), JSON.stringify(p) + '\n');
}

export function readPending(stateDir: string, id: string): Pending | undefined {
  try {
    const r = PendingSchema.safeParse(JSON.parse(readFileSync(pendingPath(stateDir, id), 'utf8')));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

export function removePending(stateDir: string, id: string): void {
  rmSync(pendingPath(stateDir, id), { force: true });
}
