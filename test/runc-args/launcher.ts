// Running our launchers from tests, with an environment the test fully controls: the bash
// launcher bin/oci-ftrace-runc and the front door dist/bin/oci-ftrace-runc (npm run build).
import { closeSync, lstatSync, openSync, readSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

export const REPO = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
export const LAUNCHER = fileURLToPath(new URL('../../bin/oci-ftrace-runc', import.meta.url));
/** The front door: a compiled binary, or a symlink to LAUNCHER when the build found no C compiler. */
export const FRONT_DOOR = fileURLToPath(new URL('../../dist/bin/oci-ftrace-runc', import.meta.url));

/** Whether the build compiled the front door (an ELF file, not the symlink fallback). */
export function frontDoorIsCompiled(): boolean {
  try {
    if (!lstatSync(FRONT_DOOR).isFile()) return false;
    const fd = openSync(FRONT_DOOR, 'r');
    const head = Buffer.alloc(4);
    try {
      readSync(fd, head, 0, 4, 0);
    } finally {
      closeSync(fd);
    }
    return head.equals(Buffer.from('\x7fELF', 'latin1'));
  } catch {
    return false;
  }
}

/** Both launchers, for suites that hold each to the same behaviour. */
export const LAUNCHERS = [
  { name: 'bash launcher', path: LAUNCHER },
  { name: 'front door', path: FRONT_DOOR },
] as const;
export const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** PATH and a config file that does not exist, plus whatever the test adds. */
export function launcherEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: SYSTEM_PATH, OCI_FTRACE_CONFIG: '/nonexistent/oci-ftrace-config.json', ...extra };
}

export interface Explained {
  command: string;
  creates: string;
  runtime: string;
  log: string;
  logformat: string;
  error?: string;
}

/** The launcher's own reading of argv and choice of runtime (OCI_FTRACE_LAUNCHER_EXPLAIN=1). */
export async function explain(
  argv: readonly string[],
  env: Record<string, string> = launcherEnv(),
  options: { launcher?: string; cwd?: string } = {},
): Promise<Explained> {
  const result = await execa(options.launcher ?? LAUNCHER, argv, {
    env: { ...env, OCI_FTRACE_LAUNCHER_EXPLAIN: '1' },
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    extendEnv: false,
    stripFinalNewline: false,
  });
  if (result.stderr !== '') throw new Error(`launcher wrote to stderr: ${result.stderr}`);
  const fields: Record<string, string> = {};
  for (const line of result.stdout.split('\n').filter((l) => l !== '')) {
    const eq = line.indexOf('=');
    fields[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return fields as unknown as Explained;
}
