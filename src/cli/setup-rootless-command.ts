/**
 * `oci-ftrace setup-rootless --group G` (as root, once per boot): the pool of ftrace instances
 * rootless agents trace through (src/tracefs/instance-pool.ts), opened to one group.
 */
import type { Command } from 'commander';
import { execa } from 'execa';
import { POOL_DIR, removePool, setupPool } from '../tracefs/instance-pool.js';
import { locateTracefs } from '../tracefs/tracefs.js';

const WHAT_THE_GROUP_CAN = (group: string, root: string): string =>
  [
    `members of ${group} can now, through ${root}/instances/oci-ftrace-pool-*:`,
    '  - trace any process on the host (set_event_pid takes any pid), its syscalls, capability checks and process events',
    '  - read and empty those instances\' ring buffers, and size them (kernel memory, up to bufferKbPerContainer each)',
    `  - claim and release them (claims in ${POOL_DIR})`,
    'they cannot: make or remove instances, list or read root\'s instances (instances/ stays root\'s), or touch the top-level trace',
    'the pool and these permissions last until reboot: run this again at boot (contrib/systemd/oci-ftrace-rootless.service)',
  ].join('\n');

async function groupId(name: string): Promise<number> {
  const r = await execa('getent', ['group', name], { reject: false, stdin: 'ignore' });
  const gid = Number(String(r.stdout ?? '').split(':')[2]);
  if (r.exitCode !== 0 || !Number.isInteger(gid)) throw new Error(`setup-rootless: no group named ${name} (groupadd ${name})`);
  return gid;
}

export function registerSetupRootlessCommand(program: Command): void {
  program
    .command('setup-rootless')
    .description('as root: make the pool of ftrace instances that rootless agents trace through, opened to one group')
    .option('--group <name>', 'the group whose members may trace (add users with usermod -aG)')
    .option('--instances <n>', 'how many containers may be traced at once, by all members together', '8')
    .option('--remove', 'undo it: the unclaimed pooled instances removed, tracefs as the kernel makes it')
    .action(async (opts: { group?: string; instances: string; remove?: boolean }) => {
      if ((process.geteuid?.() ?? 0) !== 0) throw new Error('setup-rootless: run as root (it changes the permissions of tracefs)');
      if (opts.remove) {
        const r = removePool(await locateTracefs());
        process.stdout.write(`oci-ftrace: ${r.removed.length} pooled instances removed${r.claimed.length > 0 ? `; ${r.claimed.join(' ')} still claimed (their containers are traced): left, with tracefs's permissions` : '; tracefs permissions as the kernel makes them'}\n`);
        process.exitCode = r.claimed.length > 0 ? 1 : 0;
        return;
      }
      if (!opts.group) throw new Error('setup-rootless: --group NAME (or --remove)');
      const size = Number(opts.instances);
      if (!Number.isInteger(size) || size < 1 || size > 256) throw new Error(`setup-rootless: --instances ${opts.instances}: a whole number from 1 to 256`);
      const gid = await groupId(opts.group);
      const root = await locateTracefs();
      const r = setupPool(root, { gid, name: opts.group }, size);
      process.stdout.write(`oci-ftrace: rootless pool of ${size} instances for group ${opts.group} (gid ${gid}): ${r.created.length} made, ${r.kept.length} kept\n${WHAT_THE_GROUP_CAN(opts.group, root)}\n`);
    });
}
