import type { Config } from '../config/config.js';
import { isOurHook, ourHook } from '../hooks/hook-spec.js';
import type { Logger } from '../log/logger.js';
import { editBundleSpec } from '../spec/bundle-config.js';
import { setHooksModifier, type SpecModifier } from '../spec/modifiers.js';
import type { OciHook, OciSpec } from '../spec/schema.js';
import { isTracedBy, type TracePolicy } from './trace-policy.js';
import { hostArch } from '../syscalls/index.js';
import { RECORD_MODE_MODIFIER_NAME, describeRecordModeEdit, recordModeModifier } from './record-mode.js';

/**
 * The spec modifiers that make a bundle traced: record at createRuntime, report at poststop.
 *
 * Why createRuntime and not prestart: both run at the same moment in runc (after the namespaces
 * exist, before pivot_root, with the init process waiting), but prestart is deprecated in the
 * runtime-spec and some runtimes warn on it; createRuntime runs in the runtime's namespace, as
 * tracefs access needs. Tracing from there also sees the runtime's own setup inside the
 * container (pivot_root, mounts, the seccomp load), which the profile step cuts at the seccomp load.
 */
export function tracingModifiers(config: Config, env: NodeJS.ProcessEnv = process.env): SpecModifier[] {
  const record = ourHook('record', config, env) as OciHook;
  const report = ourHook('report', config, env) as OciHook;
  return [
    setHooksModifier('createRuntime', [record], (h) => isOurHook('record', h)),
    setHooksModifier('poststop', [report], (h) => isOurHook('report', h)),
    recordModeModifier(config.recordSeccomp, hostArch()),
  ].map((m) => onlyIfTraced(m, config.trace));
}

export { TRACE_ANNOTATION } from './trace-policy.js';

/** Leave the spec alone when the trace policy and the container's annotation say untraced. */
function onlyIfTraced(modifier: SpecModifier, policy: TracePolicy): SpecModifier {
  return {
    name: modifier.name,
    apply: (spec) => (isTracedBy(policy, spec.annotations) ? modifier.apply(spec) : spec),
  };
}

/** Whether a spec carries our record hook (so its container will be traced). */
export function isTraced(spec: OciSpec): boolean {
  return (spec.hooks?.createRuntime ?? []).some((h) => isOurHook('record', h));
}

/**
 * Make the bundle traced (or not, as the policy says). `onTraced` runs as soon as it is certain
 * that the container will be traced, before config.json is written (the write is fsync'd), so that
 * what has to start ahead of the container starts as early as it can.
 */
export async function prepareBundle(bundleDir: string, config: Config, log: Logger, onTraced?: () => void): Promise<{ changed: boolean; traced: boolean }> {
  const result = await editBundleSpec(bundleDir, tracingModifiers(config), { beforeWrite: (r) => (isTraced(r.spec) ? onTraced?.() : undefined) });
  log.info({ bundle: bundleDir, changed: result.changed, applied: result.applied }, result.changed ? 'tracing hooks added' : 'tracing hooks already present');
  if (result.applied.includes(RECORD_MODE_MODIFIER_NAME)) {
    log.warn({ bundle: bundleDir, ...describeRecordModeEdit(result.spec) }, 'record mode: seccomp profile replaced by one that blocks nothing while recording');
  }
  return { changed: result.changed, traced: isTraced(result.spec) };
}
