/**
 * The run options that hold a container to what its reports show it uses: the capabilities it was
 * granted (everything else dropped) and the generated seccomp profile, as docker flags, as OCI
 * `process.capabilities`, and as a Kubernetes securityContext. Pure.
 */
import { shortCapabilityName, sortCapabilities } from '../capabilities/index.js';
import { capabilitiesUsed, type Summary } from '../report/summary.js';
import { emitYaml, type YamlValue } from './yaml.js';
import { ProfileError } from './input-profile.js';

export interface RunOptions {
  /** Capabilities kept: those the reports show granted. */
  capabilities: string[];
  /** Of them, granted only where no-audit checks are common (may not be needed: verify --minimize). */
  noAuditLikely: string[];
  /** The seccomp profile's file (docker format: docker, containerd and CRI-O read it alike). */
  seccompFile: string;
  docker: string[];
  oci: { capabilities: OciCapabilities };
  /** The container's securityContext, and where the kubelet looks for the profile. */
  kubernetes: { securityContext: { [key: string]: YamlValue }; profileOnNode: string };
}

export interface OciCapabilities {
  bounding: string[];
  effective: string[];
  permitted: string[];
  inheritable: string[];
  ambient: string[];
}

/** The capabilities the reports' workloads were granted, together; reports that did not trace them are an error. */
export function capabilitiesOfReports(reports: readonly { path: string; summary: Summary }[]): { used: string[]; noAuditLikely: string[] } {
  const untraced = reports.find((r) => r.summary.capabilities === undefined);
  if (untraced) throw new ProfileError(`${untraced.path}: its capabilities were not traced (traceCapabilities off, or a kernel without capability:cap_capable)`);
  const used = new Set<string>();
  const onlyNoAudit = new Map<string, boolean>();
  for (const r of reports) {
    for (const name of capabilitiesUsed(r.summary)) {
      used.add(name);
      const calls = Object.values(r.summary.capabilities?.checks[name]?.syscalls ?? {}).filter((c) => c.granted > 0);
      const noAudit = calls.every((c) => c.noAuditLikely === true);
      onlyNoAudit.set(name, (onlyNoAudit.get(name) ?? true) && noAudit);
    }
  }
  return { used: sortCapabilities(used), noAuditLikely: sortCapabilities([...onlyNoAudit].filter(([, v]) => v).map(([k]) => k)) };
}

/** The OCI sets that hold exactly `caps` (a root process; ambient stays empty, as docker leaves it). */
export function ociCapabilitySets(caps: readonly string[]): OciCapabilities {
  const sorted = sortCapabilities(caps);
  return { bounding: [...sorted], effective: [...sorted], permitted: [...sorted], inheritable: [], ambient: [] };
}

export function runOptions(caps: readonly string[], noAuditLikely: readonly string[], seccompFile: string): RunOptions {
  const sorted = sortCapabilities(caps);
  const short = sorted.map(shortCapabilityName);
  const base = seccompFile.slice(seccompFile.lastIndexOf('/') + 1);
  return {
    capabilities: sorted,
    noAuditLikely: sortCapabilities(noAuditLikely),
    seccompFile,
    docker: ['--cap-drop=ALL', ...short.map((c) => `--cap-add=${c}`), `--security-opt`, `seccomp=${seccompFile}`],
    oci: { capabilities: ociCapabilitySets(sorted) },
    kubernetes: {
      securityContext: {
        capabilities: { drop: ['ALL'], ...(short.length > 0 ? { add: short } : {}) },
        seccompProfile: { type: 'Localhost', localhostProfile: base },
      },
      profileOnNode: `/var/lib/kubelet/seccomp/${base}`,
    },
  };
}

/** The options as a person reads them: each form under its heading. */
export function renderRunOptions(o: RunOptions): string {
  const lines = [
    `# capabilities the workload was granted: ${o.capabilities.length > 0 ? o.capabilities.join(' ') : '(none)'}; all others dropped`,
  ];
  if (o.noAuditLikely.length > 0) lines.push(`# of them granted only where no-audit checks are common (perhaps not needed; oci-ftrace verify --minimize tells): ${o.noAuditLikely.join(' ')}`);
  lines.push(
    '',
    '# docker run',
    o.docker.join(' '),
    '',
    '# OCI config.json: process.capabilities (and linux.seccomp: oci-ftrace enforce)',
    JSON.stringify(o.oci.capabilities, null, 2),
    '',
    `# Kubernetes: the container's securityContext (the profile copied to ${o.kubernetes.profileOnNode} on each node)`,
    emitYaml({ securityContext: o.kubernetes.securityContext }).trimEnd(),
  );
  return `${lines.join('\n')}\n`;
}
