/**
 * `oci-ftrace doctor`, the reading half: the machine's facts for checks.ts. Reads only, with one
 * exception: a probe instance under tracefs, made and removed again within this call.
 */
import { accessSync, constants, existsSync, mkdirSync, readFileSync, rmdirSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { isRootless } from '../config/rootless.js';
import { ConfigError, ConfigSchema, configPath, loadConfig } from '../config/config.js';
import { runningAgent } from '../agent/main.js';
import { askAgent } from '../cli/agent-client.js';
import { frontDoorPath } from '../install/bin-paths.js';
import { locateRealRuntime } from '../install/real-runtime.js';
import { poolAccess, readPoolFile } from '../tracefs/instance-pool.js';
import {
  CommandOutputSchema,
  checkAgent,
  checkContainerd,
  checkDocker,
  checkPodman,
  checkRuntime,
  checkTracefs,
  pickTracefsRoot,
  tracefsCandidates,
  tracefsPathsToProbe,
  type AgentFacts,
  type CommandOutput,
  type ConfigFile,
  type EngineFacts,
  type Finding,
  type InstanceProbe,
  type RuntimeFacts,
  type TracefsFacts,
} from './checks.js';
import { chooseTraceClock, hostClockFacts, type TraceClockSetting } from '../tracefs/trace-clock.js';

export interface DoctorOptions {
  containerdConfig?: string;
  dockerConfig?: string;
  podmanConfig?: string;
  env?: NodeJS.ProcessEnv;
}

const STATUS_TIMEOUT_MS = 3000;
const VERSION_TIMEOUT_MS = 10_000;

function message(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return (e?.code ? `${e.code}: ` : '') + String(e instanceof Error ? e.message : err).split('\n')[0];
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function isExecutableFile(path: string): boolean {
  const st = statOrUndefined(path);
  if (!st?.isFile()) return false;
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where engines are looked for when the environment has no PATH. */
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The first executable of that name on PATH (any entry: this is only whether the engine is installed). */
function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? DEFAULT_PATH).split(':')) {
    if (dir.startsWith('/') && isExecutableFile(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

function readConfigFile(path: string, explicit: boolean): ConfigFile {
  try {
    return { path, explicit, text: readFileSync(path, 'utf8') };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { path, explicit, readError: code === 'ENOENT' ? 'ENOENT' : message(err) };
  }
}

// tracefs -----------------------------------------------------------------------------------------

/** Makes instances/oci-ftrace-doctor-<pid> and removes it again, whatever happens in between. */
function probeInstance(root: string): InstanceProbe {
  const name = `oci-ftrace-doctor-${process.pid}`;
  const dir = join(root, 'instances', name);
  const probe: InstanceProbe = { name, created: false, removed: false };
  try {
    mkdirSync(dir);
    probe.created = true;
  } catch (err) {
    probe.createError = message(err);
  } finally {
    // Also after a failed mkdir: EEXIST means one of ours from an earlier doctor of this pid.
    if (existsSync(dir)) {
      try {
        rmdirSync(dir);
      } catch (err) {
        probe.removeError = message(err);
      }
    }
    probe.removed = !existsSync(dir);
  }
  return probe;
}

export function gatherTracefs(configured: string | undefined, traceClock: TraceClockSetting = 'auto'): TracefsFacts {
  if (isRootless()) {
    // Not root of the host: nothing of tracefs is probed but the pool this user would trace through.
    const root = configured ?? '/sys/kernel/tracing';
    return { configured, pick: { root, how: 'rootless: the pool under it' }, present: {}, rootless: { user: true, problem: poolAccess(root) } };
  }
  let mounts = '';
  try {
    mounts = readFileSync('/proc/mounts', 'utf8');
  } catch {
    // No /proc/mounts: the usual places are still looked at.
  }
  const isRoot = Object.fromEntries(tracefsCandidates(mounts, configured).map((d) => [d, existsSync(join(d, 'instances')) && existsSync(join(d, 'events'))]));
  const pick = pickTracefsRoot(mounts, configured, isRoot);
  const root = pick.root;
  if (!root) return { configured, pick, present: {} };
  const present = Object.fromEntries(tracefsPathsToProbe().map((rel) => [rel, existsSync(join(root, rel))]));
  const pool = readPoolFile();
  return { configured, pick, present, probe: probeInstance(root), clock: chooseTraceClock(traceClock, hostClockFacts()), rootless: { user: false, pool: pool ? { size: pool.size, group: pool.group } : undefined } };
}

// The real runtime ---------------------------------------------------------------------------------

async function run(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<CommandOutput> {
  try {
    const r = await execa(file, args, { env, extendEnv: false, reject: false, timeout: VERSION_TIMEOUT_MS, stdin: 'ignore' });
    return CommandOutputSchema.parse({
      exitCode: r.exitCode,
      stdout: String(r.stdout ?? ''),
      stderr: String(r.stderr ?? ''),
      error: r.timedOut ? `timed out after ${VERSION_TIMEOUT_MS} ms` : r.failed && r.exitCode === undefined ? (r.shortMessage ?? 'failed').split('\n')[0] : undefined,
    });
  } catch (err) {
    return { stdout: '', stderr: '', error: message(err) };
  }
}

/** The runtime is the front door's to find (src/install/real-runtime.ts). */
export async function gatherRuntime(env: NodeJS.ProcessEnv): Promise<RuntimeFacts> {
  const frontDoor = frontDoorPath();
  const frontDoorExecutable = isExecutableFile(frontDoor);
  const via = env.OCI_FTRACE_RUNTIME ? `OCI_FTRACE_RUNTIME=${env.OCI_FTRACE_RUNTIME}` : 'runc, then crun, on PATH';
  if (!frontDoorExecutable) return { frontDoor, frontDoorExecutable, located: { via } };
  const which = await locateRealRuntime(env, frontDoor);
  if ('error' in which) return { frontDoor, frontDoorExecutable, located: { via, error: which.error } };
  return { frontDoor, frontDoorExecutable, located: { path: which.path, via }, runtimeVersion: await run(which.path, ['--version'], env) };
}

// Our config and the agent -------------------------------------------------------------------------

export async function gatherAgent(env: NodeJS.ProcessEnv): Promise<{ facts: AgentFacts; tracefsPath?: string; traceClock: TraceClockSetting }> {
  const path = configPath(env);
  const configExists = existsSync(path);
  let config = ConfigSchema.parse({});
  let configError: string | undefined;
  try {
    config = loadConfig(env);
  } catch (err) {
    configError = err instanceof ConfigError ? err.message : message(err);
  }
  const facts: AgentFacts = { configPath: path, configExists, configError, stateDir: config.stateDir };
  const agent = runningAgent(config.stateDir);
  if (agent) {
    facts.agent = { pid: agent.pid, socket: agent.socket, config: agent.config };
    try {
      facts.status = await askAgent(config.stateDir, { v: 1, kind: 'status' }, STATUS_TIMEOUT_MS);
    } catch (err) {
      facts.statusError = message(err);
    }
  }
  return { facts, tracefsPath: config.tracefsPath, traceClock: config.traceClock };
}

// Engines ------------------------------------------------------------------------------------------

const PODMAN_FILES = ['/usr/share/containers/containers.conf', '/etc/containers/containers.conf'];

function engine(binary: string, files: ConfigFile[], env: NodeJS.ProcessEnv): EngineFacts {
  return { binary: onPath(binary, env), files, executable: isExecutableFile, frontDoor: frontDoorPath() };
}

/** Every check, in the order a person fixes them: the kernel, the runtime, the agent, the engines. */
export async function doctor(opts: DoctorOptions = {}): Promise<Finding[]> {
  const env = opts.env ?? process.env;
  const [agent, runtime] = await Promise.all([gatherAgent(env), gatherRuntime(env)]);
  const tracefs = gatherTracefs(agent.tracefsPath, agent.traceClock);
  const file = (explicit: string | undefined, fallback: string): ConfigFile => readConfigFile(explicit ?? fallback, explicit !== undefined);
  return [
    ...checkTracefs(tracefs),
    ...checkRuntime(runtime),
    ...checkAgent(agent.facts),
    ...checkContainerd(engine('containerd', [file(opts.containerdConfig, '/etc/containerd/config.toml')], env)),
    ...checkDocker(engine('dockerd', [file(opts.dockerConfig, '/etc/docker/daemon.json')], env)),
    ...checkPodman(engine('podman', opts.podmanConfig ? [readConfigFile(opts.podmanConfig, true)] : PODMAN_FILES.map((p) => readConfigFile(p, false)), env)),
  ];
}
