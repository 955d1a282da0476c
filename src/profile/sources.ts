/**
 * Reading what the profile commands are given, I/O at the edge: reports (summary.json, a report
 * directory, or a container id under the output directory) and profiles (OCI, Docker, config.json).
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { SummarySchema, type Summary } from '../report/summary.js';
import { heldCapabilitiesOfSpec } from '../capabilities/index.js';
import { parseJsonLossless } from '../oci-config/lossless-json.js';
import { describeIssue } from '../oci-config/schema.js';
import { findReportDir } from '../report/report-index.js';
import { validateContainerId } from '../state/oci-state.js';
import { SUMMARY_FILE_NAME, containerOutputDir } from '../state/paths.js';
import { ProfileError, parseInputProfile } from './input-profile.js';
import type { InputSeccomp } from './seccomp.js';

/** Beside a report: the bundle's own profile that record mode replaced (see container-profile.ts). */
export const ORIGINAL_PROFILE_FILE = 'seccomp.original.json';

export interface LoadedReport {
  kind: 'report';
  path: string;
  summary: Summary;
  /** The saved original profile of that container, when there is one. */
  original?: { path: string; profile: InputSeccomp };
}

export interface LoadedProfile {
  kind: 'profile';
  path: string;
  profile: InputSeccomp;
  /** A config.json's process.capabilities (all sets together), when it has them. */
  capabilities?: string[];
}

export type LoadedSource = LoadedReport | LoadedProfile;

/**
 * `arg` is a file, a report directory, or (no slash, not a path that exists) a container id whose
 * report is under `outputDir`. What a file holds is told from its content.
 */
export async function loadSource(arg: string, outputDir: string): Promise<LoadedSource> {
  let path = arg;
  if (!existsSync(path) && !arg.includes('/') && !arg.endsWith('.json')) path = findReportDir(outputDir, validateContainerId(arg)) ?? containerOutputDir(outputDir, arg);
  if (!existsSync(path)) throw new ProfileError(`${arg}: no such file, report directory or container report`);
  if (statSync(path).isDirectory()) {
    const summaryPath = join(path, SUMMARY_FILE_NAME);
    if (!existsSync(summaryPath)) throw new ProfileError(`${path}: directory holds no ${SUMMARY_FILE_NAME}`);
    path = summaryPath;
  }
  const text = await readText(path);
  let plain: unknown;
  try {
    plain = JSON.parse(text);
  } catch (err) {
    const yamlHint = /\.ya?ml$/.test(path) ? ' (YAML resources are written, not read: pass the JSON form)' : '';
    throw new ProfileError(`${path}: not JSON${yamlHint}: ${(err as Error).message}`);
  }
  if (isRecord(plain) && plain.tool === 'oci-ftrace') {
    const r = SummarySchema.safeParse(plain);
    if (!r.success) throw new ProfileError(`${path}: not a valid oci-ftrace summary: ${describeIssue(r.error)}`);
    const original = await loadOriginalBeside(path);
    return { kind: 'report', path, summary: r.data, ...(original ? { original } : {}) };
  }
  // Lossless, so 64-bit argument values are read exactly.
  const tree = parseJsonLossless(text, path);
  const capabilities = heldCapabilitiesOfSpec(tree);
  return { kind: 'profile', path, profile: parseInputProfile(tree, path), ...(capabilities ? { capabilities } : {}) };
}

export async function loadProfileFile(path: string): Promise<LoadedProfile> {
  const text = await readText(path);
  return { kind: 'profile', path, profile: parseInputProfile(parseJsonLossless(text, path), path) };
}

async function loadOriginalBeside(summaryPath: string): Promise<LoadedReport['original']> {
  const path = join(dirname(summaryPath), ORIGINAL_PROFILE_FILE);
  if (!existsSync(path)) return undefined;
  return { path, profile: (await loadProfileFile(path)).profile };
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new ProfileError(`${path}: cannot read: ${(err as Error).message}`);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
