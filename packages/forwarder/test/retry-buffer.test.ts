import { describe, expect, it } from 'vitest';
import { backoffDelay, RetryBuffer } from '../src/index.js';

const req = (bytes: number, firstTriedAt: number, items = 1) => ({
  body: new Uint8Array(bytes),
  items,
  firstTriedAt,
});

describe('RetryBuffer', () => {
  it('keeps age order and drops the oldest when full, counting what it drops', () => {
    const b = new RetryBuffer(100);
    expect(b.push(req(40, 1))).toEqual([]);
    expect(b.push(req(40, 3))).toEqual([]);
    b.push(req(10, 2)); // an older request put back after a retry goes before the newer one
    const dropped = b.push(req(40, 4, 5));
    expect(dropped.map((r) => r.firstTriedAt)).toEqual([1]);
    expect(b.stats()).toEqual({
      requests: 3,
      bytes: 90,
      droppedRequests: 1,
      droppedItems: 1,
      droppedBytes: 40,
    });
    expect(b.takeAll().map((r) => r.firstTriedAt)).toEqual([2, 3, 4]);
    expect(b.bytes).toBe(0);
  });

  it('drops a request bigger than the bound without touching the others', () => {
    const b = new RetryBuffer(100);
    b.push(req(50, 1));
    const big = req(101, 2, 9);
    expect(b.push(big)).toEqual([big]);
    expect(b.stats()).toMatchObject({ requests: 1, bytes: 50, droppedRequests: 1, droppedItems: 9 });
  });
});

describe('backoff', () => {
  it('grows exponentially with jitter inside [d/2, d], capped', () => {
    const opts = { baseMs: 100, maxMs: 1_000 };
    expect(backoffDelay(1, opts, () => 0)).toBe(50);
    expect(backoffDelay(1, opts, () => 1)).toBe(100);
    expect(backoffDelay(3, opts, () => 1)).toBe(400);
    expect(backoffDelay(10, opts, () => 1)).toBe(1_000);
    expect(backoffDelay(10, opts, () => 0)).toBe(500);
  });
});
