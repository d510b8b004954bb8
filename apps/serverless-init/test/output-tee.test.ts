import { describe, expect, it } from 'vitest';
import { HeldTee, MAX_QUEUED_OUTPUT_BYTES } from '../src/output-tee.js';

function sink() {
  const got: string[] = [];
  return {
    got,
    tee: { stdout: (c: Buffer) => got.push(`o:${c}`), stderr: (c: Buffer) => got.push(`e:${c}`) },
  };
}

describe('HeldTee', () => {
  it('holds output until the pipeline attaches, then hands it over in order, and later chunks at once', () => {
    const tee = new HeldTee();
    tee.stdout(Buffer.from('a\n'));
    tee.stderr(Buffer.from('b'));
    const s = sink();
    expect(s.got).toEqual([]);
    tee.attach(s.tee);
    expect(s.got).toEqual(['o:a\n', 'e:b']);
    tee.stdout(Buffer.from('c\n'));
    expect(s.got).toEqual(['o:a\n', 'e:b', 'o:c\n']);
  });

  it('is bounded: past the limit chunks are dropped and counted, and a cut line is ended', () => {
    const tee = new HeldTee();
    const big = Buffer.alloc(1024 * 1024, 'x');
    for (let i = 0; i < MAX_QUEUED_OUTPUT_BYTES / big.length + 3; i++) tee.stdout(big);
    expect(tee.droppedChunks).toBe(3);
    expect(tee.droppedBytes).toBe(3 * big.length);
    const s = sink();
    tee.attach(s.tee);
    expect(s.got).toHaveLength(MAX_QUEUED_OUTPUT_BYTES / big.length + 1);
    expect(s.got.at(-1)).toBe('o:\n');
    tee.stdout(Buffer.from('tail\n'));
    expect(s.got.at(-1)).toBe('o:tail\n');
  });

  it("passes each copy's release along, releases what it drops, and never what it discards", () => {
    const tee = new HeldTee();
    const released: string[] = [];
    const release = (name: string) => () => released.push(name);
    const big = Buffer.alloc(MAX_QUEUED_OUTPUT_BYTES - 1, 'x');
    tee.stdout(big, release('held'));
    tee.stdout(Buffer.from('over'), release('dropped'));
    expect(released).toEqual(['dropped']);
    const target: [string, (() => void) | undefined][] = [];
    tee.attach({
      stdout: (c, r) => target.push([`o:${c.length}`, r]),
      stderr: (c, r) => target.push([`e:${c}`, r]),
    });
    tee.stderr(Buffer.from('later'), release('later'));
    expect(target.map(([name]) => name)).toEqual([`o:${big.length}`, 'o:1', 'e:later']);
    for (const [, r] of target) r?.();
    expect(released).toEqual(['dropped', 'held', 'later']);
    tee.lost(2, 300);
    expect([tee.droppedChunks, tee.droppedBytes]).toEqual([3, 304]);

    const discarded = new HeldTee();
    discarded.stdout(Buffer.from('a'), release('queued'));
    discarded.discard();
    discarded.stdout(Buffer.from('b'), release('after'));
    expect(released).toEqual(['dropped', 'held', 'later']);
  });

  it('discard stops holding', () => {
    const tee = new HeldTee();
    tee.discard();
    tee.stdout(Buffer.from('x'));
    const s = sink();
    tee.attach(s.tee);
    tee.stdout(Buffer.from('y'));
    expect(s.got).toEqual([]);
  });
});
