// runc's command line, read the way runc 1.1 reads it (see go-flag.ts for the rules), so that
// the wrapper knows which command runs, on which bundle, and for which container, without ever
// changing what the real runtime receives.

import {
  COMMAND_FLAGS,
  EXEC_FLAGS,
  GLOBAL_FLAGS,
  HELP_FLAG_NAMES,
  VERSION_FLAG_NAMES,
  isCreatingCommand,
} from './flag-tables.js';
import { parseGoFlags, parseGoInt64, reorderArgsUrfaveV1, type GoFlagParse } from './go-flag.js';

/** The global options (before the subcommand); last occurrence wins, as in runc. */
export interface RuncGlobals {
  root?: string;
  /** As given: a path (relative to the caller's cwd), or crun's `file:PATH`, `journald:`, `syslog:`. */
  log?: string;
  /** As given; runc knows 'text' (the default) and 'json' and refuses anything else. */
  logFormat?: string;
  logLevel?: string;
  criu?: string;
  rootless?: string;
  cgroupManager?: string;
  debug: boolean;
  systemdCgroup: boolean;
  /** --help/-h/-?/--usage before the subcommand: the runtime prints its help and runs nothing. */
  help: boolean;
  /** --version/-v/-V before the subcommand: the runtime prints its version and runs nothing. */
  version: boolean;
}

export interface RuncInvocation {
  globals: RuncGlobals;
  /**
   * The subcommand the runtime dispatches to: the first operand after the global flags.
   * Undefined when there is none, or when global help, version or a global usage error means
   * none runs. May be a name runc does not know (it then prints "No help topic").
   */
  command?: string;
  /** Everything after the subcommand, untouched. */
  commandArgs: string[];
  /** create, run or restore that will not just print help: the invocations we prepare. */
  createsContainer: boolean;
  /** exec into a container (containerId), that will not just print help or fail on its flags. */
  entersContainer: boolean;
  /** Help or version was asked for, globally or for the creating command. */
  helpRequested: boolean;
  /**
   * The error runc would stop with before doing anything (bad flag syntax, unknown flag, bad
   * value, wrong number of operands), worded like runc. Fields below hold what was read until then.
   */
  usageError?: string;
  /** The first flag neither runc nor crun knows; runc stops parsing there. */
  unknownFlag?: string;
  // What a creating command acts on. Set only for create, run and restore.
  /** --bundle/-b as given; undefined means the caller's cwd (see resolveBundleDir). */
  bundle?: string;
  containerId?: string;
  pidFile?: string;
  consoleSocket?: string;
  preserveFds?: number;
  detach: boolean;
  /** crun's --config/-f: the spec's file name relative to the bundle (default config.json). */
  configFile?: string;
  /** Every flag of the creating command by canonical name, values in order (bools "true"/"false"). */
  commandFlags: ReadonlyMap<string, readonly string[]>;
  /** The creating command's operands once its flags are read (runc wants exactly one: the id). */
  operands: string[];
}

const last = (parse: GoFlagParse, name: string): string | undefined => parse.values.get(name)?.at(-1);
const isTrue = (parse: GoFlagParse, names: readonly string[]): boolean =>
  names.some((name) => last(parse, name) === 'true');

/** The offending flag in a Go "not defined" error, spelled as on the command line. */
function unknownFlagOf(parse: GoFlagParse, args: readonly string[]): string | undefined {
  const match = parse.error?.match(/^flag provided but not defined: -(.*)$/s);
  if (!match) return undefined;
  const name = match[1] as string;
  return args.find((arg) => arg.replace(/^--?/, '').split('=')[0] === name && arg.startsWith('-'));
}

function readGlobals(parse: GoFlagParse): RuncGlobals {
  const globals: RuncGlobals = {
    debug: isTrue(parse, ['debug']),
    systemdCgroup: isTrue(parse, ['systemd-cgroup']),
    help: isTrue(parse, HELP_FLAG_NAMES),
    version: isTrue(parse, VERSION_FLAG_NAMES),
  };
  const strings = {
    root: 'root',
    log: 'log',
    logFormat: 'log-format',
    logLevel: 'log-level',
    criu: 'criu',
    rootless: 'rootless',
    cgroupManager: 'cgroup-manager',
  } as const;
  for (const [key, flag] of Object.entries(strings) as [keyof typeof strings, string][]) {
    const value = last(parse, flag);
    if (value !== undefined) globals[key] = value;
  }
  return globals;
}

/** Read argv (without argv0) as runc would. Never throws: a bad command line is for the runtime to refuse. */
export function parseRuncArgv(argv: readonly string[]): RuncInvocation {
  const globalParse = parseGoFlags(argv, GLOBAL_FLAGS);
  const globals = readGlobals(globalParse);
  const invocation: RuncInvocation = {
    globals,
    commandArgs: [],
    createsContainer: false,
    entersContainer: false,
    helpRequested: false,
    detach: false,
    commandFlags: new Map(),
    operands: [],
  };
  if (globalParse.error !== undefined) {
    invocation.usageError = globalParse.error;
    const unknown = unknownFlagOf(globalParse, argv);
    if (unknown !== undefined) invocation.unknownFlag = unknown;
    return invocation;
  }
  if (globals.help || globals.version) {
    invocation.helpRequested = true;
    return invocation;
  }
  const [command, ...commandArgs] = globalParse.positionals;
  if (command === undefined) return invocation;
  invocation.command = command;
  invocation.commandArgs = commandArgs;
  if (command === 'exec') return readExec(invocation, commandArgs);
  if (!isCreatingCommand(command)) return invocation;

  const commandParse = parseGoFlags(reorderArgsUrfaveV1(commandArgs), COMMAND_FLAGS[command]);
  invocation.commandFlags = commandParse.values;
  invocation.operands = [...commandParse.positionals];
  const bundle = last(commandParse, 'bundle');
  if (bundle !== undefined) invocation.bundle = bundle;
  const pidFile = last(commandParse, 'pid-file');
  if (pidFile !== undefined) invocation.pidFile = pidFile;
  const consoleSocket = last(commandParse, 'console-socket');
  if (consoleSocket !== undefined) invocation.consoleSocket = consoleSocket;
  const configFile = last(commandParse, 'config');
  if (configFile !== undefined) invocation.configFile = configFile;
  const preserveFds = last(commandParse, 'preserve-fds');
  if (preserveFds !== undefined) {
    const parsed = parseGoInt64(preserveFds);
    if (parsed !== undefined) invocation.preserveFds = Number(parsed);
  }
  invocation.detach = isTrue(commandParse, ['detach']);
  const containerId = commandParse.positionals[0];
  if (containerId !== undefined) invocation.containerId = containerId;

  if (commandParse.error !== undefined) {
    invocation.usageError = commandParse.error;
    const unknown = unknownFlagOf(commandParse, commandArgs);
    if (unknown !== undefined) invocation.unknownFlag = unknown;
  } else if (isTrue(commandParse, HELP_FLAG_NAMES)) {
    // urfave/cli honours a command's --help only once its flags parsed cleanly.
    invocation.helpRequested = true;
  } else if (commandParse.positionals.length !== 1) {
    // runc prefixes this with its argv[0].
    invocation.usageError = `"${command}" requires exactly 1 argument(s)`;
  } else if (containerId === '') {
    invocation.usageError = 'container id cannot be empty';
  }
  invocation.createsContainer = !invocation.helpRequested;
  return invocation;
}

/** exec [flags] ID COMMAND...: flags only before the id; the rest is the process to run. */
function readExec(invocation: RuncInvocation, commandArgs: readonly string[]): RuncInvocation {
  const parse = parseGoFlags(commandArgs, EXEC_FLAGS);
  invocation.commandFlags = parse.values;
  invocation.operands = [...parse.positionals];
  if (parse.error !== undefined) {
    invocation.usageError = parse.error;
    const unknown = unknownFlagOf(parse, commandArgs);
    if (unknown !== undefined) invocation.unknownFlag = unknown;
    return invocation;
  }
  if (isTrue(parse, HELP_FLAG_NAMES)) {
    invocation.helpRequested = true;
    return invocation;
  }
  const pidFile = last(parse, 'pid-file');
  if (pidFile !== undefined) invocation.pidFile = pidFile;
  invocation.detach = isTrue(parse, ['detach']);
  const containerId = parse.positionals[0];
  if (containerId === undefined || containerId === '') return invocation;
  invocation.containerId = containerId;
  invocation.entersContainer = true;
  return invocation;
}

/**
 * The bundle directory the runtime will use: --bundle joined onto cwd when relative, cwd when
 * absent or empty. Joined, not normalised: runc chdir()s into it, so ".." must be resolved by the
 * kernel through symlinks, not lexically.
 */
export function resolveBundleDir(invocation: Pick<RuncInvocation, 'bundle'>, cwd: string): string {
  const bundle = invocation.bundle;
  if (bundle === undefined || bundle === '') return cwd;
  if (bundle.startsWith('/')) return bundle;
  return cwd.endsWith('/') ? `${cwd}${bundle}` : `${cwd}/${bundle}`;
}

/** The spec file the runtime reads: BUNDLE/config.json, or crun's --config relative to the bundle. */
export function resolveSpecPath(invocation: Pick<RuncInvocation, 'bundle' | 'configFile'>, cwd: string): string {
  const configFile = invocation.configFile;
  const name = configFile === undefined || configFile === '' ? 'config.json' : configFile;
  if (name.startsWith('/')) return name;
  const dir = resolveBundleDir(invocation, cwd);
  return dir.endsWith('/') ? `${dir}${name}` : `${dir}/${name}`;
}

export type RuntimeLogFormat = 'json' | 'text';

/**
 * Where and how the runtime writes its own log, so the wrapper can add its lines in the same
 * place: undefined when there is no --log, when it goes to journald or syslog (crun), or when the
 * format is one the runtime refuses (it then writes no log either). A relative path is relative
 * to the caller's cwd, as for the runtime.
 */
export function runtimeLogTarget(
  globals: Pick<RuncGlobals, 'log' | 'logFormat'>,
): { path: string; format: RuntimeLogFormat } | undefined {
  const format = globals.logFormat;
  if (format !== undefined && format !== '' && format !== 'text' && format !== 'json') return undefined;
  let path = globals.log;
  if (path === undefined || path.startsWith('journald:') || path.startsWith('syslog:')) return undefined;
  if (path.startsWith('file:')) path = path.slice('file:'.length);
  if (path === '') return undefined;
  return { path, format: format === 'json' ? 'json' : 'text' };
}
