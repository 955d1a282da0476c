import type { CpuStats } from '../tracefs/tracefs.js';
import type { Loss } from './summary.js';

/** Exact loss as the kernel counted it: events overwritten before being read, plus dropped. */
export function lossFromStats(stats: readonly CpuStats[], extraLost = 0): Loss {
  const overrun = stats.reduce((n, s) => n + s.overrun, 0);
  const dropped = stats.reduce((n, s) => n + s.dropped, 0);
  return {
    lost: overrun + dropped + extraLost,
    overrun,
    dropped,
    perCpu: stats.map((s) => ({ cpu: s.cpu, overrun: s.overrun, dropped: s.dropped })),
  };
}
