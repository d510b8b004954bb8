import { describe, expect, it } from 'vitest';
import { Deadline, SharedCap } from '../src/deadline.js';

const never = () => new Promise<never>(() => {});

describe('a call deadline', () => {
  it('listening deferred: sees a caller abort before it listens, through `aborted`', () => {
    const caller = new AbortController();
    const d = new Deadline(new SharedCap(60_000), caller.signal, true);
    expect(d.aborted).toBe(false);
    caller.abort(new Error('caller gave up'));
    expect(d.aborted).toBe(true);
    expect((d.reason as Error).message).toBe('caller gave up');
    d.dispose();
  });

  it('listening deferred: its first race listens, and the caller abort then ends the race and the request', async () => {
    const caller = new AbortController();
    const d = new Deadline(new SharedCap(60_000), caller.signal, true);
    let requestAborted = false;
    // What undici does with the signal it is given.
    d.once('abort', () => {
      requestAborted = true;
    });
    const raced = d.race(never());
    caller.abort(new Error('late'));
    await expect(raced).rejects.toThrow('late');
    expect(requestAborted).toBe(true);
    d.dispose();
  });

  it('an enclosing deadline that defers listening starts when a child is made from it', async () => {
    const caller = new AbortController();
    const parent = new Deadline(new SharedCap(60_000), caller.signal, true);
    const child = new Deadline(60_000, parent);
    const raced = child.race(never());
    caller.abort(new Error('gone'));
    await expect(raced).rejects.toThrow('gone');
    expect(parent.aborted && child.aborted).toBe(true);
    child.dispose();
    parent.dispose();
  });

  it('passes at its cap, and a listener removed before does not hear it', async () => {
    const d = new Deadline(20);
    const heard: string[] = [];
    const gone = () => heard.push('removed');
    d.on('abort', gone);
    d.on('abort', () => heard.push('kept'));
    d.removeListener('abort', gone);
    await expect(d.race(never())).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(heard).toEqual(['kept']);
  });
});
