import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CLEANUP_QUIET_MS, KernelLane, type LanePriority } from '../../src/agent/kernel-lane.js';

/** A job that records when it starts and ends once released. */
function jobs(): { order: string[]; job: (name: string) => () => Promise<void> } {
  const order: string[] = [];
  return {
    order,
    job: (name) => async () => {
      order.push(name);
      await Promise.resolve();
    },
  };
}

describe('KernelLane', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('runs one job at a time: now before setup, setup before cleanup', async () => {
    let t = 0;
    const lane = new KernelLane(() => t);
    const { order, job } = jobs();
    let release!: () => void;
    const first = lane.run('setup', () => new Promise<void>((r) => (release = r)).then(() => void order.push('setup-1')));
    const queued: Array<[LanePriority, string]> = [
      ['cleanup', 'cleanup-1'],
      ['setup', 'setup-2'],
      ['now', 'now-1'],
    ];
    const rest = queued.map(([p, n]) => lane.run(p, job(n)));
    expect(lane.pending).toBe(4);
    release();
    await first;
    await Promise.all(rest.slice(1));
    // Three jobs at once are a burst: the removal waits for the lane to be quiet.
    expect(order).toEqual(['setup-1', 'now-1', 'setup-2']);
    t += CLEANUP_QUIET_MS;
    await vi.advanceTimersByTimeAsync(CLEANUP_QUIET_MS);
    await rest[0];
    expect(order).toEqual(['setup-1', 'now-1', 'setup-2', 'cleanup-1']);
    expect(lane.pending).toBe(0);
  });

  it('holds removals while other jobs keep coming, so fifty stops are not each behind a removal', async () => {
    let t = 0;
    const lane = new KernelLane(() => t);
    const { order, job } = jobs();
    await Promise.all([lane.run('now', job('stop-0')), lane.run('now', job('stop-1')), lane.run('now', job('stop-2'))]);
    const removal = lane.run('cleanup', job('cleanup'));
    for (let i = 3; i < 6; i++) {
      await lane.run('now', job(`stop-${i}`));
      t += CLEANUP_QUIET_MS / 4;
      await vi.advanceTimersByTimeAsync(CLEANUP_QUIET_MS / 4);
    }
    expect(order).toEqual(['stop-0', 'stop-1', 'stop-2', 'stop-3', 'stop-4', 'stop-5']);
    t += CLEANUP_QUIET_MS;
    await vi.advanceTimersByTimeAsync(CLEANUP_QUIET_MS);
    await removal;
    expect(order.at(-1)).toBe('cleanup');
  });

  it('one container gone: its removal runs as soon as its stop is done (no burst)', async () => {
    let t = 0;
    const lane = new KernelLane(() => t);
    const { order, job } = jobs();
    await lane.run('now', job('record'));
    t += 5_000;
    const stop = lane.run('now', job('stop'));
    const removal = lane.run('cleanup', job('cleanup'));
    await stop;
    await removal;
    expect(order).toEqual(['record', 'stop', 'cleanup']);
  });

  it('flush runs what waits out a burst at once, and resolves when the lane is empty', async () => {
    const t = 0;
    const lane = new KernelLane(() => t);
    const { order, job } = jobs();
    await Promise.all([lane.run('now', job('a')), lane.run('now', job('b')), lane.run('setup', job('c'))]);
    void lane.run('cleanup', job('cleanup'));
    await Promise.resolve();
    expect(order).toEqual(['a', 'b', 'c']);
    await lane.flush();
    expect(order.at(-1)).toBe('cleanup');
    expect(lane.pending).toBe(0);
    await lane.flush();
  });

  it('a removal with nothing else asked for runs at once, and a failing job does not stop the lane', async () => {
    const lane = new KernelLane(() => 10_000);
    const failed = lane.run('cleanup', () => Promise.reject(new Error('EBUSY')));
    await expect(failed).rejects.toThrow('EBUSY');
    await expect(lane.run('cleanup', () => Promise.resolve(7))).resolves.toBe(7);
  });
});
