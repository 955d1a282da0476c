// A real container, traced from createRuntime exactly as the product traces it (the same instance
// setup, the init's threads named, the same events), under a seccomp profile of its own that stops
// mkdir with EPERM and kills chmod: what the binary ingest makes of its pages, read in the worst
// order, against the kernel's own text of the same buffer read in time order.
// RECORD_RAW_FIXTURES=1 also writes the capture as unit-test fixtures (raw-container-*).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import tmp from 'tmp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveIngest } from '../src/ingest/live-ingest.js';
import { createRawEventDecoder } from '../src/ingest/raw-decoder.js';
import { TaskTable } from '../src/ingest/task-table.js';
import { TraceAggregate } from '../src/report/aggregate.js';
import { TraceAnalyzer } from '../test/support/text-analyzer.js';
import { forkSyscallNumbers, syscallNumber } from '../src/syscalls/index.js';
import { readEventFormat, readEventHeaderFormat, readPageHeaderFormat } from '../src/tracefs/event-format.js';
import { CONTAINER_EVENTS, TraceInstance } from '../src/tracefs/tracefs.js';
import { makeBusyboxBundle } from './lab/bundle.js';
import { REPO_ROOT, requireLab } from './lab/env.js';
import { captureContainer, type Capture } from './support/capture.js';
import { listTracefsInstances } from './lab/leaks.js';

requireLab();
const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures');
const PREFIX = 'oci-ftrace-ctrtest-';
const work = tmp.dirSync({ prefix: PREFIX, unsafeCleanup: true });
let instance: TraceInstance | undefined;

afterAll(async () => {
  await instance?.removeAsync(undefined).catch(() => undefined);
  work.removeCallback();
  expect(listTracefsInstances(PREFIX)).toEqual([]);
});

const PROBE = '/bin/seccomp-probe';
const SCRIPT = `${PROBE} tree 6; mkdir /tmp/x; echo mkdir=$?; /bin/sh -c 'chmod 0 /tmp'; echo chmod=$?`;
/** The bundle's own profile: allows everything but these. */
const PROFILE = {
  defaultAction: 'SCMP_ACT_ALLOW',
  architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
  syscalls: [
    { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
    { names: ['chmod', 'fchmodat', 'fchmodat2'], action: 'SCMP_ACT_KILL' },
  ],
};

/** Runs the bundle under runc, traced from createRuntime as the product traces it. */
async function captureThisContainer(): Promise<Capture> {
  const b = await makeBusyboxBundle(path.join(work.name, 'bundle'), { args: ['/bin/sh', '-c', SCRIPT], readonlyRootfs: false, seccomp: PROFILE });
  execFileSync('gcc', ['-static', '-O1', '-pthread', '-o', path.join(b.rootfsDir, PROBE), path.join(FIXTURES, 'seccomp-probe.c')]);
  return captureContainer({ configPath: b.configPath, bundleDir: b.bundleDir, workDir: work.name, prefix: PREFIX, events: CONTAINER_EVENTS, fixture: 'raw-container', meta: { profile: PROFILE } }, (i) => (instance = i));
}

describe('a container under its own seccomp profile, traced from createRuntime', () => {
  let cap: Capture;
  beforeAll(async () => {
    cap = await captureThisContainer();
  });

  it('runs as under bare runc: mkdir answered EPERM, the chmod shell killed (SIGSYS, 159)', () => {
    expect(cap.stdout).toContain('mkdir in child: Operation not permitted');
    expect(cap.stdout).toMatch(/^tree: 6 children$/m);
    expect(cap.stdout).toMatch(/^mkdir=1$/m);
    expect(cap.stdout).toMatch(/^chmod=159$/m);
  });

  it('the binary ingest, pages read one CPU after the other, agrees with the text read in time order', () => {
    const inst = instance as TraceInstance;
    const formats = CONTAINER_EVENTS.map((ev) => readEventFormat(inst.path, ...(ev.split('/') as [string, string])));
    const byName = (n: string) => formats.find((f) => f.name === n)!;
    const known = { seccomp: syscallNumber('seccomp', 'x86_64'), prctl: syscallNumber('prctl', 'x86_64') };
    const forks = forkSyscallNumbers('x86_64');
    const tasks = new TaskTable({ comm: () => undefined, tgid: () => undefined }, new Map(), new Map(cap.initialTasks.map((t) => [t, cap.initPid])));
    const live = new TraceAggregate(known);
    const layout = { page: readPageHeaderFormat(inst.path), event: readEventHeaderFormat(inst.path) };
    const ingest = new LiveIngest({ enter: byName('sys_enter'), exit: byName('sys_exit') }, layout, live, tasks, createRawEventDecoder(formats), known, forks, cap.initialTasks);
    for (const cpu of [...cap.pages.keys()].reverse()) for (const page of cap.pages.get(cpu) ?? []) ingest.page(page, cpu);
    ingest.release(Infinity);

    const text = new TraceAnalyzer({ forkSyscalls: forks, known, initialTasks: cap.initialTasks });
    for (const line of cap.text.split('\n')) text.feedLine(line);
    text.finish();

    const view = (agg: TraceAggregate) =>
      Object.fromEntries([...agg.syscalls.values()].map((s) => [s.nr, { count: s.count, errors: s.errors, blocked: s.blocked?.count ?? 0, killed: s.blocked?.killed ?? 0 }]));
    expect(view(live)).toEqual(view(text.aggregate));
    const mkdir = live.syscalls.get(syscallNumber('mkdir', 'x86_64') as number);
    expect(mkdir?.blocked?.count).toBe(2);
    expect(mkdir?.blocked?.errnos.get(1)).toBe(2);
    expect(mkdir?.count).toBe(0);
    const killed = [...live.syscalls.values()].filter((s) => (s.blocked?.killed ?? 0) > 0);
    expect(killed.map((s) => s.blocked?.killed)).toEqual([1]);
    expect(live.seccompLoad?.pid).toBe(cap.initPid);

    // Every process has its parent, but the container's init; the probe's threads are in its process.
    const procs = live.allProcesses();
    expect(procs.filter((p) => p.parentPid === undefined).map((p) => p.pid)).toEqual([cap.initPid]);
    expect(procs.every((p) => p.comm !== '<...>' && p.comm !== '')).toBe(true);
    const probe = procs.find((p) => p.execs.includes(PROBE));
    expect(probe?.threads.size).toBe(3);
    expect(procs.filter((p) => p.parentPid === probe?.pid).length).toBe(6);
  });
});
