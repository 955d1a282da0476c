/**
 * Exact seccomp profiles from oci-ftrace reports: generate (OCI, Docker, SPO), merge input
 * profiles, compare, enforce on a bundle. Pure functions, except sources.ts, enforce.ts and
 * container-profile.ts, which read and write files.
 */
export {
  SECCOMP_PROFILE_ANNOTATION,
  SECCOMP_PROFILE_FORMAT_ANNOTATION,
  defaultProfileFileName,
  resolveProfileRequest,
  writeContainerSeccompFiles,
  type CliProfileRequest,
  type ContainerSeccompOptions,
  type ContainerSeccompResult,
  type ProfileRequest,
} from './container-profile.js';
export { diffSyscalls, isSameSyscalls, renderDiffText, syscallsAllowedBy, type SyscallDiff, type SyscallSet } from './diff.js';
export { ENFORCE_CAPABILITIES_MODIFIER_NAME, ENFORCE_MODIFIER_NAME, bundleCapabilities, enforceCapabilitiesModifier, enforceProfileOnBundle, enforceSeccompModifier } from './enforce.js';
export {
  CLONE3,
  RUNTIMES,
  RUNTIME_ASYNC_SYSCALLS,
  generateProfile,
  isRuntime,
  type GeneratedProfile,
  type GenerateOptions,
  type ProfileInput,
  type Runtime,
} from './generate.js';
export {
  DOCKER_DEFAULT_CAPABILITIES,
  ProfileError,
  parseInputProfile,
  parseKernelRelease,
  resolveInputProfile,
  type KernelVersion,
  type ResolveContext,
} from './input-profile.js';
export { makeProfile, type MadeProfile, type MakeProfileOptions } from './make-profile.js';
export { recordedSyscalls, type RecordedOptions, type RecordedSyscalls } from './recorded.js';
export {
  PROFILE_FORMATS,
  SPO_API_VERSION,
  SPO_KIND,
  dockerProfileObject,
  isProfileFormat,
  ociSeccompObject,
  renderProfile,
  spoNameFor,
  spoResourceObject,
  type ProfileFormat,
} from './render.js';
export { ENOSYS, EPERM, SECCOMP_ACTIONS, SECCOMP_OPERATORS, type SeccompAction, type SeccompArg, type SeccompProfile, type SeccompRule } from './seccomp.js';
export { ORIGINAL_PROFILE_FILE, loadProfileFile, loadSource, type LoadedProfile, type LoadedReport, type LoadedSource } from './sources.js';
export { emitYaml, type YamlValue } from './yaml.js';
export { capabilitiesOfReports, ociCapabilitySets, renderRunOptions, runOptions, type OciCapabilities, type RunOptions } from './run-options.js';
