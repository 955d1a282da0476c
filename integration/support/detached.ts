// Containers run the way engines run them (create, start, wait, delete), so a test can act on a
// container while it runs.
import { closeSync, openSync } from 'node:fs';
import { execa } from 'execa';
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
  closeSync(openSync(outFile, 'w'));
  {
    await execa(WRAPPER, [...c.globals, 'create', '--bundle', bundleDir, c.id], { env: c.env, stdin: 'ignore', stdout: { file: outFile, append: true }, stderr: { file: outFile, append: true } });
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
