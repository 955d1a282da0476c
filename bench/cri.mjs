// A Kubernetes pod's start through containerd's CRI plugin, as kubelet makes it: RunPodSandbox +
// CreateContainer + StartContainer of a busybox container that runs `true`, timed from the first
// call to StartContainer's answer; the pod is then stopped and removed, untimed. The runc handler
// against the oci-ftrace handler (contrib/containerd-config.toml's settings): the pod not traced
// (trace: never), and traced (annotated pod; its pause container is not traced), agent up.
// One private containerd (the integration lab's), stopped and cleaned up after.
//
//   sudo node bench/cri.mjs            (BENCH_RUNS=N, default 15)
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  FRONT_DOOR,
  RUNC,
  benchEnvironment,
  labModules,
  machineLine,
  printTable,
  removeDir,
  removeTraceInstances,
  rounds,
  runsFromEnv,
  stopAgent,
  tempDir,
  waitForReport,
  withCleanup,
} from './lib.mjs';

benchEnvironment();
const runs = runsFromEnv(15);
const work = tempDir('oci-ftrace-bench-cri-');
const configPath = path.join(work, 'oci-ftrace.json');
const outputDir = path.join(work, 'out');
const base = { outputDir, stateDir: path.join(work, 'state'), logFile: path.join(work, 'oci-ftrace.log') };
let cri;
/** Containers this run made: only their instances are ours to remove. */
const ids = [];

await withCleanup(
  async () => {
    const lab = await labModules();
    const rootfs = path.join(work, 'rootfs');
    await lab.makeBusyboxRootfs(rootfs, { hostname: 'bench' });
    writeFileSync(configPath, JSON.stringify(base));
    cri = await lab.startCri(path.join(work, 'cri'), {
      handlers: { runc: { binaryName: RUNC }, 'oci-ftrace': { binaryName: FRONT_DOOR, podAnnotations: ['oci-ftrace/*'], containerAnnotations: ['oci-ftrace/*'] } },
      env: { OCI_FTRACE_CONFIG: configPath },
    });
    const image = await lab.buildOciImageTar(rootfs, path.join(work, 'image.tar'), 'bench-cri:1');
    await cri.importImage(image);

    let n = 0;
    const podStart = (handler, config, traced) => ({
      name: `${handler === 'runc' ? 'runc handler (bare)' : `oci-ftrace handler, ${traced ? 'traced, agent up' : 'not traced (trace: never)'}`}`,
      before: () => writeFileSync(configPath, JSON.stringify({ ...base, ...config })),
      run: async () => {
        const name = `pod-${n++}`;
        const t0 = performance.now();
        const pod = await cri.runPod({ name, namespace: 'bench', handler, annotations: traced ? { 'oci-ftrace/trace': 'true' } : {}, seccomp: 'RuntimeDefault' });
        const id = await cri.createContainer(pod.id, pod.config, { name: 'app', image: image.imageName, command: ['true'], seccomp: 'RuntimeDefault' });
        ids.push(id);
        await cri.startContainer(id);
        const ms = performance.now() - t0;
        await cri.waitForExit(id, 30_000);
        await cri.stopPod(pod.id);
        await cri.removePod(pod.id);
        if (traced) {
          const summary = await waitForReport(outputDir, path.join('bench', name, 'app'));
          if (summary.loss.lost !== 0) throw new Error(`${name}: lost ${summary.loss.lost} events`);
        }
        return ms;
      },
    });
    const cases = [podStart('runc', {}, false), podStart('oci-ftrace', { trace: 'never' }, false), podStart('oci-ftrace', {}, true)];
    console.log(`CRI pod start (containerd 1.6): RunPodSandbox + CreateContainer + StartContainer\n${machineLine()}`);
    const results = await rounds(cases, { runs, warmup: 1 });
    printTable(`pod start, ${runs} runs each, interleaved`, results);
  },
  async () => {
    await cri?.stop().catch((err) => console.error(`cleanup: ${err.message}`));
    await stopAgent(base.stateDir).catch((err) => console.error(`cleanup: ${err.message}`));
    for (const id of ids) removeTraceInstances(`oci-ftrace-${id}`);
    removeDir(work);
  },
);
