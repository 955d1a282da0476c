/**
 * The agent's process: `node dist/bundle/agent/main.js agent --socket PATH [--config PATH]`, as the
 * front door starts it (in its own session, stdio on /dev/null, no descriptor of the caller's), or
 * with the listening socket handed over by systemd (LISTEN_FDS, contrib/systemd/). It leaves the
 * caller's cgroups, takes its state directory, adopts what an earlier agent left, serves, and exits
 * when it has been idle for agentIdleExitSeconds.
 */
import { connect, type Server } from 'node:net';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { createFileLogger } from '../log/logger.js';
import { frontDoorPath } from '../install/bin-paths.js';
import { isSameProcessAlive, processIdentity } from '../state/process-identity.js';
import { writePrivateFileAtomic } from '../state/private-file.js';
import { Agent } from './agent.js';
import { leaveCallersCgroups } from './cgroup.js';
import { createAgentServer } from './server.js';

/** How long an exiting agent waits for the kernel work it queued (a removal takes 40 to 120 ms). */
const FLUSH_AT_EXIT_MS = 10_000;
/** How often the agent asks itself whether it has been idle long enough. */
const IDLE_CHECK_MS = 1000;

const AgentFileSchema = z.object({ pid: z.number().int(), process: z.string(), socket: z.string(), config: z.string() });

/** The agent of a state directory, as the CLI finds it: STATE_DIR/agent.json. */
export function agentFilePath(stateDir: string): string {
  return join(stateDir, 'agent.json');
}

/** The live agent serving a state directory, if any. */
export function runningAgent(stateDir: string): z.infer<typeof AgentFileSchema> | undefined {
  try {
    const a = AgentFileSchema.parse(JSON.parse(readFileSync(agentFilePath(stateDir), 'utf8')));
    return isSameProcessAlive(a.process) ? a : undefined;
  } catch {
    return undefined;
  }
}

interface Args {
  socket: string;
  config: string | undefined;
}

function parseArgs(argv: readonly string[]): Args {
  const at = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const socket = at('--socket');
  if (!socket || !socket.startsWith('/')) throw new Error('agent: --socket PATH (absolute) is required');
  const config = at('--config');
  return { socket, config: config && config.length > 0 ? config : undefined };
}

/** Is somebody listening on this socket already (another agent, started by a racing front door)? */
function listening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function inodeOf(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
}

/** systemd socket activation: the listening socket is descriptor 3. */
function activatedSocket(): number | undefined {
  return process.env.LISTEN_PID === String(process.pid) && Number(process.env.LISTEN_FDS ?? '0') >= 1 ? 3 : undefined;
}

export async function runAgent(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv);
  const agent = new Agent({ socket: args.socket, config: args.config, frontDoor: frontDoorPath() });
  const config = agent.configOrFallback();
  const log = createFileLogger({ file: config.logFile, level: config.logLevel, component: 'agent' });
  const cgroups = leaveCallersCgroups();
  if (cgroups.length > 0) log.warn({ failed: cgroups }, "cannot leave some of the caller's cgroups: the agent may share its fate");

  const fd = activatedSocket();
  if (fd === undefined) {
    mkdirSync(dirname(args.socket), { recursive: true, mode: 0o700 });
    if (existsSync(args.socket)) {
      if (await listening(args.socket)) return 0; // a racing start won
      unlinkSync(args.socket);
    }
  }
  // What an earlier agent left is adopted before the first request is heard: a report hook that
  // brought this agent up must find its container.
  const claim = new StateDirClaim(agent, args, log);
  await claim.refresh();
  const server: Server = createAgentServer(agent, () => log);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (fd !== undefined) server.listen({ fd }, resolve);
    else server.listen(args.socket, resolve);
  });
  if (fd === undefined) chmodSync(args.socket, 0o600);
  // Which socket file is ours: one an agent started after us made at the same path is not removed.
  const socketInode = fd === undefined ? statSync(args.socket).ino : undefined;
  log.info({ socket: args.socket, config: agent.configs.path, pid: process.pid }, 'agent serving');

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (why: string): Promise<void> => {
      if (stopping) return;
      stopping = true;
      clearInterval(idle);
      server.close();
      // At once, not after the flush: a front door that reaches no agent now (or whose connection the
      // close dropped unanswered: it asks again) starts the next one, which must find the socket's
      // path and the state directory free.
      if (socketInode !== undefined && inodeOf(args.socket) === socketInode) rmSync(args.socket, { force: true });
      claim.release();
      // Instances of finished containers still to be removed (their run states, marked reported, say so
      // to the next agent should this one not get to them).
      await Promise.race([agent.flushKernelWork(), new Promise((r) => setTimeout(r, FLUSH_AT_EXIT_MS))]);
      log.info({ why }, 'agent exits');
      resolve(0);
    };
    const idle = setInterval(() => {
      void claim.refresh();
      if (agent.idleForMs() > agent.configOrFallback().agentIdleExitSeconds * 1000) void stop('idle');
    }, IDLE_CHECK_MS);
    // Containers go on without us; the next agent adopts their traces from the state directory.
    process.once('SIGTERM', () => void stop('SIGTERM'));
    process.once('SIGINT', () => void stop('SIGINT'));
  });
}

/**
 * What others need to know of this agent: the facts file beside the socket (for the front door when
 * it cannot reach us: strict mode, our log), and, once our config is usable, its state directory,
 * which it takes (STATE_DIR/agent.json, for the CLI) and reconciles: what an earlier agent left is
 * adopted or freed. One agent per state directory: a live one serving another socket keeps it, and
 * this one then traces nothing. An agent whose config is unusable claims no state directory at all:
 * it only answers, untraced, and says why in our log.
 */
class StateDirClaim {
  private claimed: string | undefined;
  private refused: string | undefined;

  constructor(
    private readonly agent: Agent,
    private readonly args: Args,
    private readonly log: ReturnType<typeof createFileLogger>,
  ) {}

  async refresh(): Promise<void> {
    const config = this.agent.configOrFallback();
    const facts = `strict=${config.strict ? 1 : 0}\nlog=${config.logFile}\n`;
    try {
      const current = existsSync(`${this.args.socket}.facts`) ? readFileSync(`${this.args.socket}.facts`, 'utf8') : '';
      if (current !== facts) writePrivateFileAtomic(`${this.args.socket}.facts`, facts);
    } catch {
      /* a read-only /run: the front door falls back to its defaults */
    }
    if (!this.agent.usableConfig() || this.claimed === config.stateDir) return;
    const other = runningAgent(config.stateDir);
    if (other && other.pid !== process.pid) {
      if (this.refused !== config.stateDir) this.log.error({ stateDir: config.stateDir, other }, 'another agent serves this state directory (a second config names the same stateDir): this one traces nothing');
      this.refused = config.stateDir;
      this.agent.refuseTracing(`another agent (pid ${other.pid}) serves the state directory ${config.stateDir}`);
      return;
    }
    const identity = processIdentity(process.pid) ?? `${process.pid}:0`;
    try {
      writePrivateFileAtomic(agentFilePath(config.stateDir), JSON.stringify({ pid: process.pid, process: identity, socket: this.args.socket, config: this.agent.configs.path }));
    } catch (err) {
      const why = `cannot take the state directory ${config.stateDir}: ${(err as Error).message.split('\n')[0]}`;
      if (this.refused !== config.stateDir) this.log.error({ stateDir: config.stateDir }, `${why}; this agent traces nothing`);
      this.refused = config.stateDir;
      this.agent.refuseTracing(why);
      return;
    }
    this.claimed = config.stateDir;
    this.agent.refuseTracing(undefined);
    try {
      const result = await this.agent.reconcile();
      this.log.info({ stateDir: config.stateDir, ...result }, 'state directory taken');
    } catch (err) {
      this.log.error({ stateDir: config.stateDir, err: (err as Error).message }, 'cannot reconcile what earlier agents left');
    }
  }

  release(): void {
    rmSync(`${this.args.socket}.facts`, { force: true });
    if (this.claimed && runningAgent(this.claimed)?.pid === process.pid) rmSync(agentFilePath(this.claimed), { force: true });
  }
}

// Run as the agent's entry point (the bundle), not when imported by the CLI.
if (process.argv[2] === 'agent' && /agent\/main\.js$/.test(process.argv[1] ?? '')) {
  runAgent(process.argv.slice(3)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`oci-ftrace agent: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
