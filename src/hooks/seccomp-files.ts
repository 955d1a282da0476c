import { dirname } from 'node:path';
import type { Config } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import { writeContainerSeccompFiles, type CliProfileRequest } from '../profile/index.js';
import type { Summary } from '../report/summary.js';

/**
 * The seccomp files a finished report asks for (the bundle's original profile, and a profile when
 * the config, the container's annotations or the CLI want one), beside the summary. A profile that
 * cannot be made is logged: the report itself is done. Run by the report hook, or by the collector
 * when it serves that hook. Returns whether it ran to the end (nothing asked for counts).
 */
export async function writeReportSeccompFiles(
  summary: Summary,
  summaryPath: string,
  opts: { config: Config; annotations: Readonly<Record<string, string>> | undefined; bundleSeccomp: string | undefined; log: Logger; cli?: CliProfileRequest },
): Promise<boolean> {
  const { config, annotations, bundleSeccomp, log, cli } = opts;
  try {
    const seccomp = await writeContainerSeccompFiles(summary, { outDir: dirname(summaryPath), config, annotations, bundleSeccomp, cli });
    if (seccomp.originalPath || seccomp.profilePath) log.info({ id: summary.containerId, originalPath: seccomp.originalPath, profilePath: seccomp.profilePath }, 'seccomp files written');
    return true;
  } catch (err) {
    log.error({ id: summary.containerId, err: err instanceof Error ? err.message : String(err) }, 'seccomp profile not written');
    return false;
  }
}
