import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { loadConfig, type Config } from '../config/config.js';
import { createFileLogger } from '../log/logger.js';
import { reportContainer } from '../hooks/report-hook.js';
import { SummarySchema } from '../report/summary.js';
import { renderSummaryText } from '../report/summary-text.js';
import { SUMMARY_FILE_NAME, containerOutputDir } from '../state/paths.js';
import { hostArch, syscallName, syscallNumber, type Arch } from '../syscalls/index.js';
import { writeContainerSeccompFiles, type CliProfileRequest } from '../profile/index.js';
import { recordCommand } from './record-command.js';
import { reportCommand } from './report-command.js';
import { registerProfileCommands } from './profile-commands.js';

class UsageError extends Error {}

function configOrDie(): Config {
  return loadConfig();
}

function program(): Command {
  const cmd = new Command('oci-ftrace')
    .description('Trace the syscalls of OCI containers with ftrace; report, profile, compare.')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  cmd
    .command('record')
    .description('OCI hook (createRuntime): start tracing the container whose state is on stdin')
    .action(async () => {
      // One implementation of the hook step: the same one the bundled hook entry runs.
      process.exitCode = await recordCommand();
    });

  cmd
    .command('report')
    .description('OCI hook (poststop): write the syscall log and summary of the container on stdin')
    .option('--livedump <container-id>', 'report a running container so far, leaving it traced')
    .option('--container-id <id>', 'final report of a stopped container (instead of hook state on stdin)')
    .option('--seccomp-profile [file]', 'also write a seccomp profile (default: seccomp.<format>.json in the report directory)')
    .option('--profile-format <format>', 'form of that profile: oci, docker or spo')
    .action(async (opts: { livedump?: string; containerId?: string; seccompProfile?: string | true; profileFormat?: string }) => {
      const cli: CliProfileRequest | undefined = opts.seccompProfile === undefined ? undefined : { file: opts.seccompProfile, format: opts.profileFormat };
      if (opts.livedump || opts.containerId) {
        const config = configOrDie();
        const log = createFileLogger({ file: config.logFile, level: config.logLevel, component: 'report' }).child({ id: opts.livedump ?? opts.containerId });
        // Interactive use: errors are the user's to see, and the headline goes to stdout.
        const r = await reportContainer((opts.livedump ?? opts.containerId) as string, config, log, { live: Boolean(opts.livedump) });
        process.stdout.write(`${r.headline}\nsummary: ${r.summaryPath}\n${r.logPath ? `log: ${r.logPath}\n` : ''}`);
        const seccomp = await writeContainerSeccompFiles(r.summary, { outDir: dirname(r.summaryPath), config, bundleSeccomp: r.bundleSeccomp, cli });
        if (seccomp.profilePath) process.stdout.write(`seccomp profile: ${seccomp.profilePath}\n`);
        return;
      }
      process.exitCode = await reportCommand(cli);
    });

  cmd
    .command('show')
    .description('print a summary: a summary.json path, or a container id under the output directory')
    .argument('<summary-or-id>')
    .option('--json', 'print the validated JSON instead of a table')
    .action((target: string, opts: { json?: boolean }) => {
      const path = target.includes('/') || target.endsWith('.json') ? target : join(containerOutputDir(configOrDie().outputDir, target), SUMMARY_FILE_NAME);
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
