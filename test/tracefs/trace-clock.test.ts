import { describe, expect, it } from 'vitest';
import { chooseTraceClock, selectedClock } from '../../src/tracefs/trace-clock.js';
import { parseNowTs } from '../../src/tracefs/tracefs.js';

describe('chooseTraceClock', () => {
  it("keeps the instance's own local clock where it agrees across CPUs", () => {
    expect(chooseTraceClock('auto', { arch: 'x64', clocksource: 'tsc' }).clock).toBe('local');
    expect(chooseTraceClock('auto', { arch: 'x64', clocksource: 'kvm-clock' }).clock).toBe('local');
    expect(chooseTraceClock('auto', { arch: 'arm64', clocksource: 'arch_sys_counter' }).clock).toBe('local');
  });

  it('takes mono where it cannot know: a TSC the kernel gave up on, another arch, no clocksource', () => {
    expect(chooseTraceClock('auto', { arch: 'x64', clocksource: 'hpet' })).toEqual({ clock: 'mono', why: 'x64 with clocksource hpet: sched_clock may differ between CPUs' });
    expect(chooseTraceClock('auto', { arch: 'x64', clocksource: 'acpi_pm' }).clock).toBe('mono');
    expect(chooseTraceClock('auto', { arch: 'ppc64', clocksource: 'timebase' }).clock).toBe('mono');
    expect(chooseTraceClock('auto', { arch: 'x64', clocksource: undefined }).clock).toBe('mono');
  });

  it('does as the config says when it names a clock', () => {
    expect(chooseTraceClock('mono', { arch: 'x64', clocksource: 'tsc' })).toEqual({ clock: 'mono', why: 'traceClock is "mono" in our config' });
    expect(chooseTraceClock('local', { arch: 'x64', clocksource: 'hpet' }).clock).toBe('local');
  });
});

describe('the kernel files the clock is read from', () => {
  it("trace_clock's selection", () => {
    expect(selectedClock('[local] global counter uptime perf mono mono_raw boot tai x86-tsc\n')).toBe('local');
    expect(selectedClock('local global counter uptime perf [mono] mono_raw boot tai x86-tsc\n')).toBe('mono');
    expect(selectedClock('')).toBeUndefined();
  });

  it("a CPU's stats file's now ts (this kernel's, 6.18)", () => {
    const stats = 'entries: 0\noverrun: 0\ncommit overrun: 0\nbytes: 0\noldest event ts:     0.000000\nnow ts: 62931.508391\ndropped events: 0\nread events: 0\n';
    expect(parseNowTs(stats)).toBe(62931.508391);
    expect(parseNowTs('entries: 0\n')).toBeUndefined();
  });
});
