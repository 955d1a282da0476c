/**
 * The profile commands of the oci-ftrace CLI: `profile` (reports -> profile), `diff` (what one
 * report or profile has that the other lacks) and `enforce` (a profile into a bundle).
 */
import { release } from 'node:os';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../config/config.js';
import { reportsOfWorkload } from '../report/report-index.js';
import {
  DOCKER_DEFAULT_CAPABILITIES,
  ProfileError,
  bundleCapabilities,
  diffSyscalls,
  enforceProfileOnBundle,
  RUNTIMES,
  isProfileFormat,
  isRuntime,
  isSameSyscalls,
  loadSource,
  makeProfile,
  parseKernelRelease,
  renderDiffText,
  renderProfile,
  resolveInputProfile,
  spoNameFor,
  syscallsAllowedBy,
  type LoadedProfile,
  type LoadedReport,
  type LoadedSource,
  type MadeProfile,
  type Runtime,
  type SeccompProfile,
  type SyscallSet,
} from '../profile/index.js';
import { capabilitiesUsed, syscallsSinceProfileStart } from '../report/summary.js';
import { writeFileAtomic } from '../oci-config/bundle-config.js';
import { hostArch } from '../syscalls/index.js';

export interface MergeOptions {
  input: string[];
  original: boolean;
  allowLostEvents?: boolean;
  runtime: string;
}

export function parseRuntimes(list: string): Runtime[] {
  const names = list.split(',').map((r) => r.trim()).filter((r) => r.length > 0);
  const bad = names.find((r) => !isRuntime(r));
  if (bad !== undefined || names.length === 0) throw new ProfileError(`--runtime: "${bad ?? list}" is not one of ${RUNTIMES.join(', ')}`);
  return names as Runtime[];
}

export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function outputDir(): string {
  return loadConfig().outputDir;
}

/** The report directories of a workload; none is an error, naming what was looked for. */
export function workloadReports(selector: string, parts: 2 | 3): string[] {
  let found;
  try {
    found = reportsOfWorkload(outputDir(), selector, parts);
  } catch (err) {
    throw new ProfileError(`--${parts === 2 ? 'pod' : 'container'}: ${(err as Error).message}`);
  }
  if (found.length === 0) throw new ProfileError(`--${parts === 2 ? 'pod' : 'container'} ${selector}: no final report of it under ${outputDir()}`);
  return found.map((r) => r.dir);
}

/** The reports named as arguments, and those of a workload (--pod, --container); none is an error. */
export async function reportSources(command: string, reports: readonly string[], opts: { pod?: string; container?: string }): Promise<{ sources: LoadedSource[]; workload: string | undefined }> {
  const workload = opts.container ?? opts.pod;
  const ofWorkload = workload === undefined ? [] : workloadReports(workload, opts.container !== undefined ? 3 : 2);
  if (reports.length + ofWorkload.length === 0) throw new ProfileError(`${command}: name reports, or a workload with --pod or --container`);
  return { sources: await loadSources([...reports, ...ofWorkload]), workload };
}

export async function loadSources(args: readonly string[]): Promise<LoadedSource[]> {
  const dir = outputDir();
  return Promise.all(args.map((arg) => loadSource(arg, dir)));
}

export function onlyReports(loaded: readonly LoadedSource[]): LoadedReport[] {
  const notReport = loaded.find((l) => l.kind !== 'report');
  if (notReport) throw new ProfileError(`${notReport.path} is a profile, not a report: merge it with --input`);
  return loaded as LoadedReport[];
}

async function loadInputs(paths: readonly string[]): Promise<LoadedProfile[]> {
  const loaded = await loadSources(paths);
  const notProfile = loaded.find((l) => l.kind !== 'profile');
  if (notProfile) throw new ProfileError(`--input ${notProfile.path} is a report, not a profile: pass reports as arguments`);
  return loaded as LoadedProfile[];
}

function parseCapabilities(list: string | undefined): Set<string> {
  if (list === undefined) return new Set(DOCKER_DEFAULT_CAPABILITIES);
  const caps = list.split(',').map((c) => c.trim().toUpperCase()).filter((c) => c.length > 0);
  const bad = caps.find((c) => !/^CAP_[A-Z_]+$/.test(c));
  if (bad) throw new ProfileError(`--capabilities: "${bad}" is not a capability name (CAP_...)`);
  return new Set(caps);
}

export async function profileFromReports(reports: readonly LoadedSource[], opts: MergeOptions, capabilities: ReadonlySet<string>): Promise<MadeProfile> {
  return makeProfile({
    reports: onlyReports(reports),
    inputs: await loadInputs(opts.input),
    useOriginals: opts.original,
    capabilities,
    kernel: parseKernelRelease(release()),
    allowLostEvents: Boolean(opts.allowLostEvents),
    runtimes: parseRuntimes(opts.runtime),
  });
}

/** One line on stderr saying what the profile is made of; stdout stays the profile's. */
export function describeMade(made: MadeProfile): string {
  const parts = [`${made.allowed.length} syscalls allowed`];
  if (made.constrained.length > 0) parts.push(`${made.constrained.length} kept as the input blocks or restricts them (${made.constrained.map((c) => c.name).join(' ')})`);
  if (made.runtimeAdded.length > 0) parts.push(`${made.runtimeAdded.join(' ')} for the runtime`);
  if (made.clone3Enosys) parts.push('clone3 answers ENOSYS');
  if (made.inputsUsed.length > 0) parts.push(`merged ${made.inputsUsed.join(', ')}`);
  return `oci-ftrace: profile of ${made.containerIds.join(', ')} (${made.arch}): ${parts.join('; ')}\n`;
}

function syscallSetOf(source: LoadedSource): SyscallSet {
  if (source.kind === 'report') {
    const caps = source.summary.capabilities ? new Set(capabilitiesUsed(source.summary)) : undefined;
    return { source: source.path, kind: 'report', names: new Set(syscallsSinceProfileStart(source.summary)), conditional: new Set(), capabilities: caps };
  }
  const arch = hostArch();
  const resolved = resolveInputProfile(source.profile, { arch, capabilities: new Set(DOCKER_DEFAULT_CAPABILITIES), kernel: parseKernelRelease(release()) });
  const allowed = syscallsAllowedBy(resolved, arch);
  return { source: source.path, kind: 'profile', names: allowed.names, conditional: allowed.conditional, capabilities: source.capabilities ? new Set(source.capabilities) : undefined };
}

export function registerProfileCommands(program: Command): void {
  program
    .command('profile')
    .description('write a seccomp profile from one or more reports (their union), starting where the runtime loaded its filter')
    .argument('[reports...]', 'summary.json files, report directories, or container ids under the output directory')
    .option('--pod <ns/pod>', "and every report of this Kubernetes pod's containers (all restarts; * matches any run of characters, for replicas)")
    .option('--container <ns/pod/name>', 'and every report of this container of the pod (all restarts; * as for --pod)')
    .option('-f, --format <format>', 'oci (linux.seccomp), docker (--security-opt seccomp=), spo (SeccompProfile YAML)', 'oci')
    .option('-o, --output <file>', 'write to this file (atomically) instead of stdout')
    .option('-i, --input <profile>', 'merge this profile in: what it blocks or restricts stays so (repeatable)', collect, [])
    .option('--no-original', "do not merge the containers' own profiles that record mode replaced")
    .option('--name <name>', 'metadata.name of the SPO resource (default: from the container id)')
    .option('--capabilities <list>', "comma-separated capabilities for Docker profiles' conditions (default: Docker's defaults)")
    .option('--allow-lost-events', 'accept reports whose trace lost events (the profile may miss syscalls)')
    .option('--runtime <list>', "the runtimes it will run under (runc, crun): allows what their own code may do after loading the filter at moments no recording pins down", 'runc,crun')
    .action(async (reports: string[], opts: MergeOptions & { format: string; output?: string; name?: string; capabilities?: string; pod?: string; container?: string }) => {
      if (!isProfileFormat(opts.format)) throw new ProfileError(`--format: "${opts.format}" is not one of oci, docker, spo`);
      const { sources, workload } = await reportSources('profile', reports, opts);
      const made = await profileFromReports(sources, opts, parseCapabilities(opts.capabilities));
      // An SPO resource of a workload is named after it, not after one of its containers' ids.
      const name = opts.name ?? spoNameFor(workload !== undefined ? workload.replace(/\*/g, '').replace(/\//g, '-') : made.containerIds.join('-'));
      const text = renderProfile(made.profile, opts.format, { name });
      if (opts.output) await writeFileAtomic(resolve(opts.output), text, { mode: 0o644 });
      else process.stdout.write(text);
      process.stderr.write(describeMade(made));
    });

  program
    .command('diff')
    .description('the syscalls (and capabilities, where both have them) one report or profile has that the other lacks (exit 1 when they differ)')
    .argument('<a>', 'a report (summary.json, directory, container id) or a profile (OCI, Docker, config.json)')
    .argument('<b>', 'the same')
    .option('--json', 'print the difference as JSON')
    .action(async (a: string, b: string, opts: { json?: boolean }) => {
      const [sa, sb] = (await loadSources([a, b])) as [LoadedSource, LoadedSource];
      const d = diffSyscalls(syscallSetOf(sa), syscallSetOf(sb));
      process.stdout.write(opts.json ? `${JSON.stringify(d, null, 2)}\n` : renderDiffText(d));
      process.exitCode = isSameSyscalls(d) ? 0 : 1;
    });

  program
    .command('enforce')
    .description("apply a seccomp profile to a bundle's config.json (atomically): a profile file, or reports to make it from")
    .argument('<sources...>', 'one profile (OCI, Docker, config.json), or reports as for `profile`')
    .option('-b, --bundle <dir>', 'the bundle directory', '.')
    .option('-i, --input <profile>', 'when making it from reports: merge this profile in (repeatable)', collect, [])
    .option('--no-original', "when making it from reports: do not merge the containers' replaced profiles")
    .option('--allow-lost-events', 'accept reports whose trace lost events')
    .option('--runtime <list>', "the runtimes it will run under (runc, crun): allows what their own code may do after loading the filter at moments no recording pins down", 'runc,crun')
    .action(async (sources: string[], opts: MergeOptions & { bundle: string }) => {
      const bundle = resolve(opts.bundle);
      const capabilities = await bundleCapabilities(bundle);
      const loaded = await loadSources(sources);
      const [first, ...rest] = loaded;
      let profile: SeccompProfile;
      if (first?.kind === 'profile') {
        if (rest.length > 0 || opts.input.length > 0) throw new ProfileError('enforce takes one profile, or reports to make one from');
        profile = resolveInputProfile(first.profile, { arch: hostArch(), capabilities, kernel: parseKernelRelease(release()) });
      } else {
        const made = await profileFromReports(loaded, opts, capabilities);
        process.stderr.write(describeMade(made));
        profile = made.profile;
      }
      const result = await enforceProfileOnBundle(bundle, profile);
      process.stdout.write(`${bundle}/config.json: linux.seccomp ${result.changed ? 'set' : 'already that profile'} (${profile.syscalls.length} rules, default ${profile.defaultAction})\n`);
    });
}
