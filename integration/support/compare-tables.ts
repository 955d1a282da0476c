/** Compares our syscall table with another tool's, tolerating only that one side is newer. */
export interface TableDifferences {
  /** Names both sides know with different numbers. */
  mismatched: string[];
  /** Names the other side has that ours lacks although ours reaches past their number. */
  missingFromOurs: string[];
  /** Names ours has that the other side lacks although it reaches past their number. */
  missingFromTheirs: string[];
}

/**
 * Syscalls are only ever appended, so a side may lack a name only when that name's number is
 * above everything the side knows (its headers are older); any other gap is a real error.
 */
export function compareTables(ours: ReadonlyMap<string, number>, theirs: ReadonlyMap<string, number>): TableDifferences {
  const ourMax = Math.max(...ours.values());
  const theirMax = Math.max(...theirs.values());
  const mismatched = [...ours].filter(([name, nr]) => theirs.has(name) && theirs.get(name) !== nr).map(([n]) => n);
  const missingFromOurs = [...theirs].filter(([name, nr]) => !ours.has(name) && nr <= ourMax).map(([n]) => n);
  const missingFromTheirs = [...ours].filter(([name, nr]) => !theirs.has(name) && nr <= theirMax).map(([n]) => n);
  return { mismatched, missingFromOurs, missingFromTheirs };
}
