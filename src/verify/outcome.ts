/**
 * What a run of a bundle came to, and whether two runs came to the same: its stdout and exit code,
 * with the parts that differ between any two runs (times, ids) masked out. Pure.
 */
export interface RunOutcome {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export class MaskError extends Error {}

/** `--mask` regular expressions, checked once. */
export function parseMasks(masks: readonly string[]): RegExp[] {
  return masks.map((m) => {
    try {
      return new RegExp(m, 'g');
    } catch (err) {
      throw new MaskError(`--mask ${JSON.stringify(m)} is not a regular expression: ${(err as Error).message}`);
    }
  });
}

export function maskedStdout(outcome: RunOutcome, masks: readonly RegExp[]): string {
  return masks.reduce((text, re) => text.replace(re, '<masked>'), outcome.stdout);
}

export function sameOutcome(a: RunOutcome, b: RunOutcome, masks: readonly RegExp[]): boolean {
  return a.exitCode === b.exitCode && maskedStdout(a, masks) === maskedStdout(b, masks);
}

/** One line saying how `got` differs from `want`. */
export function describeDifference(want: RunOutcome, got: RunOutcome, masks: readonly RegExp[]): string {
  if (want.exitCode !== got.exitCode) return `exit code ${got.exitCode} instead of ${want.exitCode}${got.stderr ? ` (stderr: ${firstLine(got.stderr)})` : ''}`;
  const a = maskedStdout(want, masks).split('\n');
  const b = maskedStdout(got, masks).split('\n');
  const at = a.findIndex((line, i) => line !== b[i]);
  const line = at < 0 ? a.length : at;
  return `stdout differs at line ${line + 1}: ${JSON.stringify(b[line] ?? '(end)')} instead of ${JSON.stringify(a[line] ?? '(end)')}`;
}

function firstLine(s: string): string {
  return s.trim().split('\n')[0]?.slice(0, 200) ?? '';
}
