import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config.js';
import { hookWaitSeconds, isOurHook, ourHook } from '../../src/prepare/hook-spec.js';

const config = parseConfig({ stateDir: '/run/x' });
const agent = { frontDoor: '/opt/oci-ftrace/dist/bin/oci-ftrace-runc', socket: '/run/oci-ftrace/agent-0123456789abcdef.sock', config: '/etc/x.json' };

describe('our hooks', () => {
  it('are the front door under the name oci-ftrace-hook, told where the agent is (runtimes give hooks nothing but args)', () => {
    const hook = ourHook('record', config, agent);
    expect(hook).toEqual({ path: agent.frontDoor, args: ['oci-ftrace-hook', 'record', agent.socket, '29', '/etc/x.json'], timeout: 30 });
    expect(ourHook('report', config, { ...agent, config: '' }).args).toEqual(['oci-ftrace-hook', 'report', agent.socket, '29', '']);
  });

  it('wait for the agent inside the runtime\'s timeout, with a second to spare to fail open', () => {
    expect(hookWaitSeconds(config)).toBe(29);
    expect(hookWaitSeconds(parseConfig({ hookTimeoutSeconds: 2 }))).toBe(1);
  });

  it('are recognised in this form and in those earlier versions wrote, by kind', () => {
    const record = ourHook('record', config, agent);
    expect([isOurHook('record', record), isOurHook('report', record)]).toEqual([true, false]);
    const bash = { path: '/opt/oci-ftrace/bin/oci-ftrace-hook', args: ['oci-ftrace-hook', 'report', '/run/oci-ftrace', '20', '/usr/bin/node', '/x.js'] };
    expect(isOurHook('report', bash)).toBe(true);
    const older = { path: '/usr/bin/node', args: ['oci-ftrace', '/opt/oci-ftrace/dist/cli/oci-ftrace.js', 'report'] };
    expect([isOurHook('report', older), isOurHook('record', older)]).toEqual([true, false]);
    expect(isOurHook('record', { path: '/usr/libexec/some-hook' })).toBe(false);
  });
});
