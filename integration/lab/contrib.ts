// The contrib files as shipped, read by the tests that use them (no copies): the containerd
// runtime handler, with the front door's installed path swapped for this checkout's.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'smol-toml';
import { z } from 'zod';
import type { CriHandler } from './cri.js';
import { REPO_ROOT, WRAPPER } from './env.js';

export const CONTRIB_DIR = path.join(REPO_ROOT, 'contrib');

const HandlerSchema = z.object({
  runtime_type: z.literal('io.containerd.runc.v2'),
  pod_annotations: z.array(z.string()).optional(),
  container_annotations: z.array(z.string()).optional(),
  options: z.object({ BinaryName: z.string() }),
});
const ContainerdConfigSchema = z.object({
  version: z.literal(2),
  plugins: z.object({ 'io.containerd.grpc.v1.cri': z.object({ containerd: z.object({ runtimes: z.record(z.string(), HandlerSchema) }) }) }),
});

/** contrib/containerd-config.toml's handler: its name, and as a CriHandler running this checkout's front door. */
export function contribContainerdHandler(): { name: string; handler: CriHandler } {
  const config = ContainerdConfigSchema.parse(parse(readFileSync(path.join(CONTRIB_DIR, 'containerd-config.toml'), 'utf8')));
  const [name, h] = Object.entries(config.plugins['io.containerd.grpc.v1.cri'].containerd.runtimes)[0] ?? [];
  if (!name || !h) throw new Error('contrib/containerd-config.toml names no runtime handler');
  if (path.basename(h.options.BinaryName) !== 'oci-ftrace-runc') throw new Error(`contrib handler ${name} runs ${h.options.BinaryName}, not oci-ftrace-runc`);
  return { name, handler: { binaryName: WRAPPER, podAnnotations: h.pod_annotations, containerAnnotations: h.container_annotations } };
}
