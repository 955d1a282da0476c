import { describe, expect, it } from 'vitest';
import { minimizeCapabilities } from '../../src/verify/minimize.js';
import { MaskError, describeDifference, parseMasks, sameOutcome } from '../../src/verify/outcome.js';

describe('verify: outcomes', () => {
  const ok = { exitCode: 0, stdout: 'pinged\ntime=0.071 ms', stderr: '' };
  it('compare exit code and stdout, with masked parts ignored', () => {
    const masks = parseMasks(['time=[0-9.]+ ms']);
    expect(sameOutcome(ok, { ...ok, stdout: 'pinged\ntime=0.090 ms' }, masks)).toBe(true);
    expect(sameOutcome(ok, { ...ok, stdout: 'pinged\ntime=0.090 ms' }, [])).toBe(false);
    expect(sameOutcome(ok, { ...ok, exitCode: 1 }, masks)).toBe(false);
  });
  it('say how a run differs in one line', () => {
    expect(describeDifference(ok, { exitCode: 1, stdout: '', stderr: 'ping: permission denied (are you root?)\n' }, [])).toBe('exit code 1 instead of 0 (stderr: ping: permission denied (are you root?))');
    expect(describeDifference(ok, { ...ok, stdout: 'pinged' }, [])).toBe('stdout differs at line 2: "(end)" instead of "time=0.071 ms"');
  });
  it('refuse a mask that is not a regular expression', () => {
    expect(() => parseMasks(['('])).toThrow(MaskError);
  });
});

describe('verify --minimize', () => {
  it('drops each capability whose absence changes nothing, and keeps the rest', async () => {
    const tried: string[][] = [];
    const needed = new Set(['CAP_NET_RAW']);
    const r = await minimizeCapabilities(['CAP_CHOWN', 'CAP_NET_RAW', 'CAP_SYS_ADMIN'], async (caps) => {
      tried.push([...caps]);
      const missing = [...needed].filter((c) => !caps.includes(c));
      return missing.length === 0 ? { same: true } : { same: false, why: `no ${missing.join()}` };
    });
    expect(r.kept).toEqual(['CAP_NET_RAW']);
    expect(r.steps).toEqual([
      { capability: 'CAP_CHOWN', dropped: true },
      { capability: 'CAP_NET_RAW', dropped: false, why: 'no CAP_NET_RAW' },
      { capability: 'CAP_SYS_ADMIN', dropped: true },
    ]);
    // Each test runs without what was dropped before it.
    expect(tried).toEqual([['CAP_NET_RAW', 'CAP_SYS_ADMIN'], ['CAP_SYS_ADMIN'], ['CAP_NET_RAW']]);
  });
});
