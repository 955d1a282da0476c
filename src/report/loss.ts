import type { CpuStats } from '../tracefs/tracefs.js';
import type { Loss } from './summary.js';

/**
 * Exact loss as the kernel counted it: events overwritten before being read, plus dropped (refused,
 * or wrapped over by a nested write mid-commit), plus `extraLost` (an earlier agent's), plus any the
 * kernel handed to the agent that it did not count (`notIngested`, a fault of ours, said apart).
 */
export function lossFromStats(stats: readonly CpuStats[], extraLost = 0, notIngested = 0): Loss {
  const overrun = stats.reduce((n, s) => n + s.overrun, 0);
  const dropped = stats.reduce((n, s) => n + s.dropped + s.commitOverrun, 0);
  return {
    lost: overrun + dropped + extraLost + notIngested,
    overrun,
    dropped,
    perCpu: stats.map((s) => ({ cpu: s.cpu, overrun: s.overrun, dropped: s.dropped + s.commitOverrun })),
    ...(notIngested > 0 ? { notIngested } : {}),
  };
}
