// Capability checks (capability:cap_capable) of a real container, traced from createRuntime in the
// same instance as its syscalls: what the binary ingest makes of them, pages read in the worst
// order, against the kernel's own text of the same buffer. The bundle holds CAP_NET_RAW but not
// CAP_CHOWN: ping is granted the one, chown denied the other.
// RECORD_RAW_FIXTURES=1 also writes the capture as unit-test fixtures (raw-caps-*).
import path from 'node:path';
import tmp from 'tmp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveIngest } from '../src/ingest/live-ingest.js';
import { createRawEventDecoder } from '../src/ingest/raw-decoder.js';
import { TaskTable } from '../src/ingest/task-table.js';
import { TraceAggregate } from '../src/report/aggregate.js';
import { forkSyscallNumbers, syscallNumber } from '../src/syscalls/index.js';
import { readEventFormat, readEventHeaderFormat, readPageHeaderFormat } from '../src/tracefs/event-format.js';
import { CAPABILITY_EVENT, CONTAINER_EVENTS, TraceInstance } from '../src/tracefs/tracefs.js';
import { makeBusyboxBundle } from './lab/bundle.js';
import { requireLab } from './lab/env.js';
import { listTracefsInstances } from './lab/leaks.js';
import { captureContainer, type Capture } from './support/capture.js';
import { OWN_PROFILE } from './support/traced.js';

requireLab();
const PREFIX = 'oci-ftrace-captest-';
const work = tmp.dirSync({ prefix: PREFIX, unsafeCleanup: true });
const EVENTS = [...CONTAINER_EVENTS, CAPABILITY_EVENT];
const CAPS = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW'];
const SCRIPT = 'ping -c1 127.0.0.1 >/dev/null; echo ping=$?; touch /tmp/x; chown 1:1 /tmp/x 2>/dev/null; echo chown=$?';
let instance: TraceInstance | undefined;

afterAll(async () => {
  await instance?.removeAsync(undefined).catch(() => undefined);
  work.removeCallback();
  expect(listTracefsInstances(PREFIX)).toEqual([]);
});

describe('capability checks of a container, traced with its syscalls', () => {
  let cap: Capture;
  beforeAll(async () => {
    const b = await makeBusyboxBundle(path.join(work.name, 'bundle'), { args: ['/bin/sh', '-c', SCRIPT], readonlyRootfs: false, seccomp: OWN_PROFILE, capabilities: CAPS });
    cap = await captureContainer({ configPath: b.configPath, bundleDir: b.bundleDir, workDir: work.name, prefix: PREFIX, events: EVENTS, fixture: 'raw-caps', meta: { capabilities: CAPS, script: SCRIPT } }, (i) => (instance = i));
  });

  it('runs as under bare runc: ping works, chown is refused', () => {
    expect(cap.stdout).toBe('ping=0\nchown=1\n');
  });

  it('the binary ingest counts the workload\'s checks, with the syscall in flight, as the kernel\'s text shows them', () => {
    const inst = instance as TraceInstance;
    const formats = EVENTS.map((ev) => readEventFormat(inst.path, ...(ev.split('/') as [string, string])));
    const byName = (n: string) => formats.find((f) => f.name === n)!;
    const known = { seccomp: syscallNumber('seccomp', 'x86_64'), prctl: syscallNumber('prctl', 'x86_64') };
    const tasks = new TaskTable({ comm: () => undefined, tgid: () => undefined }, new Map(), new Map(cap.initialTasks.map((t) => [t, cap.initPid])));
    const agg = new TraceAggregate(known, { filterLoadExpected: true });
    const layout = { page: readPageHeaderFormat(inst.path), event: readEventHeaderFormat(inst.path) };
    const ingest = new LiveIngest({ enter: byName('sys_enter'), exit: byName('sys_exit'), capable: byName('cap_capable') }, layout, agg, tasks, createRawEventDecoder(formats), known, forkSyscalls(), cap.initialTasks);
    for (const cpu of [...cap.pages.keys()].reverse()) for (const page of cap.pages.get(cpu) ?? []) ingest.page(page, cpu);
    ingest.release(Infinity);

    // The kernel's text: every check, the runtime's too.
    const textChecks = cap.text.split('\n').filter((l) => l.includes('cap_capable:')).map((l) => /cap (\d+), ret (-?\d+)/.exec(l)!.slice(1).map(Number));
    const counted = [...agg.capabilities.values()].reduce((n, c) => n + c.granted + c.denied, 0);
    expect(counted + agg.runtimeCapabilityChecks).toBe(textChecks.length);
    expect(agg.runtimeCapabilityChecks).toBeGreaterThan(10);

    const socket = syscallNumber('socket', 'x86_64') as number;
    const netRaw = agg.capabilities.get(13);
    expect(netRaw?.granted).toBe(textChecks.filter(([c, r]) => c === 13 && r === 0).length);
    expect([...(netRaw?.bySyscall.keys() ?? [])]).toEqual([socket]);
    const chown = agg.capabilities.get(0);
    expect(chown?.granted).toBe(0);
    expect(chown?.denied).toBeGreaterThan(0);
    const [chownNr, calls] = [...(chown?.bySyscall ?? [])][0]!;
    expect(['chown', 'fchownat'].map((n) => syscallNumber(n, 'x86_64'))).toContain(chownNr);
    expect(calls.deniedOutcomes.get(1)).toBeGreaterThan(0); // EPERM
  });
});

function forkSyscalls(): ReadonlySet<number> {
  return forkSyscallNumbers('x86_64');
}
