/**
 * The main of a hook's own bundle (record-main.ts, report-main.ts; see scripts/bundle.mjs): run
 * the hook, exit with its status. An error the hook does not handle itself (a bad config) ends as
 * in the CLI: one line on stderr, exit 1. No top-level await: these bundles are CommonJS, which
 * Node starts faster.
 */
export function runHookEntry(command: () => Promise<number>): void {
  command().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`oci-ftrace: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}\n`);
      process.exitCode = 1;
    },
  );
}
