import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigSchema, loadConfig } from '../../src/config/config.js';
import { TRACE_ANNOTATION, TRACE_POLICIES, isTracedBy, type TracePolicy } from '../../src/wrapper/trace-policy.js';
import { explain as explainArgv, launcherEnv } from '../runc-args/launcher.js';

/** The launcher's reading, with what it says for creating commands: trace= and prepares=. */
const explain = (...args: Parameters<typeof explainArgv>) => explainArgv(...args) as Promise<Awaited<ReturnType<typeof explainArgv>> & { trace?: string; prepares?: string }>;

// The launcher reads the config's "trace" policy as loadConfig does, and skips the prepare step
// (Node) only for containers the policy certainly leaves untraced.
const root = mkdtempSync(join(tmpdir(), 'oci-ftrace-policy-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let files = 0;
function file(text: string): string {
  const path = join(root, `f${files++}`);
  writeFileSync(path, text);
  return path;
}
function bundle(configJson: string): string {
  const dir = join(root, `bundle${files++}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.json'), configJson);
  return dir;
}
const spec = (annotations?: Record<string, string>, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ ociVersion: '1.0.2', process: { args: ['true'], cwd: '/' }, root: { path: 'rootfs' }, ...extra, ...(annotations ? { annotations } : {}) }, null, 2);

describe('the "trace" config key', () => {
  it('is in the config schema, so that the launcher and loadConfig read the same key', () => {
    expect(Object.keys(ConfigSchema.shape)).toContain('trace');
  });

  const configs: Array<[string, string | undefined]> = [
    ['no config file', undefined],
    ['no trace key', '{"outputDir": "/x"}'],
    ['never', '{"trace":"never"}'],
    ['annotated, spaced out', '{\n  "strict": true,\n  "trace" :\t"annotated"\n}\n'],
    ['always', '{"trace": "always", "runtime": "runc"}'],
    ['a key that only starts with trace', '{"tracefsPath": "/sys/kernel/tracing"}'],
    ['never after other keys', '{"outputDir":"/out/trace","logFile":"/l","trace":"never"}'],
  ];
  it.each(configs)('%s: the launcher reads what loadConfig reads', async (_name, text) => {
    const configPath = text === undefined ? join(root, 'missing.json') : file(text);
    const fromTs = (loadConfig({ OCI_FTRACE_CONFIG: configPath }) as { trace?: TracePolicy }).trace;
    const got = await explain(['create', '--bundle', bundle(spec()), 'id'], launcherEnv({ OCI_FTRACE_CONFIG: configPath }));
    expect(got.trace).toBe(fromTs);
  });

  it('a value the schema refuses leaves the decision to the prepare step', async () => {
    const configPath = file('{"trace":"sometimes"}');
    expect(() => loadConfig({ OCI_FTRACE_CONFIG: configPath })).toThrow(/trace/);
    const got = await explain(['create', '--bundle', bundle(spec()), 'id'], launcherEnv({ OCI_FTRACE_CONFIG: configPath }));
    expect([got.trace, got.prepares]).toEqual(['sometimes', '1']);
  });

  it('is not read for commands that create nothing', async () => {
    const got = await explain(['state', 'id'], launcherEnv({ OCI_FTRACE_CONFIG: file('{"trace":"never"}') }));
    expect([got.trace, got.prepares]).toEqual([undefined, '0']);
  });
});

describe('the launcher skips the prepare step only for containers the policy leaves untraced', () => {
  // [name, config.json text, annotations as Node reads them, prepare step skipped under "annotated"]
  const bundles: Array<[string, string, boolean]> = [
    ['no annotations', spec(), true],
    ['other annotations', spec({ 'io.kubernetes.pod.name': 'p' }), true],
    ['opted in', spec({ [TRACE_ANNOTATION]: 'true' }), false],
    ['opted out', spec({ [TRACE_ANNOTATION]: 'false' }), true],
    ['another value', spec({ [TRACE_ANNOTATION]: 'TRUE' }), true],
    ['opted in, compact JSON', JSON.stringify({ ociVersion: '1.0.2', annotations: { [TRACE_ANNOTATION]: 'true' } }), false],
    ['opted in with an escaped slash', '{"ociVersion":"1.0.2","annotations":{"oci-ftrace\\/trace":"true"}}', false],
    ['opted in with a \\u escape', '{"ociVersion":"1.0.2","annotations":{"oci-ftrace/trace":"\\u0074rue"}}', false],
    ['the text inside a string only', spec(undefined, { process: { args: ['true'], env: ['X="oci-ftrace/trace": "true"'] } }), true],
    ['the key in another map', spec(undefined, { linux: { sysctl: { [TRACE_ANNOTATION]: 'true' } } }), false],
    ['Go-escaped text elsewhere', spec({ note: '<b>' }).replace('<b>', '\\u003cb\\u003e'), false],
  ];

  for (const policy of TRACE_POLICIES) {
    it.each(bundles)(`${policy}: %s`, async (_name, text, skippedWhenAnnotated) => {
      const annotations = (JSON.parse(text) as { annotations?: Record<string, string> }).annotations;
      const configPath = file(JSON.stringify({ trace: policy }));
      const got = await explain(['create', '--bundle', bundle(text), 'id'], launcherEnv({ OCI_FTRACE_CONFIG: configPath }));
      expect(got.trace).toBe(policy);
      // Never skipped when the container is to be traced.
      if (isTracedBy(policy, annotations)) expect(got.prepares).toBe('1');
      const expected = policy === 'never' || (policy === 'annotated' && skippedWhenAnnotated) ? '0' : '1';
      expect(got.prepares).toBe(expected);
    });
  }

  it('finds the bundle as runc does: -b, --bundle=, and the current directory', async () => {
    const configPath = file('{"trace":"annotated"}');
    const env = launcherEnv({ OCI_FTRACE_CONFIG: configPath });
    const optedIn = bundle(spec({ [TRACE_ANNOTATION]: 'true' }));
    const plain = bundle(spec());
    expect((await explain(['create', '-b', optedIn, 'id'], env)).prepares).toBe('1');
    expect((await explain(['run', `--bundle=${plain}`, 'id'], env)).prepares).toBe('0');
    expect((await explain(['create', 'id'], env, { cwd: optedIn })).prepares).toBe('1');
    expect((await explain(['create', 'id'], env, { cwd: plain })).prepares).toBe('0');
    expect((await explain(['create', '--bundle', join(root, 'no-such-bundle'), 'id'], env)).prepares).toBe('1');
    expect((await explain(['create', '--config', 'other.json', '--bundle', plain, 'id'], env)).prepares).toBe('1');
  });

  it('isTracedBy: always traces unless opted out, annotated only when opted in, never nothing', () => {
    const cases: Array<[Record<string, string> | undefined, boolean, boolean]> = [
      [undefined, true, false],
      [{ [TRACE_ANNOTATION]: 'true' }, true, true],
      [{ [TRACE_ANNOTATION]: 'false' }, false, false],
    ];
    for (const [annotations, always, annotated] of cases) {
      expect([isTracedBy('always', annotations), isTracedBy('annotated', annotations), isTracedBy('never', annotations)]).toEqual([always, annotated, false]);
    }
  });
});
