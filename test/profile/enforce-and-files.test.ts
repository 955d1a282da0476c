// The file edges: enforcing on a bundle, reading sources, writing a container's seccomp files.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  SECCOMP_PROFILE_ANNOTATION,
  SECCOMP_PROFILE_FORMAT_ANNOTATION,
  resolveProfileRequest,
  writeContainerSeccompFiles,
} from '../../src/profile/container-profile.js';
import { enforceProfileOnBundle, enforceSeccompModifier } from '../../src/profile/enforce.js';
import { generateProfile } from '../../src/profile/generate.js';
import { recordedSyscalls } from '../../src/profile/recorded.js';
import { ociSeccompObject } from '../../src/profile/render.js';
import { ORIGINAL_PROFILE_FILE, loadSource } from '../../src/profile/sources.js';
import { parseJsonLossless, stringifyJsonLossless } from '../../src/oci-config/lossless-json.js';
import { ORIGINAL_SECCOMP_ANNOTATION } from '../../src/prepare/record-mode.js';
import { BIG_NUMBER_CONFIG, listDir, useTempDirs } from '../oci-config/fixtures.js';
import { summaryFixture } from './fixtures.js';

const tempDir = useTempDirs();
const summary = summaryFixture('runc-ls-nnp');
const profile = generateProfile({ recorded: [recordedSyscalls(summary, 'fixture')] }).profile;
const config = { seccompProfile: false, seccompProfileFormat: 'oci' as const };

describe('enforce', () => {
  it('sets linux.seccomp, leaving the rest as it was', () => {
    const spec = { ociVersion: '1', annotations: { keep: 'me' }, linux: { namespaces: [] } };
    const next = enforceSeccompModifier(profile).apply(spec);
    expect(next.linux).toEqual({ namespaces: [], seccomp: ociSeccompObject(profile) });
    expect(next.annotations).toEqual({ keep: 'me' });
  });

  it('takes out what a killed traced run left in the bundle: our hooks, record mode and its annotations', async () => {
    const dir = tempDir();
    const left = { ociVersion: '1', annotations: { keep: 'me', [ORIGINAL_SECCOMP_ANNOTATION]: 'null', 'oci-ftrace/seccomp': 'x' }, hooks: { createRuntime: [{ path: '/x/bin/oci-ftrace-hook', args: ['oci-ftrace-hook', 'record'] }], poststop: [{ path: '/usr/bin/true' }, { path: '/x/bin/oci-ftrace-hook', args: ['oci-ftrace-hook', 'report'] }] }, linux: { seccomp: { defaultAction: 'SCMP_ACT_ALLOW' } } };
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify(left));
    await enforceProfileOnBundle(dir, profile);
    const after = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(after.annotations).toEqual({ keep: 'me' });
    expect(after.hooks).toEqual({ poststop: [{ path: '/usr/bin/true' }] });
    expect((after.linux as { seccomp: unknown }).seccomp).toEqual(JSON.parse(JSON.stringify(ociSeccompObject(profile))));
  });

  it("rewrites a bundle's config.json atomically, keeping its other values exact", async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'config.json'), BIG_NUMBER_CONFIG);
    const result = await enforceProfileOnBundle(dir, profile);
    expect(result.changed).toBe(true);
    const text = readFileSync(path.join(dir, 'config.json'), 'utf8');
    expect(text).toContain('"limit": 9223372036854775807');
    const tree = parseJsonLossless(text, 'config.json') as { linux: { seccomp: unknown } };
    expect(stringifyJsonLossless(tree.linux.seccomp)).toBe(stringifyJsonLossless(ociSeccompObject(profile)));
    expect(listDir(dir)).toEqual(['config.json']);
    expect((await enforceProfileOnBundle(dir, profile)).changed).toBe(false);
  });
});

describe('loadSource', () => {
  it('tells reports from profiles by content, takes a report directory or a container id, and finds the saved original', async () => {
    const out = tempDir();
    const reportDir = path.join(out, 'c1');
    mkdirSync(reportDir);
    writeFileSync(path.join(reportDir, 'summary.json'), JSON.stringify(summary));
    writeFileSync(path.join(reportDir, ORIGINAL_PROFILE_FILE), '{"defaultAction":"SCMP_ACT_ALLOW"}');
    const byId = await loadSource('c1', out);
    expect(byId.kind).toBe('report');
    expect(byId.kind === 'report' && byId.original?.profile.defaultAction).toBe('SCMP_ACT_ALLOW');
    expect((await loadSource(reportDir, '/nonexistent')).path).toBe(path.join(reportDir, 'summary.json'));
    const profileFile = path.join(out, 'p.json');
    writeFileSync(profileFile, BIG_NUMBER_CONFIG);
    expect((await loadSource(profileFile, out)).kind).toBe('profile');
  });

  it('says what is wrong with a source in one line', async () => {
    const out = tempDir();
    await expect(loadSource('nope', out)).rejects.toThrow(/nope: no such file, report directory or container report/);
    writeFileSync(path.join(out, 'p.yaml'), 'kind: SeccompProfile\n');
    await expect(loadSource(path.join(out, 'p.yaml'), out)).rejects.toThrow(/not JSON \(YAML resources are written, not read/);
    writeFileSync(path.join(out, 's.json'), JSON.stringify({ ...summary, schemaVersion: 9 }));
    await expect(loadSource(path.join(out, 's.json'), out)).rejects.toThrow(/not a valid oci-ftrace summary: invalid schemaVersion/);
  });
});

describe('resolveProfileRequest', () => {
  const out = '/var/log/oci-ftrace/c1';

  it('the command line, then the annotations, then the config', () => {
    expect(resolveProfileRequest(out, config, undefined)).toBeUndefined();
    expect(resolveProfileRequest(out, { ...config, seccompProfile: true }, undefined)).toEqual({ path: `${out}/seccomp.oci.json`, format: 'oci' });
    expect(resolveProfileRequest(out, config, { [SECCOMP_PROFILE_ANNOTATION]: 'true', [SECCOMP_PROFILE_FORMAT_ANNOTATION]: 'spo' })).toEqual({ path: `${out}/seccomp.spo.yaml`, format: 'spo' });
    expect(resolveProfileRequest(out, { ...config, seccompProfile: true }, { [SECCOMP_PROFILE_ANNOTATION]: 'false' })).toBeUndefined();
    expect(resolveProfileRequest(out, config, { [SECCOMP_PROFILE_ANNOTATION]: 'mine.json' })).toEqual({ path: `${out}/mine.json`, format: 'oci' });
    expect(resolveProfileRequest(out, config, { [SECCOMP_PROFILE_FORMAT_ANNOTATION]: 'spo' }, { file: '/tmp/x.json', format: 'docker' })).toEqual({ path: '/tmp/x.json', format: 'docker' });
    expect(resolveProfileRequest(out, config, undefined, { file: true })).toEqual({ path: `${out}/seccomp.oci.json`, format: 'oci' });
  });

  it.each(['../escape.json', '/etc/x.json', 'summary.json', 'ftrace_syscalls_dump.log', '.hidden.json', 'a/b.json', 'x.sh'])(
    'refuses the annotated file name %j: a file name in the report directory only',
    (name) => {
      expect(() => resolveProfileRequest(out, config, { [SECCOMP_PROFILE_ANNOTATION]: name })).toThrow(/is not "true", "false" or a file name/);
    },
  );

  it('refuses an unknown format', () => {
    expect(() => resolveProfileRequest(out, config, { [SECCOMP_PROFILE_FORMAT_ANNOTATION]: 'xml' })).toThrow(/annotation oci-ftrace\/seccomp-profile-format: "xml" is not one of oci, docker, spo/);
    expect(() => resolveProfileRequest(out, config, undefined, { file: true, format: 'xml' })).toThrow(/--profile-format/);
  });
});

describe('writeContainerSeccompFiles', () => {
  it("saves the bundle's own profile, and merges it into the profile asked for", async () => {
    const out = tempDir();
    const original = '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getrandom"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}';
    const result = await writeContainerSeccompFiles(summary, {
      outDir: out,
      config,
      annotations: { [SECCOMP_PROFILE_ANNOTATION]: 'true' },
      bundleSeccomp: original,
    });
    expect(result.originalPath).toBe(path.join(out, ORIGINAL_PROFILE_FILE));
    expect(JSON.parse(readFileSync(result.originalPath!, 'utf8'))).toEqual(JSON.parse(original));
    expect(result.profilePath).toBe(path.join(out, 'seccomp.oci.json'));
    const written = JSON.parse(readFileSync(result.profilePath!, 'utf8')) as { syscalls: { names: string[]; action: string; errnoRet?: number }[] };
    expect(written.syscalls).toContainEqual({ names: ['getrandom'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 });
    expect(result.profile?.inputsUsed).toEqual([result.originalPath]);
  });

  it('writes nothing when the bundle had no profile and nothing is asked for', async () => {
    const out = tempDir();
    expect(await writeContainerSeccompFiles(summary, { outDir: out, config, bundleSeccomp: 'null' })).toEqual({});
    expect(listDir(out)).toEqual([]);
  });

  it('fails in one line when the report cannot make a profile', async () => {
    const out = tempDir();
    const noLoad = { ...summary, profileStart: { kind: 'first-exec' as const, timestamp: 1, pid: 1 } };
    await expect(writeContainerSeccompFiles(noLoad, { outDir: out, config, cli: { file: true } })).rejects.toThrow(/no seccomp filter load was traced/);
    expect(existsSync(path.join(out, 'seccomp.oci.json'))).toBe(false);
  });
});
