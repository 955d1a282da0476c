/**
 * Report time, per container: keep the profile record mode replaced beside the report, and write
 * the container's own profile when `report --seccomp-profile [FILE]`, the container's annotation
 * or the config asks for one.
 */
import { mkdir } from 'node:fs/promises';
import { release } from 'node:os';
import { join, resolve } from 'node:path';
import type { Config } from '../config/config.js';
import type { Summary } from '../report/summary.js';
import { writeFileAtomic } from '../oci-config/bundle-config.js';
import { parseJsonLossless, stringifyJsonLossless } from '../oci-config/lossless-json.js';
import { LOG_FILE_NAME, SUMMARY_FILE_NAME, confinedPath } from '../state/paths.js';
import { DOCKER_DEFAULT_CAPABILITIES, ProfileError, parseInputProfile, parseKernelRelease } from './input-profile.js';
import { makeProfile, type MadeProfile } from './make-profile.js';
import { isProfileFormat, renderProfile, spoNameFor, type ProfileFormat } from './render.js';
import { ORIGINAL_PROFILE_FILE, type LoadedReport } from './sources.js';

/** Per container: "true", "false", or a file name for the profile in its report directory. */
export const SECCOMP_PROFILE_ANNOTATION = 'oci-ftrace/seccomp-profile';
/** Per container: oci, docker or spo. */
export const SECCOMP_PROFILE_FORMAT_ANNOTATION = 'oci-ftrace/seccomp-profile-format';

/** `report --seccomp-profile [FILE] --profile-format F`: true means the default file. */
export interface CliProfileRequest {
  file: string | true;
  format?: string | undefined;
}

export interface ProfileRequest {
  path: string;
  format: ProfileFormat;
}

export function defaultProfileFileName(format: ProfileFormat): string {
  return format === 'spo' ? 'seccomp.spo.yaml' : `seccomp.${format}.json`;
}

// A file name, never a path: annotations come from whoever runs the container, and hooks run as root.
const PROFILE_FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,200}\.(json|yaml|yml)$/;
const REPORT_FILES = new Set([SUMMARY_FILE_NAME, LOG_FILE_NAME, ORIGINAL_PROFILE_FILE]);

/**
 * Whether (and where, in which form) to write the container's profile. The command line wins,
 * then the container's annotations, then the config. Pure.
 */
export function resolveProfileRequest(
  outDir: string,
  config: Pick<Config, 'seccompProfile' | 'seccompProfileFormat'>,
  annotations: Readonly<Record<string, string>> | undefined,
  cli?: CliProfileRequest,
): ProfileRequest | undefined {
  const annotatedFormat = annotations?.[SECCOMP_PROFILE_FORMAT_ANNOTATION];
  const format = checkFormat(cli?.format, '--profile-format') ?? checkFormat(annotatedFormat, `annotation ${SECCOMP_PROFILE_FORMAT_ANNOTATION}`) ?? config.seccompProfileFormat;
  if (cli) return { path: cli.file === true ? join(outDir, defaultProfileFileName(format)) : resolve(cli.file), format };
  const annotated = annotations?.[SECCOMP_PROFILE_ANNOTATION];
  if (annotated === 'false') return undefined;
  if (annotated === 'true') return { path: join(outDir, defaultProfileFileName(format)), format };
  if (annotated !== undefined) {
    if (!PROFILE_FILE_NAME.test(annotated) || REPORT_FILES.has(annotated)) {
      throw new ProfileError(`annotation ${SECCOMP_PROFILE_ANNOTATION}: "${annotated.slice(0, 80)}" is not "true", "false" or a file name ending in .json or .yaml`);
    }
    return { path: confinedPath(outDir, annotated), format };
  }
  return config.seccompProfile ? { path: join(outDir, defaultProfileFileName(format)), format } : undefined;
}

function checkFormat(value: string | undefined, where: string): ProfileFormat | undefined {
  if (value === undefined) return undefined;
  if (!isProfileFormat(value)) throw new ProfileError(`${where}: "${value.slice(0, 40)}" is not one of oci, docker, spo`);
  return value;
}

export interface ContainerSeccompOptions {
  /** The container's report directory, OUTPUT_DIR/<id>. */
  outDir: string;
  config: Pick<Config, 'seccompProfile' | 'seccompProfileFormat'>;
  /** From the hook's state: the per-container request. */
  annotations?: Readonly<Record<string, string>> | undefined;
  /** The bundle's own linux.seccomp as found (lossless JSON, "null": none), from the run state. */
  bundleSeccomp?: string | undefined;
  cli?: CliProfileRequest | undefined;
}

export interface ContainerSeccompResult {
  /** Where the bundle's own profile was saved. */
  originalPath?: string;
  profilePath?: string;
  profile?: MadeProfile;
}

/**
 * The seccomp files of one container's report: the bundle's own profile (always, when it had one:
 * what the container ran under, or, recorded from scratch, what it would have), and its generated
 * profile (when asked for). Throws ProfileError (one line) when a requested profile cannot be made.
 */
export async function writeContainerSeccompFiles(summary: Summary, opts: ContainerSeccompOptions): Promise<ContainerSeccompResult> {
  const result: ContainerSeccompResult = {};
  const summaryPath = join(opts.outDir, summary.kind === 'live' ? SUMMARY_FILE_NAME.replace(/\.json$/, '.live.json') : SUMMARY_FILE_NAME);
  const original = await saveOriginal(opts.outDir, opts.bundleSeccomp);
  if (original) result.originalPath = original.path;

  const request = resolveProfileRequest(opts.outDir, opts.config, opts.annotations, opts.cli);
  if (!request) return result;
  const report: LoadedReport = {
    kind: 'report',
    path: summaryPath,
    summary,
    ...(original ? { original: { path: original.path, profile: parseInputProfile(original.value, original.path) } } : {}),
  };
  const made = makeProfile({
    reports: [report],
    // The saved original is an OCI object from a config.json: it carries no Docker conditions.
    capabilities: new Set(DOCKER_DEFAULT_CAPABILITIES),
    kernel: parseKernelRelease(release()),
  });
  await mkdir(opts.outDir, { recursive: true });
  await writeFileAtomic(request.path, renderProfile(made.profile, request.format, { name: spoNameFor(summary.containerId) }), { mode: 0o644 });
  result.profilePath = request.path;
  result.profile = made;
  return result;
}

async function saveOriginal(outDir: string, saved: string | undefined): Promise<{ path: string; value: unknown } | undefined> {
  if (saved === undefined) return undefined;
  const value = parseJsonLossless(saved, "the bundle's linux.seccomp");
  if (value === null) return undefined;
  const path = join(outDir, ORIGINAL_PROFILE_FILE);
  await mkdir(outDir, { recursive: true });
  // Saved as it was: it is the record of what the bundle had, read as a profile only when one is made.
  await writeFileAtomic(path, stringifyJsonLossless(value), { mode: 0o644 });
  return { path, value };
}
