import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createFileLogger, type Logger } from '../../src/log/logger.js';
import { createSyncFileLogger } from '../../src/log/sync-logger.js';

// The hooks log through a small synchronous logger instead of pino (load time): the same lines.
const dir = mkdtempSync(join(tmpdir(), 'oci-ftrace-log-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function linesOf(make: (file: string) => Logger, name: string, use: (log: Logger) => void): Array<Record<string, unknown>> {
  const file = join(dir, name);
  use(make(file));
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      expect(typeof entry.time).toBe('number');
      delete entry.time;
      return entry;
    });
}

describe('createSyncFileLogger', () => {
  const err = new Error('boom');
  const calls = (log: Logger) => {
    log.info({ id: 'c1', bundle: '/b', applied: ['x'] }, 'tracing hooks added');
    log.child({ id: 'c2' }).warn({ n: 1, nested: { a: [1, 2] } }, 'child line');
    log.error({ step: 'record', err: 'no pid', strict: false }, 'record failed');
    log.info('message only');
    log.info({ only: 'fields' });
    log.debug({ hidden: true }, 'below the level');
    log.error({ err }, 'with an Error');
  };

  it('writes what pino writes for the calls our code makes', () => {
    const opts = (file: string) => ({ file, level: 'info', component: 'record' });
    const ours = linesOf((f) => createSyncFileLogger(opts(f)), 'ours.log', calls);
    const pinos = linesOf((f) => createFileLogger(opts(f)), 'pino.log', calls);
    expect(ours).toEqual(pinos);
    expect(ours).toHaveLength(6);
  });

  it('logs nowhere, without failing, when the file cannot be written', () => {
    writeFileSync(join(dir, 'a-file'), '');
    const log = createSyncFileLogger({ file: join(dir, 'a-file', 'sub', 'log'), level: 'info', component: 'x' });
    expect(() => log.info({ a: 1 }, 'lost')).not.toThrow();
  });
});
