// The CPU time the hypervisor took from this VM (steal, /proc/stat), per CPU: a reader whose CPU is
// taken away longer than its buffer lasts loses events, and no code of ours can help that.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const TICK_MS = 1000 / (Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100);

/** Steal so far, in ms, by CPU number. */
export function stealByCpu(): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+)\s/.exec(line);
    if (m) out.set(Number(m[1]), Number(line.trim().split(/\s+/)[8] ?? 0) * TICK_MS);
  }
  return out;
}

/** Steal between two readings, by CPU. */
export function stealSince(before: Map<number, number>): Map<number, number> {
  const now = stealByCpu();
  return new Map([...now].map(([cpu, ms]) => [cpu, ms - (before.get(cpu) ?? 0)]));
}
