// One way to run a lab command and get plain strings back, so tests need not deal with execa's generic result types.
import { execa } from 'execa';

export interface RunOptions {
  cwd?: string;
  /** Added to the inherited environment. */
  env?: Record<string, string>;
  /** Written to stdin. */
  input?: string;
  /** Kill the command after this long (default 120 s). */
  timeoutMs?: number;
  /** Throw on a non-zero exit (default true); the error message carries the command, exit code and stderr. */
  reject?: boolean;
  /** argv[0] the program sees, when it must differ from the file run. */
  argv0?: string;
}

export interface CommandResult {
  command: string;
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export async function runCommand(file: string, args: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
  const started = performance.now();
  const result = await execa(file, args, {
    cwd: opts.cwd,
    env: opts.env,
    timeout: opts.timeoutMs ?? 120_000,
    reject: opts.reject ?? true,
    argv0: opts.argv0,
    // No stdin unless asked: a daemon client waiting on the test runner's stdin would hang.
    ...(opts.input === undefined ? { stdin: 'ignore' as const } : { input: opts.input }),
  });
  return {
    command: result.command,
    exitCode: result.exitCode ?? -1,
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? ''),
    durationMs: Math.round(performance.now() - started),
  };
}

/** A runner bound to one engine's client binary and global arguments. */
export type EngineRunner = (args: readonly string[], opts?: RunOptions) => Promise<CommandResult>;

/** An engine's CLI as a command line prefix, for callers that need to pipe into it or build a shell line. */
export interface EngineClient {
  file: string;
  globalArgs: string[];
  /** Extra environment the client needs (config locations that keep it off the machine's defaults). */
  env: Record<string, string>;
}

export function runnerFor(client: EngineClient): EngineRunner {
  return (args, opts = {}) =>
    runCommand(client.file, [...client.globalArgs, ...args], { ...opts, env: { ...client.env, ...opts.env } });
}
