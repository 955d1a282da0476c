import type { Config } from '../config/config.js';
import { isOurHook, ourHook, type AgentAddress } from './hook-spec.js';
import type { Logger } from '../log/logger.js';
import { editBundleSpec } from '../oci-config/bundle-config.js';
import { setHooksModifier, type SpecModifier } from '../oci-config/modifiers.js';
import { HOOK_STAGES, type OciHook, type OciSpec } from '../oci-config/schema.js';
import { isTracedBy } from './trace-policy.js';
import { hostArch } from '../syscalls/index.js';
import { rmSync } from 'node:fs';
import { readSavedBundle, restoreBundleOriginal, saveBundleOriginal, savedBundlePath } from './bundle-original.js';
import { isSameProcessAlive } from '../state/process-identity.js';
import { ORIGINAL_SECCOMP_ANNOTATION, RECORD_MODE_MODIFIER_NAME, recordModeModifier, recordModeOf, undoRecordMode, type RecordSeccompMode } from './record-mode.js';

export const UNPREPARE_MODIFIER_NAME = 'unprepare';

/**
 * The spec modifiers that make a bundle traced: record at createRuntime, report at poststop, and
 * the container's record mode. The first undoes what a killed earlier run may have left in the
 * bundle (see unprepareModifier), so that what follows starts from the bundle as its owner wrote it.
 *
 * Why createRuntime and not prestart: both run at the same moment in runc (after the namespaces
 * exist, before pivot_root, with the init process waiting), but prestart is deprecated in the
 * runtime-spec and some runtimes warn on it; createRuntime runs in the runtime's namespace, as
 * tracefs access needs. Tracing from there also sees the runtime's own setup inside the
 * container (pivot_root, mounts, the seccomp load), which the profile step cuts at the seccomp load.
 */
export function tracingModifiers(config: Config, agent: AgentAddress): SpecModifier[] {
  const record = ourHook('record', config, agent) as OciHook;
  const report = ourHook('report', config, agent) as OciHook;
  return [
    unprepareModifier(),
    ...[
      setHooksModifier('createRuntime', [record], (h) => isOurHook('record', h)),
      setHooksModifier('poststop', [report], (h) => isOurHook('report', h)),
      recordModeModifier(hostArch()),
    ].map((m) => onlyIfTraced(m, config)),
  ];
}

export { TRACE_ANNOTATION } from './trace-policy.js';

/** Leave the spec alone when the trace policy and the container's annotations say untraced. */
function onlyIfTraced(modifier: SpecModifier, config: Config): SpecModifier {
  return {
    name: modifier.name,
    apply: (spec) => (isTracedBy(config, spec) ? modifier.apply(spec) : spec),
  };
}

/**
 * Our hooks and record mode out of a spec: a bundle is normally restored as found once the runtime
 * has read it (bundle-original.ts), but a run killed in between leaves it prepared. Stages we
 * empty go; a spec with nothing of ours is returned as is.
 */
export function unprepareModifier(): SpecModifier {
  return {
    name: UNPREPARE_MODIFIER_NAME,
    apply(spec: OciSpec): OciSpec {
      let next = undoRecordMode(spec);
      const hooks = next.hooks;
      if (!hooks) return next;
      const ours = (h: OciHook): boolean => isOurHook('record', h) || isOurHook('report', h);
      if (!HOOK_STAGES.some((stage) => (hooks[stage] ?? []).some(ours))) return next;
      const kept: Record<string, unknown> = { ...hooks };
      for (const stage of HOOK_STAGES) {
        const list = hooks[stage];
        if (!list || !list.some(ours)) continue;
        const rest = list.filter((h) => !ours(h));
        if (rest.length > 0) kept[stage] = rest;
        else delete kept[stage];
      }
      next = { ...next, hooks: kept as OciSpec['hooks'] };
      if (Object.keys(kept).length === 0) delete next.hooks;
      return next;
    },
  };
}

/** Whether a spec carries our record hook (so its container will be traced). */
export function isTraced(spec: OciSpec): boolean {
  return (spec.hooks?.createRuntime ?? []).some((h) => isOurHook('record', h));
}

export interface PreparedBundle {
  changed: boolean;
  traced: boolean;
  recordSeccomp: RecordSeccompMode;
}

/**
 * Make the bundle traced (or not, as the policy says). A traced bundle's config.json is saved as
 * found before the prepared one is written, so that it can be put back (bundle-original.ts).
 * `onTraced` runs as soon as the policy says the container will be traced (on the spec as read,
 * before the modifiers and the fsync'd write), so that what has to start ahead of the container
 * starts as early as it can; a caller undoes it if the prepare step then fails or says untraced.
 */
export async function prepareBundle(bundleDir: string, id: string, config: Config, agent: AgentAddress, log: Logger, opts: { runtime?: string | undefined; onTraced?: () => void } = {}): Promise<PreparedBundle> {
  // An earlier attempt with this id whose runtime refused it, not yet put back by its watcher:
  // put back now, so that what this one saves is the bundle as its owner wrote it.
  const stale = readSavedBundle(config.stateDir, id);
  if (stale && stale.runtime !== opts.runtime && (stale.runtime === undefined || !isSameProcessAlive(stale.runtime))) {
    log.info({ bundle: stale.path, outcome: await restoreBundleOriginal(config.stateDir, stale) }, 'an earlier attempt left the bundle prepared: put back first');
  }
  let recordSeccomp: RecordSeccompMode = 'keep';
  let saved = false;
  const result = await editBundleSpec(bundleDir, tracingModifiers(config, agent), {
    // The policy decides on the spec as read: the kernel's part starts before the modifiers run.
    afterLoad: (spec) => {
      if (isTracedBy(config, spec)) opts.onTraced?.();
    },
    beforeWrite: (r) => {
      if (!isTraced(r.spec)) return;
      recordSeccomp = recordModeOf(r.spec.annotations);
      // As found: the bytes read, or, for a bundle a killed run left prepared, the spec without our part.
      const found = r.applied.includes(UNPREPARE_MODIFIER_NAME) ? Buffer.from(r.texts[0] as string) : r.original.bytes;
      const prepared = r.written !== undefined ? Buffer.from(r.written) : r.original.bytes;
      saveBundleOriginal(config.stateDir, id, { ...r.original, original: found, prepared, runtime: opts.runtime });
      saved = true;
    },
  }).catch((err: unknown) => {
    // config.json was not replaced: nothing to put back.
    if (saved) rmSync(savedBundlePath(config.stateDir, id), { force: true });
    throw err;
  });
  const traced = isTraced(result.spec);
  if (result.applied.includes(UNPREPARE_MODIFIER_NAME)) {
    log.warn({ bundle: bundleDir }, 'the bundle was left prepared by an earlier run that did not finish; its own spec is what is restored');
  }
  log.info({ bundle: bundleDir, traced, changed: result.changed, applied: result.applied }, traced ? 'bundle prepared for tracing' : 'not traced: bundle left as it is');
  if (result.applied.includes(RECORD_MODE_MODIFIER_NAME)) {
    log.warn(
      { bundle: bundleDir, hadProfile: result.spec.annotations?.[ORIGINAL_SECCOMP_ANNOTATION] !== 'null' },
      "record-seccomp permissive (the container's annotation): it runs without its own seccomp profile while traced",
    );
  }
  return { changed: result.changed, traced, recordSeccomp };
}
