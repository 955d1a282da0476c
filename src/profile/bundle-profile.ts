/**
 * The container's own seccomp profile as a report sees it: what the bundle had (saved when it was
 * prepared, src/wrapper/bundle-original.ts), how it was treated while traced, and which of its rules
 * stopped each blocked call.
 */
import { release } from 'node:os';
import { seccompSummary, type SummaryContext } from '../report/summary.js';
import { parseJsonLossless } from '../oci-config/lossless-json.js';
import type { Arch } from '../syscalls/index.js';
import { describeBlockingRule } from './blocking-rule.js';
import { DOCKER_DEFAULT_CAPABILITIES, parseInputProfile, parseKernelRelease, resolveInputProfile } from './input-profile.js';
import type { InputSeccomp, SeccompProfile } from './seccomp.js';

export interface BundleSeccompFacts {
  recordSeccomp?: 'keep' | 'permissive' | undefined;
  /** linux.seccomp as found, lossless JSON ("null": none); undefined when not known. */
  bundleSeccomp?: string | undefined;
}

/** The bundle's own profile, parsed; undefined when it had none or it is not known. Throws ProfileError on one we cannot read. */
export function bundleInputProfile(facts: BundleSeccompFacts, source: string): InputSeccomp | undefined {
  if (facts.bundleSeccomp === undefined) return undefined;
  const value = parseJsonLossless(facts.bundleSeccomp, source);
  return value === null ? undefined : parseInputProfile(value, source);
}

/** What a summary says of the container's seccomp profile, and the blocking rule of each blocked call. */
export function seccompContext(facts: BundleSeccompFacts, arch: Arch, errnoName: (n: number) => string | undefined): Pick<SummaryContext, 'seccomp' | 'blockingRule'> {
  let profile: SeccompProfile | undefined;
  try {
    const input = bundleInputProfile(facts, 'the bundle\'s linux.seccomp');
    // The bundle's own profile is OCI: Docker's conditions (which this context would serve) do not occur.
    if (input) profile = resolveInputProfile(input, { arch, capabilities: new Set(DOCKER_DEFAULT_CAPABILITIES), kernel: parseKernelRelease(release()) });
  } catch {
    profile = undefined; // the runtime accepted it; we only cannot name its rules
  }
  const hadProfile = facts.bundleSeccomp === undefined ? null : facts.bundleSeccomp !== 'null';
  return {
    ...(facts.recordSeccomp ? { seccomp: seccompSummary(facts.recordSeccomp, hadProfile) } : {}),
    ...(profile && facts.recordSeccomp !== 'permissive' ? { blockingRule: (name, seen) => describeBlockingRule(profile as SeccompProfile, name, seen, errnoName) } : {}),
  };
}
