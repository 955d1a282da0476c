/**
 * Linux capability names and numbers (include/uapi/linux/capability.h), the same on every
 * architecture. Pure lookups.
 */
const NAMES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
] as const;

export type CapabilityName = (typeof NAMES)[number];

export const ALL_CAPABILITIES: readonly CapabilityName[] = Object.freeze([...NAMES]);

const NUMBERS = new Map<string, number>(NAMES.map((n, i) => [n, i]));

/** CAP_NET_RAW for 13; `CAP_<n>` for a number this table does not know (a newer kernel's). */
export function capabilityName(cap: number): string {
  return NAMES[cap] ?? `CAP_${cap}`;
}

/** The number of a capability: `CAP_NET_RAW`, `NET_RAW` or `net_raw` (as docker writes them); undefined if unknown. */
export function capabilityNumber(name: string): number | undefined {
  const upper = name.trim().toUpperCase();
  const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  const known = NUMBERS.get(full);
  if (known !== undefined) return known;
  const m = /^CAP_(\d+)$/.exec(full);
  return m ? Number(m[1]) : undefined;
}

/** The canonical CAP_ name of `name` (any of the spellings above), or undefined. */
export function canonicalCapability(name: string): string | undefined {
  const nr = capabilityNumber(name);
  return nr === undefined ? undefined : capabilityName(nr);
}

/** `CAP_NET_RAW` -> `NET_RAW`, as docker's --cap-add and Kubernetes' securityContext write it. */
export function shortCapabilityName(name: string): string {
  return name.startsWith('CAP_') ? name.slice(4) : name;
}

/** Sort capability names by number (unknown last, by name). */
export function sortCapabilities(names: Iterable<string>): string[] {
  return [...new Set(names)].sort((a, b) => (capabilityNumber(a) ?? 1e9) - (capabilityNumber(b) ?? 1e9) || (a < b ? -1 : a > b ? 1 : 0));
}
