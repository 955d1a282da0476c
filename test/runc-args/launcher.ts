// Running bin/oci-ftrace-runc from tests, with an environment the test fully controls.
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

export const LAUNCHER = fileURLToPath(new URL('../../bin/oci-ftrace-runc', import.meta.url));
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
