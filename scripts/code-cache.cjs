'use strict';
// Copied by scripts/bundle.mjs to dist/bundle/cli/code-cache.js: runs a CommonJS bundle with V8's
// code cache, so that a short-lived process (the prepare step, the record hook) does not compile
// the same code again each time. Node 20 has no compile cache of its own (module.enableCompileCache
// is Node 22), and compiling is most of what these processes spend beyond Node's own start.
//
// The cache holds the code compiled during a run: it is written, once, when the process exits
// after a run that had none (or whose cache V8 rejected: another Node, other flags). Its name
// carries a hash of the bundle's text, since V8 itself checks only the text's length. Writing is
// best effort and atomic (temp file, rename); a read-only install just runs without a cache.
//
// A cached script cannot use import(): Node loses the script's dynamic-import callback when V8
// takes the code from a cache. scripts/bundle.mjs makes sure the bundles run here have none.
const { readFileSync, renameSync, unlinkSync, writeFileSync } = require('node:fs');
const Module = require('node:module');
const path = require('node:path');
const vm = require('node:vm');

/** Runs the CommonJS bundle at file (absolute), whose text has the given hash, as a module. */
exports.run = function run(file, hash) {
  const source = readFileSync(file, 'utf8');
  const cacheFile = `${file}.${hash}.v8-cache`;
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
  if (cachedData === undefined || script.cachedDataRejected) {
    process.once('exit', () => {
      const temp = `${cacheFile}.${process.pid}.tmp`;
      try {
        writeFileSync(temp, script.createCachedData(), { mode: 0o644 });
        renameSync(temp, cacheFile);
      } catch {
        try {
          unlinkSync(temp);
        } catch {
          /* never written */
        }
      }
    });
  }
  const mod = new Module(file, module);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(path.dirname(file));
  script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(file), mod, file, path.dirname(file));
};
