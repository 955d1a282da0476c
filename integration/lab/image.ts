// Local images from a rootfs directory, since this lab has no registry: an OCI image-layout tarball that both
// `ctr images import` and `podman load` accept, and `docker import` for dockerd.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import type { Dockerd } from './dockerd.js';

const MEDIA_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const MEDIA_CONFIG = 'application/vnd.oci.image.config.v1+json';
const MEDIA_LAYER = 'application/vnd.oci.image.layer.v1.tar';
const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface OciImageTar {
  tarPath: string;
  /** Fully qualified name the engines list it under, e.g. docker.io/library/busybox:lab. */
  imageName: string;
  manifestDigest: string;
}

/**
 * "busybox:lab" -> "docker.io/library/busybox:lab", as podman and docker would normalise it; ctr stores names
 * verbatim, so the tarball carries the normalised form and every engine lists the same name.
 */
export function normalizeImageName(name: string): string {
  const firstSlash = name.indexOf('/');
  const first = firstSlash === -1 ? '' : name.slice(0, firstSlash);
  const hasDomain = first !== '' && (first.includes('.') || first.includes(':') || first === 'localhost');
  let full = hasDomain ? name : `docker.io/${firstSlash === -1 ? `library/${name}` : name}`;
  const lastPart = full.slice(full.lastIndexOf('/') + 1);
  if (!lastPart.includes(':') && !lastPart.includes('@')) full += ':latest';
  return full;
}

/**
 * Writes outTar: an OCI image layout (oci-layout, index.json, blobs/sha256/) holding one uncompressed layer of
 * rootfsDir, a config (default Cmd ["sh"]) and a manifest. The index annotates the name both for containerd
 * (io.containerd.image.name) and per the OCI spec (org.opencontainers.image.ref.name).
 */
export async function buildOciImageTar(rootfsDir: string, outTar: string, imageName: string): Promise<OciImageTar> {
  const name = normalizeImageName(imageName);
  const layoutDir = await mkdtemp(path.join(os.tmpdir(), 'lab-oci-layout-'));
  try {
    const blobs = path.join(layoutDir, 'blobs', 'sha256');
    await mkdir(blobs, { recursive: true });

    // Fixed owner and mtime and sorted entries: the same rootfs always gives the same digests.
    const layerTmp = path.join(layoutDir, 'layer.tar');
    await execa('tar', [
      '-C', rootfsDir, '--sort=name', '--numeric-owner', '--owner=0', '--group=0', '--mtime=@0', '-cf', layerTmp, '.',
    ]);
    const layer = await fileDescriptor(layerTmp, MEDIA_LAYER);
    await rename(layerTmp, path.join(blobs, layer.digest.slice('sha256:'.length)));

    const config = await writeBlob(blobs, MEDIA_CONFIG, {
      architecture: ociArchitecture(),
      os: 'linux',
      created: '1970-01-01T00:00:00Z',
      config: { Env: [DEFAULT_PATH], Cmd: ['sh'], WorkingDir: '/' },
      rootfs: { type: 'layers', diff_ids: [layer.digest] },
      history: [{ created: '1970-01-01T00:00:00Z', created_by: 'integration/lab/image.ts' }],
    });
    const manifest = await writeBlob(blobs, MEDIA_MANIFEST, {
      schemaVersion: 2,
      mediaType: MEDIA_MANIFEST,
      config,
      layers: [layer],
    });

    await writeFile(path.join(layoutDir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await writeFile(
      path.join(layoutDir, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          {
            ...manifest,
            annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': name },
          },
        ],
      }),
    );
    await execa('tar', ['-C', layoutDir, '-cf', path.resolve(outTar), 'oci-layout', 'index.json', 'blobs']);
    return { tarPath: path.resolve(outTar), imageName: name, manifestDigest: manifest.digest };
  } finally {
    await rm(layoutDir, { recursive: true, force: true });
  }
}

/** `tar -C rootfsDir -c . | docker import - name` against the given daemon; returns the image id. */
export async function dockerImport(rootfsDir: string, docker: Dockerd, name: string): Promise<string> {
  const result = await execa('tar', ['-C', rootfsDir, '--numeric-owner', '-c', '.']).pipe(
    docker.client.file,
    [...docker.client.globalArgs, 'import', '--change', 'CMD ["sh"]', '-', name],
    { env: docker.client.env },
  );
  return String(result.stdout).trim();
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

async function writeBlob(blobsDir: string, mediaType: string, content: unknown): Promise<Descriptor> {
  const bytes = Buffer.from(JSON.stringify(content));
  const hex = createHash('sha256').update(bytes).digest('hex');
  await writeFile(path.join(blobsDir, hex), bytes);
  return { mediaType, digest: `sha256:${hex}`, size: bytes.length };
}

async function fileDescriptor(file: string, mediaType: string): Promise<Descriptor> {
  const hex = createHash('sha256').update(await readFile(file)).digest('hex');
  return { mediaType, digest: `sha256:${hex}`, size: (await stat(file)).size };
}

function ociArchitecture(): string {
  const goArch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };
  return goArch[process.arch] ?? process.arch;
}
