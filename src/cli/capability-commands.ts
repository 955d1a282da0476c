/**
 * The capability commands of the oci-ftrace CLI: `capability` (a lookup), `options` (reports -> the
 * run options that drop what the workload did not use) and `verify` (the bundle run under them,
 * compared with a run as it is; `--minimize` proves each capability kept).
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ALL_CAPABILITIES, capabilityName, capabilityNumber } from '../capabilities/index.js';
import { locateRealRuntime } from '../install/real-runtime.js';
import { writeFileAtomic } from '../oci-config/bundle-config.js';
import {
  ProfileError,
  capabilitiesOfReports,
  enforceCapabilitiesModifier,
  enforceSeccompModifier,
  ociCapabilitySets,
  renderProfile,
  renderRunOptions,
  runOptions,
  spoNameFor,
  type MadeProfile,
} from '../profile/index.js';
import { runBundleVariant } from '../verify/bundle-variant.js';
import { minimizeCapabilities } from '../verify/minimize.js';
import { describeDifference, parseMasks, sameOutcome, type RunOutcome } from '../verify/outcome.js';
import { collect, describeMade, onlyReports, profileFromReports, reportSources, type MergeOptions } from './profile-commands.js';

interface ReportOptions extends MergeOptions {
  pod?: string;
  container?: string;
}

/** Reports -> the capabilities their workloads used, and the seccomp profile made for exactly those. */
async function capabilitiesAndProfile(command: string, reports: string[], opts: ReportOptions): Promise<{ used: string[]; noAuditLikely: string[]; made: MadeProfile; workload: string | undefined }> {
  const { sources, workload } = await reportSources(command, reports, opts);
  const caps = capabilitiesOfReports(onlyReports(sources));
  // Docker profiles' capability conditions are judged against the set the container will hold.
  const made = await profileFromReports(sources, opts, new Set(caps.used));
  return { ...caps, made, workload };
}

function withReportOptions(cmd: Command): Command {
  return cmd
    .argument('[reports...]', 'summary.json files, report directories, or container ids under the output directory')
    .option('--pod <ns/pod>', "and every report of this Kubernetes pod's containers (* as for profile)")
    .option('--container <ns/pod/name>', 'and every report of this container of the pod (* as for profile)')
    .option('-i, --input <profile>', 'merge this profile into the seccomp profile (repeatable)', collect, [])
    .option('--no-original', "do not merge the containers' own profiles that record mode replaced")
    .option('--allow-lost-events', 'accept reports whose trace lost events')
    .option('--runtime <list>', 'the runtimes the profile will run under (runc, crun)', 'runc,crun');
}

function summarize(o: RunOutcome): string {
  const lines = o.stdout === '' ? 0 : o.stdout.split('\n').length;
  return `exit ${o.exitCode}, ${lines} line(s) of stdout`;
}

export function registerCapabilityCommands(program: Command): void {
  program
    .command('capability')
    .description('look up a capability by name (CAP_NET_RAW, NET_RAW) or number; no argument lists them all')
    .argument('[name-or-number]')
    .action((what: string | undefined) => {
      if (what === undefined) {
        process.stdout.write(ALL_CAPABILITIES.map((c, i) => `${i} ${c}`).join('\n') + '\n');
        return;
      }
      if (/^\d+$/.test(what)) {
        const name = capabilityName(Number(what));
        if (!ALL_CAPABILITIES.includes(name as never)) throw new ProfileError(`no capability number ${what} (0 to ${ALL_CAPABILITIES.length - 1})`);
        process.stdout.write(`${name}\n`);
        return;
      }
      const nr = capabilityNumber(what);
      if (nr === undefined || nr >= ALL_CAPABILITIES.length) throw new ProfileError(`no capability named ${what}`);
      process.stdout.write(`${nr}\n`);
    });

  withReportOptions(
    program
      .command('options')
      .description('the run options that keep only what the reports show used: docker flags, OCI process.capabilities, a Kubernetes securityContext; writes the seccomp profile they name'),
  )
    .option('--seccomp-file <path>', 'where to write the seccomp profile (docker format, which docker, containerd and CRI-O read) (default: ./NAME.seccomp.json)')
    .option('--name <name>', 'the name the profile file is made from (default: from the workload or container ids)')
    .option('--json', 'print the options as JSON')
    .action(async (reports: string[], opts: ReportOptions & { seccompFile?: string; name?: string; json?: boolean }) => {
      const { used, noAuditLikely, made, workload } = await capabilitiesAndProfile('options', reports, opts);
      const name = opts.name ?? spoNameFor(workload !== undefined ? workload.replace(/\*/g, '').replace(/\//g, '-') : made.containerIds.join('-'));
      const file = resolve(opts.seccompFile ?? `${name}.seccomp.json`);
      await writeFileAtomic(file, renderProfile(made.profile, 'docker', { name }), { mode: 0o644 });
      const options = runOptions(used, noAuditLikely, file);
      process.stdout.write(opts.json ? `${JSON.stringify(options, null, 2)}\n` : renderRunOptions(options));
      process.stderr.write(describeMade(made));
    });

  withReportOptions(
    program
      .command('verify')
      .description('run the bundle (a copy: its rootfs under an overlay) as it is, then under the capabilities and seccomp profile made from the reports, and compare stdout and exit code'),
  )
    .requiredOption('-b, --bundle <dir>', 'the bundle the reports were recorded from')
    .option('--minimize', 'then drop each capability kept in turn, for good where the run stays the same: the set printed is proven')
    .option('--runtime-path <path>', 'the runtime to run it with (default: the one oci-ftrace-runc runs)')
    .option('--mask <regex>', 'replace what matches in stdout before comparing (times, addresses); repeatable', collect, [])
    .option('--timeout <seconds>', 'longest one run may take', '60')
    .option('--json', 'print the result as JSON')
    .action(async (reports: string[], opts: ReportOptions & { bundle: string; minimize?: boolean; runtimePath?: string; mask: string[]; timeout: string; json?: boolean }) => {
      const masks = parseMasks(opts.mask);
      const timeoutMs = Number(opts.timeout) * 1000;
      if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new ProfileError(`--timeout ${opts.timeout}: not a number of seconds`);
      const { used, made } = await capabilitiesAndProfile('verify', reports, opts);
      const located = opts.runtimePath ? { path: resolve(opts.runtimePath) } : await locateRealRuntime(process.env);
      if ('error' in located) throw new ProfileError(`verify: no runtime to run the bundle with: ${located.error} (name one with --runtime-path)`);
      const bundle = resolve(opts.bundle);
      const run = (caps: readonly string[] | undefined): Promise<RunOutcome> =>
        runBundleVariant(bundle, caps === undefined ? [] : [enforceCapabilitiesModifier(ociCapabilitySets(caps)), enforceSeccompModifier(made.profile)], { runtime: located.path, timeoutMs });
      const say = (line: string): void => {
        if (!opts.json) process.stdout.write(`${line}\n`);
      };
      const reference = await run(undefined);
      say(`reference: the bundle as it is, under ${located.path}: ${summarize(reference)}`);
      const generated = await run(used);
      const same = sameOutcome(reference, generated, masks);
      const allowed = made.allowed.length;
      say(`under the generated options (capabilities ${used.length > 0 ? used.join(' ') : '(none)'}; seccomp: ${allowed} syscalls allowed): ${same ? 'the same' : `DIFFERENT: ${describeDifference(reference, generated, masks)}`}`);
      let minimized: Awaited<ReturnType<typeof minimizeCapabilities>> | undefined;
      if (same && opts.minimize) {
        minimized = await minimizeCapabilities(used, async (caps) => {
          const r = await run(caps);
          return sameOutcome(reference, r, masks) ? { same: true } : { same: false, why: describeDifference(reference, r, masks) };
        });
        for (const step of minimized.steps) say(`without ${step.capability}: ${step.dropped ? 'the same: dropped' : `different (${step.why ?? 'it changed'}): kept`}`);
        say(`capabilities needed: ${minimized.kept.length > 0 ? minimized.kept.join(' ') : '(none)'} (proven: without any one of them the run changes)`);
      }
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ runtime: located.path, reference, generated: { capabilities: used, allowedSyscalls: allowed, outcome: generated, same }, ...(minimized ? { minimized } : {}) }, null, 2)}\n`);
      }
      process.exitCode = same ? 0 : 1;
    });
}
