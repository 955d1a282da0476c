/** `oci-ftrace doctor`: is this machine ready to trace, and what to fix where it is not (src/doctor/). */
import type { Command } from 'commander';
import { hasFailure, renderFindings } from '../doctor/checks.js';
import { doctor } from '../doctor/gather.js';

export function registerDoctorCommand(cmd: Command): void {
  cmd
    .command('doctor')
    .description('check tracefs, the real runtime, the agent and the engines\' configs, each with what to fix; exits 1 on a failure')
    .option('--json', 'print the findings as a JSON array')
    .option('--containerd-config <path>', 'containerd\'s config (default: /etc/containerd/config.toml)')
    .option('--docker-config <path>', 'dockerd\'s config (default: /etc/docker/daemon.json)')
    .option('--podman-config <path>', 'a containers.conf (default: /usr/share/containers/containers.conf and /etc/containers/containers.conf)')
    .action(async (opts: { json?: boolean; containerdConfig?: string; dockerConfig?: string; podmanConfig?: string }) => {
      const findings = await doctor({ containerdConfig: opts.containerdConfig, dockerConfig: opts.dockerConfig, podmanConfig: opts.podmanConfig });
      process.stdout.write(opts.json ? `${JSON.stringify(findings, null, 2)}\n` : renderFindings(findings));
      process.exitCode = hasFailure(findings) ? 1 : 0;
    });
}
