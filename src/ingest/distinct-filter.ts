/**
 * Distinct-syscalls mode: a kernel event filter that drops syscalls already seen, so the event
 * rate falls to almost nothing once the workload's set is known. Seen ids are folded into ranges
 * to keep the filter short (the kernel caps a filter's length).
 */
export function excludeIdsFilter(seen: Iterable<number>): string {
  const ids = [...new Set(seen)].filter((n) => Number.isInteger(n) && n >= 0).sort((a, b) => a - b);
  const clauses: string[] = [];
  for (let i = 0; i < ids.length; ) {
    let j = i;
    while (j + 1 < ids.length && (ids[j + 1] as number) === (ids[j] as number) + 1) j++;
    const lo = ids[i] as number;
    const hi = ids[j] as number;
    clauses.push(lo === hi ? `id != ${lo}` : `(id < ${lo} || id > ${hi})`);
    i = j + 1;
  }
  return clauses.length === 0 ? '0' /* clears the filter */ : clauses.join(' && ');
}
