// A real container, traced from createRuntime exactly as the product traces it (the same instance
// setup, the init's threads named, the same events), under a seccomp profile of its own that stops
// mkdir with EPERM and kills chmod: what the binary ingest makes of its pages, read in the worst
// order, against the kernel's own text of the same buffer read in time order.
// RECORD_RAW_FIXTURES=1 also writes the capture as unit-test fixtures (raw-container-*).
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tmp from 'tmp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveIngest } from '../src/ingest/live-ingest.js';
import { createRawEventDecoder } from '../src/ingest/raw-decoder.js';
import { drainTracePipeRaw, listTraceCpus, tracePipeRawPath } from '../src/ingest/raw-pipe-reader.js';
import { TaskTable } from '../src/ingest/task-table.js';
import { threadsOf } from '../src/agent/tracing.js';
import { TraceAggregate } from '../src/report/aggregate.js';
import { TraceAnalyzer } from '../test/support/text-analyzer.js';
import { forkSyscallNumbers, syscallNumber } from '../src/syscalls/index.js';
import { readEventFormat, readEventHeaderFormat, readPageHeaderFormat } from '../src/tracefs/event-format.js';
import { CONTAINER_EVENTS, TraceInstance } from '../src/tracefs/tracefs.js';
import { makeBusyboxBundle } from './lab/bundle.js';
import { REPO_ROOT, RUNC, requireLab, tracefsRoot, uniqueId } from './lab/env.js';
import { listTracefsInstances } from './lab/leaks.js';

requireLab();
const RECORD_FIXTURES = process.env.RECORD_RAW_FIXTURES === '1';
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

interface Capture {
  initPid: number;
  initialTasks: number[];
  pages: Map<number, Buffer[]>;
  text: string;
  stdout: string;
}

/** Runs the bundle under runc with a createRuntime hook that waits until the instance follows the init. */
async function captureContainer(): Promise<Capture> {
  const b = await makeBusyboxBundle(path.join(work.name, 'bundle'), { args: ['/bin/sh', '-c', SCRIPT], readonlyRootfs: false });
  execFileSync('gcc', ['-static', '-O1', '-pthread', '-o', path.join(b.rootfsDir, PROBE), path.join(FIXTURES, 'seccomp-probe.c')]);
  const stateFile = path.join(work.name, 'state.json');
  const goFile = path.join(work.name, 'go');
  const spec = JSON.parse(readFileSync(b.configPath, 'utf8')) as Record<string, any>;
  spec.linux.seccomp = PROFILE;
  spec.hooks = { createRuntime: [{ path: '/bin/sh', args: ['sh', '-c', `cat > ${stateFile}.tmp && mv ${stateFile}.tmp ${stateFile} && while [ ! -e ${goFile} ]; do sleep 0.005; done`] }] };
  writeFileSync(b.configPath, JSON.stringify(spec, null, 2));

  const root = tracefsRoot() as string;
  const inst = new TraceInstance(root, PREFIX + uniqueId('c').replace(/[^A-Za-z0-9_.+-]/g, ''));
  instance = inst;
  await inst.configure({ bufferKbTotal: 8192, clock: 'mono', events: CONTAINER_EVENTS });
  const child = spawn(RUNC, ['run', '--bundle', b.bundleDir, uniqueId('ctr-raw')], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
  for (const started = Date.now(); !existsSync(stateFile); ) {
    if (Date.now() - started > 10_000) throw new Error('the createRuntime hook never ran');
    await new Promise((r) => setTimeout(r, 5));
  }
  const initPid = (JSON.parse(readFileSync(stateFile, 'utf8')) as { pid: number }).pid;
  await inst.start(threadsOf(initPid), CONTAINER_EVENTS);
  const initialTasks = await inst.eventPids();
  writeFileSync(goFile, '');
  expect(await exited).toBe(0);
  await inst.stop();
  const text = inst.read('trace');
  const layout = { page: readPageHeaderFormat(inst.path), event: readEventHeaderFormat(inst.path) };
  const pages = new Map(listTraceCpus(inst.path).map((cpu) => [cpu, drainTracePipeRaw(tracePipeRawPath(inst.path, cpu), layout.page.subBufferSize)]));
  if (RECORD_FIXTURES) {
    for (const [cpu, list] of pages) writeFileSync(path.join(FIXTURES, `raw-container-cpu${cpu}.bin`), Buffer.concat(list));
    writeFileSync(path.join(FIXTURES, 'raw-container.trace'), text);
    writeFileSync(path.join(FIXTURES, 'raw-container.json'), `${JSON.stringify({ initPid, initialTasks, profile: PROFILE, stdout }, null, 2)}\n`);
    for (const ev of CONTAINER_EVENTS) writeFileSync(path.join(FIXTURES, `raw-format-${ev.replace('/', '-')}.txt`), inst.read(`events/${ev}/format`));
  }
  return { initPid, initialTasks, pages, text, stdout };
}

describe('a container under its own seccomp profile, traced from createRuntime', () => {
  let cap: Capture;
  beforeAll(async () => {
    cap = await captureContainer();
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
    const procs = [...live.processes.values()];
    expect(procs.filter((p) => p.parentPid === undefined).map((p) => p.pid)).toEqual([cap.initPid]);
    expect(procs.every((p) => p.comm !== '<...>' && p.comm !== '')).toBe(true);
    const probe = procs.find((p) => p.execs.includes(PROBE));
    expect(probe?.threads.size).toBe(3);
    expect(procs.filter((p) => p.parentPid === probe?.pid).length).toBe(6);
  });
});
