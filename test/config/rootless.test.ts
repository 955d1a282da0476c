import { describe, expect, it } from 'vitest';
import { isInitialUidMap } from '../../src/config/rootless.js';

describe('isInitialUidMap', () => {
  it("is the host's map: every uid to itself, in one line", () => {
    expect(isInitialUidMap('         0          0 4294967295\n')).toBe(true);
  });

  it("is not rootless podman's: uid 0 is the user, and the subordinate ids follow", () => {
    expect(isInitialUidMap('         0       1000          1\n         1     100000      65536\n')).toBe(false);
  });

  it('is not a namespace that maps root to root but not every uid', () => {
    expect(isInitialUidMap('0 0 65536\n')).toBe(false);
  });
});
