// Containers run the way engines run them (create, start, wait, delete), so a test can act on a
// container while it runs.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { WRAPPER } from '../lab/env.js';
import { runCommand } from '../lab/run.js';

export interface DetachedContainer {
  id: string;
  globals: string[];
  env: Record<string, string>;
  /** The real runtime, to ask for state without going through the wrapper. */
  runtime: string;
}

/** `create` with stdio on files (as a shim's fifos), then `start`. */
export async function createAndStart(c: DetachedContainer, bundleDir: string, outFile: string): Promise<void> {
  // The container keeps the runtime's stdio: give it a file descriptor, not a pipe someone must
  // drain (a pipe would keep `create` from ever being seen to finish).
  const out = openSync(outFile, 'w');
  try {
    const child = spawn(WRAPPER, [...c.globals, 'create', '--bundle', bundleDir, c.id], { env: { ...process.env, ...c.env }, stdio: ['ignore', out, out] });
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', resolve);
    });
    if (code !== 0) throw new Error(`create ${c.id} exited ${code}: ${readFileSync(outFile, 'utf8')}`);
  } finally {
    closeSync(out);
  }
  await runCommand(WRAPPER, [...c.globals, 'start', c.id], { env: c.env });
}

export async function status(c: DetachedContainer): Promise<string> {
  const r = await runCommand(c.runtime, [...c.globals, 'state', c.id], { reject: false });
  return r.exitCode === 0 ? (JSON.parse(r.stdout) as { status: string }).status : 'gone';
}

export async function waitStopped(c: DetachedContainer, timeoutMs: number): Promise<void> {
  for (const started = Date.now(); Date.now() - started < timeoutMs; ) {
    if ((await status(c)) === 'stopped') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`container ${c.id} still running after ${timeoutMs} ms`);
}

/** `delete` (runs poststop: our report), then a forced delete in case the first failed. */
export async function deleteContainer(c: DetachedContainer): Promise<void> {
  await runCommand(WRAPPER, [...c.globals, 'delete', c.id], { env: c.env, reject: false, timeoutMs: 120_000 });
  await runCommand(WRAPPER, [...c.globals, 'delete', '--force', c.id], { env: c.env, reject: false });
}
