// Bundle the Node entry points into single ES modules under dist/bundle/, from tsc's output in
// dist/: the agent (the front door starts it: a start reads one file, not a hundred modules), its
// drain worker, and the CLI.
//
//   dist/bundle/agent/main.js         the agent (node main.js agent --socket PATH [--config PATH])
//   dist/bundle/ingest/drain-worker.js  the agent's drain worker threads
//   dist/bundle/cli/oci-ftrace.js     the CLI (bin/oci-ftrace)
//
// dist/bundle/ mirrors dist/: a module's import.meta.url is where it would be in dist/bundle/, so
// paths it computes from there (the agent's ../ingest/drain-worker.js, the package root) are right.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = path.join(root, 'dist');
const outdir = path.join(dist, 'bundle');

const ENTRIES = {
  'agent/main': 'agent/main.js',
  'ingest/drain-worker': 'ingest/drain-worker.js',
  'cli/oci-ftrace': 'cli/oci-ftrace.js',
};

/** Each of our modules' import.meta.url, as the URL of its place in dist/bundle/. */
const mirrorImportMetaUrl = {
  name: 'mirror-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\/dist\/.*\.js$/ }, (args) => {
      if (args.path.includes('/node_modules/')) return undefined;
      const contents = readFileSync(args.path, 'utf8');
      if (!contents.includes('import.meta.url')) return undefined;
      const rel = path.relative(dist, args.path).split(path.sep).join('/');
      return { contents: contents.replaceAll('import.meta.url', `__ociFtraceUrl(${JSON.stringify(rel)})`), loader: 'js', resolveDir: path.dirname(args.path) };
    });
  },
};

rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });

const result = await build({
  entryPoints: Object.fromEntries(Object.entries(ENTRIES).map(([name, source]) => [name, path.join(dist, source)])),
  outdir,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  plugins: [mirrorImportMetaUrl],
  // Less text to read and compile; names stay, so stack traces in our log still say where.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
  // CommonJS dependencies (pino, commander) call require() for Node's own modules. Every bundle
  // lives one directory below dist/bundle/.
  banner: {
    js: [
      "import { createRequire as __ociFtraceCreateRequire } from 'node:module';",
      'const require = __ociFtraceCreateRequire(import.meta.url);',
      'const __ociFtraceUrl = (rel) => new URL(`../${rel}`, import.meta.url).href;',
    ].join(' '),
  },
});
// Every bundle is an ES module.
writeFileSync(path.join(outdir, 'package.json'), `${JSON.stringify({ type: 'module' })}\n`);

for (const [file, meta] of Object.entries(result.metafile.outputs)) {
  if (!file.endsWith('.map')) console.log(`bundle: ${file.slice(file.indexOf('dist/bundle/'))} ${(meta.bytes / 1024).toFixed(0)} KiB`);
}
