/** Capability names and what the kernel's cap_capable tracepoint cannot tell (see no-audit.ts). */
export { ALL_CAPABILITIES, canonicalCapability, capabilityName, capabilityNumber, shortCapabilityName, sortCapabilities, type CapabilityName } from './names.js';
export { NO_SYSCALL, isLikelyNoAudit } from './no-audit.js';
export { heldCapabilitiesOfSpec } from './held.js';
