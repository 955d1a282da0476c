// Record the absolute Node binary next to the build, so the front door can start the agent
// without relying on PATH (engines call runtimes with sparse environments).
import { mkdirSync, writeFileSync } from 'node:fs';
// A fresh checkout has no dist/ yet when npm install runs the postinstall step.
mkdirSync(new URL('../dist', import.meta.url), { recursive: true });
writeFileSync(new URL('../dist/node-path', import.meta.url), process.execPath);
