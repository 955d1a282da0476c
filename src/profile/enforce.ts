/**
 * The enforce helper: put a profile into a bundle's config.json as its `linux.seccomp`, through
 * the same lossless, atomic edit the wrapper uses.
 */
import { editBundleSpec, readBundleSpec, type BundleEditResult } from '../spec/bundle-config.js';
import type { SpecModifier } from '../spec/modifiers.js';
import type { OciSpec } from '../spec/schema.js';
import { ORIGINAL_SECCOMP_ANNOTATION } from '../wrapper/record-mode.js';
import { ociSeccompObject } from './render.js';
import type { SeccompProfile } from './seccomp.js';

export const ENFORCE_MODIFIER_NAME = 'enforce-seccomp';

/**
 * Set linux.seccomp to `profile`. Record mode's saved original goes too: the bundle's profile is
 * now this one, so a later traced run saves this one as the original.
 */
export function enforceSeccompModifier(profile: SeccompProfile): SpecModifier {
  const seccomp = ociSeccompObject(profile);
  return {
    name: ENFORCE_MODIFIER_NAME,
    apply(spec: OciSpec): OciSpec {
      const linux = (spec.linux ?? {}) as Record<string, unknown>;
      const next: OciSpec = { ...spec, linux: { ...linux, seccomp: structuredClone(seccomp) } };
      if (spec.annotations && ORIGINAL_SECCOMP_ANNOTATION in spec.annotations) {
        const { [ORIGINAL_SECCOMP_ANNOTATION]: _dropped, ...rest } = spec.annotations;
        next.annotations = rest;
      }
      return next;
    },
  };
}

export async function enforceProfileOnBundle(bundleDir: string, profile: SeccompProfile): Promise<BundleEditResult> {
  return editBundleSpec(bundleDir, [enforceSeccompModifier(profile)]);
}

/** The bundle's bounding capabilities, which Docker profiles' `includes.caps` are checked against. */
export async function bundleCapabilities(bundleDir: string): Promise<Set<string>> {
  const { spec } = await readBundleSpec(bundleDir);
  const caps = (spec.process as { capabilities?: { bounding?: unknown } } | null | undefined)?.capabilities?.bounding;
  return new Set(Array.isArray(caps) ? caps.filter((c): c is string => typeof c === 'string') : []);
}
