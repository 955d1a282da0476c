/** What an OCI spec's process holds: the capabilities in any of its sets. Pure. */
export function heldCapabilitiesOfSpec(tree: unknown): string[] | undefined {
  const process = isRecord(tree) ? tree.process : undefined;
  const sets = isRecord(process) ? process.capabilities : undefined;
  // None given: the runtime leaves the process's capabilities as they are, which the spec cannot tell.
  if (!isRecord(sets)) return undefined;
  const held = new Set<string>();
  for (const set of Object.values(sets)) if (Array.isArray(set)) for (const c of set) if (typeof c === 'string' && /^CAP_[A-Z_0-9]+$/.test(c)) held.add(c);
  return [...held];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
