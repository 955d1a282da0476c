// The runtime's own log lines, as the agent writes them on a strict refusal, against real runc's.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { formatRfc3339, formatRuntimeLogLine, type RuntimeLogFormat } from '../src/runc-args/index.js';

const scratch = mkdtempSync(join(tmpdir(), 'oci-ftrace-log-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The time in a log line, as an instant and the zone offset it was written in. */
function timeOf(line: string): { now: Date; offsetMinutes: number } {
  const match = line.match(/"?time"?[:=]"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(Z|[+-]\d\d:\d\d)"/);
  if (!match) throw new Error(`no time in ${line}`);
  const zone = match[2] as string;
  const offsetMinutes = zone === 'Z' ? 0 : (zone.startsWith('-') ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4)));
  return { now: new Date(`${match[1]}${zone}`), offsetMinutes };
}

function lastLine(path: string): string {
  const lines = readFileSync(path, 'utf8').split('\n');
  expect(lines.at(-1)).toBe(''); // newline-terminated
  return lines.at(-2) as string;
}

const ZONES = ['UTC', 'Asia/Kolkata', 'America/St_Johns'];
const FORMATS: RuntimeLogFormat[] = ['json', 'text'];
const ODD = 'a"b\\c<d>&e\tf\x01g\x7fh\x1bi\nj\rk\b\f\v\x07 é\u00a0\u2028\u2029\u{1f600}\u0301 plain';

describe("formatRuntimeLogLine writes exactly runc's logrus lines", () => {
  for (const zone of ZONES) {
    for (const format of FORMATS) {
      it(`${format} in ${zone}`, async () => {
        const log = join(scratch, `runc-${format}-${zone.replace('/', '_')}.log`);
        // runc logs "No help topic for '<command>'\n" for a command it does not know.
        await execa('/usr/sbin/runc', ['--log', log, '--log-format', format, ODD], { reject: false, env: { TZ: zone } });
        const runcLine = lastLine(log);
        const { now, offsetMinutes } = timeOf(runcLine);
        expect(formatRuntimeLogLine('error', `No help topic for '${ODD}'\n`, format, now, offsetMinutes)).toBe(runcLine);
      });
    }
  }

  it('leaves a bare-safe text message unquoted and an empty one out, as logrus does', () => {
    const now = new Date('2026-01-02T03:04:05Z');
    expect(formatRuntimeLogLine('warning', 'a-b.c_d/e@f^g+h', 'text', now, 0)).toBe(
      'time="2026-01-02T03:04:05Z" level=warning msg=a-b.c_d/e@f^g+h',
    );
    expect(formatRuntimeLogLine('warning', '', 'text', now, 0)).toBe('time="2026-01-02T03:04:05Z" level=warning');
    expect(formatRfc3339(now, -150)).toBe('2026-01-02T00:34:05-02:30');
  });
});

