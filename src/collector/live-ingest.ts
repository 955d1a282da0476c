import { isFilterLoadCall, type AggregateSyscalls, type TraceAggregate } from '../report/aggregate.js';
import type { EventFormat } from '../tracefs/event-format.js';
import type { RawEventDecoder } from './raw-decoder.js';
import { scanRawPage, type RawPageLayout } from './raw-page.js';
import type { TaskTable } from './task-table.js';

function fieldOffset(format: EventFormat, name: string, size?: number): number {
  const f = format.fields.get(name);
  if (!f || (size !== undefined && f.size !== size)) throw new Error(`event ${format.system}/${format.name}: no ${size ?? ''}-byte field ${name}`);
  return f.offset;
}

/**
 * The collector's hot path: raw pages straight into the aggregate, with no per-event objects.
 * Everything it computes is independent of the order in which CPUs' pages arrive: counts come from
 * entries, errors from exits (which carry their syscall number), the seccomp load from a matched
 * entry/exit pair of one task. Only the rare process events are decoded into objects.
 */
export class LiveIngest {
  private readonly enterId: number;
  private readonly exitId: number;
  private readonly typeOff: number;
  private readonly pidOff: number;
  private readonly enterNrOff: number;
  private readonly enterArgsOff: number;
  private readonly exitNrOff: number;
  private readonly exitRetOff: number;
  /**
   * For the tasks that existed when tracing began: the earliest entry and the earliest exit seen.
   * An exit earlier than every entry of its task is a call begun before tracing (the runtime's init
   * blocked in a read); comparing times keeps this exact whatever order CPUs' pages arrive in.
   * Tasks created later always begin with their half of clone returning, never mid-call.
   */
  private readonly initial = new Map<number, { firstEnter: number; firstExit: number; exitNr: number }>();
  private orphansResolved = false;
  /** Entry args of seccomp/prctl calls awaiting their exit, and exits awaiting their entry. */
  private readonly filterEntries = new Map<number, { nr: number; args: string[] }>();
  private readonly filterExits = new Map<number, { nr: number; ts: number }>();
  private readonly filterNrs: ReadonlySet<number>;
  unknownEvents = 0;

  constructor(
    formats: { enter: EventFormat; exit: EventFormat },
    private readonly layout: RawPageLayout,
    private readonly agg: TraceAggregate,
    private readonly tasks: TaskTable,
    private readonly decoder: RawEventDecoder,
    private readonly known: AggregateSyscalls,
    private readonly forkSyscalls: ReadonlySet<number>,
    initialTasks: readonly number[] = [],
  ) {
    for (const pid of initialTasks) this.initial.set(pid, { firstEnter: Infinity, firstExit: Infinity, exitNr: -1 });
    this.enterId = formats.enter.id;
    this.exitId = formats.exit.id;
    this.typeOff = fieldOffset(formats.enter, 'common_type', 2);
    this.pidOff = fieldOffset(formats.enter, 'common_pid', 4);
    this.enterNrOff = fieldOffset(formats.enter, 'id', 8);
    this.enterArgsOff = fieldOffset(formats.enter, 'args', 48);
    this.exitNrOff = fieldOffset(formats.exit, 'id', 8);
    this.exitRetOff = fieldOffset(formats.exit, 'ret', 8);
    this.filterNrs = new Set([known.seccomp, known.prctl].filter((n): n is number => n !== undefined));
  }

  /** Feed one page read from cpu; returns its record count and the kernel's missed count. */
  page(page: Buffer, cpu: number): { records: number; dataLength: number; missedEvents: number | 'unknown' } {
    let records = 0;
    const r = scanRawPage(page, this.layout, (start, end, tsNs) => {
      records += 1;
      const ts = tsNs / 1e9;
      const type = page.readUInt16LE(start + this.typeOff);
      const pid = page.readInt32LE(start + this.pidOff);
      if (type === this.enterId) this.enter(page, start, pid, ts);
      else if (type === this.exitId) this.exit(page, start, pid, ts);
      else this.other(page, start, end, cpu, tsNs);
    });
    return { records, dataLength: r.dataLength, missedEvents: r.missedEvents };
  }

  private enter(page: Buffer, start: number, pid: number, ts: number): void {
    const nr = page.readInt32LE(start + this.enterNrOff);
    const first = this.initial.get(pid);
    if (first && ts < first.firstEnter) first.firstEnter = ts;
    this.agg.addEntry(nr, pid, this.tasks.tgidOf(pid), this.tasks.commOf(pid), ts);
    if (this.filterNrs.has(nr)) {
      const args = [hex64(page, start + this.enterArgsOff), hex64(page, start + this.enterArgsOff + 8)];
      const exit = this.filterExits.get(pid);
      if (exit && exit.nr === nr) {
        this.filterExits.delete(pid);
        if (isFilterLoadCall(nr, args, this.known)) this.agg.noteFilterLoad(exit.ts, pid);
      } else {
        this.filterEntries.set(pid, { nr, args });
      }
    }
  }

  private exit(page: Buffer, start: number, pid: number, ts: number): void {
    const nr = page.readInt32LE(start + this.exitNrOff);
    const lo = page.readUInt32LE(start + this.exitRetOff);
    const hi = page.readUInt32LE(start + this.exitRetOff + 4);
    const first = this.initial.get(pid);
    if (first && ts < first.firstExit && nr >= 0) {
      first.firstExit = ts;
      first.exitNr = nr;
    }
    if (nr < 0) return; // rt_sigreturn's exit: no number
    // -4095..-1 as a 64-bit two's complement value: high word all ones, low word >= 2^32-4095.
    if (hi === 0xffffffff && lo >= 0xfffff001) this.agg.addError(nr, 0x100000000 - lo, ts);
    if (lo === 0 && hi === 0 && this.filterNrs.has(nr)) {
      const entry = this.filterEntries.get(pid);
      if (entry && entry.nr === nr) {
        this.filterEntries.delete(pid);
        if (isFilterLoadCall(nr, entry.args, this.known)) this.agg.noteFilterLoad(ts, pid);
      } else {
        this.filterExits.set(pid, { nr, ts });
      }
    }
  }

  /**
   * Count the calls the initial tasks were inside when tracing began (once, when all pages are in:
   * only then is "earlier than every entry" known).
   */
  resolveInFlightCalls(): void {
    if (this.orphansResolved) return;
    this.orphansResolved = true;
    for (const [pid, f] of this.initial) {
      if (f.firstExit < f.firstEnter) this.agg.addEntry(f.exitNr, pid, this.tasks.tgidOf(pid), this.tasks.commOf(pid), f.firstExit);
    }
  }

  private other(page: Buffer, start: number, end: number, cpu: number, tsNs: number): void {
    const event = this.decoder.decode({ timestampNs: BigInt(tsNs), data: page.subarray(start, end) }, cpu, NO_TASKS);
    if (!event) {
      this.unknownEvents += 1;
      return;
    }
    this.tasks.annotate(event);
    this.agg.addEvent(event);
  }
}

/** A 64-bit word as `%lx` prints it (lowercase hex, no leading zeros), as the text path has it. */
function hex64(page: Buffer, at: number): string {
  const lo = page.readUInt32LE(at);
  const hi = page.readUInt32LE(at + 4);
  return hi === 0 ? lo.toString(16) : hi.toString(16) + lo.toString(16).padStart(8, '0');
}

const NO_TASKS = { commOf: () => '' };
