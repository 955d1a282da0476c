/**
 * What a report contributes to a profile: the syscalls its container made at or after the
 * runtime's seccomp load, which is where the filter starts to apply. Reports that cannot say
 * that exactly are refused rather than turned into a profile that breaks the container.
 */
import { blockedSinceProfileStart, syscallsSinceProfileStart, type Summary } from '../report/summary.js';
import { syscallNumber, type Arch } from '../syscalls/index.js';
import { ProfileError } from './input-profile.js';

export interface RecordedSyscalls {
  /** Where it came from (a path), for messages. */
  source: string;
  containerId: string;
  arch: Arch;
  /** Sorted, each a name the arch's table knows. */
  syscalls: string[];
  /** Syscalls the container's own profile stopped (sorted): a profile made from it keeps them stopped. */
  blocked?: string[];
}

export interface RecordedOptions {
  /** Accept a trace that lost events (the profile may then miss syscalls). */
  allowLostEvents?: boolean;
}

export function recordedSyscalls(summary: Summary, source: string, opts: RecordedOptions = {}): RecordedSyscalls {
  const where = `${source} (container ${summary.containerId})`;
  if (summary.profileStart.kind !== 'seccomp-load') {
    throw new ProfileError(
      `${where}: no seccomp filter load was traced (start: ${summary.profileStart.kind}), so nothing marks where a profile starts (a bundle without a profile of its own loads none); record it from scratch with the annotation oci-ftrace/record-seccomp: "permissive"`,
    );
  }
  if (summary.loss.lost > 0 && !opts.allowLostEvents) {
    throw new ProfileError(`${where}: the trace lost ${summary.loss.lost} events, so the profile could miss syscalls; record again with a larger bufferKbPerContainer (our config), or pass --allow-lost-events`);
  }
  const syscalls = syscallsSinceProfileStart(summary);
  // Numbers our tables cannot name (newer kernels) cannot be written into a profile by name.
  const unnamed = syscalls.filter((name) => syscallNumber(name, summary.arch) === undefined);
  if (unnamed.length > 0) {
    throw new ProfileError(`${where}: syscalls without a name in the ${summary.arch} table: ${unnamed.join(', ')}`);
  }
  const blocked = blockedSinceProfileStart(summary).filter((name) => syscallNumber(name, summary.arch) !== undefined);
  return { source, containerId: summary.containerId, arch: summary.arch, syscalls, blocked };
}
