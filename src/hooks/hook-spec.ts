import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config/config.js';
import { binScript } from '../install/bin-paths.js';

/** Hook stages we use. createRuntime: see README ("Why createRuntime"). */
export type HookKind = 'record' | 'report';

/** argv[0] of our hooks: how a spec's hook is recognised as ours. */
export const HOOK_ARGV0 = 'oci-ftrace-hook';

/** The analyzer entry point that hooks run, as an absolute path (hooks get no PATH). */
export function analyzerEntryPoint(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'oci-ftrace.js');
}

export interface HookDefinition {
  path: string;
  args: string[];
  env: string[];
  timeout: number;
}

/**
 * One of our hooks: bin/oci-ftrace-hook with what it needs baked in, since runc execs hooks with
 * only the hook's own env (no PATH to find node, no config to read cheaply in bash):
 *   [oci-ftrace-hook, KIND, STATE_DIR, WAIT_SECONDS, NODE, ENTRY]
 * STATE_DIR holds the collector's FIFOs; WAIT_SECONDS bounds the wait for its answer; NODE ENTRY
 * KIND is the Node hook it runs when no collector answers.
 */
export function ourHook(kind: HookKind, config: Config, env: NodeJS.ProcessEnv = process.env): HookDefinition {
  const hookEnv = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];
  if (env.OCI_FTRACE_CONFIG) hookEnv.push(`OCI_FTRACE_CONFIG=${env.OCI_FTRACE_CONFIG}`);
  return {
    // bin/oci-ftrace-hook hands the state to the container's collector, which is already running,
    // and runs the Node hook itself only when no collector answers.
    path: binScript(HOOK_ARGV0),
    args: [HOOK_ARGV0, kind, config.stateDir, String(hookWaitSeconds(kind, config)), process.execPath, analyzerEntryPoint()],
    env: hookEnv,
    timeout: config.hookTimeoutSeconds,
  };
}

/**
 * How long the hook waits for the collector before doing the work itself. record: the collector
 * only has to name the pids (its instance is ready or nearly so). report: it may have a large log
 * to render, as long as the Node report would wait for it (collectorStopTimeoutSeconds). Either
 * way inside the hook's timeout with 5 s to spare, for the Node hook when the collector never
 * answers.
 */
export function hookWaitSeconds(kind: HookKind, config: Config): number {
  const budget = Math.max(1, config.hookTimeoutSeconds - 5);
  return Math.min(kind === 'record' ? 10 : config.collectorStopTimeoutSeconds, budget);
}

/**
 * Is this hook one of ours, so a second create adds none: bin/oci-ftrace-hook with KIND, or the
 * form earlier versions wrote (node with [oci-ftrace, .../oci-ftrace.js, KIND]).
 */
export function isOurHook(kind: HookKind, hook: { path: string; args?: string[] | null | undefined }): boolean {
  const args = hook.args ?? [];
  if (args[0] === HOOK_ARGV0) return basename(hook.path) === HOOK_ARGV0 && args[1] === kind;
  return args[0] === 'oci-ftrace' && args.includes(kind) && (basename(hook.path) === 'oci-ftrace' || args.some((a) => a.endsWith('oci-ftrace.js')));
}
