export {
  parseRuncArgv,
  resolveBundleDir,
  resolveSpecPath,
  runtimeLogTarget,
  type RuncGlobals,
  type RuncInvocation,
  type RuntimeLogFormat,
} from './parse.js';
export { formatRuntimeLogLine, formatRfc3339, type RuntimeLogLevel } from './runtime-log.js';
export {
  COMMAND_FLAGS,
  CREATING_COMMANDS,
  GLOBAL_FLAGS,
  HELP_FLAG_NAMES,
  VERSION_FLAG_NAMES,
  isCreatingCommand,
  type CreatingCommand,
} from './flag-tables.js';
export {
  parseGoBool,
  parseGoFlags,
  parseGoInt64,
  reorderArgsUrfaveV1,
  type FlagDef,
  type FlagKind,
} from './go-flag.js';
export { goJsonString, goQuote } from './go-quote.js';
