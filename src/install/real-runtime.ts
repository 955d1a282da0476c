/**
 * Which real runtime (runc, crun) a call would run: the front door's lookup alone decides
 * (locate_runtime in src/front-door/oci-ftrace-runc.c). Asked with OCI_FTRACE_WHICH_RUNTIME=1, it
 * prints the path it would exec, or its lookup error. No copy of the lookup here.
 */
import { execa } from 'execa';
import { frontDoorPath } from './bin-paths.js';

const ASK_TIMEOUT_MS = 5000;

export type RuntimeLookup = { path: string } | { error: string };

export async function locateRealRuntime(env: NodeJS.ProcessEnv, frontDoor = frontDoorPath()): Promise<RuntimeLookup> {
  try {
    const r = await execa(frontDoor, [], { env: { ...env, OCI_FTRACE_WHICH_RUNTIME: '1' }, extendEnv: false, reject: false, timeout: ASK_TIMEOUT_MS, stdin: 'ignore' });
    const stdout = String(r.stdout ?? '');
    const path = r.exitCode === 0 ? stdout.trim() : '';
    if (path.startsWith('/')) return { path };
    if (r.timedOut) return { error: `the front door did not answer in ${ASK_TIMEOUT_MS} ms` };
    const stderr = String(r.stderr ?? '').trim().replace(/^oci-ftrace-runc: /, '');
    if (r.failed && r.exitCode === undefined) return { error: (r.shortMessage ?? 'failed').split('\n')[0] ?? 'failed' };
    return { error: stderr || `the front door answered ${JSON.stringify(stdout.slice(0, 80))}` };
  } catch (err) {
    return { error: (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? 'failed' };
  }
}
