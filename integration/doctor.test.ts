// `oci-ftrace doctor` on this lab: the built CLI, against the real tracefs, runc and the repo's own
// engine snippets (contrib/), read here rather than copied, so the test follows them.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse as parseToml, stringify as stringifyToml } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FindingsSchema, type Finding } from '../src/doctor/checks.js';
import { ANALYZER, REPO_ROOT, requireLab } from './lab/env.js';
import { listTracefsInstances } from './lab/leaks.js';
import { runCommand } from './lab/run.js';

const CONTAINERD_CONFIG = path.join(REPO_ROOT, 'contrib', 'containerd-config.toml');
const DOCKER_CONFIG = path.join(REPO_ROOT, 'contrib', 'docker-daemon.json');
const PODMAN_CONFIG = path.join(REPO_ROOT, 'contrib', 'podman', 'containers.conf');
const CRI = 'io.containerd.grpc.v1.cri';

interface Handler {
  name: string;
  table: Record<string, unknown>;
}

/** The contrib file's handler whose BinaryName is the front door. */
function contribHandler(config: Record<string, unknown>): Handler {
  const runtimes = ((config.plugins as Record<string, { containerd: { runtimes: Record<string, Record<string, unknown>> } }>)[CRI]?.containerd.runtimes ?? {}) as Record<string, Record<string, unknown>>;
  const found = Object.entries(runtimes).find(([, r]) => String((r.options as { BinaryName?: string } | undefined)?.BinaryName ?? '').endsWith('/oci-ftrace-runc'));
  if (!found) throw new Error(`${CONTAINERD_CONFIG} has no handler for the front door`);
  return { name: found[0], table: found[1] };
}

async function doctor(containerdConfig: string): Promise<{ exitCode: number; findings: Finding[] }> {
  const r = await runCommand(ANALYZER, ['doctor', '--json', '--containerd-config', containerdConfig, '--docker-config', DOCKER_CONFIG, '--podman-config', PODMAN_CONFIG], { reject: false });
  expect(r.stderr).toBe('');
  const findings = FindingsSchema.parse(JSON.parse(r.stdout));
  // Exit 1 exactly when something failed: whatever else this machine has, the code follows the findings.
  expect(r.exitCode).toBe(findings.some((f) => f.ok === false) ? 1 : 0);
  return { exitCode: r.exitCode, findings };
}

function only(findings: Finding[], check: string): Finding {
  const found = findings.filter((f) => f.check === check);
  expect(found, JSON.stringify(findings, null, 2)).toHaveLength(1);
  return found[0] as Finding;
}

let scratch: string;

beforeAll(() => {
  requireLab();
  scratch = mkdtempSync(path.join(tmpdir(), 'oci-ftrace-doctor-it-'));
});

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('oci-ftrace doctor', () => {
  it('finds tracefs, the real runtime and the contrib engine entries, and leaves no probe instance', async () => {
    const contrib = parseToml(readFileSync(CONTAINERD_CONFIG, 'utf8')) as Record<string, unknown>;
    const handler = contribHandler(contrib);
    const docker = JSON.parse(readFileSync(DOCKER_CONFIG, 'utf8')) as { runtimes: Record<string, { path: string }> };
    const dockerRuntime = Object.keys(docker.runtimes).find((k) => docker.runtimes[k]?.path.endsWith('/oci-ftrace-runc'));

    const { findings } = await doctor(CONTAINERD_CONFIG);

    for (const check of ['tracefs', 'tracefs: instances', 'tracefs: events']) expect(only(findings, check).ok, check).toBe(true);
    const runtime = only(findings, 'runtime');
    expect(runtime.ok).toBe(true);
    expect(runtime.detail).toMatch(/^\/\S+\/(runc|crun) \(.*\): (runc|crun) version \d/);

    // The handler is found (its binary may not be installed on this machine: that is a warning, not a miss).
    const ctd = only(findings, 'containerd');
    expect(ctd.ok).not.toBe(false);
    expect(ctd.detail).toContain(`handler ${handler.name}`);
    expect(handler.table.pod_annotations).toContain('oci-ftrace/*');
    expect(only(findings, 'containerd: pod_annotations').ok).toBe(true);

    const dockerFinding = only(findings, 'docker');
    expect(dockerFinding.ok).not.toBe(false);
    expect(dockerFinding.detail).toContain(`runtime ${dockerRuntime}`);

    // contrib/podman/containers.conf's [engine.runtimes] entry.
    const podman = only(findings, 'podman');
    expect(podman.ok, podman.detail).not.toBe(false);
    expect(podman.detail).toMatch(/oci-ftrace/);

    expect(listTracefsInstances('oci-ftrace-doctor-')).toEqual([]);
  });

  it('warns when the handler lacks pod_annotations', async () => {
    const contrib = parseToml(readFileSync(CONTAINERD_CONFIG, 'utf8')) as Record<string, unknown>;
    delete contribHandler(contrib).table.pod_annotations;
    const stripped = path.join(scratch, 'config.toml');
    writeFileSync(stripped, stringifyToml(contrib));

    const { findings } = await doctor(stripped);
    const annotations = only(findings, 'containerd: pod_annotations');
    expect(annotations.ok).toBe('warn');
    expect(annotations.fix).toContain('pod_annotations = ["oci-ftrace/*"]');
    expect(listTracefsInstances('oci-ftrace-doctor-')).toEqual([]);
  });
});
