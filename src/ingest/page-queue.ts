/**
 * Ring-buffer pages read from the kernel but not yet ingested, oldest first, with the CPU each came
 * from. Reading a page is a copy; ingesting it is the work. Holding pages here lets a drain empty
 * the kernel's buffer at once whenever it is woken and ingest at its own pace, so a slow moment
 * (a worker's code not yet optimised, a collection, another container's burst on the same worker)
 * costs memory for a while, not events. Buffers are reused: no allocation in the steady state.
 */
export class PageQueue {
  private pages: Buffer[] = [];
  private cpus: number[] = [];
  private head = 0;
  private readonly free: Buffer[] = [];
  private readonly perCpu = new Map<number, number>();

  constructor(
    readonly pageSize: number,
    /** Pages that may wait here; beyond, the drain leaves them in the kernel's buffer. */
    readonly maxPages: number,
    /** Spare buffers kept for reuse once a burst has passed. */
    private readonly keepFree = 256,
  ) {}

  get size(): number {
    return this.pages.length - this.head;
  }

  get full(): boolean {
    return this.size >= this.maxPages;
  }

  /** Pages of cpu waiting. */
  waiting(cpu: number): number {
    return this.perCpu.get(cpu) ?? 0;
  }

  /** A buffer of pageSize bytes to read a page into (then push it, or give it back). */
  buffer(): Buffer {
    return this.free.pop() ?? Buffer.alloc(this.pageSize);
  }

  /** A buffer no longer needed (read nothing into, or ingested). */
  giveBack(buffer: Buffer): void {
    if (this.free.length < this.keepFree) this.free.push(buffer);
  }

  push(cpu: number, page: Buffer): void {
    this.pages.push(page);
    this.cpus.push(cpu);
    this.perCpu.set(cpu, this.waiting(cpu) + 1);
  }

  /** A copy of a page read into someone else's buffer. */
  pushCopy(cpu: number, page: Buffer): void {
    const b = this.buffer();
    page.copy(b, 0, 0, Math.min(page.length, b.length));
    this.push(cpu, b);
  }

  /** The CPU of the oldest page (call before shift). */
  headCpu(): number {
    return this.cpus[this.head] as number;
  }

  /** The oldest page; give its buffer back once ingested. */
  shift(): Buffer {
    const page = this.pages[this.head] as Buffer;
    const cpu = this.cpus[this.head] as number;
    this.perCpu.set(cpu, this.waiting(cpu) - 1);
    this.head += 1;
    if (this.head === this.pages.length) {
      this.pages.length = 0;
      this.cpus.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.pages.length) {
      this.pages = this.pages.slice(this.head);
      this.cpus = this.cpus.slice(this.head);
      this.head = 0;
    }
    return page;
  }
}
