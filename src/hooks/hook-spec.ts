import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config/config.js';

/** Hook stages we use. createRuntime: see README ("Why createRuntime"). */
export type HookKind = 'record' | 'report';

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
 * One of our hooks. `path` is the absolute Node binary (runc execs hooks with only the hook's own
 * env, so `#!/usr/bin/env node` would depend on a PATH that is not there), argv[0] names us.
 */
export function ourHook(kind: HookKind, config: Config, env: NodeJS.ProcessEnv = process.env): HookDefinition {
  const hookEnv = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];
  if (env.OCI_FTRACE_CONFIG) hookEnv.push(`OCI_FTRACE_CONFIG=${env.OCI_FTRACE_CONFIG}`);
  return {
    path: process.execPath,
    args: ['oci-ftrace', analyzerEntryPoint(), kind],
    env: hookEnv,
    timeout: config.hookTimeoutSeconds,
  };
}

/** Is this hook one of ours (from this or another install), so a second create adds none. */
export function isOurHook(kind: HookKind, hook: { path: string; args?: string[] | null | undefined }): boolean {
  const args = hook.args ?? [];
  return args[0] === 'oci-ftrace' && args.includes(kind) && (basename(hook.path) === 'oci-ftrace' || args.some((a) => a.endsWith('oci-ftrace.js')));
}
