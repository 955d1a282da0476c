import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { isRootless } from './rootless.js';

/** The config's "trace" key: which containers are traced (src/prepare/trace-policy.ts applies it). */
export const TRACE_POLICIES = ['always', 'annotated', 'never'] as const;
export type TracePolicy = (typeof TRACE_POLICIES)[number];

/** Where our config lives unless OCI_FTRACE_CONFIG says otherwise. */
export const DEFAULT_CONFIG_PATH = '/etc/oci-ftrace/config.json';

/**
 * Our own config file, read by the agent alone (src/agent/config-source.ts), which applies it to
 * every container it prepares and reloads it when the file changes.
 */
export const ConfigSchema = z
  .object({
    /**
     * Which containers are traced: all but those annotated oci-ftrace/trace "false" (always), only
     * those annotated "true" (annotated), or none (never).
     */
    trace: z.enum(TRACE_POLICIES).default('always'),
    /**
     * Kubernetes pod sandboxes (the pause container: io.kubernetes.cri.container-type "sandbox",
     * CRI-O's io.kubernetes.cri-o.ContainerType) are not traced unless this says so: they run no
     * workload, and a pod's start would pay for a trace nobody reads.
     */
    traceSandboxes: z.boolean().default(false),
    /**
     * The runtime's exec into a traced container (kubectl exec, exec probes: CRI ExecSync) is
     * traced with it: such processes run under the container's seccomp profile.
     */
    traceExec: z.boolean().default(true),
    /**
     * Record capability checks (capability:cap_capable) with the syscalls, where the kernel has
     * the event: which capabilities the workload used, was denied, and held without using.
     */
    traceCapabilities: z.boolean().default(true),
    /**
     * The clock events are stamped with (src/tracefs/trace-clock.ts): `auto` takes the instance's
     * own `local` where it agrees across CPUs, else `mono`; either may be forced.
     */
    traceClock: z.enum(['auto', 'local', 'mono']).default('auto'),
    /** Reports go to OUTPUT_DIR/<container-id>/. */
    outputDir: z.string().startsWith('/', 'outputDir must be absolute').default('/var/log/oci-ftrace'),
    /** The agent's state (run state, saved bundles, checkpoints), kept on tmpfs. */
    stateDir: z.string().startsWith('/', 'stateDir must be absolute').default('/run/oci-ftrace'),
    /** Our own log (pino, JSON lines). Never stdout/stderr: engines parse those. */
    logFile: z.string().startsWith('/', 'logFile must be absolute').default('/var/log/oci-ftrace/oci-ftrace.log'),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
    /**
     * Kernel memory for one traced container's ring buffer, all CPUs together (each CPU gets its
     * share): the same per container on 2 CPUs as on 64. The agent is woken as each CPU's share
     * fills (buffer_percent), and drains it in milliseconds.
     */
    bufferKbPerContainer: z.number().int().min(256).max(1024 * 1024).default(8192),
    /** Fail closed: a tracing failure stops the container instead of being logged and ignored. */
    strict: z.boolean().default(false),
    /** Timeout (seconds) runc/crun enforce on our hooks. */
    hookTimeoutSeconds: z.number().int().min(2).max(3600).default(30),
    /** Also write the full per-syscall log, not only the summary. */
    writeLog: z.boolean().default(true),
    /** Rotate the per-syscall log at this size (bytes; 0 = never) ... */
    logMaxBytes: z.number().int().nonnegative().default(512 * 1024 * 1024),
    /** ... keeping this many rotated parts (LOG.1 .. LOG.N). */
    logKeep: z.number().int().nonnegative().max(100).default(2),
    /**
     * Distinct-syscalls mode: the kernel stops emitting a syscall once it has been seen, so the
     * event rate falls to almost zero after start-up. Counts become "at least once".
     */
    distinctOnly: z.boolean().default(false),
    /** Write a seccomp profile for every container at report time, beside its summary. */
    seccompProfile: z.boolean().default(false),
    /** The form of that profile: OCI linux.seccomp, Docker's JSON, or the SPO resource. */
    seccompProfileFormat: z.enum(['oci', 'docker', 'spo']).default('oci'),
    /** Override tracefs discovery (normally /sys/kernel/tracing, then /sys/kernel/debug/tracing). */
    tracefsPath: z.string().startsWith('/').optional(),
    /** The agent exits after this long with no traced container and no request. */
    agentIdleExitSeconds: z.number().int().min(1).max(86_400).default(30),
    /** Threads that drain ring buffers, apart from the agent's control path. */
    drainWorkers: z.number().int().min(1).max(16).default(2),
  })
  .strict();

export type Config = z.infer<typeof ConfigSchema>;

/**
 * Our config could not be used. The message is one line naming the file and the key. `fallback`
 * is what could still be read from the file for reporting the error: where our log is, and whether
 * the user asked for strict mode (an unrelated bad key must not turn strict mode off).
 */
export class ConfigError extends Error {
  override name = 'ConfigError';

  constructor(
    message: string,
    readonly fallback: { logFile: string; strict: boolean },
  ) {
    super(message);
  }
}

/** Keys earlier versions had, and what to do instead: an unknown key is an error, this says why. */
const REMOVED_KEYS: Readonly<Record<string, string>> = {
  runtime: 'the front door finds the runtime itself: OCI_FTRACE_RUNTIME, else runc, else crun on PATH',
  bufferSizeKb: 'the ring buffer is a budget per container now, all CPUs together: bufferKbPerContainer',
  collector: 'every traced container is drained by the agent',
  collectorPollMs: 'the agent drains when the kernel wakes it, not on a timer',
  collectorStopTimeoutSeconds: 'a report no longer waits for a collector',
  recordSeccomp:
    'recording without the container\'s own seccomp profile is a per-container choice now: annotate the container with oci-ftrace/record-seccomp: "permissive"',
};

const absolute = (v: string | undefined): string | undefined => (v !== undefined && v.startsWith('/') ? v : undefined);

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.OCI_FTRACE_CONFIG && env.OCI_FTRACE_CONFIG.length > 0) return env.OCI_FTRACE_CONFIG;
  if (!isRootless()) return DEFAULT_CONFIG_PATH;
  return join(absolute(process.env.XDG_CONFIG_HOME) ?? join(homedir(), '.config'), 'oci-ftrace', 'config.json');
}

/**
 * A rootless agent's defaults for where things go: its state under XDG_RUNTIME_DIR (the front door
 * puts its socket there too, and passes the variable on), reports and our log under the user's data
 * directory. Without XDG_RUNTIME_DIR the config must name stateDir. Root's are the schema's.
 */
export function rootlessDefaults(rootless = isRootless(), env: NodeJS.ProcessEnv = process.env, home = homedir()): Partial<Record<'stateDir' | 'outputDir' | 'logFile', string>> {
  if (!rootless) return {};
  const outputDir = join(absolute(env.XDG_DATA_HOME) ?? join(home, '.local', 'share'), 'oci-ftrace');
  const runtime = absolute(env.XDG_RUNTIME_DIR);
  return { outputDir, logFile: join(outputDir, 'oci-ftrace.log'), ...(runtime ? { stateDir: join(runtime, 'oci-ftrace') } : {}) };
}

const DEFAULTS = ConfigSchema.parse({});

/** What an invalid file still tells about reporting its own error (pure). */
function fallbackOf(raw: unknown): ConfigError['fallback'] {
  const r = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  const logFile = typeof r.logFile === 'string' && r.logFile.startsWith('/') ? r.logFile : (rootlessDefaults().logFile ?? DEFAULTS.logFile);
  return { logFile, strict: r.strict === true };
}

/** One zod issue as `key "a.b": problem` (pure). */
function describeConfigIssue(issue: z.ZodIssue): string {
  const key = issue.path.length > 0 ? `key "${issue.path.join('.')}"` : undefined;
  switch (issue.code) {
    case z.ZodIssueCode.unrecognized_keys:
      return issue.keys
        .map((k) => {
          const full = [...issue.path, k].join('.');
          const hint = issue.path.length === 0 ? REMOVED_KEYS[k] : undefined;
          return `unknown key "${full}"${hint ? ` (${hint})` : ''}`;
        })
        .join('; ');
    case z.ZodIssueCode.invalid_type:
      return issue.path.length === 0 ? `expected a JSON object, got ${issue.received}` : `${key}: expected ${issue.expected}, got ${issue.received}`;
    case z.ZodIssueCode.invalid_enum_value:
      return `${key}: ${JSON.stringify(issue.received)} is not one of ${issue.options.join(', ')}`;
    default:
      return `${key ?? '(root)'}: ${issue.message}`;
  }
}

/** Validate an already-parsed config value; one-line error naming the bad key. */
export function parseConfig(value: unknown, source = 'config'): Config {
  const user = rootlessDefaults();
  if (isRootless() && user.stateDir === undefined && !(typeof value === 'object' && value !== null && 'stateDir' in value)) {
    throw new ConfigError(`${source}: invalid config: not root and no XDG_RUNTIME_DIR: name "stateDir" (a directory of this user's, on tmpfs)`, fallbackOf(value));
  }
  const withDefaults = typeof value === 'object' && value !== null && !Array.isArray(value) ? { ...user, ...value } : value;
  const result = ConfigSchema.safeParse(withDefaults);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new ConfigError(`${source}: invalid config: ${issue ? describeConfigIssue(issue) : 'invalid'}`, fallbackOf(value));
  }
  return result.data;
}

/**
 * Load the config: a missing file means defaults (a fresh install works with none); an unreadable
 * or invalid one is an error, since silently ignoring it would trace with settings nobody chose.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const path = configPath(env);
  let text: string | undefined;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ConfigError(`${path}: cannot read config: ${(err as Error).message.split('\n')[0]}`, fallbackOf(undefined));
    }
  }
  let raw: unknown = {};
  if (text !== undefined) {
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(`${path}: config is not valid JSON: ${(err as Error).message.split('\n')[0]}`, fallbackOf(undefined));
    }
  }
  return parseConfig(raw, path);
}
