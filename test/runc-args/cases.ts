// One table of command lines, read by the TypeScript parser (the agent's argument model) and
// (for create/run/restore) checked against what the real runc 1.1 does with them. Bundle
// paths live under /nonexistent so that runc stops at chdir and names the bundle it chose.

export interface ArgvCase {
  argv: string[];
  /** The subcommand that runs; '' when none does. */
  command: string;
  createsContainer: boolean;
  bundle?: string;
  containerId?: string;
  log?: string;
  logFormat?: string;
  /** runc refuses this command line (our model knows why). */
  usageError?: boolean;
}

const B = '/nonexistent/oci-ftrace-bundle';

export const ARGV_CASES: readonly ArgvCase[] = [
  { argv: [], command: '', createsContainer: false },
  { argv: ['--help'], command: '', createsContainer: false },
  { argv: ['-h'], command: '', createsContainer: false },
  { argv: ['--version'], command: '', createsContainer: false },
  { argv: ['-v'], command: '', createsContainer: false },
  { argv: ['-V'], command: '', createsContainer: false },
  { argv: ['--help', 'create', 'id'], command: '', createsContainer: false },
  { argv: ['features'], command: 'features', createsContainer: false },
  { argv: ['state', 'id'], command: 'state', createsContainer: false },
  { argv: ['frobnicate', 'create'], command: 'frobnicate', createsContainer: false },
  { argv: [''], command: '', createsContainer: false },
  { argv: ['-', 'create', 'id'], command: '-', createsContainer: false },
  { argv: ['exec', 'ID', 'create'], command: 'exec', createsContainer: false, containerId: 'ID' },
  { argv: ['--root', 'create', 'list'], command: 'list', createsContainer: false },
  { argv: ['--root', '--debug', 'create', 'id'], command: 'create', createsContainer: true, containerId: 'id' },
  { argv: ['--debug=maybe', 'create', 'id'], command: '', createsContainer: false, usageError: true },
  { argv: ['--no-such-flag', 'create', 'id'], command: '', createsContainer: false, usageError: true },
  { argv: ['---root', 'x', 'create', 'id'], command: '', createsContainer: false, usageError: true },
  { argv: ['--log'], command: '', createsContainer: false, usageError: true },
  { argv: ['--debug', '--debug=0', 'create', 'id'], command: 'create', createsContainer: true, containerId: 'id' },
  {
    argv: ['--log=x.log', '--log-format=json', 'create', `--bundle=${B}`, 'id'],
    command: 'create',
    createsContainer: true,
    bundle: B,
    containerId: 'id',
    log: 'x.log',
    logFormat: 'json',
  },
  {
    argv: ['-log-format', 'text', '-log=y.log', 'create', 'id'],
    command: 'create',
    createsContainer: true,
    containerId: 'id',
    log: 'y.log',
    logFormat: 'text',
  },
  { argv: ['create', 'id', '--bundle', B], command: 'create', createsContainer: true, bundle: B, containerId: 'id' },
  { argv: ['create', '-b', B, 'id'], command: 'create', createsContainer: true, bundle: B, containerId: 'id' },
  { argv: ['create', `-b=${B}`, 'id'], command: 'create', createsContainer: true, bundle: B, containerId: 'id' },
  { argv: ['create', 'id', `--bundle=${B}`, '--pid-file', '/p'], command: 'create', createsContainer: true, bundle: B, containerId: 'id' },
  { argv: ['-root', '/r', 'run', '-d', 'id'], command: 'run', createsContainer: true, containerId: 'id' },
  { argv: ['run', '-d', '--bundle', B, 'id'], command: 'run', createsContainer: true, bundle: B, containerId: 'id' },
  { argv: ['--debug=false', 'create', 'id'], command: 'create', createsContainer: true, containerId: 'id' },
  { argv: ['create', '--pid-file', 'p', '--console-socket', 's', 'id'], command: 'create', createsContainer: true, containerId: 'id' },
  { argv: ['--', 'create', 'id'], command: 'create', createsContainer: true, containerId: 'id' },
  { argv: ['create', '--', 'id'], command: 'create', createsContainer: true, containerId: 'id' },
  { argv: ['create', '--', '--help'], command: 'create', createsContainer: true, containerId: '--help' },
  {
    argv: ['--systemd-cgroup', 'restore', '--image-path', '/img', '-b', B, '--empty-ns', 'network', 'id'],
    command: 'restore',
    createsContainer: true,
    bundle: B,
    containerId: 'id',
  },
  { argv: ['run', '--help'], command: 'run', createsContainer: false },
  { argv: ['create', '-h', 'id'], command: 'create', createsContainer: false, containerId: 'id' },
  { argv: ['restore', 'id', '--help'], command: 'restore', createsContainer: false, containerId: 'id' },
  { argv: ['run', 'id', '--help'], command: 'run', createsContainer: false, containerId: 'id' },
  { argv: ['create', '--bundle', '--help', 'id'], command: 'create', createsContainer: true, bundle: '--help', containerId: 'id' },
  { argv: ['create', '--help=false', 'id'], command: 'create', createsContainer: true, containerId: 'id' },
  { argv: ['create', '--no-pivot=T', '--help', 'id'], command: 'create', createsContainer: false, containerId: 'id' },
  { argv: ['create', '--preserve-fds=0x10', '--help', 'id'], command: 'create', createsContainer: false, containerId: 'id' },
  { argv: ['create', '-?', 'id'], command: 'create', createsContainer: false, containerId: 'id' },
  // runc refuses these before doing anything; the prepare step sees usageError.
  {
    argv: ['create', '-b', 'x', '--bundle', 'y', '--help', 'id'],
    command: 'create',
    createsContainer: true,
    bundle: 'y',
    containerId: 'id',
    usageError: true,
  },
  { argv: ['create', '--preserve-fds=99999999999999999999', '--help', 'id'], command: 'create', createsContainer: true, usageError: true },
  { argv: ['create', '--help', '--no-such-flag', 'id'], command: 'create', createsContainer: true, usageError: true },
  { argv: ['create'], command: 'create', createsContainer: true, usageError: true },
  { argv: ['create', 'a', 'b'], command: 'create', createsContainer: true, containerId: 'a', usageError: true },
  // reorderArgs takes `x` as the value of -d: operands become [x, id].
  { argv: ['run', 'id', '-d', 'x'], command: 'run', createsContainer: true, containerId: 'x', usageError: true },
  { argv: ['create', 'id', '--no-pivot', 'extra'], command: 'create', createsContainer: true, containerId: 'extra', usageError: true },
];
