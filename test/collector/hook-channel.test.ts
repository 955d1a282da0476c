import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collectorFiles, type CollectorFiles } from '../../src/collector/files.js';
import { HookChannel, formatReply, isBadRequest, parseHookRequest, type HookRequest } from '../../src/collector/hook-channel.js';
import { createHookFifos, removeIfSame, inodeOf } from '../../src/collector/hook-fifos.js';

const HOOK = fileURLToPath(new URL('../../bin/oci-ftrace-hook', import.meta.url));
const STATE = { ociVersion: '1.0.2', id: 'c1', status: 'creating', pid: 4242, bundle: '/b', annotations: { 'a/b': 'x "y" \\ z' } };

describe('parseHookRequest and formatReply (the FIFO protocol)', () => {
  it('reads KIND NONCE STATE, the state checked against the hook schema', () => {
    const r = parseHookRequest(`record 123.456 ${JSON.stringify(STATE)}`);
    expect(isBadRequest(r)).toBe(false);
    expect(r).toEqual({ kind: 'record', nonce: '123.456', state: STATE });
  });

  it.each([
    ['no state', 'record 1', { error: 'not KIND NONCE STATE' }],
    ['a nonce with spaces or slashes', 'record a/b {}', { error: 'invalid nonce' }],
    ['an unknown kind', 'delete 7 {}', { error: 'unknown request "delete"', nonce: '7' }],
    ['a state that is not JSON', 'report 7 {oops', { nonce: '7' }],
    ['an id that is not a container id', `record 7 ${JSON.stringify({ ...STATE, id: '../etc' })}`, { nonce: '7' }],
    ['a negative pid', `record 7 ${JSON.stringify({ ...STATE, pid: -1 })}`, { nonce: '7' }],
  ])('refuses %s, naming the problem', (_name, line, expected) => {
    const r = parseHookRequest(line);
    expect(isBadRequest(r)).toBe(true);
    expect(r).toMatchObject(expected);
    if (isBadRequest(r)) expect(r.error).not.toBe('');
  });

  it('answers on one line, whatever the reason holds', () => {
    expect(formatReply('9.1', { ok: true })).toBe('9.1 ok\n');
    expect(formatReply('9.1', { fallback: 'no\ninstance\r\nhere' })).toBe('9.1 fallback no instance here\n');
  });
});

// The real hook script against the real channel: this test process answers as the collector, and
// a process whose command line names the container stands in for the collector's process (the
// hook checks that it is alive, and stops it when it never answers).
const root = mkdtempSync(join(tmpdir(), 'oci-ftrace-hook-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const stateDir = join(root, 'state');
mkdirSync(stateDir);
// The "Node hook" the script falls back to: records its argv and stdin, exits as told.
const fallbackRecord = join(root, 'fallback.json');
const fallback = join(root, 'fallback.sh');
writeFileSync(fallback, `state=$(cat)\nprintf '%s\\n' "$1" "$state" > ${fallbackRecord}\nexit "\${FALLBACK_EXIT:-0}"\n`);
chmodSync(fallback, 0o755);

let files: CollectorFiles;
let standIn: ChildProcess | undefined;
let channel: HookChannel | undefined;

function startStandIn(id: string): ChildProcess {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', join(root, 'dist', 'collector', 'main.js'), id, '--serve'], { stdio: 'ignore' });
  writeFileSync(files.pid, String(child.pid));
  return child;
}

async function runHook(kind: string, state: unknown, opts: { wait?: number; env?: Record<string, string> } = {}) {
  const input = typeof state === 'string' ? state : JSON.stringify(state);
  const started = Date.now();
  const r = await execa(HOOK, [kind, stateDir, String(opts.wait ?? 5), '/bin/sh', fallback], { input, reject: false, env: opts.env ?? {}, extendEnv: false });
  return { ...r, ms: Date.now() - started, fellBack: existsSync(fallbackRecord) ? readFileSync(fallbackRecord, 'utf8').split('\n') : undefined };
}

beforeEach(() => {
  files = collectorFiles(stateDir, 'c1');
  createHookFifos(files);
  rmSync(fallbackRecord, { force: true });
});

afterEach(() => {
  channel?.close();
  channel = undefined;
  standIn?.kill('SIGKILL');
  standIn = undefined;
  for (const f of Object.values(files)) rmSync(f, { force: true });
});

describe('bin/oci-ftrace-hook', () => {
  it('hands the state to the collector and exits 0 on "ok", with no output and no Node', async () => {
    standIn = startStandIn('c1');
    channel = HookChannel.open(files);
    const seen: HookRequest[] = [];
    channel.onRequest((r) => {
      if (isBadRequest(r)) throw new Error(r.error);
      seen.push(r);
      channel?.reply(r.nonce, { ok: true });
    });
    const r = await runHook('record', STATE);
    expect([r.exitCode, r.stdout, r.stderr, r.fellBack]).toEqual([0, '', '', undefined]);
    expect(seen.map((s) => [s.kind, s.state])).toEqual([['record', STATE]]);
  });

  it('sends a state written over several lines as the same JSON, on one line', async () => {
    standIn = startStandIn('c1');
    channel = HookChannel.open(files);
    const seen: unknown[] = [];
    channel.onRequest((r) => {
      seen.push(isBadRequest(r) ? r : r.state);
      if (!isBadRequest(r)) channel?.reply(r.nonce, { ok: true });
    });
    expect((await runHook('report', JSON.stringify(STATE, null, 2))).exitCode).toBe(0);
    expect(seen).toEqual([STATE]);
  });

  it('skips answers meant for an earlier hook (another nonce)', async () => {
    standIn = startStandIn('c1');
    channel = HookChannel.open(files);
    channel.reply('99.1', { ok: true });
    channel.reply('99.2', { fallback: 'too late' });
    channel.onRequest((r) => {
      if (!isBadRequest(r)) setTimeout(() => channel?.reply(r.nonce, { ok: true }), 50);
    });
    const r = await runHook('record', STATE);
    expect([r.exitCode, r.fellBack]).toEqual([0, undefined]);
  });

  it('runs the Node hook with the same state and kind when the collector says fallback, with its exit status', async () => {
    standIn = startStandIn('c1');
    channel = HookChannel.open(files);
    channel.onRequest((r) => {
      if (!isBadRequest(r)) channel?.reply(r.nonce, { fallback: 'no instance' });
    });
    const r = await runHook('report', STATE, { env: { FALLBACK_EXIT: '3' } });
    expect(r.exitCode).toBe(3);
    expect(r.fellBack?.[0]).toBe('report');
    expect(JSON.parse(r.fellBack?.[1] ?? '')).toEqual(STATE);
  });

  it('runs the Node hook at once when there are no FIFOs (no collector serves this container)', async () => {
    for (const f of [files.request, files.reply]) rmSync(f);
    const r = await runHook('record', STATE);
    expect([r.exitCode, r.fellBack?.[0]]).toEqual([0, 'record']);
  });

  it('runs the Node hook when the collector named by the pid file is gone', async () => {
    standIn = startStandIn('c1');
    standIn.kill('SIGKILL');
    await new Promise((r) => standIn?.once('exit', r));
    const r = await runHook('record', STATE);
    expect([r.exitCode, r.fellBack?.[0]]).toEqual([0, 'record']);
    expect(r.ms).toBeLessThan(2000);
  });

  it('runs the Node hook when the pid file names a process that is not this container\'s collector', async () => {
    standIn = startStandIn('other-container');
    channel = HookChannel.open(files);
    channel.onRequest((r) => {
      if (!isBadRequest(r)) channel?.reply(r.nonce, { ok: true });
    });
    const r = await runHook('record', STATE);
    expect(r.fellBack?.[0]).toBe('record');
  });

  it('stops a collector that never answers after WAIT_SECONDS, then runs the Node hook', async () => {
    standIn = startStandIn('c1');
    const exited = new Promise<NodeJS.Signals | null>((resolve) => standIn?.once('exit', (_code, signal) => resolve(signal)));
    channel = HookChannel.open(files);
    channel.onRequest(() => undefined);
    const r = await runHook('report', STATE, { wait: 1 });
    expect(r.fellBack?.[0]).toBe('report');
    expect(r.ms).toBeGreaterThanOrEqual(900);
    expect(r.ms).toBeLessThan(4000);
    expect(await exited).toBe('SIGKILL');
  });

  it.each([
    ['no id', { ...STATE, id: undefined }],
    ['an id that is not a container id', { ...STATE, id: '../../etc/x' }],
    ['a state larger than the FIFO may hold', { ...STATE, annotations: { big: 'x'.repeat(70_000) } }],
    ['text that is not JSON', 'not json at all'],
  ])('leaves %s to the Node hook', async (_name, state) => {
    standIn = startStandIn('c1');
    channel = HookChannel.open(files);
    const seen: unknown[] = [];
    channel.onRequest((r) => seen.push(r));
    const r = await runHook('record', state);
    expect(r.fellBack?.[0]).toBe('record');
    expect(seen).toEqual([]);
  });

  it('leaves a hook kind it does not know, and a relative state dir, to Node', async () => {
    for (const args of [['bogus', stateDir], ['record', 'relative/state']]) {
      const r = await execa(HOOK, [args[0] as string, args[1] as string, '5', '/bin/sh', fallback], { input: JSON.stringify(STATE), reject: false, env: {}, extendEnv: false });
      if (args[0] === 'bogus') expect(r.exitCode).toBe(1);
      else expect(readFileSync(fallbackRecord, 'utf8').split('\n')[0]).toBe('record');
    }
  });
});

describe('the FIFOs', () => {
  it('are made new each time (a new inode), private to root', () => {
    const before = inodeOf(files.request);
    createHookFifos(files);
    const after = inodeOf(files.request);
    expect(after?.ino).not.toBe(before?.ino);
    expect(statSync(files.request).isFIFO()).toBe(true);
    expect(statSync(files.reply).mode & 0o777).toBe(0o600);
  });

  it('are removed by a collector only while they are still the ones it opened', () => {
    const old = inodeOf(files.request);
    createHookFifos(files);
    removeIfSame(files.request, old);
    expect(existsSync(files.request)).toBe(true);
    removeIfSame(files.request, inodeOf(files.request));
    expect(existsSync(files.request)).toBe(false);
  });
});
