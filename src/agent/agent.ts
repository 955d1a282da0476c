/**
 * The host agent: one process per state directory, started on demand by the front door (or by
 * systemd's socket), exiting when idle. It owns every decision about a container: whether it is
 * traced (our config, the trace policy, its annotations), how its bundle is prepared and put back,
 * its ftrace instance, the draining of its ring buffer (the drain workers), its report, and the
 * clean-up of whatever a container, an engine or an earlier agent left. Everything here is
 * event-driven but one timer, which runs only while containers need watching (runtimes that may
 * refuse a bundle, inits that may exit without a poststop hook).
 */
import { appendFileSync, existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { ConfigSchema, type Config } from '../config/config.js';
import { logConfigError } from '../config/config-error-log.js';
import { isRootless } from '../config/rootless.js';
import { createFileLogger, type Logger } from '../log/logger.js';
import type { AgentAddress } from '../prepare/hook-spec.js';
import { prepareBundle } from '../prepare/prepare-bundle.js';
import { readSavedBundle, savedBundlePath } from '../prepare/bundle-original.js';
import { formatRuntimeLogLine, parseRuncArgv, resolveBundleDir, runtimeLogTarget, type RuncInvocation } from '../runc-args/index.js';
import { validateContainerId, type OciState } from '../state/oci-state.js';
import { instanceNameFor } from '../state/paths.js';
import { isSameProcessAlive, processIdentity } from '../state/process-identity.js';
import { readPending, readRunState, removePending, removeReportedRunState, removeRunState, writePending, writeRunState, type RunState } from '../state/run-state.js';
import { TraceInstance, locateTracefs } from '../tracefs/tracefs.js';
import { claimPooledInstance, claimsOf, idle, poolAccessProblem, releaseClaim } from '../tracefs/instance-pool.js';
import { CheckpointFile, type Adoption } from '../ingest/drain.js';
import { SummarySchema } from '../report/summary.js';
import { claimReportDir } from '../report/report-dir.js';
import { kubernetesIdentity } from '../kubernetes/identity.js';
import { bundleFacts, putBundleBack } from './bundle-facts.js';
import { ConfigError, ConfigSource } from './config-source.js';
import { DrainPool } from './drain-pool.js';
import { KernelLane } from './kernel-lane.js';
import type { CliReply, CliRequest, HookReply, HookRequest, PrepareReply, PrepareRequest } from './protocol.js';
import { beginTracing, instanceSettings, traceEvents } from './tracing.js';

/** The user's own agent (rootless runc or crun, or rootless podman's runtime): tracing goes through the pool of instances the administrator made for a group (src/tracefs/instance-pool.ts). */
const ROOTLESS = isRootless();
const DEFAULT_TRACEFS = '/sys/kernel/tracing';
/** How often the one timer looks at the runtimes and inits it watches. */
const WATCH_EVERY_MS = 500;
/** How long the record step waits for the instance the prepare step began to configure. */
const INSTANCE_WAIT_MS = 10_000;
/** How long an instance an earlier container of this id is still removing may take to go. */
const STALE_INSTANCE_WAIT_MS = 3_000;

type Phase = 'prepared' | 'recording' | 'finishing';

interface Container {
  id: string;
  phase: Phase;
  config: Config;
  /** Known once the prepare step's configuration began (tracefs found). */
  instance: TraceInstance | undefined;
  /** The configuration the prepare step began (the kernel's part, off the event loop). */
  instanceReady: Promise<number | undefined>;
  /** instanceReady has settled. */
  instanceSettled?: boolean;
  /** `PID:STARTTIME` of the runtime, watched until the record step comes. */
  runtime: string | undefined;
  /** `PID:STARTTIME` of the container's init, watched while it is traced. */
  init?: string | undefined;
  runState?: RunState;
  annotations?: Record<string, string> | undefined;
  /** The drain worker taking the instance up (started as the record step answers). */
  draining?: Promise<void>;
  finishing?: Promise<void>;
}

export interface AgentOptions {
  socket: string;
  /** The config path the agent serves (undefined: the default). */
  config: string | undefined;
  frontDoor: string;
}

export class Agent {
  readonly configs: ConfigSource;
  private readonly containers = new Map<string, Container>();
  /** Instance setup and removal, one at a time (the kernel serializes them). */
  private readonly lane = new KernelLane();
  private pool: DrainPool | undefined;
  private log: Logger;
  private logFile: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Logs still being rendered after their report: the agent does not exit under them. */
  private rendering = new Set<string>();
  private lastActivity = Date.now();
  private requestsInFlight = 0;
  readonly address: AgentAddress;

  constructor(readonly opts: AgentOptions) {
    this.configs = new ConfigSource(opts.config);
    this.address = { frontDoor: opts.frontDoor, socket: opts.socket, config: opts.config ?? '' };
    this.log = this.loggerFor(this.configOrFallback());
  }

  // --- what the agent is doing ------------------------------------------------------------------

  /** Why this agent must not trace (another agent holds its state directory), if it must not. */
  private notTracing: string | undefined;

  refuseTracing(why: string | undefined): void {
    this.notTracing = why;
  }

  usableConfig(): boolean {
    try {
      this.configs.get();
      return true;
    } catch {
      return false;
    }
  }

  /** Containers traced or about to be, logs still being written, instances still being removed. */
  get busy(): boolean {
    return this.containers.size > 0 || this.rendering.size > 0 || this.requestsInFlight > 0 || this.lane.pending > 0;
  }

  idleForMs(): number {
    return this.busy ? 0 : Date.now() - this.lastActivity;
  }

  /** The config for the agent's own matters (its log, idle exit): the file, or what an unusable one still says. */
  configOrFallback(): Config {
    try {
      return this.configs.get();
    } catch (err) {
      const last = this.configs.lastGood();
      if (last) return last;
      const fb = err instanceof ConfigError ? err.fallback : undefined;
      return { ...DEFAULTS, ...(fb ? { logFile: fb.logFile, strict: fb.strict } : {}) };
    }
  }

  private loggerFor(config: Config): Logger {
    this.logFile = config.logFile;
    return createFileLogger({ file: config.logFile, level: config.logLevel, component: 'agent' });
  }

  /** Our config for a request, or the reason it cannot be had, logged against the container. */
  private configFor(id: string | undefined, argv: readonly string[] | undefined): Config | ConfigError {
    try {
      const config = this.configs.get();
      if (config.logFile !== this.logFile) this.log = this.loggerFor(config);
      return config;
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      logConfigError(err, 'agent', { id, argv }, `cannot read our config; ${err.fallback.strict ? 'strict mode: the container is refused' : 'the container runs untraced'}`);
      return err;
    }
  }

  private drains(config: Config): DrainPool {
    this.pool ??= new DrainPool(config, Math.min(config.drainWorkers, Math.max(1, cpus().length)), this.log, {
      logWritten: (id) => {
        this.rendering.delete(id);
        this.touch();
      },
      lost: (ids, why) => {
        for (const id of ids) {
          const c = this.containers.get(id);
          if (!c?.runState) continue;
          this.log.error({ id, why }, 'its drain worker died: adopting the trace again from its checkpoint');
          void this.adopt(c.runState, c.config).catch((err: Error) => this.log.error({ id, err: err.message }, 'cannot adopt the trace again'));
        }
      },
    });
    return this.pool;
  }

  private touch(): void {
    this.lastActivity = Date.now();
  }

  private watch(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), WATCH_EVERY_MS);
  }

  // --- requests ---------------------------------------------------------------------------------

  async handlePrepare(req: PrepareRequest): Promise<PrepareReply> {
    this.begin();
    try {
      return await this.prepare(req);
    } finally {
      this.end();
    }
  }

  async handleHook(req: HookRequest): Promise<HookReply> {
    this.begin();
    try {
      return req.kind === 'record' ? await this.record(req.state) : await this.report(req.state);
    } finally {
      this.end();
    }
  }

  async handleCli(req: CliRequest): Promise<CliReply> {
    this.begin();
    try {
      switch (req.kind) {
        case 'status':
          return { v: 1, ok: true, pid: process.pid, containers: [...this.containers.values()].map((c) => ({ id: c.id, phase: c.phase })) };
        case 'gc':
          return { v: 1, ok: true, ...(await this.reconcile()) };
        case 'livedump': {
          const c = this.containers.get(req.id);
          if (!c || c.phase !== 'recording' || !this.pool?.has(req.id)) return { v: 1, ok: false, message: `no traced container ${req.id} is running` };
          return { v: 1, ok: true, ...(await this.pool.livedump(req.id)) };
        }
      }
    } catch (err) {
      return { v: 1, ok: false, message: (err as Error).message.split('\n')[0] ?? 'failed' };
    } finally {
      this.end();
    }
  }

  private begin(): void {
    this.requestsInFlight += 1;
    this.touch();
  }

  private end(): void {
    this.requestsInFlight -= 1;
    this.touch();
  }

  // --- prepare: the front door, before it execs the runtime --------------------------------------

  private async prepare(req: PrepareRequest): Promise<PrepareReply> {
    const inv = parseRuncArgv(req.argv);
    if (inv.entersContainer && inv.usageError === undefined) return this.enterExec(inv, req);
    // Neither creates a container (state, --help), nor one runc will accept: its business.
    if (!inv.createsContainer || inv.usageError !== undefined) return GO;
    const config = this.configFor(inv.containerId, req.argv);
    if (config instanceof ConfigError) return config.fallback.strict ? this.refuse(inv, req, `oci-ftrace-runc: ${config.message}`) : GO;
    if (config.trace === 'never') return GO;
    if (this.notTracing !== undefined) {
      this.log.error({ id: inv.containerId, why: this.notTracing }, 'not traced: this agent cannot take its state directory');
      return GO;
    }
    if (ROOTLESS) {
      // Before the bundle is touched: without access to the pool the container runs as bare, untouched.
      const problem = poolAccessProblem(await this.tracefsRoot(config));
      if (problem) {
        this.log.error({ id: inv.containerId, why: problem }, `not traced (rootless): ${problem}`);
        return config.strict ? this.refuse(inv, req, `oci-ftrace-runc: ${problem}; strict mode refuses the container`) : GO;
      }
    }
    let id: string | undefined;
    // Set once the kernel's part has started: a prepare that fails after it must free the instance.
    let container: Container | undefined;
    const asked = performance.now();
    try {
      if (inv.containerId === undefined) throw new Error(`${inv.command}: no container id given`);
      id = validateContainerId(inv.containerId);
      // crun's --config names another spec file: that bundle is left alone.
      if (inv.configFile !== undefined) {
        this.log.warn({ id, argv: req.argv }, 'not traced: --config names a spec file other than config.json');
        return GO;
      }
      if (this.containers.has(id)) {
        this.log.warn({ id }, 'not traced: a container with this id is traced already (the runtime will refuse this one)');
        return GO;
      }
      const cid = id;
      const bundle = resolveBundleDir(inv, req.cwd);
      const runtime = `${req.pid}:${req.start}`;
      const editing = performance.now();
      const prepared = await prepareBundle(bundle, cid, config, this.address, this.log.child({ id: cid }), {
        runtime,
        // Certain to be traced, before config.json is written: the kernel's part starts now.
        onTraced: () => {
          container = this.startInstance(cid, config, runtime, bundle);
          this.drains(config).warm();
        },
      });
      if (prepared.traced && container) {
        this.containers.set(cid, container);
        this.watch();
        this.log.debug({ id: cid, ms: Math.round(performance.now() - asked), editMs: Math.round(performance.now() - editing) }, 'prepared');
      } else if (container) {
        await this.dropInstance(container);
      }
      return GO;
    } catch (err) {
      const message = `oci-ftrace-runc: ${(err as Error).message.split('\n')[0]}`;
      this.log.error({ id, argv: req.argv, err: message }, `cannot prepare the bundle for tracing; ${config.strict ? 'strict mode: the container is refused' : 'the container runs untraced'}`);
      if (container && this.containers.get(container.id) !== container) await this.dropInstance(container);
      if (id !== undefined) await this.undoPrepare(id, config);
      return config.strict ? this.refuse(inv, req, message) : GO;
    }
  }

  /**
   * `exec` into a container traced here: the front door's process, which is about to exec the
   * runtime's exec, joins the container's trace (event-fork takes its children), marked so that
   * its tree's calls count from its own seccomp load. Anything else goes on untraced.
   */
  private async enterExec(inv: RuncInvocation, req: PrepareRequest): Promise<PrepareReply> {
    const id = inv.containerId;
    const c = id === undefined ? undefined : this.containers.get(id);
    if (!c || c.phase !== 'recording' || !c.instance || !this.pool?.has(c.id) || !c.config.traceExec) return GO;
    const instance = c.instance;
    try {
      await this.pool.exec(c.id, req.pid);
      await this.lane.run('now', async () => instance.addPids([req.pid]));
      this.log.info({ id: c.id, pid: req.pid, argv: inv.operands.slice(1, 8) }, 'exec into the container: traced with it');
    } catch (err) {
      this.log.error({ id: c.id, pid: req.pid, err: (err as Error).message.split('\n')[0] }, 'cannot trace an exec into the container; it runs untraced');
    }
    return GO;
  }

  /** Strict mode: the runtime's own log gets the line (engines show its last error), the front door prints it. */
  private refuse(inv: RuncInvocation, req: PrepareRequest, message: string): PrepareReply {
    const target = runtimeLogTarget(inv.globals);
    if (target) {
      try {
        appendFileSync(resolve(req.cwd, target.path), formatRuntimeLogLine('error', message, target.format, new Date()) + '\n');
      } catch {
        /* the log is best effort; stderr still carries the message */
      }
    }
    return { v: 1, go: false, message };
  }

  /** tracefs, found (and mounted, if need be) once per path asked for. */
  private readonly tracefs = new Map<string, Promise<string>>();

  private tracefsRoot(config: Config): Promise<string> {
    const key = config.tracefsPath ?? '';
    let root = this.tracefs.get(key);
    if (!root) {
      // Rootless, tracefs is the administrator's to mount (setup-rootless): where it is, not found by mounting.
      root = ROOTLESS ? Promise.resolve(config.tracefsPath ?? DEFAULT_TRACEFS) : locateTracefs(config.tracefsPath);
      this.tracefs.set(key, root);
      // A failure is not remembered: the next container tries again.
      root.catch(() => this.tracefs.delete(key));
    }
    return root;
  }

  /**
   * The container's instance: configured from now on, off the event loop (the kernel's 15 to 30 ms run
   * while the runtime does its own part of create), and noted in the state directory so that a
   * restarted agent can undo it. The record step awaits it.
   */
  private startInstance(id: string, config: Config, runtime: string | undefined, bundle: string): Container {
    const c: Container = { id, phase: 'prepared', config, instance: undefined, instanceReady: Promise.resolve(undefined), runtime };
    c.instanceReady = (async (): Promise<number | undefined> => {
      const root = await this.tracefsRoot(config);
      // Rootless: one of the pool the administrator made for the group, claimed; else one made for it.
      const instance = new TraceInstance(root, ROOTLESS ? claimPooledInstance(root, { stateDir: config.stateDir, id }) : instanceNameFor(id));
      c.instance = instance;
      writePending(config.stateDir, { version: 1, id, instance: instance.name, tracefsRoot: instance.tracefsRoot, runtime: runtime ?? '', bundle, preparedAt: new Date().toISOString() });
      if (!ROOTLESS && !(await instance.waitGone(STALE_INSTANCE_WAIT_MS))) throw new Error(`ftrace instance ${instance.path} of an earlier container with this id is still there`);
      const queued = performance.now();
      await this.lane.run('setup', async () => {
        const began = performance.now();
        await instance.configure(instanceSettings(config, instance.tracefsRoot));
        this.log.debug({ id, queuedMs: Math.round(began - queued), configureMs: Math.round(performance.now() - began) }, 'instance configured');
      });
      return instance.inode();
    })();
    // Awaited by the record step; a failure there is its to report.
    c.instanceReady.then(
      () => (c.instanceSettled = true),
      () => (c.instanceSettled = true),
    );
    return c;
  }

  private async dropInstance(c: Container): Promise<void> {
    const ino = await c.instanceReady.catch(() => undefined);
    // Only one we made: the name may be an earlier container's, still being removed.
    const instance = c.instance;
    if (instance && ino !== undefined) await this.lane.run('cleanup', () => instance.removeAsync(ino)).catch(() => undefined);
    removePending(c.config.stateDir, c.id);
  }

  /** A prepare step that failed after it began: nothing of it may stay. */
  private async undoPrepare(id: string, config: Config): Promise<void> {
    const c = this.containers.get(id);
    if (c) {
      this.containers.delete(id);
      await this.dropInstance(c);
    }
    if (readSavedBundle(config.stateDir, id)) await putBundleBack(config, id, undefined, this.log);
  }

  // --- record: createRuntime ---------------------------------------------------------------------

  private async record(state: OciState): Promise<HookReply> {
    const config = this.configFor(state.id, undefined);
    if (config instanceof ConfigError) {
      await putBundleBack(this.configOrFallback(), state.id, undefined, this.log);
      return config.fallback.strict ? { v: 1, ok: false, message: config.message } : OK;
    }
    const log = this.log.child({ id: state.id });
    let c = this.containers.get(state.id);
    try {
      if (!c) {
        // Prepared by an agent that is gone, or a bundle a killed run left prepared and the bare
        // runtime ran: the hooks are ours, so trace it, on an instance set up now.
        c = this.startInstance(state.id, config, undefined, state.bundle);
        this.containers.set(state.id, c);
      } else if (c.phase !== 'prepared') {
        return OK;
      }
      c.runtime = undefined;
      const asked = performance.now();
      // The runtime has read config.json: it goes back as found before the runtime goes on (a create
      // that returns leaves the bundle as its owner wrote it), and the drain learns what it needs of
      // it. The write goes where it waits on nothing: while the kernel is still setting the instance
      // up, or else while the drain worker opens the instance's buffers.
      const { facts, putBack } = bundleFacts(config, state.id, state.annotations, log);
      let puttingBack: Promise<void> | undefined;
      if (!c.instanceSettled) await (puttingBack = putBack());
      const restored = performance.now();
      const ino = await withTimeout(c.instanceReady, INSTANCE_WAIT_MS, 'the ftrace instance was not ready in time');
      if (!c.instance) throw new Error('no ftrace instance');
      const instance = c.instance;
      const ready = performance.now();
      const runState = await this.lane.run('now', () => beginTracing(instance, state, traceEvents(config, instance.tracefsRoot)));
      const begun = performance.now();
      runState.initStart = processIdentity(runState.pid)?.split(':')[1];
      Object.assign(runState, facts, reportPlace(config, state, log));
      writeRunState(config.stateDir, runState);
      removePending(config.stateDir, state.id);
      c.runState = runState;
      c.annotations = state.annotations;
      c.init = runState.initStart !== undefined ? `${runState.pid}:${runState.initStart}` : undefined;
      c.phase = 'recording';
      // The drain is reading before the runtime goes on: a workload that bursts from its first
      // millisecond fills its share of the buffer in well under 100 ms, faster than a worker busy
      // opening the buffers beside it would start reading (measured: events lost when the drain
      // started after this answer).
      c.draining = this.drains(config).start(runState);
      c.draining.catch(() => undefined); // awaited below, after the write; a failure meanwhile is not unhandled
      await (puttingBack ?? putBack());
      await c.draining;
      log.debug({ waitedForInstanceMs: Math.round(ready - restored), beginMs: Math.round(begun - ready), drainStartMs: Math.round(performance.now() - begun), restoredFirst: puttingBack !== undefined, restoreMs: Math.round(restored - asked) }, 'record: tracing begun');
      log.info({ initPid: state.pid, instance: instance.path, inode: ino }, 'recording container');
    } catch (err) {
      const message = await this.recordFailed(c, config, log, err as Error);
      await putBundleBack(config, state.id, undefined, log);
      return config.strict ? { v: 1, ok: false, message } : OK;
    }
    return OK;
  }

  /** Tracing could not begin, or its drain could not start: nothing of it stays. Returns the one-line reason. */
  private async recordFailed(c: Container | undefined, config: Config, log: Logger, err: Error): Promise<string> {
    const message = err.message.split('\n')[0] ?? 'failed';
    log.error({ err: message }, `record failed${config.strict ? '' : ' (fail open: the container runs untraced)'}`);
    if (c && this.containers.get(c.id) === c) {
      this.containers.delete(c.id);
      const instance = c.instance;
      if (instance) await this.lane.run('now', () => instance.stop()).catch(() => undefined);
      await this.pool?.abandon(c.id);
      await this.dropInstance(c);
      removeRunState(config.stateDir, c.id);
    }
    return message;
  }

  // --- report: poststop --------------------------------------------------------------------------

  private async report(state: OciState): Promise<HookReply> {
    const c = this.containers.get(state.id);
    // Finished already (its init was gone), or never traced by us.
    if (!c) return OK;
    if (c.phase === 'prepared') {
      this.containers.delete(c.id);
      await this.dropInstance(c);
      return OK;
    }
    await this.finish(c, state.annotations ?? c.annotations);
    return OK;
  }

  /** Drain the rest, write the summary and seccomp files; the instance and our state go after. */
  private finish(c: Container, annotations: Record<string, string> | undefined): Promise<void> {
    c.finishing ??= (async () => {
      c.phase = 'finishing';
      // A drain still starting is waited for; one that could not start took the container with it.
      if (!(await (c.draining ?? Promise.resolve()).then(() => true, () => false))) return;
      const log = this.log.child({ id: c.id });
      const instance = c.instance as TraceInstance;
      this.rendering.add(c.id);
      const began = performance.now();
      // (An instance removed under us records nothing more either.)
      await this.lane.run('now', () => instance.stop()).catch(() => undefined);
      const stopped = performance.now();
      try {
        const r = await this.drains(c.config).finish(c.id, annotations);
        log.info({ summary: r.summaryPath, seccompError: r.seccompError }, r.headline);
        log.debug({ stopMs: Math.round(stopped - began), reportMs: Math.round(performance.now() - stopped) }, 'reported');
      } catch (err) {
        this.rendering.delete(c.id);
        log.error({ err: (err as Error).message }, 'the report could not be written');
        await this.pool?.abandon(c.id);
      }
      this.pool?.forget(c.id);
      if (!c.config.writeLog) this.rendering.delete(c.id);
      this.containers.delete(c.id);
      rmSync(CheckpointFile(c.config.stateDir, c.id), { force: true });
      // After the answer: the kernel takes 40 to 120 ms to remove an instance. Until it has, the run
      // state stays, marked reported: an agent killed meanwhile leaves the next one the instance to free.
      const reported: RunState | undefined = c.runState ? { ...c.runState, reported: true } : undefined;
      const stateDir = c.config.stateDir;
      if (reported) writeRunState(stateDir, reported);
      else removeRunState(stateDir, c.id);
      const ino = instance.inode();
      void this.lane.run('cleanup', () => instance.removeAsync(ino)).then(
        () => reported && removeReportedRunState(stateDir, reported),
        (err: Error) => log.warn({ err: err.message }, 'cannot remove the ftrace instance; the next reconcile tries again'),
      );
    })();
    return c.finishing;
  }

  // --- the watch: runtimes that refuse, inits that exit without a poststop ----------------------

  private async tick(): Promise<void> {
    for (const c of [...this.containers.values()]) {
      if (c.phase === 'prepared' && c.runtime !== undefined && !isSameProcessAlive(c.runtime)) {
        // It exited without running the record hook: it refused the bundle, and will not read it again.
        this.containers.delete(c.id);
        const outcome = await putBundleBack(c.config, c.id, c.runtime, this.log);
        await this.dropInstance(c);
        this.log.info({ id: c.id, runtime: c.runtime, bundle: outcome }, 'the runtime exited without running the record hook (it refused the container)');
      } else if (c.phase === 'recording' && c.init !== undefined && !isSameProcessAlive(c.init)) {
        // The init is gone, and with it (pid namespace) every task we follow: the trace is whole.
        // An engine may never run poststop; when it does, it finds the report done.
        await this.finish(c, c.annotations);
      }
    }
    if (this.containers.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  // --- what earlier agents and containers left -------------------------------------------------

  /**
   * Free what no container needs any more, and adopt what one still does: run at start (what a dead
   * agent left) and on `oci-ftrace gc`. Only this state directory's files are looked at, so agents of
   * other configs are left alone.
   */
  async reconcile(opts: { adoptLive?: boolean } = {}): Promise<{ adopted: string[]; finished: string[]; restored: string[]; removed: string[]; left: string[] }> {
    const adoptLive = opts.adoptLive ?? true;
    const config = this.configOrFallback();
    const out = { adopted: [] as string[], finished: [] as string[], restored: [] as string[], removed: [] as string[], left: [] as string[] };
    await this.tick();
    if (!existsSync(config.stateDir)) return out;
    const files = readdirSync(config.stateDir);
    const idsOf = (suffix: string): string[] => files.filter((f) => f.endsWith(suffix)).map((f) => f.slice(0, -suffix.length));
    for (const id of idsOf('.pending.json')) {
      if (this.containers.has(id)) continue;
      const p = readPending(config.stateDir, id);
      if (p && isSameProcessAlive(p.runtime)) continue; // its record step may yet come
      if (readSavedBundle(config.stateDir, id)) {
        await putBundleBack(config, id, p?.runtime, this.log);
        out.restored.push(id);
      }
      if (p) {
        const inst = new TraceInstance(p.tracefsRoot, p.instance);
        await this.lane.run('cleanup', () => inst.removeAsync(inst.inode())).catch(() => undefined);
        out.removed.push(id);
      }
      removePending(config.stateDir, id);
    }
    for (const id of files.filter((f) => /\.json$/.test(f) && !/\.(pending|bundle|checkpoint)\.json$/.test(f) && f !== 'agent.json').map((f) => f.slice(0, -5))) {
      if (this.containers.has(id)) continue;
      let runState: RunState | undefined;
      try {
        runState = readRunState(config.stateDir, id);
      } catch {
        runState = undefined;
      }
      if (!runState) continue;
      const inst = new TraceInstance(runState.tracefsRoot, runState.instance);
      if (runState.reported) {
        // Reported by an agent that died before the kernel removed its instance.
        const freed = await this.lane.run('cleanup', () => inst.removeAsync(inst.inode())).then(
          () => true,
          () => false,
        );
        if (freed) removeReportedRunState(config.stateDir, runState);
        out.removed.push(id);
        continue;
      }
      if (!inst.exists()) {
        removeRunState(config.stateDir, id);
        rmSync(CheckpointFile(config.stateDir, id), { force: true });
        out.removed.push(id);
        continue;
      }
      if (!adoptLive && isSameProcessAlive(runState.initStart !== undefined ? `${runState.pid}:${runState.initStart}` : `${runState.pid}:${processIdentity(runState.pid)?.split(':')[1] ?? 'x'}`)) {
        // Still running: the next agent adopts it; a one-off gc does not drain it.
        out.left.push(id);
        continue;
      }
      await this.adopt(runState, config);
      const c = this.containers.get(id);
      if (c && c.init !== undefined && isSameProcessAlive(c.init)) out.adopted.push(id);
      else if (c) {
        await this.finish(c, c.annotations);
        out.finished.push(id);
      }
    }
    for (const id of idsOf('.bundle.json')) {
      if (this.containers.has(id) || files.includes(`${id}.pending.json`)) continue;
      const saved = readSavedBundle(config.stateDir, id);
      if (saved && (saved.runtime === undefined || !isSameProcessAlive(saved.runtime))) {
        await putBundleBack(config, id, saved.runtime, this.log);
        out.restored.push(id);
      } else if (!saved) rmSync(savedBundlePath(config.stateDir, id), { force: true });
    }
    if (ROOTLESS) {
      // Pooled instances this state directory's agents claimed for containers nothing knows of now.
      for (const [name, claim] of claimsOf(config.stateDir)) {
        if (this.containers.has(claim.id) || readPending(config.stateDir, claim.id)) continue;
        try {
          idle(new TraceInstance(await this.tracefsRoot(config), name).path);
        } catch {
          /* gone with a reboot, or the pool's access revoked: the claim goes all the same */
        }
        releaseClaim(name);
        out.removed.push(name);
      }
    }
    if (this.containers.size > 0) this.watch();
    if (Object.values(out).some((l) => l.length > 0)) this.log.info(out, 'reconciled what earlier agents and containers left');
    return out;
  }

  /** The agent is exiting: what it owes the kernel (instance removals that wait out a burst) is done first. */
  async flushKernelWork(): Promise<void> {
    await this.lane.flush();
  }

  /** Resolves once every container is finished and every log written; then the drain workers stop. */
  async drained(): Promise<void> {
    while (this.containers.size > 0 || this.rendering.size > 0 || this.lane.pending > 0) {
      await Promise.all([...this.containers.values()].map((c) => c.finishing ?? Promise.resolve()));
      await Promise.race([this.lane.flush(), new Promise((r) => setTimeout(r, 50))]);
    }
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.pool?.stop();
    this.pool = undefined;
  }

  /** Take up a trace an agent (or a drain worker) lost: from its checkpoint, counting what was read since as lost. */
  private async adopt(runState: RunState, config: Config): Promise<void> {
    const instance = new TraceInstance(runState.tracefsRoot, runState.instance);
    const adoption = readAdoption(config.stateDir, runState.id, instance);
    const c: Container = {
      id: runState.id,
      phase: 'recording',
      config,
      instance,
      instanceReady: Promise.resolve(instance.inode()),
      runtime: undefined,
      init: runState.initStart !== undefined ? `${runState.pid}:${runState.initStart}` : processIdentity(runState.pid),
      runState,
    };
    this.containers.set(runState.id, c);
    await this.drains(config).start(runState, adoption);
    this.log.warn({ id: runState.id, lostWithAgent: adoption.lostWithAgent }, 'adopted a trace an earlier agent left');
  }
}

/** The checkpoint a dead agent left, and how many events it read that the checkpoint does not hold. */
function readAdoption(stateDir: string, id: string, instance: TraceInstance): Adoption {
  let checkpoint: Adoption['checkpoint'];
  try {
    const raw = JSON.parse(readFileSync(CheckpointFile(stateDir, id), 'utf8')) as { consumed: number; summary: unknown };
    checkpoint = { consumed: raw.consumed, summary: SummarySchema.parse(raw.summary) };
  } catch {
    checkpoint = undefined;
  }
  const read = instance.cpuStats().reduce((n, s) => n + s.readEvents, 0);
  const before = checkpoint ? checkpoint.summary.loss.lost - checkpoint.summary.loss.overrun - checkpoint.summary.loss.dropped : 0;
  return { ...(checkpoint ? { checkpoint } : {}), lostWithAgent: before + Math.max(0, read - (checkpoint?.consumed ?? 0)), readEvents: read };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(what)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

const GO: PrepareReply = { v: 1, go: true };
const OK: HookReply = { v: 1, ok: true };
const DEFAULTS: Config = ConfigSchema.parse({});

/** The report's directory and the container's Kubernetes identity; a failure costs the names, not the trace. */
function reportPlace(config: Config, state: OciState, log: Logger): Pick<RunState, 'reportDir' | 'kubernetes'> {
  const { identity, problem } = kubernetesIdentity(state.annotations);
  if (problem) log.warn({ problem }, 'the report is named by the container id: ' + problem);
  try {
    return { reportDir: claimReportDir(config.outputDir, state.id, identity), ...(identity ? { kubernetes: identity } : {}) };
  } catch (err) {
    log.warn({ err: (err as Error).message.split('\n')[0] }, 'cannot make the report directory; the report goes to OUTPUT_DIR/<container-id>/');
    return identity ? { kubernetes: identity } : {};
  }
}
