// Bundle the entry points that a container's life runs (the prepare step, the hooks, the
// collector) into single files under dist/bundle/, from tsc's output in dist/. One file per
// process instead of a hundred modules, holding only the code that process runs: what these
// short-lived processes spend beyond Node's own start is mostly reading, compiling and linking
// modules (README "Performance", bench/).
//
//   dist/bundle/cli/runc-prepare.js     the prepare step (the launcher prefers it to tsc's)
//   dist/bundle/cli/oci-ftrace.js       what the hooks run: for exactly `record` or `report`, that
//                                       hook alone (record.body.js, report.body.js: no commander,
//                                       no pino, nothing of the other hook); else the whole CLI
//   dist/bundle/cli/oci-ftrace-cli.mjs  the whole CLI (ES module: it uses top-level await)
//   dist/bundle/collector/main.js       the collector
//
// The prepare step, the two Node hooks and the collector, which every traced container runs, are
// CommonJS (dist/bundle/{cli,collector}/package.json say so): Node 20 starts a CommonJS main about
// 6 ms sooner than an ES module, whose loader is not in Node's startup snapshot, and loads Node's
// own modules for it without building ES module facades (13 ms for the collector). And they run
// through cli/code-cache.js, which keeps V8's compiled code between runs (6 to 13 ms each here).
// The collector's start is in the container's start path: the record hook waits for it.
//
// dist/bundle/ mirrors dist/: a module's import.meta.url is where it would be in dist/bundle/
// (dist/bundle/hooks/hook-spec.js, dist/bundle/collector/control.js), so paths it computes
// from there (the hooks' ../cli/oci-ftrace.js, the collector's main.js) name the bundled files.
// tsc's dist/ stays complete and usable on its own.
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = path.join(root, 'dist');
const outdir = path.join(dist, 'bundle');

/** CommonJS bundles run through code-cache.js: dist/bundle/<name>.body.js from dist/<source>. */
const CACHED = {
  'cli/runc-prepare': 'cli/runc-prepare.js',
  'cli/record': 'cli/record-main.js',
  'cli/report': 'cli/report-main.js',
  'collector/main': 'collector/main.js',
};
/** ES module bundles: dist/bundle/<name> from dist/<source>. */
const ESM = {
  'cli/oci-ftrace-cli': 'cli/oci-ftrace.js',
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

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  plugins: [mirrorImportMetaUrl],
  // Less text to read and compile; names stay, so stack traces in our log still say where.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
};

rmSync(outdir, { recursive: true, force: true });
mkdirSync(path.join(outdir, 'cli'), { recursive: true });
mkdirSync(path.join(outdir, 'collector'), { recursive: true });

const entries = (map, suffix) => Object.fromEntries(Object.entries(map).map(([name, source]) => [`${name}${suffix}`, path.join(dist, source)]));
const [cjs, esm] = await Promise.all([
  build({
    ...common,
    entryPoints: entries(CACHED, '.body'),
    outdir,
    format: 'cjs',
    // Every bundle lives one directory below dist/bundle/. A footer, so that "use strict" stays
    // the first statement; a function declaration, so that it is there from the start.
    footer: { js: 'function __ociFtraceUrl(rel) { return require("node:url").pathToFileURL(require("node:path").join(__dirname, "..", rel)).href; }' },
  }),
  build({
    ...common,
    entryPoints: entries(ESM, ''),
    outdir,
    format: 'esm',
    outExtension: { '.js': '.js' },
    // CommonJS dependencies (pino, commander) call require() for Node's own modules.
    banner: {
      js: [
        "import { createRequire as __ociFtraceCreateRequire } from 'node:module';",
        'const require = __ociFtraceCreateRequire(import.meta.url);',
        'const __ociFtraceUrl = (rel) => new URL(`../${rel}`, import.meta.url).href;',
      ].join(' '),
    },
  }),
]);

// The whole CLI is an ES module among CommonJS files: .mjs says so.
const cliJs = path.join(outdir, 'cli', 'oci-ftrace-cli.js');
writeFileSync(cliJs.replace(/\.js$/, '.mjs'), readFileSync(cliJs, 'utf8').replace('sourceMappingURL=oci-ftrace-cli.js.map', 'sourceMappingURL=oci-ftrace-cli.mjs.map'));
writeFileSync(`${cliJs.replace(/\.js$/, '.mjs')}.map`, readFileSync(`${cliJs}.map`));
rmSync(cliJs);
rmSync(`${cliJs}.map`);

// A cached script must not use import() (see code-cache.cjs).
for (const [file, meta] of Object.entries(cjs.metafile.outputs)) {
  const dynamic = Object.values(meta.inputs).length > 0 && meta.imports?.filter((i) => i.kind === 'dynamic-import');
  if (dynamic && dynamic.length > 0) throw new Error(`${file}: import() of ${dynamic.map((i) => i.path).join(', ')}; bundles run from V8's code cache cannot import()`);
  if (/\bimport\(/.test(readFileSync(path.join(root, file), 'utf8'))) throw new Error(`${file} holds import(); bundles run from V8's code cache cannot import()`);
}

for (const dir of ['cli', 'collector']) writeFileSync(path.join(outdir, dir, 'package.json'), `${JSON.stringify({ type: 'commonjs' })}\n`);
copyFileSync(path.join(root, 'scripts', 'code-cache.cjs'), path.join(outdir, 'cli', 'code-cache.js'));

const hashOf = (name) => createHash('sha256').update(readFileSync(path.join(outdir, `${name}.body.js`))).digest('hex').slice(0, 16);
const loader = (lines) => `'use strict';\n// Generated by scripts/bundle.mjs.\n${lines.join('\n')}\n`;
writeFileSync(
  path.join(outdir, 'cli', 'runc-prepare.js'),
  loader([`require('./code-cache.js').run(require('node:path').join(__dirname, 'runc-prepare.body.js'), ${JSON.stringify(hashOf('cli/runc-prepare'))});`]),
);
writeFileSync(
  path.join(outdir, 'collector', 'main.js'),
  loader([`require('../cli/code-cache.js').run(require('node:path').join(__dirname, 'main.body.js'), ${JSON.stringify(hashOf('collector/main'))});`]),
);
writeFileSync(
  path.join(outdir, 'cli', 'oci-ftrace.js'),
  loader([
    '// The hooks (exactly `record` or `report`, as our hook specs run them) load only what they need.',
    'const hook = process.argv.length === 3 ? process.argv[2] : undefined;',
    "if (hook === 'record') {",
    `  require('./code-cache.js').run(require('node:path').join(__dirname, 'record.body.js'), ${JSON.stringify(hashOf('cli/record'))});`,
    "} else if (hook === 'report') {",
    `  require('./code-cache.js').run(require('node:path').join(__dirname, 'report.body.js'), ${JSON.stringify(hashOf('cli/report'))});`,
    '} else {',
    "  import('./oci-ftrace-cli.mjs');",
    '}',
  ]),
);

for (const result of [cjs, esm]) {
  for (const [file, meta] of Object.entries(result.metafile.outputs)) {
    if (file.endsWith('.map')) continue;
    console.log(`bundle: ${file.slice(file.indexOf('dist/bundle/')).replace(/oci-ftrace-cli\.js$/, 'oci-ftrace-cli.mjs')} ${(meta.bytes / 1024).toFixed(0)} KiB`);
  }
}
