// The rootless pool's claims and setup, on a directory tree laid out as tracefs lays out instances
// (the permissions the kernel gives, and what setup-rootless changes, are checked on the real
// tracefs in integration/rootless.test.ts).
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tmp from 'tmp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rootlessDefaults } from '../../src/config/config.js';
import { POOL_WRITABLE_FILES, claimPooledInstance, claimsOf, idle, poolAccess, pooledName, releaseClaim, setupPool } from '../../src/tracefs/instance-pool.js';

let work: tmp.DirResult;
let root: string;
let pool: string;

/** An instance directory with the files the agent writes. */
function fakeInstance(name: string): string {
  const dir = path.join(root, 'instances', name);
  for (const f of POOL_WRITABLE_FILES) {
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    writeFileSync(path.join(dir, f), 'x');
  }
  return dir;
}

beforeEach(() => {
  work = tmp.dirSync({ unsafeCleanup: true });
  root = path.join(work.name, 'tracing');
  pool = path.join(work.name, 'pool');
  mkdirSync(path.join(root, 'instances'), { recursive: true });
  fakeInstance(pooledName(0));
  fakeInstance(pooledName(1));
});
afterEach(() => work.removeCallback());

describe('the rootless pool', () => {
  it('without pool.json: the one line says what to run', () => {
    expect(poolAccess(root, pool)).toEqual({ problem: expect.stringContaining('no rootless instance pool'), fix: expect.stringContaining('oci-ftrace setup-rootless --group') });
  });

  it('setup opens the pool to the group: the root passable, instances/ not listable, the written files group-writable', () => {
    const r = setupPool(root, { gid: 0, name: 'root' }, 2, pool);
    expect(r).toEqual({ created: [], kept: [pooledName(0), pooledName(1)] });
    expect(statSync(root).mode & 0o7777).toBe(0o710);
    expect(statSync(path.join(root, 'instances')).mode & 0o7777).toBe(0o751);
    expect(statSync(pool).mode & 0o7777).toBe(0o1771);
    const setEventPid = path.join(root, 'instances', pooledName(0), 'set_event_pid');
    expect(statSync(setEventPid).mode & 0o060).toBe(0o060);
    // Idle: nothing recorded, for no pid, a page per CPU.
    expect(readFileSync(setEventPid, 'utf8')).toBe('');
    expect(readFileSync(path.join(root, 'instances', pooledName(0), 'tracing_on'), 'utf8')).toBe('0');
    expect(readFileSync(path.join(root, 'instances', pooledName(0), 'buffer_size_kb'), 'utf8')).toBe('4');
    expect(JSON.parse(readFileSync(path.join(pool, 'pool.json'), 'utf8'))).toEqual({ size: 2, gid: 0, group: 'root' });
    expect(poolAccess(root, pool)).toBeUndefined();
  });

  it('claims are exclusive, per state directory, and given back', () => {
    setupPool(root, { gid: 0, name: 'root' }, 2, pool);
    expect(claimPooledInstance(root, { stateDir: '/a', id: 'c1' }, pool)).toBe(pooledName(0));
    expect(claimPooledInstance(root, { stateDir: '/b', id: 'c2' }, pool)).toBe(pooledName(1));
    expect(() => claimPooledInstance(root, { stateDir: '/a', id: 'c3' }, pool)).toThrow(/all 2 pooled ftrace instances are in use/);
    expect([...claimsOf('/a', pool)].map(([name, c]) => [name, c.id])).toEqual([[pooledName(0), 'c1']]);
    releaseClaim(pooledName(0), pool);
    expect(claimsOf('/a', pool).size).toBe(0);
    expect(claimPooledInstance(root, { stateDir: '/a', id: 'c3' }, pool)).toBe(pooledName(0));
  });

  it('idle leaves an instance recording nothing, its filters cleared', () => {
    const dir = path.join(root, 'instances', pooledName(1));
    idle(dir);
    expect(readFileSync(path.join(dir, 'events/raw_syscalls/sys_enter/enable'), 'utf8')).toBe('0');
    expect(readFileSync(path.join(dir, 'events/raw_syscalls/sys_enter/filter'), 'utf8')).toBe('0');
    expect(readFileSync(path.join(dir, 'trace'), 'utf8')).toBe('');
  });
});

describe("a rootless agent's defaults", () => {
  it("are the user's runtime and data directories; root's are the schema's", () => {
    expect(rootlessDefaults(true, { XDG_RUNTIME_DIR: '/run/user/1000' }, '/home/u')).toEqual({ stateDir: '/run/user/1000/oci-ftrace', outputDir: '/home/u/.local/share/oci-ftrace', logFile: '/home/u/.local/share/oci-ftrace/oci-ftrace.log' });
    expect(rootlessDefaults(true, { XDG_DATA_HOME: '/d', XDG_RUNTIME_DIR: 'relative' }, '/home/u')).toEqual({ outputDir: '/d/oci-ftrace', logFile: '/d/oci-ftrace/oci-ftrace.log' });
    expect(rootlessDefaults(false, { XDG_RUNTIME_DIR: '/run/user/1000' }, '/home/u')).toEqual({});
  });
});
