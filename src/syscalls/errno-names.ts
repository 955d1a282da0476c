/**
 * errno numbers -> names, and the return values ftrace's sys_exit prints (`NR 0 = -512`).
 * Same numbering on x86_64 and aarch64 (both asm-generic).
 */
import { kernelInternalErrnos, uapiErrnoAliases, uapiErrnos, type ErrnoEntry } from './tables/errno.js';

export type { ErrnoEntry };

const BY_NUMBER: ReadonlyMap<number, ErrnoEntry> = new Map(
  [...uapiErrnos, ...kernelInternalErrnos].map((entry) => [entry.errno, entry]),
);
const BY_NAME: ReadonlyMap<string, number> = new Map([
  ...[...BY_NUMBER.values()].map((entry): [string, number] => [entry.name, entry.errno]),
  ...Object.entries(uapiErrnoAliases).flatMap(([alias, name]): [string, number][] => {
    const errno = uapiErrnos.find((entry) => entry.name === name)?.errno;
    return errno === undefined ? [] : [[alias, errno]];
  }),
]);

/** Primary name of a positive errno (2 -> ENOENT, 512 -> ERESTARTSYS), or undefined. */
export function errnoName(errno: number): string | undefined {
  return BY_NUMBER.get(errno)?.name;
}

/** The kernel header's description of a positive errno, or undefined. */
export function errnoDescription(errno: number): string | undefined {
  return BY_NUMBER.get(errno)?.description;
}

/** Positive errno of a name or alias (EWOULDBLOCK -> 11), or undefined. */
export function errnoNumber(name: string): number | undefined {
  return BY_NAME.get(name);
}

/** The kernel returns -1..-MAX_ERRNO for errors (include/linux/err.h); anything else is a value. */
const MAX_ERRNO = 4095n;
const LONG_BITS = 64;

/** A 64-bit register value as the signed long ftrace prints, or undefined if it cannot be one. */
function asSignedLong(ret: bigint | number): bigint | undefined {
  if (typeof ret === 'number') return Number.isSafeInteger(ret) ? BigInt(ret) : undefined;
  if (ret < -(1n << 63n) || ret >= 1n << 64n) return undefined;
  // Accept the unsigned spelling too (0xfffffffffffffffe is -2).
  return BigInt.asIntN(LONG_BITS, ret);
}

/**
 * A syscall return value for people: `0`, `3`, `-2 ENOENT (No such file or directory)`.
 * Values outside -4095..-1 (including pointers that look negative) print as plain numbers.
 * Never throws; pass bigint for values beyond 2^53.
 */
export function describeReturn(ret: bigint | number): string {
  const value = asSignedLong(ret);
  if (value === undefined) return String(ret);
  if (value >= 0n || value < -MAX_ERRNO) return value.toString();
  const errno = Number(-value);
  const entry = BY_NUMBER.get(errno);
  return entry ? `${value} ${entry.name} (${entry.description})` : `${value} (unknown errno ${errno})`;
}
