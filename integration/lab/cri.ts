// A private containerd with its CRI plugin, driven over gRPC the way kubelet drives it: pods in the node's network
// (no CNI here), a local busybox pause image, runtime handlers given by the test. The API subset is our own
// runtime-v1.proto (CRI runtime.v1).
import { mkdir, mkdtemp, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { execa } from 'execa';
import { makeBusyboxRootfs } from './bundle.js';
import { forceDeleteAllContainersIn, removeCgroupDirs } from './cleanup.js';
import { startContainerd, type Containerd } from './containerd.js';
import { sleep, tailOfFile } from './daemon.js';
import { REPO_ROOT, uniqueId } from './env.js';
import { buildOciImageTar, type OciImageTar } from './image.js';

const PROTO = path.join(REPO_ROOT, 'integration', 'lab', 'cri', 'runtime-v1.proto');
/** The CRI plugin works in this containerd namespace only. */
export const CRI_NAMESPACE = 'k8s.io';

// ---- Wire types: camelCase as proto-loader maps them, enums as their names, int64 as number.

export type NamespaceMode = 'POD' | 'CONTAINER' | 'NODE' | 'TARGET';
export type ContainerState = 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';
export type PodSandboxState = 'SANDBOX_READY' | 'SANDBOX_NOTREADY';

export interface NamespaceOption {
  network?: NamespaceMode;
  pid?: NamespaceMode;
  ipc?: NamespaceMode;
}

export interface SecurityProfile {
  profileType: 'RuntimeDefault' | 'Unconfined' | 'Localhost';
  localhostRef?: string;
}

export interface PodSandboxConfig {
  metadata: { name: string; uid: string; namespace: string; attempt?: number };
  hostname?: string;
  logDirectory?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  linux?: {
    cgroupParent?: string;
    securityContext?: { namespaceOptions?: NamespaceOption; seccomp?: SecurityProfile };
  };
}

export interface ContainerConfig {
  metadata: { name: string; attempt?: number };
  image: { image: string };
  command?: string[];
  args?: string[];
  envs?: Array<{ key: string; value: string }>;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  logPath?: string;
  linux?: {
    securityContext?: {
      capabilities?: { addCapabilities?: string[]; dropCapabilities?: string[] };
      namespaceOptions?: NamespaceOption;
      seccomp?: SecurityProfile;
    };
  };
}

export interface VersionResponse {
  version: string;
  runtimeName: string;
  runtimeVersion: string;
  runtimeApiVersion: string;
}

export interface ContainerStatus {
  id: string;
  state: ContainerState;
  createdAt: number;
  startedAt: number;
  finishedAt: number;
  exitCode: number;
  reason: string;
  message: string;
  logPath: string;
  annotations: Record<string, string>;
}

export interface PodSandboxStatus {
  id: string;
  state: PodSandboxState;
  runtimeHandler: string;
  annotations: Record<string, string>;
}

export interface ContainerSummary {
  id: string;
  podSandboxId: string;
  metadata: { name: string };
  state: ContainerState;
}

interface Image {
  id: string;
  repoTags: string[];
}

type PodId = { podSandboxId: string };
type ExecSyncResponse = { stdout: Buffer; stderr: Buffer; exitCode: number };
type ContainerId = { containerId: string };

/** Request and response of each RPC used, keyed by service path. */
interface Rpcs {
  'RuntimeService/Version': [{ version: string }, VersionResponse];
  'RuntimeService/RunPodSandbox': [{ config: PodSandboxConfig; runtimeHandler: string }, PodId];
  'RuntimeService/StopPodSandbox': [PodId, object];
  'RuntimeService/RemovePodSandbox': [PodId, object];
  'RuntimeService/PodSandboxStatus': [PodId, { status: PodSandboxStatus }];
  'RuntimeService/CreateContainer': [PodId & { config: ContainerConfig; sandboxConfig: PodSandboxConfig }, ContainerId];
  'RuntimeService/StartContainer': [ContainerId, object];
  'RuntimeService/StopContainer': [ContainerId & { timeout: number }, object];
  'RuntimeService/RemoveContainer': [ContainerId, object];
  'RuntimeService/ListContainers': [{ filter?: { podSandboxId?: string } }, { containers: ContainerSummary[] }];
  'RuntimeService/ContainerStatus': [ContainerId, { status: ContainerStatus }];
  'RuntimeService/ExecSync': [ContainerId & { cmd: string[]; timeout: number }, ExecSyncResponse];
  'ImageService/ImageStatus': [{ image: { image: string } }, { image: Image | null }];
}

// ---- Public API

export interface CriHandler {
  /** The runtime the runc v2 shim calls (`options.BinaryName`), e.g. /usr/sbin/runc or the oci-ftrace wrapper. */
  binaryName: string;
  /**
   * `options.Root`; default DIR/runtime-root/NAME, so its state is ours alone and removable. The shim appends the
   * namespace: the runtime is run with `--root ROOT/k8s.io`.
   */
  root?: string;
  /** Pod annotation keys (globs such as `oci-ftrace/*`) passed on into the OCI spec; CRI drops all others. */
  podAnnotations?: string[];
  /** The same for container annotations. */
  containerAnnotations?: string[];
}

export interface CriOptions {
  /** Runtime handler name (RunPodSandbox's runtime_handler) -> runtime. The first is the default handler. */
  handlers: Record<string, CriHandler>;
  /** Extra environment for containerd, inherited by its shims and so by the runtimes they call. */
  env?: Record<string, string>;
}

export type Seccomp = 'RuntimeDefault' | 'Unconfined' | { localhost: string };

export interface PodOptions {
  name: string;
  /** Kubernetes namespace of the pod (metadata only); default "default". */
  namespace?: string;
  /** Default: a fresh unique id. */
  uid?: string;
  handler: string;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  /** The sandbox's seccomp profile; unset leaves containerd's default (unconfined in 1.6). */
  seccomp?: Seccomp;
}

export interface Pod {
  id: string;
  /** What RunPodSandbox was given; CreateContainer needs it again. */
  config: PodSandboxConfig;
}

export interface ContainerOptions {
  name: string;
  image: string;
  /** Replaces the image's entrypoint. */
  command?: string[];
  /** Replaces the image's cmd. */
  args?: string[];
  env?: Record<string, string>;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  /** Unset leaves containerd's default (unconfined in 1.6), as kubelet does for a pod without seccompProfile. */
  seccomp?: Seccomp;
  /** Names as kubelet passes them, without CAP_ (containerd adds it): { add: ['SYS_ADMIN'] }. */
  capabilities?: { add?: string[]; drop?: string[] };
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface Cri {
  containerd: Containerd;
  /** The CRI socket (containerd's own). */
  address: string;
  /** Fully qualified name of the local pause image (busybox, entrypoint `sleep infinity`). */
  pauseImage: string;
  /** Every pod's cgroup parent (cgroupfs path, e.g. /lab-cri-PID-HEX); stop() removes it. */
  cgroupParent: string;
  version(): Promise<VersionResponse>;
  /** `ctr -n k8s.io images import TAR`, then waits until the CRI plugin lists it. */
  importImage(image: OciImageTar): Promise<void>;
  runPod(opts: PodOptions): Promise<Pod>;
  podStatus(podId: string): Promise<PodSandboxStatus>;
  stopPod(podId: string): Promise<void>;
  /** Also removes the pod's containers. */
  removePod(podId: string): Promise<void>;
  createContainer(podId: string, podConfig: PodSandboxConfig, opts: ContainerOptions): Promise<string>;
  startContainer(containerId: string): Promise<void>;
  /** Stop signal, then SIGKILL after timeoutS (0: SIGKILL at once). */
  stopContainer(containerId: string, timeoutS?: number): Promise<void>;
  removeContainer(containerId: string): Promise<void>;
  containerStatus(containerId: string): Promise<ContainerStatus>;
  listContainers(podId?: string): Promise<ContainerSummary[]>;
  /** Polls ContainerStatus until EXITED; returns the exit code. */
  waitForExit(containerId: string, timeoutMs?: number): Promise<number>;
  /** The container's CRI log file, reassembled into what it wrote to stdout and to stderr. */
  logs(containerId: string): Promise<{ stdout: string; stderr: string }>;
  execSync(containerId: string, cmd: string[], timeoutS?: number): Promise<ExecResult>;
  /** Removes its pods, stops containerd and its shims, removes runtime state, cgroups and mounts. Idempotent. */
  stop(): Promise<void>;
}

export async function startCri(baseDir: string, opts: CriOptions): Promise<Cri> {
  const dir = path.resolve(baseDir);
  if (Object.keys(opts.handlers).length === 0) throw new Error('startCri: at least one runtime handler is needed');
  const handlers = Object.entries(opts.handlers).map(([name, h]) => ({
    name,
    ...h,
    root: h.root ?? path.join(dir, 'runtime-root', name),
    rootIsOurs: h.root === undefined,
  }));
  // Every pod's cgroups go under this parent, so stop() can remove what runtimes leave (they remove only the leaf).
  const cgroupParent = `/${uniqueId('lab-cri')}`;
  const cniConfDir = path.join(dir, 'cni', 'conf');
  const cniBinDir = path.join(dir, 'cni', 'bin');
  await mkdir(cniConfDir, { recursive: true });
  await mkdir(cniBinDir, { recursive: true });

  const pauseRootfs = path.join(dir, 'pause-rootfs');
  await makeBusyboxRootfs(pauseRootfs);
  const pauseTar = path.join(dir, 'pause.tar');
  const pause = await buildEntrypointImageTar(pauseRootfs, pauseTar, 'lab-pause:1', ['sleep', 'infinity']);

  // Before the daemon starts: nothing between its start and the guarded wait below may throw.
  const definition = protoLoader.loadSync(PROTO, { longs: Number, enums: String, defaults: true, oneofs: true });
  const containerd = await startContainerd(dir, {
    configToml: criConfig({ sandboxImage: pause.imageName, handlers, cniConfDir, cniBinDir }),
    namespace: CRI_NAMESPACE,
    env: opts.env,
  });

  const client = new grpc.Client(`unix:${containerd.address}`, grpc.credentials.createInsecure());
  const call = <K extends keyof Rpcs>(rpc: K, request: Rpcs[K][0], timeoutMs = 60_000): Promise<Rpcs[K][1]> => {
    const [service, method] = rpc.split('/') as [string, string];
    const def = (definition[`runtime.v1.${service}`] as protoLoader.ServiceDefinition)[method];
    if (def === undefined) throw new Error(`runtime-v1.proto has no ${rpc}`);
    return new Promise((resolve, reject) => {
      client.makeUnaryRequest(
        def.path,
        def.requestSerialize,
        def.responseDeserialize,
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + timeoutMs },
        (err, response) => {
          if (err) reject(new Error(`CRI ${rpc}: ${err.details || err.message}`, { cause: err }));
          else resolve(response as Rpcs[K][1]);
        },
      );
    });
  };

  const pods = new Set<string>();
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      for (const podId of pods) {
        await call('RuntimeService/StopPodSandbox', { podSandboxId: podId }, 30_000).catch(() => undefined);
        await call('RuntimeService/RemovePodSandbox', { podSandboxId: podId }, 30_000).catch(() => undefined);
      }
      pods.clear();
      client.close();
      await containerd.stop(); // kills leftover tasks and our shims, unmounts under dir
      for (const h of handlers) {
        await forceDeleteAllContainersIn(path.join(h.root, CRI_NAMESPACE)); // removes that dir once empty
        if (h.rootIsOurs) await rmdir(h.root).catch(() => undefined);
      }
      await rmdir(path.join(dir, 'runtime-root')).catch(() => undefined);
      removeCgroupDirs(cgroupParent);
    })();
    return stopping;
  };

  const imageStatus = async (name: string) => (await call('ImageService/ImageStatus', { image: { image: name } })).image;
  const importImage = async (image: OciImageTar): Promise<void> => {
    await containerd.ctr(['images', 'import', image.tarPath]);
    // The CRI plugin learns of images from containerd's events, a moment later; a pod or container created
    // before that would make it pull, which fails without a network.
    const deadline = Date.now() + 10_000;
    while ((await imageStatus(image.imageName)) === null) {
      if (Date.now() > deadline) throw new Error(`CRI does not list ${image.imageName} after import`);
      await sleep(50);
    }
  };

  const containerStatus = async (containerId: string) =>
    (await call('RuntimeService/ContainerStatus', { containerId })).status;

  const cri: Cri = {
    containerd,
    address: containerd.address,
    pauseImage: pause.imageName,
    cgroupParent,
    version: () => call('RuntimeService/Version', { version: '0.1.0' }), // what kubelet sends
    importImage,

    async runPod(pod) {
      const namespace = pod.namespace ?? 'default';
      const uid = pod.uid ?? uniqueId('uid');
      const logDirectory = path.join(dir, 'pods', `${namespace}_${pod.name}_${uid}`);
      await mkdir(logDirectory, { recursive: true }); // kubelet makes it, not the runtime
      const config: PodSandboxConfig = {
        metadata: { name: pod.name, uid, namespace, attempt: 0 },
        // No hostname: a NODE-network pod shares the node's UTS namespace too, and runc refuses to set a hostname
        // without a private one.
        logDirectory,
        labels: pod.labels ?? {},
        annotations: pod.annotations ?? {},
        linux: {
          cgroupParent,
          securityContext: {
            // NODE network: there is no CNI here. PID per container, IPC per pod, as kubelet sets them by default.
            namespaceOptions: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' },
            ...(pod.seccomp !== undefined && { seccomp: securityProfile(pod.seccomp) }),
          },
        },
      };
      const { podSandboxId } = await call('RuntimeService/RunPodSandbox', { config, runtimeHandler: pod.handler });
      pods.add(podSandboxId);
      return { id: podSandboxId, config };
    },
    podStatus: async (podId) => (await call('RuntimeService/PodSandboxStatus', { podSandboxId: podId })).status,
    async stopPod(podId) {
      await call('RuntimeService/StopPodSandbox', { podSandboxId: podId });
    },
    async removePod(podId) {
      await call('RuntimeService/RemovePodSandbox', { podSandboxId: podId });
      pods.delete(podId);
    },

    async createContainer(podId, podConfig, c) {
      const config: ContainerConfig = {
        metadata: { name: c.name, attempt: 0 },
        image: { image: c.image },
        ...(c.command !== undefined && { command: c.command }),
        ...(c.args !== undefined && { args: c.args }),
        envs: Object.entries(c.env ?? {}).map(([key, value]) => ({ key, value })),
        labels: c.labels ?? {},
        annotations: c.annotations ?? {},
        logPath: path.join(c.name, '0.log'), // kubelet's layout: NAME/ATTEMPT.log under the pod's log directory
        linux: {
          securityContext: {
            namespaceOptions: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' },
            ...(c.seccomp !== undefined && { seccomp: securityProfile(c.seccomp) }),
            ...(c.capabilities !== undefined && {
              capabilities: { addCapabilities: c.capabilities.add ?? [], dropCapabilities: c.capabilities.drop ?? [] },
            }),
          },
        },
      };
      if (podConfig.logDirectory !== undefined) {
        await mkdir(path.join(podConfig.logDirectory, c.name), { recursive: true });
      }
      const request = { podSandboxId: podId, config, sandboxConfig: podConfig };
      return (await call('RuntimeService/CreateContainer', request)).containerId;
    },
    async startContainer(containerId) {
      await call('RuntimeService/StartContainer', { containerId });
    },
    async stopContainer(containerId, timeoutS = 0) {
      await call('RuntimeService/StopContainer', { containerId, timeout: timeoutS }, (timeoutS + 30) * 1000);
    },
    async removeContainer(containerId) {
      await call('RuntimeService/RemoveContainer', { containerId });
    },
    containerStatus,
    async listContainers(podId) {
      const filter = podId === undefined ? {} : { filter: { podSandboxId: podId } };
      return (await call('RuntimeService/ListContainers', filter)).containers;
    },

    async waitForExit(containerId, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const status = await containerStatus(containerId);
        if (status.state === 'CONTAINER_EXITED') return status.exitCode;
        if (Date.now() > deadline) {
          throw new Error(`container ${containerId} still ${status.state} after ${timeoutMs} ms`);
        }
        await sleep(50);
      }
    },
    async logs(containerId) {
      return parseCriLog(await readFile((await containerStatus(containerId)).logPath, 'utf8'));
    },
    async execSync(containerId, cmd, timeoutS = 30) {
      const r = await call('RuntimeService/ExecSync', { containerId, cmd, timeout: timeoutS }, (timeoutS + 30) * 1000);
      return { stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8'), exitCode: r.exitCode };
    },
    stop,
  };

  try {
    await waitForCriPlugin(containerd);
    await importImage(pause);
  } catch (err) {
    await stop();
    throw err;
  }
  return cri;
}

/**
 * Kubelet's reading of a CRI log: each line is `TIMESTAMP STREAM TAG MSG`, where tag F ends a line and P is a
 * piece of a longer one (split at max_container_log_line_size).
 */
export function parseCriLog(text: string): { stdout: string; stderr: string } {
  const out = { stdout: '', stderr: '' };
  for (const line of text.split('\n')) {
    const m = /^\S+ (stdout|stderr) ([FP])(?: (.*))?$/.exec(line);
    if (m === null) continue;
    out[m[1] as 'stdout' | 'stderr'] += (m[3] ?? '') + (m[2] === 'F' ? '\n' : '');
  }
  return out;
}

function securityProfile(s: Seccomp): SecurityProfile {
  return typeof s === 'string' ? { profileType: s } : { profileType: 'Localhost', localhostRef: s.localhost };
}

interface ResolvedHandler extends CriHandler {
  name: string;
  root: string;
}

/** The CRI plugin's section of a version-2 config.toml, for containerd 1.6. */
function criConfig(c: {
  sandboxImage: string;
  handlers: ResolvedHandler[];
  cniConfDir: string;
  cniBinDir: string;
}): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  const q = JSON.stringify; // TOML basic strings and arrays of them read like JSON ones
  const lines = [
    `[${cri}]`,
    `  sandbox_image = ${q(c.sandboxImage)}`,
    // No CAP_SYS_RESOURCE in this VM: the sandbox's -998 OOM score would fail its start otherwise.
    '  restrict_oom_score_adj = true',
    `[${cri}.containerd]`,
    `  default_runtime_name = ${q(c.handlers[0]!.name)}`,
    ...c.handlers.flatMap((h) => [
      `[${cri}.containerd.runtimes.${q(h.name)}]`,
      '  runtime_type = "io.containerd.runc.v2"',
      `  pod_annotations = ${q(h.podAnnotations ?? [])}`,
      `  container_annotations = ${q(h.containerAnnotations ?? [])}`,
      `[${cri}.containerd.runtimes.${q(h.name)}.options]`,
      `  BinaryName = ${q(h.binaryName)}`,
      `  Root = ${q(h.root)}`,
    ]),
    // Empty dirs: no CNI network is ever set up (pods use the node's), and the host's CNI config stays unread.
    `[${cri}.cni]`,
    `  conf_dir = ${q(c.cniConfDir)}`,
    `  bin_dir = ${q(c.cniBinDir)}`,
  ];
  return lines.join('\n');
}

/** containerd skips a plugin that fails to initialise and keeps running; say why instead of timing out later. */
async function waitForCriPlugin(containerd: Containerd): Promise<void> {
  const listed = await containerd.ctr(['plugins', 'ls']);
  const row = listed.stdout.split('\n').find((line) => /^io\.containerd\.grpc\.v1\s+cri\s/.test(line));
  if (row === undefined || !/\sok\s*$/.test(row)) {
    const why = tailOfFile(containerd.logPath, 30);
    throw new Error(`containerd's CRI plugin did not load (${row?.trim() ?? 'not listed'}):\n${why}`);
  }
}

/**
 * buildOciImageTar with the image config's entrypoint replaced (and cmd cleared): the pause image's process is
 * the image's own, and a bare `sh` without stdin would exit at once.
 */
export async function buildEntrypointImageTar(
  rootfsDir: string,
  outTar: string,
  imageName: string,
  entrypoint: string[],
): Promise<OciImageTar> {
  const built = await buildOciImageTar(rootfsDir, outTar, imageName);
  const layout = await mkdtemp(path.join(os.tmpdir(), 'lab-oci-patch-'));
  try {
    await execa('tar', ['-C', layout, '-xf', built.tarPath]);
    const blob = (digest: string) => path.join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length));
    const putBlob = async (content: unknown) => {
      const bytes = Buffer.from(JSON.stringify(content));
      const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
      await writeFile(blob(digest), bytes);
      return { digest, size: bytes.length };
    };
    type Ref = { digest: string; size: number };
    const index = JSON.parse(await readFile(path.join(layout, 'index.json'), 'utf8')) as { manifests: [Ref] };
    const manifest = JSON.parse(await readFile(blob(index.manifests[0].digest), 'utf8')) as { config: Ref };
    const config = JSON.parse(await readFile(blob(manifest.config.digest), 'utf8')) as {
      config: { Entrypoint?: string[]; Cmd?: string[] };
    };

    config.config.Entrypoint = entrypoint;
    delete config.config.Cmd;
    await rm(blob(manifest.config.digest));
    await rm(blob(index.manifests[0].digest));
    Object.assign(manifest.config, await putBlob(config));
    Object.assign(index.manifests[0], await putBlob(manifest));
    await writeFile(path.join(layout, 'index.json'), JSON.stringify(index));
    await execa('tar', ['-C', layout, '-cf', built.tarPath, 'oci-layout', 'index.json', 'blobs']);
    return { ...built, manifestDigest: index.manifests[0].digest };
  } finally {
    await rm(layout, { recursive: true, force: true });
  }
}
