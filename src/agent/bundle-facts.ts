import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import type { RunState } from '../state/run-state.js';
import { bundleCapabilitiesOf, bundleSeccompOf, readSavedBundle, restoreBundleOriginal, type RestoreOutcome } from '../prepare/bundle-original.js';
import { recordModeOf } from '../prepare/record-mode.js';

type BundleFacts = Pick<RunState, 'recordSeccomp' | 'bundleSeccomp' | 'heldCapabilities'>;

/**
 * What the report needs of the bundle as its owner wrote it (saved at prepare): how the container's
 * seccomp profile was treated, the bundle's own profile (the blocked calls are judged against it;
 * profiles made from the report keep what it blocks), and the capabilities its process holds; and
 * `putBack`, which puts the bundle back as found once the runtime has read config.json (the record
 * hook is proof). Reading is cheap and comes first, so the drain can start while the bundle is
 * written back. Neither throws: tracing goes on whatever happens to the bundle.
 */
export function bundleFacts(config: Config, id: string, annotations: Readonly<Record<string, string>> | undefined, log: Logger): { facts: BundleFacts; putBack: () => Promise<void> } {
  const facts: BundleFacts = {};
  try {
    facts.recordSeccomp = recordModeOf(annotations);
  } catch {
    /* the prepare step refused that value: the container would not be traced */
  }
  let saved: ReturnType<typeof readSavedBundle>;
  try {
    saved = readSavedBundle(config.stateDir, id);
    if (saved) {
      facts.bundleSeccomp = bundleSeccompOf(saved);
      const held = bundleCapabilitiesOf(saved);
      if (held) facts.heldCapabilities = held;
    }
  } catch (err) {
    log.error({ id, err: (err as Error).message }, 'cannot read the bundle as found');
  }
  const putBack = async (): Promise<void> => {
    if (!saved) return;
    try {
      logRestore(log, id, await restoreBundleOriginal(config.stateDir, saved), saved.path);
    } catch (err) {
      log.error({ id, err: (err as Error).message }, 'cannot put the bundle back as found');
    }
  };
  return { facts, putBack };
}

/**
 * The runtime exited without running the record hook (it refused the container): put the bundle
 * back, if it was prepared for that very runtime (`PID:STARTTIME`) and not for a later attempt
 * (runtime undefined: whichever it was prepared for, as when the record step fails).
 */
export async function putBundleBack(config: Config, id: string, runtime: string | undefined, log: Logger): Promise<RestoreOutcome | 'nothing saved' | 'not ours' | 'failed'> {
  try {
    const saved = readSavedBundle(config.stateDir, id);
    if (!saved) return 'nothing saved';
    if (runtime !== undefined && saved.runtime !== undefined && saved.runtime !== runtime) return 'not ours';
    const outcome = await restoreBundleOriginal(config.stateDir, saved);
    logRestore(log, id, outcome, saved.path);
    return outcome;
  } catch (err) {
    log.error({ id, err: (err as Error).message }, 'cannot put the bundle back as found');
    return 'failed';
  }
}

function logRestore(log: Logger, id: string, outcome: RestoreOutcome, path: string): void {
  if (outcome === 'changed-since') log.warn({ id, config: path }, 'config.json changed since we prepared it: left as it is, with our hooks if they are still in it');
  else log.debug({ id, config: path, outcome }, 'bundle left as found');
}
