import { closeSync, existsSync, fstatSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export interface RotatingLogOptions {
  /** Rotate once the current file reaches this many bytes (0: never). */
  maxBytes: number;
  /** Rotated files kept as PATH.1 .. PATH.N (oldest dropped). */
  keep: number;
  /** Lines written at the top of every file (so each rotated part says what it is). */
  header: string[];
  /** Go on writing an existing log (a trace adopted from an agent that died) instead of starting anew. */
  append?: boolean;
}

/**
 * The per-syscall log, written as it is rendered, in large synchronous writes (a drain worker is a
 * single loop; async streams would only add buffering and backpressure bookkeeping), with a size cap
 * and rotation so a container running for days cannot fill the disk.
 */
export class RotatingLog {
  private fd: number;
  private bytes = 0;
  private chunk: string[] = [];
  private chunkBytes = 0;
  linesWritten = 0;
  rotations = 0;
  private readonly chunkLimit: number;

  constructor(readonly path: string, private readonly opts: RotatingLogOptions) {
    mkdirSync(dirname(path), { recursive: true });
    this.chunkLimit = opts.maxBytes > 0 ? Math.max(1, Math.min(1 << 16, Math.floor(opts.maxBytes / 4))) : 1 << 16;
    this.fd = opts.append && existsSync(path) ? this.openAppend() : this.openFresh();
  }

  private openAppend(): number {
    const fd = openSync(this.path, 'a', 0o640);
    this.bytes = fstatSync(fd).size;
    return fd;
  }

  write(line: string): void {
    this.chunk.push(line);
    this.chunkBytes += line.length + 1;
    this.linesWritten += 1;
    // Write in chunks, but small enough that a small cap is still honoured closely.
    if (this.chunkBytes >= this.chunkLimit) this.flush();
  }

  flush(): void {
    if (this.chunk.length === 0) return;
    const text = this.chunk.join('\n') + '\n';
    this.chunk = [];
    this.chunkBytes = 0;
    const buf = Buffer.from(text);
    // Rotate before writing, so the current file is never left holding only its header.
    if (this.opts.maxBytes > 0 && this.bytes >= this.opts.maxBytes) this.rotate();
    writeSync(this.fd, buf);
    this.bytes += buf.length;
  }

  close(): void {
    try {
      this.flush();
    } finally {
      // Closed even when the flush fails (a full disk), so nothing pins the output directory.
      closeSync(this.fd);
    }
  }

  private rotate(): void {
    closeSync(this.fd);
    if (this.opts.keep <= 0) {
      rmSync(this.path, { force: true });
    } else {
      rmSync(`${this.path}.${this.opts.keep}`, { force: true });
      for (let i = this.opts.keep - 1; i >= 1; i--) {
        if (existsSync(`${this.path}.${i}`)) renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
      }
      renameSync(this.path, `${this.path}.1`);
    }
    this.rotations += 1;
    this.fd = this.openFresh();
  }

  private openFresh(): number {
    const fd = openSync(this.path, 'w', 0o640);
    const head = Buffer.from(this.opts.header.map((l) => l + '\n').join(''));
    writeSync(fd, head);
    this.bytes = head.length;
    return fd;
  }
}
