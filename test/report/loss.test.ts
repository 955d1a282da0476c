import { describe, expect, it } from 'vitest';
import { LossSchema } from '../../src/report/summary.js';
import { lossFromStats } from '../../src/report/loss.js';
import { parseCpuStats } from '../../src/tracefs/tracefs.js';

// per_cpu/cpuN/stats as Linux 6.18 prints it.
const stats = (overrun: number, commitOverrun: number, dropped: number, read: number): string =>
  `entries: 12\noverrun: ${overrun}\ncommit overrun: ${commitOverrun}\nbytes: 480\noldest event ts:  1220.5\nnow ts:  1220.6\ndropped events: ${dropped}\nread events: ${read}\n`;

describe('lossFromStats', () => {
  it('counts what the kernel overwrote, refused, and wrapped over mid-commit, per CPU and in all', () => {
    const loss = lossFromStats([parseCpuStats(0, stats(5, 2, 1, 900)), parseCpuStats(1, stats(0, 0, 0, 40))]);
    expect(loss).toEqual({ lost: 8, overrun: 5, dropped: 3, perCpu: [{ cpu: 0, overrun: 5, dropped: 3 }, { cpu: 1, overrun: 0, dropped: 0 }] });
    expect(LossSchema.parse(loss)).toEqual(loss);
  });

  it("adds an earlier agent's loss, and says apart the events handed over that were never counted", () => {
    const loss = lossFromStats([parseCpuStats(0, stats(0, 0, 0, 1000))], 7, 78);
    expect(loss).toMatchObject({ lost: 85, overrun: 0, dropped: 0, notIngested: 78 });
    expect(LossSchema.parse(loss).notIngested).toBe(78);
    expect('notIngested' in lossFromStats([parseCpuStats(0, stats(0, 0, 0, 1000))])).toBe(false);
  });
});
