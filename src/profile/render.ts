/**
 * A profile in the three forms people use it in, pure:
 * - `oci`: the runtime-spec `linux.seccomp` object, to put into a bundle's config.json;
 * - `docker`: Docker's profile JSON (`docker run --security-opt seccomp=FILE`), shaped like
 *   moby's default profile (archMap instead of architectures);
 * - `spo`: the Kubernetes Security Profiles Operator's SeccompProfile resource, as YAML.
 */
import { stringifyJsonLossless } from '../oci-config/lossless-json.js';
import { ProfileError } from './input-profile.js';
import { EPERM, type SeccompArg, type SeccompProfile, type SeccompRule } from './seccomp.js';
import { emitYaml, type YamlValue } from './yaml.js';

export const PROFILE_FORMATS = ['oci', 'docker', 'spo'] as const;
export type ProfileFormat = (typeof PROFILE_FORMATS)[number];

export function isProfileFormat(value: string): value is ProfileFormat {
  return (PROFILE_FORMATS as readonly string[]).includes(value);
}

/** The SPO API version written; served by every SPO release (v1 too, as a non-storage version). */
export const SPO_API_VERSION = 'security-profiles-operator.x-k8s.io/v1beta1';
export const SPO_KIND = 'SeccompProfile';

/** JSON-shaped: bigints for 64-bit argument values (stringifyJsonLossless writes them as numbers). */
type JsonTree = string | number | bigint | boolean | null | JsonTree[] | { [key: string]: JsonTree };

export function ociSeccompObject(profile: SeccompProfile): { [key: string]: JsonTree } {
  const out: { [key: string]: JsonTree } = { defaultAction: profile.defaultAction };
  if (profile.defaultErrnoRet !== undefined) out.defaultErrnoRet = profile.defaultErrnoRet;
  out.architectures = [...profile.architectures];
  if (profile.flags && profile.flags.length > 0) out.flags = [...profile.flags];
  out.syscalls = profile.syscalls.map(ruleObject);
  return out;
}

export function dockerProfileObject(profile: SeccompProfile): { [key: string]: JsonTree } {
  const out: { [key: string]: JsonTree } = { defaultAction: profile.defaultAction };
  if (profile.defaultErrnoRet !== undefined) out.defaultErrnoRet = profile.defaultErrnoRet;
  const [native, ...sub] = profile.architectures;
  if (native !== undefined) out.archMap = [{ architecture: native, subArchitectures: sub }];
  if (profile.flags && profile.flags.length > 0) out.flags = [...profile.flags];
  out.syscalls = profile.syscalls.map(ruleObject);
  return out;
}

/** metadata.name: a DNS-1123 subdomain, as Kubernetes requires of object names. */
const K8S_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const INT64_MAX = 2n ** 63n - 1n;

export function spoResourceObject(profile: SeccompProfile, name: string): { [key: string]: YamlValue } {
  if (name.length > 253 || !K8S_NAME.test(name)) {
    throw new ProfileError(`SPO resource name "${name}" is not a valid Kubernetes name (lowercase letters, digits, '-', '.')`);
  }
  // The CRD has no defaultErrnoRet: the runtime's default errno (EPERM) is what it gets.
  if (profile.defaultErrnoRet !== undefined && profile.defaultErrnoRet !== EPERM) {
    throw new ProfileError(`the SPO SeccompProfile cannot carry defaultErrnoRet ${profile.defaultErrnoRet} (only the runtime's default, EPERM)`);
  }
  const spec: { [key: string]: YamlValue } = {
    defaultAction: profile.defaultAction,
    architectures: [...profile.architectures],
  };
  if (profile.flags && profile.flags.length > 0) spec.flags = [...profile.flags];
  spec.syscalls = profile.syscalls.map((rule) => {
    for (const arg of rule.args ?? []) {
      if (arg.value > INT64_MAX || (arg.valueTwo ?? 0n) > INT64_MAX) {
        throw new ProfileError(`${rule.names.join(',')}: argument value above 2^63-1, which the SPO CRD (int64) cannot hold`);
      }
    }
    return ruleObject(rule) as { [key: string]: YamlValue };
  });
  return { apiVersion: SPO_API_VERSION, kind: SPO_KIND, metadata: { name }, spec };
}

/** A Kubernetes name for a container id: lowercased, other characters turned into '-'. */
export function spoNameFor(containerId: string): string {
  const name = containerId
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '')
    .slice(0, 253)
    .replace(/[^a-z0-9]+$/, '');
  return name.length > 0 ? name : 'oci-ftrace-profile';
}

export interface RenderOptions {
  /** metadata.name of the SPO resource. */
  name: string;
}

/** The file's content in the given form. */
export function renderProfile(profile: SeccompProfile, format: ProfileFormat, opts: RenderOptions): string {
  switch (format) {
    case 'oci':
      return stringifyJsonLossless(ociSeccompObject(profile));
    case 'docker':
      return stringifyJsonLossless(dockerProfileObject(profile));
    case 'spo':
      return emitYaml(spoResourceObject(profile, opts.name));
  }
}

function ruleObject(rule: SeccompRule): { [key: string]: JsonTree } {
  const out: { [key: string]: JsonTree } = { names: [...rule.names], action: rule.action };
  if (rule.errnoRet !== undefined) out.errnoRet = rule.errnoRet;
  if (rule.args && rule.args.length > 0) out.args = rule.args.map(argObject);
  return out;
}

function argObject(arg: SeccompArg): { [key: string]: JsonTree } {
  const out: { [key: string]: JsonTree } = { index: arg.index, value: arg.value };
  if (arg.valueTwo !== undefined) out.valueTwo = arg.valueTwo;
  out.op = arg.op;
  return out;
}
