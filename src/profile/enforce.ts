/**
 * The enforce helper: put a profile into a bundle's config.json as its `linux.seccomp`, through
 * the same lossless, atomic edit the wrapper uses.
 */
import { editBundleSpec, readBundleSpec, type BundleEditResult } from '../oci-config/bundle-config.js';
import type { SpecModifier } from '../oci-config/modifiers.js';
import type { OciSpec } from '../oci-config/schema.js';
import { unprepareModifier } from '../prepare/prepare-bundle.js';
import { ociSeccompObject } from './render.js';
import type { OciCapabilities } from './run-options.js';
import type { SeccompProfile } from './seccomp.js';

export const ENFORCE_MODIFIER_NAME = 'enforce-seccomp';
export const ENFORCE_CAPABILITIES_MODIFIER_NAME = 'enforce-capabilities';

/** Set process.capabilities to these sets. */
export function enforceCapabilitiesModifier(sets: OciCapabilities): SpecModifier {
  return {
    name: ENFORCE_CAPABILITIES_MODIFIER_NAME,
    apply(spec: OciSpec): OciSpec {
      const process = (spec.process ?? {}) as Record<string, unknown>;
      return { ...spec, process: { ...process, capabilities: structuredClone(sets) } } as OciSpec;
    },
  };
}

/** Set linux.seccomp to `profile`. */
export function enforceSeccompModifier(profile: SeccompProfile): SpecModifier {
  const seccomp = ociSeccompObject(profile);
  return {
    name: ENFORCE_MODIFIER_NAME,
    apply(spec: OciSpec): OciSpec {
      const linux = (spec.linux ?? {}) as Record<string, unknown>;
      return { ...spec, linux: { ...linux, seccomp: structuredClone(seccomp) } };
    },
  };
}

/** The profile into the bundle; whatever a killed traced run left of ours in it goes first. */
export async function enforceProfileOnBundle(bundleDir: string, profile: SeccompProfile): Promise<BundleEditResult> {
  return editBundleSpec(bundleDir, [unprepareModifier(), enforceSeccompModifier(profile)]);
}

/** The bundle's bounding capabilities, which Docker profiles' `includes.caps` are checked against. */
export async function bundleCapabilities(bundleDir: string): Promise<Set<string>> {
  const { spec } = await readBundleSpec(bundleDir);
  const caps = (spec.process as { capabilities?: { bounding?: unknown } } | null | undefined)?.capabilities?.bounding;
  return new Set(Array.isArray(caps) ? caps.filter((c): c is string => typeof c === 'string') : []);
}
