// A real container's trace, captured exactly as the product traces it (the same instance setup,
// the init's threads named from createRuntime, the same events), for tests of the binary ingest
// and, with RECORD_RAW_FIXTURES=1, as unit-test fixtures (test/fixtures/<name>-*).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { threadsOf } from '../../src/agent/tracing.js';
import { drainTracePipeRaw, listTraceCpus, tracePipeRawPath } from '../../src/ingest/raw-pipe-reader.js';
import { readEventHeaderFormat, readPageHeaderFormat } from '../../src/tracefs/event-format.js';
import { TraceInstance } from '../../src/tracefs/tracefs.js';
import { REPO_ROOT, RUNC, tracefsRoot, uniqueId } from '../lab/env.js';

const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures');

export interface Capture {
  instance: TraceInstance;
  initPid: number;
  initialTasks: number[];
  pages: Map<number, Buffer[]>;
  text: string;
  stdout: string;
}

export interface CaptureOptions {
  /** The bundle's config.json, edited in place to add the waiting createRuntime hook. */
  configPath: string;
  bundleDir: string;
  workDir: string;
  /** Instance name prefix (the caller's leak check looks for it). */
  prefix: string;
  events: readonly string[];
  /** Written as test/fixtures/<fixture>-cpuN.bin, .trace, .json and the events' formats, when recording. */
  fixture: string;
  /** More of the capture's facts for the fixture's JSON. */
  meta?: Record<string, unknown>;
}

/** Runs the bundle under runc with a createRuntime hook that waits until the instance follows the init. */
export async function captureContainer(opts: CaptureOptions, onInstance: (i: TraceInstance) => void): Promise<Capture> {
  const stateFile = path.join(opts.workDir, `${opts.fixture}.state.json`);
  const goFile = path.join(opts.workDir, `${opts.fixture}.go`);
  const spec = JSON.parse(readFileSync(opts.configPath, 'utf8')) as Record<string, any>;
  spec.hooks = { createRuntime: [{ path: '/bin/sh', args: ['sh', '-c', `cat > ${stateFile}.tmp && mv ${stateFile}.tmp ${stateFile} && while [ ! -e ${goFile} ]; do sleep 0.005; done`] }] };
  writeFileSync(opts.configPath, JSON.stringify(spec, null, 2));

  const root = tracefsRoot() as string;
  const inst = new TraceInstance(root, opts.prefix + uniqueId('c').replace(/[^A-Za-z0-9_.+-]/g, ''));
  onInstance(inst);
  await inst.configure({ bufferKbTotal: 8192, clock: 'mono', events: opts.events });
  const child = spawn(RUNC, ['run', '--bundle', opts.bundleDir, uniqueId(opts.fixture)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
  for (const started = Date.now(); !existsSync(stateFile); ) {
    if (Date.now() - started > 10_000) throw new Error('the createRuntime hook never ran');
    await new Promise((r) => setTimeout(r, 5));
  }
  const initPid = (JSON.parse(readFileSync(stateFile, 'utf8')) as { pid: number }).pid;
  inst.start(threadsOf(initPid), opts.events);
  const initialTasks = inst.eventPids();
  writeFileSync(goFile, '');
  expect(await exited).toBe(0);
  await inst.stop();
  const text = inst.read('trace');
  const layout = { page: readPageHeaderFormat(inst.path), event: readEventHeaderFormat(inst.path) };
  const pages = new Map(listTraceCpus(inst.path).map((cpu) => [cpu, drainTracePipeRaw(tracePipeRawPath(inst.path, cpu), layout.page.subBufferSize)]));
  if (process.env.RECORD_RAW_FIXTURES === '1') {
    for (const [cpu, list] of pages) writeFileSync(path.join(FIXTURES, `${opts.fixture}-cpu${cpu}.bin`), Buffer.concat(list));
    writeFileSync(path.join(FIXTURES, `${opts.fixture}.trace`), text);
    writeFileSync(path.join(FIXTURES, `${opts.fixture}.json`), `${JSON.stringify({ initPid, initialTasks, ...opts.meta, stdout }, null, 2)}\n`);
    for (const ev of opts.events) writeFileSync(path.join(FIXTURES, `raw-format-${ev.replace('/', '-')}.txt`), inst.read(`events/${ev}/format`));
  }
  return { instance: inst, initPid, initialTasks, pages, text, stdout };
}
