/**
 * One run of a bundle as changed for a test (its capabilities, its seccomp profile), through the
 * real runtime, leaving the bundle as found: the spec is a copy in a temp dir, the rootfs an
 * overlay on the bundle's (writes go to the overlay), the runtime's state a root of its own. The
 * container runs without a terminal (its stdout is what is compared) and is deleted after.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { execa } from 'execa';
import tmp from 'tmp';
import { readBundleSpec } from '../oci-config/bundle-config.js';
import { stringifyJsonLossless } from '../oci-config/lossless-json.js';
import type { SpecModifier } from '../oci-config/modifiers.js';
import type { OciSpec } from '../oci-config/schema.js';
import { unprepareModifier } from '../prepare/prepare-bundle.js';
import type { RunOutcome } from './outcome.js';

let runs = 0;

interface Mount {
  type?: string;
  source?: string;
  options?: string[];
  [key: string]: unknown;
}

/** The copy's spec: the changes asked for, our hooks out, the rootfs and relative bind sources made absolute. */
function variantSpec(spec: OciSpec, bundleDir: string, rootfs: string, modifiers: readonly SpecModifier[]): OciSpec {
  let next = [unprepareModifier(), ...modifiers].reduce((s, m) => m.apply(s), spec);
  const root = (next.root ?? {}) as Record<string, unknown>;
  const process = (next.process ?? {}) as Record<string, unknown>;
  const mounts = ((next as { mounts?: Mount[] }).mounts ?? []).map((m) => {
    const bind = m.type === 'bind' || (m.options ?? []).includes('bind') || (m.options ?? []).includes('rbind');
    return bind && typeof m.source === 'string' && !isAbsolute(m.source) ? { ...m, source: resolve(bundleDir, m.source) } : m;
  });
  next = { ...next, root: { ...root, path: rootfs }, process: { ...process, terminal: false }, mounts } as OciSpec;
  return next;
}

/** The bundle's rootfs under an overlay (so the runs leave it as found), or a copy where overlayfs will not mount it. */
async function layRootfs(rootfs: string, dir: string): Promise<{ path: string; undo: () => Promise<void> }> {
  const merged = join(dir, 'rootfs');
  for (const d of ['upper', 'work', 'rootfs']) mkdirSync(join(dir, d));
  const mounted = await execa('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${rootfs},upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')}`, merged], { reject: false, stdin: 'ignore' });
  if (mounted.exitCode === 0) {
    return { path: merged, undo: async () => void (await execa('umount', ['-l', merged], { reject: false, stdin: 'ignore' })) };
  }
  const copied = await execa('cp', ['-a', `${rootfs}/.`, merged], { reject: false, stdin: 'ignore' });
  if (copied.exitCode !== 0) throw new Error(`cannot lay the rootfs ${rootfs} under an overlay or copy it: ${String(copied.stderr).split('\n')[0]}`);
  return { path: merged, undo: async () => undefined };
}

export interface VariantOptions {
  runtime: string;
  timeoutMs: number;
}

export async function runBundleVariant(bundleDir: string, modifiers: readonly SpecModifier[], opts: VariantOptions): Promise<RunOutcome> {
  const { spec } = await readBundleSpec(bundleDir);
  const rootPath = (spec.root as { path?: unknown } | undefined)?.path;
  if (typeof rootPath !== 'string') throw new Error(`${bundleDir}/config.json has no root.path`);
  const work = tmp.dirSync({ prefix: 'oci-ftrace-verify-', unsafeCleanup: true });
  const id = `oci-ftrace-verify-${process.pid}-${++runs}`;
  const state = join(work.name, 'state');
  const copy = join(work.name, 'bundle');
  mkdirSync(copy);
  let rootfs: { path: string; undo: () => Promise<void> } | undefined;
  try {
    rootfs = await layRootfs(resolve(bundleDir, rootPath), work.name);
    writeFileSync(join(copy, 'config.json'), stringifyJsonLossless(variantSpec(spec, resolve(bundleDir), rootfs.path, modifiers)));
    const r = await execa(opts.runtime, ['--root', state, 'run', '--bundle', copy, id], { reject: false, stdin: 'ignore', timeout: opts.timeoutMs, cwd: copy });
    if (r.timedOut) throw new Error(`the run did not end within ${opts.timeoutMs / 1000} s`);
    if (r.exitCode === undefined) throw new Error(`cannot run ${opts.runtime}: ${(r.shortMessage ?? 'failed').split('\n')[0]}`);
    return { exitCode: r.exitCode, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
  } finally {
    await execa(opts.runtime, ['--root', state, 'delete', '--force', id], { reject: false, stdin: 'ignore' });
    await rootfs?.undo();
    work.removeCallback();
  }
}
