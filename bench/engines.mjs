// Whole containers through real engines: `docker run --rm busybox true` (dockerd 20.10) and
// `ctr run --rm` (containerd 1.6), with bare runc against oci-ftrace-runc with the container not
// traced, traced (record + report), and traced with a seccomp profile written at report. Each on
// a private dockerd and containerd (the integration lab's), stopped and cleaned up afterwards.
//
//   sudo node bench/engines.mjs            (BENCH_RUNS=N, default 15)
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  LAUNCHER,
  RUNC,
  benchEnvironment,
  hasProfileCommand,
  killProcessesNaming,
  labModules,
  machineLine,
  printTable,
  removeDir,
  removeTraceInstances,
  rounds,
  runsFromEnv,
  tempDir,
  timeAsync,
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

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** After a traced container: its report is there, and its ftrace instance and collector are gone. */
async function waitForReport(id) {
  const summary = path.join(outputDir, id, 'summary.json');
  for (const started = Date.now(); Date.now() - started < 30_000; await sleep(20)) {
    const instances = existsSync('/sys/kernel/tracing/instances') ? readdirSync('/sys/kernel/tracing/instances') : [];
    if (existsSync(summary) && !instances.includes(`oci-ftrace-${id}`)) return;
  }
  const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-5).join('\n') : '(no log)';
  throw new Error(`no report for ${id} after 30 s; our log ends:\n${log}`);
}

await withCleanup(
  async () => {
    const lab = await labModules();
    const rootfs = path.join(work, 'rootfs');
    await lab.makeBusyboxRootfs(rootfs, { hostname: 'bench' });
    writeFileSync(configPath, JSON.stringify(base));

    const dockerd = await lab.startDockerd(path.join(work, 'dockerd'), { 'runc-bare': RUNC, 'oci-ftrace': LAUNCHER }, { env: daemonEnv });
    stops.push(() => dockerd.stop());
    await lab.dockerImport(rootfs, dockerd, 'busybox:bench');
    const containerd = await lab.startContainerd(path.join(work, 'containerd'), { env: daemonEnv });
    stops.push(() => containerd.stop());
    const image = await lab.buildOciImageTar(rootfs, path.join(work, 'busybox-oci.tar'), 'busybox:bench');
    await containerd.ctr(['images', 'import', image.tarPath]);

    const profile = hasProfileCommand();
    const policies = [
      ['runc (bare)', {}, false],
      ['oci-ftrace-runc, not traced (trace: never)', { trace: 'never' }, false],
      ['oci-ftrace-runc, not traced (trace: annotated, not annotated)', { trace: 'annotated' }, false],
      ['oci-ftrace-runc, traced (record + report)', {}, true],
      ['oci-ftrace-runc, traced + seccomp profile at report', { seccompProfile: true }, true, profile ? undefined : '`oci-ftrace profile --help` fails'],
    ];
    let n = 0;
    const kase = (engine, [name, config, traced, skip], run) => ({
      name,
      engine,
      skip,
      before: () => writeFileSync(configPath, JSON.stringify({ ...base, ...config })),
      run: async () => {
        const { ms, id } = await run(name === 'runc (bare)');
        if (traced) await waitForReport(id);
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
      const ms = await timeAsync(containerd.client.file, [...containerd.client.globalArgs, 'run', '--rm', '--runc-binary', bare ? RUNC : LAUNCHER, image.imageName, id, 'true']);
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
    killProcessesNaming(`bench-engines-${process.pid}-`);
    removeTraceInstances(`oci-ftrace-bench-engines-${process.pid}-`);
    removeDir(work);
  },
);
