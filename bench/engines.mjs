// Whole containers through real engines: `docker run --rm busybox true` (dockerd 20.10) and
// `ctr run --rm` (containerd 1.6), with bare runc against oci-ftrace-runc with the container not
// traced, traced (record + report) with the agent up, and traced with a seccomp profile written at
// report. Each engine is a private daemon (the integration lab's), stopped and cleaned up after;
// its runtime reads one config, rewritten before each case (the agent reloads it when it changes).
//
//   sudo node bench/engines.mjs            (BENCH_RUNS=N, default 15)
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  FRONT_DOOR,
  RUNC,
  benchEnvironment,
  killProcessesNaming,
  labModules,
  machineLine,
  printTable,
  removeDir,
  removeTraceInstances,
  rounds,
  runsFromEnv,
  stopAgent,
  tempDir,
  timeAsync,
  waitForReport,
  waitInstanceGone,
  withCleanup,
} from './lib.mjs';

benchEnvironment();
const runs = runsFromEnv(15);
const work = tempDir('oci-ftrace-bench-engines-');
const configPath = path.join(work, 'oci-ftrace.json');
const outputDir = path.join(work, 'out');
const logFile = path.join(work, 'oci-ftrace.log');
const base = { outputDir, stateDir: path.join(work, 'state'), logFile };
const daemonEnv = { OCI_FTRACE_CONFIG: configPath };
const stops = [];

await withCleanup(
  async () => {
    const lab = await labModules();
    const rootfs = path.join(work, 'rootfs');
    await lab.makeBusyboxRootfs(rootfs, { hostname: 'bench' });
    writeFileSync(configPath, JSON.stringify(base));

    const dockerd = await lab.startDockerd(path.join(work, 'dockerd'), { 'runc-bare': RUNC, 'oci-ftrace': FRONT_DOOR }, { env: daemonEnv });
    stops.push(() => dockerd.stop());
    await lab.dockerImport(rootfs, dockerd, 'busybox:bench');
    const containerd = await lab.startContainerd(path.join(work, 'containerd'), { env: daemonEnv });
    stops.push(() => containerd.stop());
    const image = await lab.buildOciImageTar(rootfs, path.join(work, 'busybox-oci.tar'), 'busybox:bench');
    await containerd.ctr(['images', 'import', image.tarPath]);

    const policies = [
      ['runc (bare)', {}, false],
      ['oci-ftrace-runc, not traced (trace: never)', { trace: 'never' }, false],
      ['oci-ftrace-runc, traced, agent up (record + report)', {}, true],
      ['oci-ftrace-runc, traced + seccomp profile at report', { seccompProfile: true }, true],
    ];
    let n = 0;
    const kase = (engine, [name, config, traced, skip], run) => ({
      name,
      engine,
      skip,
      before: () => writeFileSync(configPath, JSON.stringify({ ...base, ...config })),
      run: async () => {
        const { ms, id } = await run(name === 'runc (bare)');
        if (traced) {
          const summary = await waitForReport(outputDir, id);
          if (summary.loss.lost !== 0) throw new Error(`${name}: ${id} lost ${summary.loss.lost} events`);
          await waitInstanceGone(id);
        }
        return ms;
      },
    });

    const docker = (bare) => async () => {
      const cidfile = path.join(work, `cid-${n++}`);
      const ms = await timeAsync(dockerd.client.file, [...dockerd.client.globalArgs, 'run', '--rm', '--network', 'none', '--cidfile', cidfile, '--runtime', bare ? 'runc-bare' : 'oci-ftrace', 'busybox:bench', 'true'], {
        env: { ...process.env, ...dockerd.client.env },
      });
      return { ms, id: readFileSync(cidfile, 'utf8').trim() };
    };
    const ctr = (bare) => async () => {
      const id = `bench-engines-${process.pid}-${n++}`;
      const ms = await timeAsync(containerd.client.file, [...containerd.client.globalArgs, 'run', '--rm', '--runc-binary', bare ? RUNC : FRONT_DOOR, image.imageName, id, 'true']);
      return { ms, id };
    };
    const cases = [
      ...policies.map((p) => kase('docker', p, (bare) => docker(bare)())),
      ...policies.map((p) => kase('ctr', p, (bare) => ctr(bare)())),
    ];

    console.log(`Engines: one container that runs \`true\`, start to removal\n${machineLine()}`);
    const results = await rounds(cases, { runs, warmup: 1 });
    printTable(`docker run --rm --network none busybox true (dockerd 20.10), ${runs} runs each, interleaved`, results.filter((r, i) => cases[i].engine === 'docker'));
    printTable(`ctr run --rm busybox true (containerd 1.6), ${runs} runs each, interleaved`, results.filter((r, i) => cases[i].engine === 'ctr'));
  },
  async () => {
    for (const stop of stops.reverse()) await stop().catch((err) => console.error(`cleanup: ${err.message}`));
    await stopAgent(base.stateDir).catch((err) => console.error(`cleanup: ${err.message}`));
    killProcessesNaming(`bench-engines-${process.pid}-`);
    removeTraceInstances(`oci-ftrace-bench-engines-${process.pid}-`);
    removeDir(work);
  },
);
