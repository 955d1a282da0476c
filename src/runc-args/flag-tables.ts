// The flags runc and crun accept, as one union: runc 1.1 (what engines were written against),
// the later runc additions, crun's extras and urfave/cli's built-in help and version. A flag
// only one runtime knows is still read with the right arity here; that runtime's sibling
// rejects the command line itself. The agent alone reads them (the front door only sniffs).

import type { FlagDef } from './go-flag.js';

const str = (...names: string[]): FlagDef => ({ names, kind: 'string' });
const bool = (...names: string[]): FlagDef => ({ names, kind: 'bool' });

/** --help/-h (urfave/cli), -?/--usage (crun's argp): any of them makes a command print help. */
export const HELP_FLAG_NAMES = ['help', 'h', '?', 'usage'] as const;
/** --version/-v (urfave/cli), -V (crun). */
export const VERSION_FLAG_NAMES = ['version', 'v', 'V'] as const;

const HELP_FLAGS: readonly FlagDef[] = [bool('help', 'h'), bool('?'), bool('usage')];

export const GLOBAL_FLAGS: readonly FlagDef[] = [
  bool('debug'),
  str('log'),
  str('log-format'),
  str('root'),
  str('criu'),
  bool('systemd-cgroup'),
  str('rootless'),
  str('cgroup-manager'), // crun
  str('log-level'), // crun >= 1.9
  ...HELP_FLAGS,
  bool('version', 'v'),
  bool('V'), // crun
];

/** Commands that create a container from a bundle, hence the ones we prepare. */
export const CREATING_COMMANDS = ['create', 'run', 'restore'] as const;
export type CreatingCommand = (typeof CREATING_COMMANDS)[number];

export const COMMAND_FLAGS: Readonly<Record<CreatingCommand, readonly FlagDef[]>> = {
  create: [
    str('bundle', 'b'),
    str('console-socket'),
    str('pid-file'),
    bool('no-pivot'),
    bool('no-new-keyring'),
    { names: ['preserve-fds'], kind: 'int' },
    str('pidfd-socket'), // runc >= 1.2
    str('config', 'f'), // crun: config file name, relative to the bundle
    bool('no-subreaper'), // crun
    ...HELP_FLAGS,
  ],
  run: [
    str('bundle', 'b'),
    str('console-socket'),
    bool('detach', 'd'),
    bool('keep'),
    str('pid-file'),
    bool('no-subreaper'),
    bool('no-pivot'),
    bool('no-new-keyring'),
    { names: ['preserve-fds'], kind: 'int' },
    str('pidfd-socket'), // runc >= 1.2
    str('config', 'f'), // crun
    ...HELP_FLAGS,
  ],
  restore: [
    str('console-socket'),
    str('image-path'),
    str('work-path'),
    bool('tcp-established'),
    bool('ext-unix-sk'),
    bool('shell-job'),
    bool('file-locks'),
    str('manage-cgroups-mode'),
    str('bundle', 'b'),
    bool('detach', 'd'),
    str('pid-file'),
    bool('no-subreaper'),
    bool('no-pivot'),
    { names: ['empty-ns'], kind: 'stringSlice' },
    bool('auto-dedup'),
    bool('lazy-pages'),
    str('lsm-profile'),
    str('lsm-mount-context'),
    bool('tcp-close'), // crun
    bool('network-lock'), // crun (takes no argument there)
    ...HELP_FLAGS,
  ],
};

/**
 * `exec`'s flags (runc 1.1 and later, crun's extras): they come before the container id, since
 * runc's exec does not reorder its arguments (SkipArgReorder) and crun's argp stops at the first
 * operand; what follows the id is the command to run.
 */
export const EXEC_FLAGS: readonly FlagDef[] = [
  str('console-socket'),
  str('pidfd-socket'), // runc >= 1.2
  str('cwd'),
  { names: ['env', 'e'], kind: 'stringSlice' },
  bool('tty', 't'),
  str('user', 'u'),
  { names: ['additional-gids', 'g'], kind: 'stringSlice' },
  str('process', 'p'),
  bool('detach', 'd'),
  str('pid-file'),
  str('process-label'),
  str('apparmor'),
  bool('no-new-privs'),
  { names: ['cap', 'c'], kind: 'stringSlice' },
  { names: ['preserve-fds'], kind: 'int' },
  { names: ['cgroup'], kind: 'stringSlice' },
  bool('ignore-paused'),
  ...HELP_FLAGS,
];

export function isCreatingCommand(command: string | undefined): command is CreatingCommand {
  return (CREATING_COMMANDS as readonly string[]).includes(command ?? '');
}
