/**
 * `oci-ftrace doctor`, the judging half: pure functions from what gather.ts read (file contents,
 * existence facts, command outputs) to findings, each with what to fix. Nothing here touches the
 * machine, so every verdict is unit-tested on literal inputs (test/doctor/checks.test.ts).
 */
import { basename } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';
import { CAPABILITY_EVENT, CONTAINER_EVENTS } from '../tracefs/tracefs.js';
import type { ClockChoice } from '../tracefs/trace-clock.js';

export type Verdict = boolean | 'warn';

export interface Finding {
  check: string;
  ok: Verdict;
  detail: string;
  fix?: string;
}

const FRONT_DOOR_NAME = 'oci-ftrace-runc';

// ------------------------------------------------------------------------------------------------
// tracefs

/** Where tracefs may be, in the order the agent looks (src/tracefs/tracefs.ts). */
export const TRACEFS_CANDIDATES = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'] as const;

/** The mount points of type tracefs in /proc/mounts text (octal escapes such as \040 decoded). */
export function tracefsMounts(procMounts: string): string[] {
  const out: string[] = [];
  for (const line of procMounts.split('\n')) {
    const [, mountPoint, type] = line.split(' ');
    if (type === 'tracefs' && mountPoint) out.push(mountPoint.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))));
  }
  return out;
}

/** Directories worth asking about, most authoritative first: the config's, then mounts, then the usual places. */
export function tracefsCandidates(procMounts: string, configured: string | undefined): string[] {
  return [...new Set([...(configured ? [configured] : []), ...tracefsMounts(procMounts), ...TRACEFS_CANDIDATES])];
}

export interface TracefsPick {
  root?: string;
  how: string;
}

/**
 * The tracefs root the agent would use: a configured tracefsPath is used or refused, never
 * second-guessed. `isRoot` says which candidates hold instances/ and events/.
 */
export function pickTracefsRoot(procMounts: string, configured: string | undefined, isRoot: Readonly<Record<string, boolean>>): TracefsPick {
  if (configured) return isRoot[configured] ? { root: configured, how: 'the config\'s tracefsPath' } : { how: `the config's tracefsPath ${configured} has no instances/ and events/` };
  const mounted = tracefsMounts(procMounts);
  for (const dir of mounted) if (isRoot[dir]) return { root: dir, how: 'tracefs in /proc/mounts' };
  for (const dir of TRACEFS_CANDIDATES) if (isRoot[dir]) return { root: dir, how: `${dir} has instances/ and events/` };
  return { how: mounted.length > 0 ? `tracefs is mounted at ${mounted.join(', ')} but has no instances/ and events/` : 'no tracefs in /proc/mounts' };
}

/** What the agent needs under the root, beside the events: the pid filter, fork following, the reader wake-up. */
export const TRACEFS_FILES = ['set_event_pid', 'options/event-fork', 'buffer_percent'] as const;

/** Paths, relative to the tracefs root, whose presence checkTracefs judges. */
export function tracefsPathsToProbe(): string[] {
  return [...CONTAINER_EVENTS.map((e) => `events/${e}`), `events/${CAPABILITY_EVENT}`, ...TRACEFS_FILES];
}

export interface InstanceProbe {
  /** instances/<name>, made and removed again. */
  name: string;
  created: boolean;
  createError?: string;
  removed: boolean;
  removeError?: string;
}

export interface TracefsFacts {
  configured?: string;
  pick: TracefsPick;
  /** tracefsPathsToProbe() under the root: present or not. */
  present: Readonly<Record<string, boolean>>;
  probe?: InstanceProbe;
  /** The clock containers' events are stamped with, and why (src/tracefs/trace-clock.ts). */
  clock?: ClockChoice;
  /** The rootless pool (src/tracefs/instance-pool.ts): not root, whether this user can trace through it; root, whether there is one. */
  rootless?: { user: true; problem?: { problem: string; fix: string } | undefined } | { user: false; pool?: { size: number; group: string } | undefined };
}

/** Not root: tracefs is reached through the administrator's pool, or not at all. */
function checkRootless(f: TracefsFacts & { rootless: { user: true; problem?: { problem: string; fix: string } | undefined } }): Finding[] {
  const p = f.rootless.problem;
  return [p ? { check: 'tracefs: rootless pool', ok: false, detail: p.problem, fix: p.fix } : { check: 'tracefs: rootless pool', ok: true, detail: 'a pooled instance is writable by this user: containers run through the front door are traced' }];
}

const MOUNT_FIX = 'mount -t tracefs nodev /sys/kernel/tracing (the agent mounts it there itself when it finds none)';

export function checkTracefs(f: TracefsFacts): Finding[] {
  if (f.rootless?.user === true) return checkRootless({ ...f, rootless: f.rootless });
  const root = f.pick.root;
  if (!root) {
    // Without a configured path the agent mounts tracefs itself at first use; with one it refuses.
    return [
      f.configured
        ? { check: 'tracefs', ok: false, detail: f.pick.how, fix: `mount tracefs there, or remove tracefsPath from the config; ${MOUNT_FIX}` }
        : { check: 'tracefs', ok: 'warn', detail: `${f.pick.how}; instances and events not checked`, fix: MOUNT_FIX },
    ];
  }
  const out: Finding[] = [{ check: 'tracefs', ok: true, detail: `${root} (${f.pick.how})` }];

  const p = f.probe;
  if (!p || !p.created) {
    out.push({
      check: 'tracefs: instances',
      ok: false,
      detail: `cannot create ${root}/instances/${p?.name ?? '?'}: ${p?.createError ?? 'not tried'}`,
      fix: 'run as root in the host\'s mount namespace; a kernel in lockdown or a read-only tracefs refuses instances',
    });
  } else if (!p.removed) {
    out.push({
      check: 'tracefs: instances',
      ok: false,
      detail: `created ${root}/instances/${p.name} but could not remove it: ${p.removeError ?? 'unknown'}`,
      fix: `rmdir ${root}/instances/${p.name}`,
    });
  } else {
    out.push({ check: 'tracefs: instances', ok: true, detail: `writable (created and removed instances/${p.name})` });
  }

  const missingEvents = CONTAINER_EVENTS.filter((e) => !f.present[`events/${e}`]);
  out.push(
    missingEvents.length === 0
      ? { check: 'tracefs: events', ok: true, detail: CONTAINER_EVENTS.join(', ') }
      : {
          check: 'tracefs: events',
          ok: false,
          detail: `missing ${missingEvents.join(', ')}`,
          fix: 'a kernel built with CONFIG_FTRACE_SYSCALLS and the sched/task tracepoints (any distribution kernel has them)',
        },
  );

  out.push(
    f.present[`events/${CAPABILITY_EVENT}`]
      ? { check: 'tracefs: capabilities', ok: true, detail: `${CAPABILITY_EVENT}: capability checks are traced with the syscalls` }
      : { check: 'tracefs: capabilities', ok: 'warn', detail: `no ${CAPABILITY_EVENT}: reports hold syscalls only, no capabilities`, fix: 'Linux 6.14 or later has the capability:cap_capable tracepoint' },
  );

  const missingFiles = TRACEFS_FILES.filter((file) => !f.present[file]);
  const required = missingFiles.filter((file) => file !== 'buffer_percent');
  if (required.length > 0) {
    out.push({ check: 'tracefs: options', ok: false, detail: `missing ${required.join(', ')}: children of a container's init would go untraced`, fix: 'a kernel with set_event_pid and options/event-fork (4.4 or later)' });
  } else if (missingFiles.length > 0) {
    out.push({ check: 'tracefs: options', ok: 'warn', detail: 'no buffer_percent: the agent is woken for every page, not when a tenth of a buffer is full', fix: 'kernel 5.1 or later' });
  } else {
    out.push({ check: 'tracefs: options', ok: true, detail: TRACEFS_FILES.join(', ') });
  }
  if (f.clock) out.push({ check: 'tracefs: trace clock', ok: true, detail: `${f.clock.clock} (${f.clock.why})` });
  if (f.rootless?.user === false) {
    const pool = f.rootless.pool;
    out.push({ check: 'tracefs: rootless pool', ok: true, detail: pool ? `${pool.size} instances for group ${pool.group}: its members' rootless containers are traced` : 'none: rootless users cannot trace (oci-ftrace setup-rootless --group G makes one)' });
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// The real runtime

/** The runtime the front door would exec, as it answers itself (OCI_FTRACE_WHICH_RUNTIME=1). */
export interface LocatedRuntime {
  path?: string;
  /** How it was chosen: OCI_FTRACE_RUNTIME, or runc then crun on PATH. */
  via: string;
  error?: string;
}

export interface CommandOutput {
  exitCode?: number;
  stdout: string;
  stderr: string;
  /** It could not be started at all, or timed out. */
  error?: string;
}

export const CommandOutputSchema = z.object({
  exitCode: z.number().int().optional(),
  stdout: z.string(),
  stderr: z.string(),
  error: z.string().optional(),
});

export interface RuntimeFacts {
  frontDoor: string;
  frontDoorExecutable: boolean;
  located: LocatedRuntime;
  /** The located runtime's own --version. */
  runtimeVersion?: CommandOutput;
}

function firstLine(s: string): string {
  return s.split('\n').find((l) => l.trim() !== '')?.trim() ?? '';
}

function failedRun(o: CommandOutput | undefined): string | undefined {
  if (!o) return 'not run';
  if (o.error) return o.error;
  if (o.exitCode !== 0) return `exit ${o.exitCode ?? '?'}${firstLine(o.stderr) ? `: ${firstLine(o.stderr)}` : ''}`;
  return undefined;
}

export function checkRuntime(f: RuntimeFacts): Finding[] {
  if (!f.frontDoorExecutable) {
    return [{ check: 'runtime', ok: false, detail: `the front door ${f.frontDoor} is not an executable file`, fix: 'npm run build in a checkout, or npm rebuild oci-ftrace (-g when installed globally)' }];
  }
  const loc = f.located;
  const envFix = 'install runc or crun (apt-get install runc), or set OCI_FTRACE_RUNTIME to its absolute path in the engine\'s environment';
  if (!loc.path) return [{ check: 'runtime', ok: false, detail: `${loc.error ?? 'not found'} (${loc.via})`, fix: envFix }];

  const failed = failedRun(f.runtimeVersion);
  if (failed) return [{ check: 'runtime', ok: false, detail: `${loc.path} (${loc.via}) --version failed: ${failed}`, fix: envFix }];
  const version = firstLine(f.runtimeVersion?.stdout ?? '');
  return [{ check: 'runtime', ok: true, detail: `${loc.path} (${loc.via}): ${version}` }];
}

// ------------------------------------------------------------------------------------------------
// Our config and the agent

export interface AgentFacts {
  configPath: string;
  configExists: boolean;
  /** Our config's one-line error, when it is invalid. */
  configError?: string;
  stateDir: string;
  /** From STATE_DIR/agent.json, when that process is alive. */
  agent?: { pid: number; socket: string; config: string };
  /** Its answer to a status request (or why there was none). */
  status?: unknown;
  statusError?: string;
}

const StatusReplySchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), pid: z.number().int(), containers: z.array(z.object({ id: z.string(), phase: z.string() }).passthrough()) }).passthrough(),
  z.object({ ok: z.literal(false), message: z.string() }).passthrough(),
]);

export function checkAgent(f: AgentFacts): Finding[] {
  const out: Finding[] = [];
  if (f.configError) {
    out.push({ check: 'config', ok: false, detail: f.configError, fix: `fix ${f.configPath} (see contrib/oci-ftrace.config.json): every container meeting it runs untraced, or is refused in strict mode` });
  } else {
    out.push({ check: 'config', ok: true, detail: f.configExists ? f.configPath : `${f.configPath} absent: the defaults` });
  }
  if (!f.agent) {
    const which = f.configError ? ' (the default stateDir: the config is invalid)' : '';
    out.push({ check: 'agent', ok: true, detail: `none running for ${f.stateDir}${which} (the front door starts one on the first create)` });
    return out;
  }
  const parsed = f.status === undefined ? undefined : StatusReplySchema.safeParse(f.status);
  const why = f.statusError ?? (!parsed ? 'no answer' : !parsed.success ? `an answer that is not a status: ${zodLine(parsed.error)}` : parsed.data.ok ? undefined : parsed.data.message);
  if (why !== undefined || !parsed?.success || !parsed.data.ok) {
    out.push({
      check: 'agent',
      ok: false,
      detail: `pid ${f.agent.pid} at ${f.agent.socket} does not answer status: ${why ?? 'no answer'}`,
      fix: `look in our log (logFile); kill ${f.agent.pid} and the next create starts a fresh agent, which adopts what it left`,
    });
    return out;
  }
  const n = parsed.data.containers.length;
  const config = f.agent.config === f.configPath ? '' : ` for the config ${f.agent.config || '(default)'}`;
  out.push({ check: 'agent', ok: true, detail: `pid ${parsed.data.pid} serves ${f.stateDir}${config} at ${f.agent.socket}, ${n} container${n === 1 ? '' : 's'}` });
  return out;
}

// ------------------------------------------------------------------------------------------------
// Engines' configs

export interface ConfigFile {
  path: string;
  /** Named on the command line: its absence is an error, not a note. */
  explicit: boolean;
  /** Its text, when it could be read. */
  text?: string;
  /** Why it could not be read (absent: 'ENOENT'). */
  readError?: string;
}

export interface EngineFacts {
  /** The engine's binary on PATH, when there is one. */
  binary?: string;
  files: readonly ConfigFile[];
  /** Whether a runtime path an entry names is an executable file. */
  executable: (path: string) => boolean;
  /** This package's front door, for the fix of an entry naming a missing one. */
  frontDoor: string;
}

const isFrontDoor = (p: string): boolean => basename(p) === FRONT_DOOR_NAME;

/** A finding for an engine with no oci-ftrace entry: a warning only when the engine is installed. */
function noEntry(check: string, engine: string, binary: string | undefined, detail: string, fix: string): Finding {
  return binary ? { check, ok: 'warn', detail: `${detail} (${engine} is installed: ${binary})`, fix } : { check, ok: true, detail: `${detail}; ${engine} not on PATH` };
}

function unreadable(check: string, file: ConfigFile): Finding | undefined {
  if (file.text !== undefined) return undefined;
  if (file.readError === 'ENOENT') {
    return file.explicit ? { check, ok: false, detail: `${file.path} not found`, fix: 'name an existing file' } : undefined;
  }
  return { check, ok: false, detail: `cannot read ${file.path}: ${file.readError ?? 'unknown'}`, fix: 'run as root' };
}

function entryBinary(check: string, what: string, path: string, f: EngineFacts): Finding | undefined {
  return f.executable(path) ? undefined : { check, ok: 'warn', detail: `${what} names ${path}, which is not an executable file`, fix: `install the front door there: ln -s ${f.frontDoor} ${path}` };
}

// containerd ---------------------------------------------------------------------------------------

const ContainerdRuntimeSchema = z
  .object({
    runtime_type: z.string().optional(),
    pod_annotations: z.array(z.string()).optional(),
    options: z.object({ BinaryName: z.string().optional() }).passthrough().optional(),
  })
  .passthrough();

const ContainerdConfigSchema = z
  .object({
    version: z.number().int().optional(),
    plugins: z.record(z.unknown()).optional(),
  })
  .passthrough();

const CriPluginSchema = z
  .object({ containerd: z.object({ runtimes: z.record(ContainerdRuntimeSchema).optional() }).passthrough().optional() })
  .passthrough();

/** The CRI plugin's name in each config version: v1 "cri", v2 "io.containerd.grpc.v1.cri", v3 (containerd 2) the runtime half. */
function criPluginName(version: number | undefined): string {
  return version === 3 ? 'io.containerd.cri.v1.runtime' : version === 2 ? 'io.containerd.grpc.v1.cri' : 'cri';
}

/** The pod annotations oci-ftrace reads; a handler's pod_annotations must pass them to the bundle. */
export const POD_ANNOTATIONS = ['oci-ftrace/trace', 'oci-ftrace/seccomp-profile', 'oci-ftrace/seccomp-profile-format', 'oci-ftrace/record-seccomp'] as const;

/**
 * Go's path.Match, which containerd applies to pod_annotations: `*` and `?` never match `/`,
 * `[...]` is a class (`^` negates), `\` escapes. A malformed pattern matches nothing, as there.
 */
export function goPathMatch(pattern: string, name: string): boolean {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\') {
      if (i + 1 >= pattern.length) return false;
      re += escapeRe(pattern[++i] as string);
    } else if (c === '[') {
      const end = classEnd(pattern, i + 1);
      if (end < 0) return false;
      let body = pattern.slice(i + 1, end);
      const negate = body.startsWith('^');
      if (negate) body = body.slice(1);
      if (body === '') return false;
      re += `[${negate ? '^' : ''}${body.replace(/\\(.)/g, '$1').replace(/[\]\\^]/g, '\\$&')}]`;
      i = end;
    } else re += escapeRe(c);
  }
  try {
    return new RegExp(`^${re}$`).test(name);
  } catch {
    return false;
  }
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Index of the `]` closing a class whose body starts at from (escapes skipped), or -1. */
function classEnd(p: string, from: number): number {
  for (let i = from; i < p.length; i++) {
    if (p[i] === '\\') i++;
    else if (p[i] === ']') return i;
  }
  return -1;
}

export function checkContainerd(f: EngineFacts): Finding[] {
  const check = 'containerd';
  const file = f.files[0];
  if (!file) return [];
  const bad = unreadable(check, file);
  if (bad) return [bad];
  const fix = `add a handler whose options.BinaryName is the front door, with pod_annotations = ["oci-ftrace/*"], to ${file.path} (see contrib/containerd-config.toml), then restart containerd`;
  if (file.text === undefined) return [noEntry(check, 'containerd', f.binary, `${file.path} not found`, fix)];

  let raw: unknown;
  try {
    raw = parseToml(file.text);
  } catch (err) {
    return [{ check, ok: false, detail: `${file.path} is not TOML: ${(err as Error).message.split('\n')[0]}`, fix: 'containerd will not start with it: fix the syntax' }];
  }
  const top = ContainerdConfigSchema.safeParse(raw);
  if (!top.success) return [{ check, ok: false, detail: `${file.path}: ${zodLine(top.error)}`, fix: 'see contrib/containerd-config.toml' }];
  const pluginName = criPluginName(top.data.version);
  const section = `plugins."${pluginName}".containerd.runtimes`;
  const cri = CriPluginSchema.safeParse(top.data.plugins?.[pluginName] ?? {});
  if (!cri.success) return [{ check, ok: false, detail: `${file.path}: plugins."${pluginName}": ${zodLine(cri.error)}`, fix: 'see contrib/containerd-config.toml' }];

  const handlers = Object.entries(cri.data.containerd?.runtimes ?? {}).filter(([, r]) => r.options?.BinaryName !== undefined && isFrontDoor(r.options.BinaryName));
  if (handlers.length === 0) return [noEntry(check, 'containerd', f.binary, `no runtime under ${section} in ${file.path} has options.BinaryName ending in ${FRONT_DOOR_NAME}`, fix)];

  const out: Finding[] = [];
  for (const [name, r] of handlers) {
    const binary = r.options?.BinaryName as string;
    const where = `${section}.${name}`;
    out.push(
      r.runtime_type !== undefined && !r.runtime_type.startsWith('io.containerd.runc.')
        ? { check, ok: 'warn', detail: `handler ${name} has runtime_type ${r.runtime_type}: only the runc shims read options.BinaryName`, fix: `runtime_type = "io.containerd.runc.v2" in ${where}` }
        : (entryBinary(check, `handler ${name}`, binary, f) ?? { check, ok: true, detail: `handler ${name} (${file.path}): BinaryName ${binary}` }),
    );
    const patterns = r.pod_annotations ?? [];
    const unmatched = POD_ANNOTATIONS.filter((key) => !patterns.some((p) => goPathMatch(p, key)));
    out.push(
      unmatched.length === 0
        ? { check: 'containerd: pod_annotations', ok: true, detail: `handler ${name} passes oci-ftrace/* (${patterns.map((p) => JSON.stringify(p)).join(', ')})` }
        : {
            check: 'containerd: pod_annotations',
            ok: 'warn',
            detail:
              patterns.length === 0
                ? `handler ${name} has no pod_annotations: a pod's oci-ftrace/* annotations never reach the bundle`
                : `handler ${name}'s pod_annotations ${JSON.stringify(patterns)} do not pass ${unmatched.join(', ')}`,
            fix: `pod_annotations = ["oci-ftrace/*"] in ${where}`,
          },
    );
  }
  return out;
}

// docker -------------------------------------------------------------------------------------------

const DockerDaemonSchema = z
  .object({
    runtimes: z.record(z.object({ path: z.string().optional() }).passthrough()).optional(),
    'default-runtime': z.string().optional(),
  })
  .passthrough();

export function checkDocker(f: EngineFacts): Finding[] {
  const check = 'docker';
  const file = f.files[0];
  if (!file) return [];
  const bad = unreadable(check, file);
  if (bad) return [bad];
  const fix = `add "runtimes": {"oci-ftrace": {"path": "/usr/local/bin/${FRONT_DOOR_NAME}"}} to ${file.path} (see contrib/docker-daemon.json), then restart dockerd`;
  if (file.text === undefined) return [noEntry(check, 'docker', f.binary, `${file.path} not found`, fix)];

  let raw: unknown;
  try {
    raw = JSON.parse(file.text);
  } catch (err) {
    return [{ check, ok: false, detail: `${file.path} is not JSON: ${(err as Error).message.split('\n')[0]}`, fix: 'dockerd will not start with it: fix the syntax' }];
  }
  const parsed = DockerDaemonSchema.safeParse(raw);
  if (!parsed.success) return [{ check, ok: false, detail: `${file.path}: ${zodLine(parsed.error)}`, fix: 'see contrib/docker-daemon.json' }];
  const entries = Object.entries(parsed.data.runtimes ?? {}).filter(([, r]) => r.path !== undefined && isFrontDoor(r.path));
  if (entries.length === 0) return [noEntry(check, 'docker', f.binary, `no runtimes entry in ${file.path} has a path ending in ${FRONT_DOOR_NAME}`, fix)];
  return entries.map(([name, r]) => {
    const path = r.path as string;
    const isDefault = parsed.data['default-runtime'] === name ? ', the default runtime' : '';
    return entryBinary(check, `runtime ${name}`, path, f) ?? { check, ok: true, detail: `runtime ${name} (${file.path}): ${path}${isDefault}; docker run --runtime ${name}` };
  });
}

// podman -------------------------------------------------------------------------------------------

const ContainersConfSchema = z
  .object({
    engine: z
      .object({ runtime: z.string().optional(), runtimes: z.record(z.array(z.string())).optional() })
      .passthrough()
      .optional(),
  })
  .passthrough();

/**
 * podman merges its files (/usr/share/containers first, /etc/containers over it): an entry in any
 * of them counts. No entry is only a note: `podman run --runtime PATH` needs none.
 */
export function checkPodman(f: EngineFacts): Finding[] {
  const check = 'podman';
  const out: Finding[] = [];
  const found: Finding[] = [];
  for (const file of f.files) {
    const bad = unreadable(check, file);
    if (bad) out.push(bad);
    if (file.text === undefined) continue;
    let raw: unknown;
    try {
      raw = parseToml(file.text);
    } catch (err) {
      out.push({ check, ok: false, detail: `${file.path} is not TOML: ${(err as Error).message.split('\n')[0]}`, fix: 'podman will not start with it: fix the syntax' });
      continue;
    }
    const parsed = ContainersConfSchema.safeParse(raw);
    if (!parsed.success) {
      out.push({ check, ok: false, detail: `${file.path}: ${zodLine(parsed.error)}`, fix: 'see containers.conf(5)' });
      continue;
    }
    for (const [name, paths] of Object.entries(parsed.data.engine?.runtimes ?? {})) {
      const ours = paths.filter(isFrontDoor);
      if (ours.length === 0) continue;
      const usable = ours.find((p) => f.executable(p));
      const isDefault = parsed.data.engine?.runtime === name ? ', the default runtime' : '';
      found.push(
        usable
          ? { check, ok: true, detail: `[engine.runtimes] ${name} (${file.path}): ${usable}${isDefault}; podman run --runtime ${name}` }
          : { check, ok: 'warn', detail: `[engine.runtimes] ${name} in ${file.path} lists ${ours.join(', ')}, none an executable file`, fix: `install the front door there: ln -s ${f.frontDoor} ${ours[0]}` },
      );
    }
  }
  if (found.length > 0) return [...out, ...found];
  if (out.length > 0 && f.files.every((x) => x.text === undefined)) return out;
  const where = f.files.map((x) => x.path).join(', ');
  out.push({
    check,
    ok: true,
    detail: `no [engine.runtimes] entry lists ${FRONT_DOOR_NAME} (${where}); podman run --runtime /usr/local/bin/${FRONT_DOOR_NAME} needs none${f.binary ? '' : '; podman not on PATH'}`,
    ...(f.binary ? { fix: `optional: oci-ftrace = ["/usr/local/bin/${FRONT_DOOR_NAME}"] under [engine.runtimes] in /etc/containers/containers.conf, then podman run --runtime oci-ftrace` } : {}),
  });
  return out;
}

function zodLine(err: z.ZodError): string {
  const issue = err.issues[0];
  return `${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`;
}

// ------------------------------------------------------------------------------------------------
// Output

export const FindingsSchema = z.array(
  z.object({ check: z.string(), ok: z.union([z.boolean(), z.literal('warn')]), detail: z.string(), fix: z.string().optional() }).strict(),
);

export function hasFailure(findings: readonly Finding[]): boolean {
  return findings.some((f) => f.ok === false);
}

/** One line per finding, `ok|WARN|FAIL  check: detail`, and an indented `fix:` line where there is one. */
export function renderFindings(findings: readonly Finding[]): string {
  const label = (v: Verdict): string => (v === true ? 'ok' : v === 'warn' ? 'WARN' : 'FAIL');
  return findings.map((f) => `${label(f.ok).padEnd(4)}  ${f.check}: ${f.detail}\n${f.fix ? `      fix: ${f.fix}\n` : ''}`).join('');
}
