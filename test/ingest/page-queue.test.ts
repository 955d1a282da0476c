import { describe, expect, it } from 'vitest';
import { PageQueue } from '../../src/ingest/page-queue.js';

const page = (byte: number): Buffer => Buffer.alloc(16, byte);

describe('PageQueue', () => {
  it('gives pages back oldest first, with their CPU, and counts what waits per CPU', () => {
    const q = new PageQueue(16, 4);
    q.pushCopy(0, page(1));
    q.pushCopy(1, page(2));
    q.pushCopy(0, page(3));
    expect([q.size, q.waiting(0), q.waiting(1), q.full]).toEqual([3, 2, 1, false]);
    const out: [number, number][] = [];
    while (q.size > 0) {
      const cpu = q.headCpu();
      out.push([cpu, q.shift()[0] as number]);
    }
    expect(out).toEqual([[0, 1], [1, 2], [0, 3]]);
    expect([q.waiting(0), q.waiting(1)]).toEqual([0, 0]);
  });

  it('is full at its bound, and still takes what is pushed (the caller stops reading)', () => {
    const q = new PageQueue(16, 2);
    q.pushCopy(0, page(1));
    q.pushCopy(0, page(2));
    expect(q.full).toBe(true);
    q.pushCopy(0, page(3));
    expect(q.size).toBe(3);
  });

  it('copies: the caller may reuse its buffer at once', () => {
    const q = new PageQueue(16, 4);
    const mine = page(7);
    q.pushCopy(0, mine);
    mine.fill(9);
    expect(q.shift()[0]).toBe(7);
  });

  it('reuses given-back buffers, up to the spares it keeps', () => {
    const q = new PageQueue(16, 100, 1);
    const a = q.buffer();
    const b = q.buffer();
    q.giveBack(a);
    q.giveBack(b);
    expect(q.buffer()).toBe(a);
    expect(q.buffer()).not.toBe(b);
  });

  it('stays in order across its compaction of a long run', () => {
    const q = new PageQueue(16, 10_000);
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 1500; i++) q.pushCopy(i % 2, page(next++ % 256));
      for (let i = 0; i < 1400; i++) expect(q.shift()[0]).toBe(expected++ % 256);
    }
    expect(q.size).toBe(5 * 100);
    expect(q.waiting(0) + q.waiting(1)).toBe(500);
  });
});
