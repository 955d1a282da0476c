// Record the absolute Node binary next to the build, so bin/oci-ftrace-runc can start the prepare
// step without relying on PATH (engines call runtimes with sparse environments).
import { writeFileSync } from 'node:fs';
writeFileSync(new URL('../dist/node-path', import.meta.url), process.execPath);
