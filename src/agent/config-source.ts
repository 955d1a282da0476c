import { statSync } from 'node:fs';
import { ConfigError, configPath, loadConfig, type Config } from '../config/config.js';

/**
 * The agent's config: read once, and again whenever the file changes (its inode, size or mtime),
 * which costs one stat per request. An unusable file is an error each time it is asked for, so each
 * container it concerns is told in our log; a file that goes away leaves the last one read.
 */
export class ConfigSource {
  private cached: { key: string; config: Config } | undefined;
  readonly path: string;

  /** `path` undefined: the default config. */
  constructor(path: string | undefined) {
    // None named: root's /etc/oci-ftrace/config.json, or a rootless user's own (configPath).
    this.path = path ?? configPath({});
  }

  get(): Config {
    const key = this.statKey();
    if (this.cached && this.cached.key === key) return this.cached.config;
    // A file read before and now gone is kept as last read: removing a config (a test's, the demo's
    // temp dir) is not a request for the defaults, which would, say, keep its agent up 30 s more.
    if (key === 'absent' && this.cached) return this.cached.config;
    this.cached = undefined;
    const config = loadConfig({ OCI_FTRACE_CONFIG: this.path });
    this.cached = { key, config };
    return config;
  }

  /** The last config read that was usable, for what must go on when the file turns bad (our log's path). */
  lastGood(): Config | undefined {
    return this.cached?.config;
  }

  private statKey(): string {
    try {
      const s = statSync(this.path);
      return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch {
      return 'absent';
    }
  }
}

export { ConfigError };
