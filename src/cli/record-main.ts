/** `oci-ftrace record` alone: the entry point of dist/bundle/cli/record.body.js (scripts/bundle.mjs). */
import { runHookEntry } from './hook-entry.js';
import { recordCommand } from './record-command.js';

runHookEntry(recordCommand);
