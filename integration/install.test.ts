// The package as users get it: `npm pack` of this checkout, then `npm install -g` of that tarball
// into a clean prefix. Its two bins must work from there, with nothing of the checkout on the path:
// a busybox container run through the installed front door is traced by the installed agent and
// reported by the installed CLI.
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeBusyboxBundle } from './lab/bundle.js';
import { REPO_ROOT, RUNC, uniqueId } from './lab/env.js';
import { agentProcesses, leftovers } from './lab/leaks.js';
import { runCommand } from './lab/run.js';
import { OWN_PROFILE, ourLog, readTraceResult, tracedSuite } from './support/traced.js';

const suite = tracedSuite('oci-ftrace-install-');
const INSTALL_TIMEOUT_MS = 300_000;

describe('npm pack, then npm install -g of the tarball on a clean prefix', () => {
  it('installs a working front door, agent and CLI', async () => {
    const work = suite.work();
    const packed = await runCommand('npm', ['pack', '--pack-destination', work, REPO_ROOT], { cwd: work });
    const tarball = path.join(work, packed.stdout.trim().split('\n').pop()!);
    const prefix = path.join(work, 'prefix');
    // Its install script runs: it compiles the front door on this machine. Its dependencies come
    // from the registry: 7 to 27 s here, and once over the default 120 s (a slow registry).
    await runCommand('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', tarball], { cwd: work, timeoutMs: INSTALL_TIMEOUT_MS });

    const bin = path.join(prefix, 'bin');
    const installed = realpathSync(path.join(prefix, 'lib', 'node_modules', 'oci-ftrace'));
    // The front door was built here, for here: it names the installed agent, not the checkout's.
    const frontDoor = readFileSync(path.join(bin, 'oci-ftrace-runc'));
    expect(frontDoor.includes(path.join(installed, 'dist', 'bundle', 'agent', 'main.js'))).toBe(true);
    expect(frontDoor.includes(REPO_ROOT + '/dist')).toBe(false);
    // Nothing of the checkout's sources or tests is shipped.
    expect(existsSync(path.join(installed, 'src', 'agent'))).toBe(false);
    expect(existsSync(path.join(installed, 'integration'))).toBe(false);

    const env = { PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin` };
    const version = await runCommand(path.join(bin, 'oci-ftrace-runc'), ['--version'], { env });
    expect(version.stdout).toBe((await runCommand(RUNC, ['--version'])).stdout);

    const traced = suite.tracedEnv();
    const b = await makeBusyboxBundle(path.join(work, 'bundle'), { args: ['sh', '-c', 'echo installed; ls /'], seccomp: OWN_PROFILE });
    const id = uniqueId('install');
    const run = await runCommand(path.join(bin, 'oci-ftrace-runc'), ['run', '--bundle', b.bundleDir, id], { env: { ...env, ...traced.env(RUNC) }, reject: false });
    expect({ exitCode: run.exitCode, stderr: run.stderr }, ourLog(traced)).toEqual({ exitCode: 0, stderr: '' });
    expect(run.stdout.split('\n')[0]).toBe('installed');

    const { summary } = await readTraceResult(traced, id);
    expect(summary.loss.lost).toBe(0);
    expect(Object.keys(summary.syscalls)).toContain('execve');

    const cli = { env: { ...env, OCI_FTRACE_CONFIG: traced.configPath } };
    const shown = await runCommand(path.join(bin, 'oci-ftrace'), ['show', id], cli);
    expect(shown.stdout).toContain('execve');
    const profile = JSON.parse((await runCommand(path.join(bin, 'oci-ftrace'), ['profile', id], cli)).stdout) as { syscalls: { names: string[] }[] };
    expect(profile.syscalls.flatMap((r) => r.names)).toContain('execve');
    expect(await leftovers({ stateDir: traced.stateDir, timeoutMs: 5000 })).toEqual({ instances: [], processes: [], stateFiles: [] });
    // The installed agent leaves when idle, before its package is removed with the scratch directory.
    for (const started = Date.now(); agentProcesses().some((p) => p.cmdline.includes(installed)); ) {
      if (Date.now() - started > 10_000) throw new Error('the installed agent did not exit when idle');
      await new Promise((r) => setTimeout(r, 100));
    }
  }, INSTALL_TIMEOUT_MS + 120_000);
});
