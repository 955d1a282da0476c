import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { loadConfig, type Config } from '../config/config.js';
import { Agent } from '../agent/agent.js';
import { runAgent } from '../agent/main.js';
import { frontDoorPath } from '../install/bin-paths.js';
import { SummarySchema, reportHeadline } from '../report/summary.js';
import { validateContainerId } from '../state/oci-state.js';
import { readRunState } from '../state/run-state.js';
import { renderSummaryText } from '../report/summary-text.js';
import { SUMMARY_FILE_NAME, containerOutputDir } from '../state/paths.js';
import { findReportDir, listReports } from '../report/report-index.js';
import { hostArch, syscallName, syscallNumber, type Arch } from '../syscalls/index.js';
import { writeContainerSeccompFiles, type CliProfileRequest } from '../profile/index.js';
import { NoAgentError, askAgent } from './agent-client.js';
import { registerProfileCommands } from './profile-commands.js';
import { registerDoctorCommand } from './doctor-command.js';
import { registerCapabilityCommands } from './capability-commands.js';
import { registerSetupRootlessCommand } from './setup-rootless-command.js';

class UsageError extends Error {}

function configOrDie(): Config {
  return loadConfig();
}

function configPathFromEnv(): string | undefined {
  const p = process.env.OCI_FTRACE_CONFIG;
  return p && p.length > 0 ? p : undefined;
}

/** gc with no agent running: the agent's own reconcile, once, in this process. */
async function reconcileOnce(config: string | undefined): Promise<Record<string, unknown>> {
  const agent = new Agent({ socket: '', config, frontDoor: frontDoorPath() });
  const result = await agent.reconcile({ adoptLive: false });
  await agent.drained();
  return result;
}

function program(): Command {
  const cmd = new Command('oci-ftrace')
    .description('Trace the syscalls of OCI containers with ftrace; report, profile, compare.')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  cmd
    .command('livedump')
    .description('report a running traced container so far, leaving it traced: summary.live.json beside its report')
    .argument('<container-id>')
    .option('--seccomp-profile [file]', 'also write a seccomp profile of it so far (default: seccomp.<format>.json in the report directory)')
    .option('--profile-format <format>', 'form of that profile: oci, docker or spo')
    .action(async (id: string, opts: { seccompProfile?: string | true; profileFormat?: string }) => {
      const config = configOrDie();
      const reply = await askAgent(config.stateDir, { v: 1, kind: 'livedump', id: validateContainerId(id) });
      if (!reply.ok) throw new UsageError(reply.message);
      const summaryPath = String(reply.summaryPath);
      const summary = SummarySchema.parse(JSON.parse(readFileSync(summaryPath, 'utf8')));
      process.stdout.write(`${reportHeadline(summary)}\nsummary: ${summaryPath}\n`);
      if (opts.seccompProfile !== undefined) {
        const cli: CliProfileRequest = { file: opts.seccompProfile, format: opts.profileFormat };
        const seccomp = await writeContainerSeccompFiles(summary, { outDir: dirname(summaryPath), config, bundleSeccomp: readRunState(config.stateDir, id)?.bundleSeccomp, cli });
        if (seccomp.profilePath) process.stdout.write(`seccomp profile: ${seccomp.profilePath}\n`);
      }
    });

  cmd
    .command('gc')
    .description('free what no container needs any more (instances, state, prepared bundles whose runtime is gone) and finish traces whose container ended without a report')
    .action(async () => {
      const config = configOrDie();
      let result: Record<string, unknown>;
      try {
        const reply = await askAgent(config.stateDir, { v: 1, kind: 'gc' });
        if (!reply.ok) throw new UsageError(reply.message);
        result = reply;
      } catch (err) {
        if (!(err instanceof NoAgentError)) throw err;
        // No agent: one for this config does it, in this process, and stops.
        result = await reconcileOnce(configPathFromEnv());
      }
      const { v: _v, ok: _ok, ...lists } = result as Record<string, unknown>;
      process.stdout.write(`${JSON.stringify(lists)}\n`);
    });

  cmd
    .command('agent')
    .description('run the host agent (the front door starts it on demand: oci-ftrace-runc)')
    .requiredOption('--socket <path>', 'the unix socket to serve')
    .option('--config <path>', 'the config it serves (default: /etc/oci-ftrace/config.json)')
    .action(async (opts: { socket: string; config?: string }) => {
      process.exitCode = await runAgent(['--socket', opts.socket, ...(opts.config ? ['--config', opts.config] : [])]);
    });

  cmd
    .command('ls')
    .description('list the reports under the output directory: Kubernetes NS/POD/CONTAINER (or the container id), id, when, loss')
    .option('--json', 'print them as JSON')
    .action((opts: { json?: boolean }) => {
      const reports = listReports(configOrDie().outputDir);
      if (opts.json) {
        process.stdout.write(JSON.stringify(reports, null, 2) + '\n');
        return;
      }
      for (const r of reports) {
        const who = r.kubernetes ? `${r.kubernetes.namespace}/${r.kubernetes.pod}/${r.kubernetes.container}` : r.containerId;
        const image = r.kubernetes?.image ? `  ${r.kubernetes.image}` : '';
        process.stdout.write(`${who}  ${r.containerId.slice(0, 12)}  ${r.generatedAt}  ${r.lost === 0 ? '0 lost' : `${r.lost} LOST`}${image}  ${r.dir}\n`);
      }
    });

  cmd
    .command('show')
    .description('print a summary: a summary.json path, or a container id under the output directory')
    .argument('<summary-or-id>')
    .option('--json', 'print the validated JSON instead of a table')
    .action((target: string, opts: { json?: boolean }) => {
      const outputDir = configOrDie().outputDir;
      const path = target.includes('/') || target.endsWith('.json') ? target : join(findReportDir(outputDir, validateContainerId(target)) ?? containerOutputDir(outputDir, target), SUMMARY_FILE_NAME);
      let raw: unknown;
      try {
        raw = JSON.parse(readFileSync(path, 'utf8'));
      } catch (err) {
        throw new UsageError(`cannot read summary ${path}: ${(err as Error).message}`);
      }
      const parsed = SummarySchema.safeParse(raw);
      if (!parsed.success) throw new UsageError(`${path} is not an oci-ftrace summary: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`);
      process.stdout.write(opts.json ? JSON.stringify(parsed.data, null, 2) + '\n' : renderSummaryText(parsed.data));
    });

  cmd
    .command('syscall')
    .description('look up a syscall by name or number')
    .argument('<name-or-number>')
    .option('--arch <arch>', 'x86_64 or aarch64 (default: this machine)')
    .action((what: string, opts: { arch?: string }) => {
      if (opts.arch && opts.arch !== 'x86_64' && opts.arch !== 'aarch64') throw new UsageError(`unknown arch ${opts.arch} (x86_64, aarch64)`);
      const arch = (opts.arch as Arch | undefined) ?? hostArch();
      if (/^\d+$/.test(what)) {
        const name = syscallName(Number(what), arch);
        if (name.startsWith('syscall_')) throw new UsageError(`no syscall number ${what} on ${arch}`);
        process.stdout.write(`${name}\n`);
      } else {
        const nr = syscallNumber(what, arch);
        if (nr === undefined) throw new UsageError(`no syscall named ${what} on ${arch}`);
        process.stdout.write(`${nr}\n`);
      }
    });
  registerProfileCommands(cmd);
  registerCapabilityCommands(cmd);
  registerSetupRootlessCommand(cmd);
  registerDoctorCommand(cmd);
  return cmd;
}

async function main(argv: string[]): Promise<void> {
  try {
    await program().parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    process.stderr.write(`oci-ftrace: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}\n`);
    process.exitCode = err instanceof UsageError ? 2 : 1;
  }
}

await main(process.argv.slice(2));
