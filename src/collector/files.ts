import { runStatePath } from '../state/paths.js';

/** The collector's files beside the run state: checkpoint, live-dump ack, done marker, hook FIFOs. */
export interface CollectorFiles {
  /** Written first thing: lets the record hook find a collector started ahead of it. */
  pid: string;
  /** Written once signal handlers are in place. */
  ready: string;
  checkpoint: string;
  liveAck: string;
  done: string;
  /** FIFO the hooks (bin/oci-ftrace-hook) write their requests to; the collector reads it. */
  request: string;
  /** FIFO the collector answers on. */
  reply: string;
  /** The prepare step's word to a collector the launcher started beside it: not traced after all. */
  cancel: string;
}

export function collectorFiles(stateDir: string, id: string): CollectorFiles {
  const base = runStatePath(stateDir, id).replace(/\.json$/, '');
  return {
    pid: `${base}.collector-pid`,
    ready: `${base}.ready`,
    checkpoint: `${base}.checkpoint.json`,
    liveAck: `${base}.live-ack`,
    done: `${base}.done.json`,
    request: `${base}.request`,
    reply: `${base}.reply`,
    cancel: `${base}.cancel`,
  };
}
