/**
 * Which clock a container's instance stamps its events with. The drain merges the CPUs' buffers in
 * time order (an exit on one CPU must follow its entry on another), so the clock must agree across
 * CPUs. A new instance starts on `local` (sched_clock); setting any other clock resets its buffer
 * through two RCU grace periods, 20 to 40 ms of every traced start here, so `local` is used where
 * it agrees across CPUs and `mono` (CLOCK_MONOTONIC) where that cannot be known:
 *
 * - arm64: sched_clock is the architected counter, one for the whole system.
 * - x86: sched_clock reads the TSC, which agrees across CPUs while the kernel trusts it; the kernel
 *   stops using `tsc` as its clocksource when it finds it does not (and marks sched_clock unstable
 *   with it). Under KVM, `kvm-clock` is kept monotonic across vCPUs by the kernel itself.
 * - anything else, or a clocksource we cannot read: `mono`.
 */
import { readFileSync } from 'node:fs';

export type TraceClockSetting = 'auto' | 'local' | 'mono';

export interface ClockChoice {
  clock: 'local' | 'mono';
  why: string;
}

/** The host's facts the choice rests on. */
export interface ClockFacts {
  /** Node's process.arch. */
  arch: string;
  /** /sys/devices/system/clocksource/clocksource0/current_clocksource, or undefined. */
  clocksource: string | undefined;
}

/** Pure: the clock for these facts and the config's `traceClock`. */
export function chooseTraceClock(setting: TraceClockSetting, facts: ClockFacts): ClockChoice {
  if (setting !== 'auto') return { clock: setting, why: `traceClock is "${setting}" in our config` };
  if (facts.arch === 'arm64') return { clock: 'local', why: 'arm64: sched_clock is the architected counter, the same on every CPU' };
  if (facts.arch === 'x64' && (facts.clocksource === 'tsc' || facts.clocksource === 'kvm-clock')) {
    return { clock: 'local', why: `x86 with clocksource ${facts.clocksource}: sched_clock agrees across CPUs` };
  }
  return { clock: 'mono', why: `${facts.arch} with clocksource ${facts.clocksource ?? 'unknown'}: sched_clock may differ between CPUs` };
}

export const CLOCKSOURCE_FILE = '/sys/devices/system/clocksource/clocksource0/current_clocksource';

export function hostClockFacts(): ClockFacts {
  let clocksource: string | undefined;
  try {
    clocksource = readFileSync(CLOCKSOURCE_FILE, 'utf8').trim() || undefined;
  } catch {
    clocksource = undefined;
  }
  return { arch: process.arch, clocksource };
}

/** Pure: the selected clock in a `trace_clock` file (`[local] global counter ...`). */
export function selectedClock(text: string): string | undefined {
  return /\[([^\]]+)\]/.exec(text)?.[1];
}
