import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config.js';
import { hookWaitSeconds, isOurHook, ourHook } from '../../src/hooks/hook-spec.js';

const config = parseConfig({ stateDir: '/run/x' });

describe('our hooks', () => {
  it('run bin/oci-ftrace-hook with everything it needs, absolute (runtimes give hooks no PATH)', () => {
    const hook = ourHook('record', config, { OCI_FTRACE_CONFIG: '/etc/x.json' });
    expect(hook.path).toMatch(/\/bin\/oci-ftrace-hook$/);
    expect(existsSync(hook.path)).toBe(true);
    expect(hook.args.slice(0, 4)).toEqual(['oci-ftrace-hook', 'record', '/run/x', '10']);
    expect(hook.args[4]).toBe(process.execPath);
    expect(hook.args[5]).toMatch(/\/cli\/oci-ftrace\.js$/);
    expect(hook.env).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'OCI_FTRACE_CONFIG=/etc/x.json']);
    expect(hook.timeout).toBe(30);
  });

  it('wait for the collector as long as the Node hook would, with 5 s of the hook timeout to spare', () => {
    expect([hookWaitSeconds('record', config), hookWaitSeconds('report', config)]).toEqual([10, 20]);
    const short = parseConfig({ hookTimeoutSeconds: 8, collectorStopTimeoutSeconds: 60 });
    expect([hookWaitSeconds('record', short), hookWaitSeconds('report', short)]).toEqual([3, 3]);
    expect(hookWaitSeconds('report', parseConfig({ hookTimeoutSeconds: 2 }))).toBe(1);
  });

  it('are recognised in this form and in the one earlier versions wrote, by kind', () => {
    const record = ourHook('record', config, {});
    expect([isOurHook('record', record), isOurHook('report', record)]).toEqual([true, false]);
    const older = { path: '/usr/bin/node', args: ['oci-ftrace', '/opt/oci-ftrace/dist/cli/oci-ftrace.js', 'report'] };
    expect([isOurHook('report', older), isOurHook('record', older)]).toEqual([true, false]);
    expect(isOurHook('record', { path: '/usr/local/bin/other-hook', args: ['oci-ftrace-hook', 'record'] })).toBe(false);
    expect(isOurHook('record', { path: '/usr/libexec/some-hook' })).toBe(false);
  });
});
