import { basename } from 'node:path';
import type { Config } from '../config/config.js';

/** Hook stages we use. createRuntime: see README ("Why createRuntime"). */
export type HookKind = 'record' | 'report';

/** argv[0] of our hooks: the front door runs as a hook under this name, and it marks a spec's hook as ours. */
export const HOOK_ARGV0 = 'oci-ftrace-hook';

export interface HookDefinition {
  path: string;
  args: string[];
  timeout: number;
}

/** Where the hooks reach the agent, and how it is started again if it is gone. */
export interface AgentAddress {
  /** The front door binary (src/front-door/), which runs as the hook. */
  frontDoor: string;
  socket: string;
  /** The config path the agent serves ("" for the default). */
  config: string;
}

/**
 * One of our hooks: the front door under the name oci-ftrace-hook, with what it needs baked in,
 * since runtimes exec hooks with nothing but the spec's args and env:
 *   [oci-ftrace-hook, KIND, SOCKET, WAIT_SECONDS, CONFIG]
 * It hands the runtime's state to the agent at SOCKET and waits WAIT_SECONDS for the answer,
 * inside the hook's timeout.
 */
export function ourHook(kind: HookKind, config: Config, agent: AgentAddress): HookDefinition {
  return {
    path: agent.frontDoor,
    args: [HOOK_ARGV0, kind, agent.socket, String(hookWaitSeconds(config)), agent.config],
    timeout: config.hookTimeoutSeconds,
  };
}

/** How long a hook waits for the agent: inside the runtime's timeout, with a second to spare to fail open. */
export function hookWaitSeconds(config: Config): number {
  return Math.max(1, config.hookTimeoutSeconds - 1);
}

/**
 * Is this hook one of ours: argv[0] oci-ftrace-hook with KIND (today's front door, and the bash
 * hook of earlier versions), or the Node form before that ([oci-ftrace, .../oci-ftrace.js, KIND]).
 */
export function isOurHook(kind: HookKind, hook: { path: string; args?: string[] | null | undefined }): boolean {
  const args = hook.args ?? [];
  if (args[0] === HOOK_ARGV0) return args[1] === kind;
  return args[0] === 'oci-ftrace' && args.includes(kind) && (basename(hook.path) === 'oci-ftrace' || args.some((a) => a.endsWith('oci-ftrace.js')));
}
