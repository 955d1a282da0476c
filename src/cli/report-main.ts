/** `oci-ftrace report` alone: the entry point of dist/bundle/cli/report.body.js (scripts/bundle.mjs). */
import { runHookEntry } from './hook-entry.js';
import { reportCommand } from './report-command.js';

runHookEntry(reportCommand);
