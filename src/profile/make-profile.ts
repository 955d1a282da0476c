/**
 * From loaded reports and input profiles to a profile: the one place that decides which inputs
 * apply (explicit ones, and each report's saved original unless told not to). Pure.
 */
import { generateProfile, type GeneratedProfile, type ProfileInput, type Runtime } from './generate.js';
import { ProfileError, resolveInputProfile, type KernelVersion } from './input-profile.js';
import { recordedSyscalls } from './recorded.js';
import type { LoadedProfile, LoadedReport } from './sources.js';

export interface MakeProfileOptions {
  reports: readonly LoadedReport[];
  /** Profiles to merge in (--input). */
  inputs?: readonly LoadedProfile[];
  /** Merge each report's saved original profile (what the bundle had before record mode). */
  useOriginals?: boolean;
  /** For Docker profiles' capability conditions. */
  capabilities: ReadonlySet<string>;
  kernel: KernelVersion;
  allowLostEvents?: boolean;
  /** The runtimes the profile will run under (default: runc and crun). */
  runtimes?: readonly Runtime[];
}

export interface MadeProfile extends GeneratedProfile {
  /** Paths of the input profiles merged in, in order. */
  inputsUsed: string[];
}

export function makeProfile(opts: MakeProfileOptions): MadeProfile {
  const [first] = opts.reports;
  if (!first) throw new ProfileError('no reports given: a profile is made from at least one oci-ftrace report');
  const recorded = opts.reports.map((r) => recordedSyscalls(r.summary, r.path, { allowLostEvents: opts.allowLostEvents }));
  const arch = first.summary.arch;
  const loaded: { path: string; profile: LoadedProfile['profile'] }[] = [...(opts.inputs ?? [])];
  if (opts.useOriginals ?? true) {
    const seen = new Set<string>();
    for (const r of opts.reports) {
      if (r.original && !seen.has(r.original.path)) {
        seen.add(r.original.path);
        loaded.push(r.original);
      }
    }
  }
  const inputs: ProfileInput[] = loaded.map((l) => ({
    source: l.path,
    profile: resolveInputProfile(l.profile, { arch, capabilities: opts.capabilities, kernel: opts.kernel }),
  }));
  return { ...generateProfile({ recorded, inputs, ...(opts.runtimes ? { runtimes: opts.runtimes } : {}) }), inputsUsed: inputs.map((i) => i.source) };
}
