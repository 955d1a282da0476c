import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/config.js';

const FILE = '/etc/oci-ftrace/config.json';

describe('our config: each problem in one line, naming the file and the key', () => {
  it.each<[string, unknown, string]>([
    ['an unknown key', { bufferSizeKB: 1 }, `${FILE}: invalid config: unknown key "bufferSizeKB"`],
    ['a nested path', { trace: 'sometimes' }, `${FILE}: invalid config: key "trace": "sometimes" is not one of always, annotated, never`],
    ['a wrong type', { strict: 'yes' }, `${FILE}: invalid config: key "strict": expected boolean, got string`],
    ['a relative path', { stateDir: 'run' }, `${FILE}: invalid config: key "stateDir": stateDir must be absolute`],
    ['not an object', [1], `${FILE}: invalid config: expected a JSON object, got array`],
  ])('%s', (_what, value, message) => {
    expect(() => parseConfig(value, FILE)).toThrow(ConfigError);
    expect(() => parseConfig(value, FILE)).toThrow(message);
  });

  it('says what to do instead of a key earlier versions had', () => {
    expect(() => parseConfig({ recordSeccomp: 'permissive' }, FILE)).toThrow(/unknown key "recordSeccomp" \(recording without the container's own seccomp profile is a per-container choice now: annotate the container with oci-ftrace\/record-seccomp: "permissive"\)/);
  });

  it('keeps what the bad file still says about reporting the error: its log, and strict mode', () => {
    try {
      parseConfig({ logFile: '/var/log/x.log', strict: true, bogus: 1 }, FILE);
      expect.unreachable();
    } catch (err) {
      expect((err as ConfigError).fallback).toEqual({ logFile: '/var/log/x.log', strict: true });
    }
    try {
      parseConfig({ logFile: 'relative.log', strict: 'yes' }, FILE);
      expect.unreachable();
    } catch (err) {
      expect((err as ConfigError).fallback).toEqual({ logFile: '/var/log/oci-ftrace/oci-ftrace.log', strict: false });
    }
  });

  it('a valid one parses with the defaults, keep being the only record mode', () => {
    const c = parseConfig({ trace: 'annotated' }, FILE);
    expect(c.trace).toBe('annotated');
    expect('recordSeccomp' in c).toBe(false);
  });
});
