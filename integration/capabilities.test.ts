// Issue 12: which capabilities a container really uses, traced with its syscalls (capability:
// cap_capable in the same instance), from the same start as its seccomp profile.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeBusyboxBundle } from './lab/bundle.js';
import { ANALYZER, CRUN, RUNC, WRAPPER, uniqueId } from './lab/env.js';
import { runCommand } from './lab/run.js';
import { OWN_PROFILE, ourLog, readTraceResult, tracedSuite } from './support/traced.js';

const suite = tracedSuite('oci-ftrace-caps-');
const HELD = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW', 'CAP_CHOWN'];

describe.each([
  ['runc', RUNC],
  ['crun', CRUN],
])('capabilities under %s', (name, runtime) => {
  it('ping uses CAP_NET_RAW in socket', async () => {
    const traced = suite.tracedEnv();
    const b = await makeBusyboxBundle(path.join(suite.work(), `ping-${name}`), { args: ['sh', '-c', 'ping -c1 127.0.0.1 >/dev/null && echo pinged; touch /tmp/x && chown 1:1 /tmp/x && echo chowned; ls / >/dev/null'], seccomp: OWN_PROFILE, capabilities: HELD, readonlyRootfs: false });
    const id = uniqueId(`ping-${name}`);
    const r = await runCommand(WRAPPER, ['run', '--bundle', b.bundleDir, id], { env: traced.env(runtime), reject: false });
    expect(r.stdout, r.stderr).toBe('pinged\nchowned');
    const { summary, log } = await readTraceResult(traced, id);
    console.log(JSON.stringify(summary.capabilities, null, 1));
    console.log(log.split('\n').filter((l) => l.includes('capable(')).slice(0, 40).join('\n'));
    const show = await runCommand(ANALYZER, ['show', path.join(traced.outputDir, id, 'summary.json')]);
    console.log(show.stdout);
    expect(ourLog(traced)).not.toContain('"level":50');
  });
});
