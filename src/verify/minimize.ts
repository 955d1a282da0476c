/**
 * `verify --minimize`: drop each capability in turn and keep it dropped where the run is unchanged,
 * so the set that remains is proven, not only observed. Pure over the runner it is given.
 */
export interface MinimizeStep {
  capability: string;
  /** Dropped for good: the run without it was the same. */
  dropped: boolean;
  /** How the run without it differed (when kept). */
  why?: string;
}

/**
 * One pass, in the order given: each test runs with the set kept so far less one capability.
 * `same` answers whether the run under a set is the same as the reference (and if not, why).
 */
export async function minimizeCapabilities(
  caps: readonly string[],
  same: (caps: readonly string[]) => Promise<{ same: boolean; why?: string }>,
): Promise<{ kept: string[]; steps: MinimizeStep[] }> {
  let kept = [...caps];
  const steps: MinimizeStep[] = [];
  for (const cap of caps) {
    const without = kept.filter((c) => c !== cap);
    const r = await same(without);
    if (r.same) {
      kept = without;
      steps.push({ capability: cap, dropped: true });
    } else {
      steps.push({ capability: cap, dropped: false, ...(r.why ? { why: r.why } : {}) });
    }
  }
  return { kept, steps };
}
