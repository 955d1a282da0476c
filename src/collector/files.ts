import { runStatePath } from '../state/paths.js';

/** The collector's files beside the run state: checkpoint, live-dump ack, done marker. */
export function collectorFiles(stateDir: string, id: string): { ready: string; checkpoint: string; liveAck: string; done: string } {
  const base = runStatePath(stateDir, id).replace(/\.json$/, '');
  return { ready: `${base}.ready`, checkpoint: `${base}.checkpoint.json`, liveAck: `${base}.live-ack`, done: `${base}.done.json` };
}
