import { describe, expect, it } from 'vitest';
import {
  checkAgent,
  checkContainerd,
  checkDocker,
  checkPodman,
  checkRuntime,
  checkTracefs,
  goPathMatch,
  hasFailure,
  pickTracefsRoot,
  renderFindings,
  tracefsMounts,
  tracefsPathsToProbe,
  type ConfigFile,
  type EngineFacts,
  type Finding,
  type RuntimeFacts,
  type TracefsFacts,
} from '../../src/doctor/checks.js';

const FRONT_DOOR = '/opt/oci-ftrace/dist/bin/oci-ftrace-runc';
const INSTALLED = '/usr/local/bin/oci-ftrace-runc';

function only(findings: Finding[], check: string): Finding {
  const found = findings.filter((f) => f.check === check);
  expect(found, `findings: ${JSON.stringify(findings)}`).toHaveLength(1);
  return found[0] as Finding;
}

function engineWith(file: ConfigFile, opts: { binary?: string; executable?: string[] } = {}): EngineFacts {
  const executable = new Set(opts.executable ?? [INSTALLED]);
  return { binary: opts.binary, files: [file], executable: (p) => executable.has(p), frontDoor: FRONT_DOOR };
}

const file = (path: string, text: string | undefined, explicit = false): ConfigFile => (text === undefined ? { path, explicit, readError: 'ENOENT' } : { path, explicit, text });

// ------------------------------------------------------------------------------------------------

const PROC_MOUNTS = [
  'sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0',
  'tracefs /sys/kernel/tracing tracefs rw,nosuid,nodev,noexec,relatime 0 0',
  'tracefs /mnt/my\\040trace tracefs rw,relatime 0 0',
  '',
].join('\n');

const allPresent = (): Record<string, boolean> => Object.fromEntries(tracefsPathsToProbe().map((p) => [p, true]));

function tracefsFacts(overrides: Partial<TracefsFacts> = {}): TracefsFacts {
  return {
    pick: { root: '/sys/kernel/tracing', how: 'tracefs in /proc/mounts' },
    present: allPresent(),
    probe: { name: 'oci-ftrace-doctor-42', created: true, removed: true },
    ...overrides,
  };
}

describe('tracefs', () => {
  it('finds tracefs mount points in /proc/mounts, escapes decoded', () => {
    expect(tracefsMounts(PROC_MOUNTS)).toEqual(['/sys/kernel/tracing', '/mnt/my trace']);
  });

  it('picks a mounted tracefs first, a configured tracefsPath over everything, and says when there is none', () => {
    expect(pickTracefsRoot(PROC_MOUNTS, undefined, { '/mnt/my trace': true, '/sys/kernel/tracing': false }).root).toBe('/mnt/my trace');
    expect(pickTracefsRoot('', undefined, { '/sys/kernel/debug/tracing': true })).toEqual({ root: '/sys/kernel/debug/tracing', how: '/sys/kernel/debug/tracing has instances/ and events/' });
    expect(pickTracefsRoot(PROC_MOUNTS, '/srv/t', { '/srv/t': false, '/sys/kernel/tracing': true }).root).toBeUndefined();
    expect(pickTracefsRoot('', undefined, {})).toEqual({ how: 'no tracefs in /proc/mounts' });
  });

  it('all ok on a complete tracefs', () => {
    const findings = checkTracefs(tracefsFacts());
    expect(findings.map((f) => [f.check, f.ok])).toEqual([
      ['tracefs', true],
      ['tracefs: instances', true],
      ['tracefs: events', true],
      ['tracefs: capabilities', true],
      ['tracefs: options', true],
    ]);
  });

  it('says which clock events are stamped with, and why', () => {
    const clock = only(checkTracefs(tracefsFacts({ clock: { clock: 'mono', why: 'x64 with clocksource hpet: sched_clock may differ between CPUs' } })), 'tracefs: trace clock');
    expect(clock).toEqual({ check: 'tracefs: trace clock', ok: true, detail: 'mono (x64 with clocksource hpet: sched_clock may differ between CPUs)' });
  });

  it('rootless: only the pool is judged, failing with the fix where this user cannot write it', () => {
    const rootless = { user: true as const, problem: { problem: 'cannot open /t/instances/oci-ftrace-pool-0/set_event_pid for writing: EACCES', fix: 'as root: usermod -aG tracers USER, then log in again' } };
    expect(checkTracefs(tracefsFacts({ rootless }))).toEqual([{ check: 'tracefs: rootless pool', ok: false, detail: rootless.problem.problem, fix: rootless.problem.fix }]);
    expect(checkTracefs(tracefsFacts({ rootless: { user: true } }))).toEqual([expect.objectContaining({ check: 'tracefs: rootless pool', ok: true })]);
    const asRoot = only(checkTracefs(tracefsFacts({ rootless: { user: false, pool: { size: 8, group: 'tracers' } } })), 'tracefs: rootless pool');
    expect(asRoot.detail).toMatch(/8 instances for group tracers/);
  });

  it('warns, not fails, without the capability tracepoint (an older kernel): syscalls only', () => {
    const present = { ...allPresent(), 'events/capability/cap_capable': false };
    const caps = only(checkTracefs(tracefsFacts({ present })), 'tracefs: capabilities');
    expect(caps.ok).toBe('warn');
    expect(caps.fix).toMatch(/6\.14/);
  });

  it('fails naming the events that are missing', () => {
    const present = { ...allPresent(), 'events/raw_syscalls/sys_exit': false, 'events/task/task_newtask': false };
    const events = only(checkTracefs(tracefsFacts({ present })), 'tracefs: events');
    expect(events.ok).toBe(false);
    expect(events.detail).toBe('missing raw_syscalls/sys_exit, task/task_newtask');
    expect(events.fix).toMatch(/CONFIG_FTRACE_SYSCALLS/);
  });

  it('fails without options/event-fork, only warns without buffer_percent', () => {
    expect(only(checkTracefs(tracefsFacts({ present: { ...allPresent(), 'options/event-fork': false } })), 'tracefs: options').ok).toBe(false);
    const noWake = only(checkTracefs(tracefsFacts({ present: { ...allPresent(), buffer_percent: false } })), 'tracefs: options');
    expect(noWake.ok).toBe('warn');
    expect(noWake.fix).toBe('kernel 5.1 or later');
  });

  it('fails when the probe instance cannot be made, or was left behind, naming how to remove it', () => {
    const cannot = only(checkTracefs(tracefsFacts({ probe: { name: 'oci-ftrace-doctor-42', created: false, createError: 'EACCES: permission denied', removed: true } })), 'tracefs: instances');
    expect(cannot.ok).toBe(false);
    expect(cannot.detail).toMatch(/EACCES/);
    const left = only(checkTracefs(tracefsFacts({ probe: { name: 'oci-ftrace-doctor-42', created: true, removed: false, removeError: 'EBUSY' } })), 'tracefs: instances');
    expect(left).toMatchObject({ ok: false, fix: 'rmdir /sys/kernel/tracing/instances/oci-ftrace-doctor-42' });
  });

  it('warns when tracefs is not mounted (the agent mounts it), fails when a configured path is wrong', () => {
    expect(checkTracefs({ pick: { how: 'no tracefs in /proc/mounts' }, present: {} })).toEqual([expect.objectContaining({ check: 'tracefs', ok: 'warn' })]);
    expect(checkTracefs({ configured: '/srv/t', pick: { how: 'x' }, present: {} })).toEqual([expect.objectContaining({ check: 'tracefs', ok: false })]);
  });
});

// ------------------------------------------------------------------------------------------------

describe('the real runtime, as the front door names it', () => {
  const ran = (stdout: string, exitCode = 0) => ({ exitCode, stdout, stderr: exitCode === 0 ? '' : 'oci-ftrace-runc: boom\n' });
  const runtimeFacts = (o: Partial<RuntimeFacts> = {}): RuntimeFacts => ({
    frontDoor: FRONT_DOOR,
    frontDoorExecutable: true,
    located: { path: '/usr/sbin/runc', via: 'runc on PATH' },
    runtimeVersion: ran('runc version 1.1.5\ncommit: v1.1.5\n'),
    ...o,
  });

  it('names the binary and the first line of its --version', () => {
    expect(checkRuntime(runtimeFacts())).toEqual([{ check: 'runtime', ok: true, detail: '/usr/sbin/runc (runc on PATH): runc version 1.1.5' }]);
  });

  it('fails when there is no runtime, no front door, or the front door fails', () => {
    expect(checkRuntime(runtimeFacts({ located: { via: 'runc, crun on PATH', error: 'neither' } }))[0]?.ok).toBe(false);
    expect(checkRuntime(runtimeFacts({ frontDoorExecutable: false }))[0]?.fix).toMatch(/npm run build/);
    expect(checkRuntime(runtimeFacts({ runtimeVersion: ran('', 1) }))[0]).toMatchObject({ ok: false, detail: '/usr/sbin/runc (runc on PATH) --version failed: exit 1: oci-ftrace-runc: boom' });
  });
});

// ------------------------------------------------------------------------------------------------

describe('the agent', () => {
  const base = { configPath: '/etc/oci-ftrace/config.json', configExists: false, stateDir: '/run/oci-ftrace' };

  it('no agent running is fine: the front door starts one', () => {
    expect(checkAgent(base).map((f) => f.ok)).toEqual([true, true]);
  });

  it('reports a live agent\'s status, and fails one that does not answer', () => {
    const agent = { pid: 7, socket: '/run/oci-ftrace/agent.sock', config: base.configPath };
    const live = only(checkAgent({ ...base, agent, status: { v: 1, ok: true, pid: 7, containers: [{ id: 'a', phase: 'recording' }] } }), 'agent');
    expect(live).toEqual({ check: 'agent', ok: true, detail: 'pid 7 serves /run/oci-ftrace at /run/oci-ftrace/agent.sock, 1 container' });
    expect(only(checkAgent({ ...base, agent, statusError: 'the agent did not answer in 3000 ms' }), 'agent').ok).toBe(false);
    expect(only(checkAgent({ ...base, agent, status: { v: 1, ok: true, pid: 'seven' } }), 'agent').detail).toMatch(/not a status/);
  });

  it('fails an invalid config with its one-line error', () => {
    const f = only(checkAgent({ ...base, configExists: true, configError: '/etc/oci-ftrace/config.json: invalid config: unknown key "x"' }), 'config');
    expect(f.ok).toBe(false);
    expect(f.detail).toMatch(/unknown key "x"/);
  });
});

// ------------------------------------------------------------------------------------------------

const CONTAINERD_WITH = `version = 2
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.oci-ftrace]
  runtime_type = "io.containerd.runc.v2"
  pod_annotations = ["oci-ftrace/*"]
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.oci-ftrace.options]
    BinaryName = "${INSTALLED}"
`;
const CONTAINERD_WITHOUT_ANNOTATIONS = CONTAINERD_WITH.replace('  pod_annotations = ["oci-ftrace/*"]\n', '');
const CONTAINERD_PLAIN = `version = 2
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
    SystemdCgroup = true
`;
const CTD = '/etc/containerd/config.toml';

describe('containerd', () => {
  it('finds the handler and its pod_annotations', () => {
    const findings = checkContainerd(engineWith(file(CTD, CONTAINERD_WITH)));
    expect(only(findings, 'containerd')).toEqual({ check: 'containerd', ok: true, detail: `handler oci-ftrace (${CTD}): BinaryName ${INSTALLED}` });
    expect(only(findings, 'containerd: pod_annotations').ok).toBe(true);
    expect(hasFailure(findings)).toBe(false);
  });

  it('warns when pod_annotations is missing, with the line to add', () => {
    const f = only(checkContainerd(engineWith(file(CTD, CONTAINERD_WITHOUT_ANNOTATIONS))), 'containerd: pod_annotations');
    expect(f.ok).toBe('warn');
    expect(f.fix).toBe('pod_annotations = ["oci-ftrace/*"] in plugins."io.containerd.grpc.v1.cri".containerd.runtimes.oci-ftrace');
  });

  it('warns when pod_annotations pass only some of ours', () => {
    const f = only(checkContainerd(engineWith(file(CTD, CONTAINERD_WITH.replace('["oci-ftrace/*"]', '["oci-ftrace/trace", "example.com/*"]')))), 'containerd: pod_annotations');
    expect(f.ok).toBe('warn');
    expect(f.detail).toMatch(/do not pass oci-ftrace\/seccomp-profile, oci-ftrace\/seccomp-profile-format, oci-ftrace\/record-seccomp$/);
  });

  it('no handler: a warning when containerd is installed, a note when it is not', () => {
    expect(checkContainerd(engineWith(file(CTD, CONTAINERD_PLAIN), { binary: '/usr/bin/containerd' }))).toEqual([expect.objectContaining({ ok: 'warn' })]);
    expect(checkContainerd(engineWith(file(CTD, CONTAINERD_PLAIN)))).toEqual([expect.objectContaining({ ok: true })]);
    expect(checkContainerd(engineWith(file(CTD, undefined)))).toEqual([expect.objectContaining({ ok: true, detail: `${CTD} not found; containerd not on PATH` })]);
    expect(checkContainerd(engineWith(file(CTD, undefined), { binary: '/usr/bin/containerd' }))[0]?.ok).toBe('warn');
  });

  it('warns when the handler names a missing binary, fails on a broken file or an explicit path that is absent', () => {
    expect(only(checkContainerd(engineWith(file(CTD, CONTAINERD_WITH), { executable: [] })), 'containerd')).toMatchObject({ ok: 'warn', fix: `install the front door there: ln -s ${FRONT_DOOR} ${INSTALLED}` });
    expect(checkContainerd(engineWith(file(CTD, 'version = = 2')))[0]?.ok).toBe(false);
    expect(checkContainerd(engineWith(file(CTD, 'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.x]\npod_annotations = "oci-ftrace/*"\n')))[0]?.ok).toBe(false);
    expect(checkContainerd(engineWith(file('/tmp/nope.toml', undefined, true)))[0]).toMatchObject({ ok: false, detail: '/tmp/nope.toml not found' });
  });
});

describe('Go path.Match, as containerd applies pod_annotations', () => {
  it.each<[string, string, boolean]>([
    ['oci-ftrace/*', 'oci-ftrace/trace', true],
    ['*', 'oci-ftrace/trace', false],
    ['*/*', 'oci-ftrace/trace', true],
    ['oci-*/*', 'oci-ftrace/record-seccomp', true],
    ['oci-ftrace/tr?ce', 'oci-ftrace/trace', true],
    ['oci-ftrace/[st]*', 'oci-ftrace/trace', true],
    ['oci-ftrace/[^st]*', 'oci-ftrace/trace', false],
    ['oci-ftrace/trace', 'oci-ftrace/trace-x', false],
    ['oci.ftrace/*', 'ocixftrace/trace', false],
    ['oci-ftrace/[', 'oci-ftrace/[', false],
  ])('%s against %s: %s', (pattern, name, expected) => {
    expect(goPathMatch(pattern, name)).toBe(expected);
  });
});

// ------------------------------------------------------------------------------------------------

const DAEMON = '/etc/docker/daemon.json';

describe('docker', () => {
  it('finds a runtimes entry whose path is the front door', () => {
    const text = JSON.stringify({ runtimes: { 'oci-ftrace': { path: INSTALLED } }, iptables: false });
    expect(checkDocker(engineWith(file(DAEMON, text)))).toEqual([{ check: 'docker', ok: true, detail: `runtime oci-ftrace (${DAEMON}): ${INSTALLED}; docker run --runtime oci-ftrace` }]);
  });

  it('warns without the runtime when dockerd is installed', () => {
    const text = JSON.stringify({ runtimes: { other: { path: '/usr/bin/crun' } }, 'log-driver': 'json-file' });
    const [f] = checkDocker(engineWith(file(DAEMON, text), { binary: '/usr/sbin/dockerd' }));
    expect(f?.ok).toBe('warn');
    expect(f?.fix).toMatch(/"runtimes": \{"oci-ftrace"/);
    expect(checkDocker(engineWith(file(DAEMON, '{}')))[0]?.ok).toBe(true);
  });

  it('fails on a file dockerd would refuse', () => {
    expect(checkDocker(engineWith(file(DAEMON, '{"runtimes": ')))[0]?.ok).toBe(false);
    expect(checkDocker(engineWith(file(DAEMON, '{"runtimes": {"x": {"path": 1}}}')))[0]?.detail).toMatch(/runtimes\.x\.path/);
  });
});

describe('podman', () => {
  const CONF = '/etc/containers/containers.conf';
  it('finds an [engine.runtimes] entry listing the front door', () => {
    const text = `[engine]\nruntime = "oci-ftrace"\n[engine.runtimes]\noci-ftrace = ["${INSTALLED}"]\n`;
    expect(checkPodman({ ...engineWith(file(CONF, text)), files: [file('/usr/share/containers/containers.conf', '[engine]\n'), file(CONF, text)] })).toEqual([
      expect.objectContaining({ ok: true, detail: `[engine.runtimes] oci-ftrace (${CONF}): ${INSTALLED}, the default runtime; podman run --runtime oci-ftrace` }),
    ]);
  });

  it('no entry is a note, never a warning: podman run --runtime PATH needs none', () => {
    const [f] = checkPodman(engineWith(file(CONF, '[engine.runtimes]\ncrun = ["/usr/bin/crun"]\n'), { binary: '/usr/bin/podman' }));
    expect(f?.ok).toBe(true);
    expect(f?.fix).toMatch(/^optional:/);
  });
});

describe('output', () => {
  it('one line per finding, the fix indented under it', () => {
    const text = renderFindings([
      { check: 'tracefs', ok: true, detail: '/sys/kernel/tracing' },
      { check: 'docker', ok: 'warn', detail: 'no entry', fix: 'add one' },
      { check: 'runtime', ok: false, detail: 'none', fix: 'install runc' },
    ]);
    expect(text).toBe('ok    tracefs: /sys/kernel/tracing\nWARN  docker: no entry\n      fix: add one\nFAIL  runtime: none\n      fix: install runc\n');
  });

  it('a failure, not a warning, fails the run', () => {
    expect(hasFailure([{ check: 'a', ok: 'warn', detail: '' }])).toBe(false);
    expect(hasFailure([{ check: 'a', ok: 'warn', detail: '' }, { check: 'b', ok: false, detail: '' }])).toBe(true);
  });
});
