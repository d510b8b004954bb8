import { describe, expect, it } from 'vitest';
import { type ConcreteStrategy, InvocationTimes } from '../src/index.js';
import { done, finish, invoke, Rig, start } from './rig.js';

const END: ConcreteStrategy = { kind: 'end' };
const PERIODIC: ConcreteStrategy = { kind: 'periodically', intervalMs: 20_000 };
const CONTINUOUS: ConcreteStrategy = { kind: 'continuously', intervalMs: 20_000 };

/** Start times (whole seconds) whose first and last are `span` apart, 20 of them. */
function twentyOver(span: number): number[] {
  return Array.from({ length: 20 }, (_, i) => (i === 19 ? span : Math.floor((i * span) / 19)));
}

describe('the adaptive rule (InvocationTimes)', () => {
  const cases: [string, number[], number, ConcreteStrategy][] = [
    ['1 invocation', [0], 30, END],
    ['19 invocations 1 s apart', Array.from({ length: 19 }, (_, i) => i), 30, END],
    ['20 invocations 1 s apart: elapsed 19 < 30', Array.from({ length: 20 }, (_, i) => i), 30, CONTINUOUS],
    ['20 in the same second', Array(20).fill(5), 30, CONTINUOUS],
    ['20 over 29 s', twentyOver(29), 30, CONTINUOUS],
    ['20 over 30 s: not under DD_FLUSH_TIMEOUT', twentyOver(30), 30, PERIODIC],
    ['20 over 19 s, DD_FLUSH_TIMEOUT=10', Array.from({ length: 20 }, (_, i) => i), 10, PERIODIC],
    ['20 over 19 s, DD_FLUSH_TIMEOUT=0', Array.from({ length: 20 }, (_, i) => i), 0, PERIODIC],
    ['20 over 2279 s: average gap 119.95 s < 120', twentyOver(2279), 30, PERIODIC],
    ['20 over 2280 s: average gap exactly 120 s', twentyOver(2280), 30, END],
    ['20 over 2281 s', twentyOver(2281), 30, END],
    ['20 one minute apart', Array.from({ length: 20 }, (_, i) => i * 60), 30, PERIODIC],
    ['20 one hour apart', Array.from({ length: 20 }, (_, i) => i * 3600), 30, END],
  ];
  it.each(cases)('%s', (_name, times, flushTimeoutS, expected) => {
    const window = new InvocationTimes();
    for (const t of times) window.add(1_700_000_000 + t);
    expect(window.adapt(1_700_000_000 + times.at(-1)!, flushTimeoutS)).toEqual(expected);
  });

  it('looks only at the last 20', () => {
    const window = new InvocationTimes();
    // 20 fast ones, then one after a long gap: the oldest of the last 20 is the 2nd fast one
    for (let i = 0; i < 20; i++) window.add(1000 + i);
    expect(window.adapt(1019, 30)).toEqual(CONTINUOUS);
    window.add(1019 + 3000);
    expect(window.count).toBe(20);
    // elapsed 3019 - 1 = 3018, / 19 = 158.8 s: back to End
    expect(window.adapt(1019 + 3000, 30)).toEqual(END);
    // the long gap leaves the window after 19 more fast ones
    for (let i = 1; i <= 18; i++) window.add(4019 + i);
    expect(window.adapt(4037, 30)).toEqual(END);
    window.add(4038);
    expect(window.adapt(4038, 30)).toEqual(CONTINUOUS);
  });
});

describe('the adaptive rule through the core', () => {
  it('flushes at the end of invocations 1 to 19 and stops at the 20th', () => {
    const rig = new Rig({ strategy: { kind: 'default' } });
    rig.step(0, start);
    for (let i = 1; i <= 19; i++) {
      expect(rig.step(i, invoke())).toBe('- wait-for-runtime-done');
      expect(rig.core.concreteStrategy).toEqual(END);
      expect(rig.step(i + 0.1, done)).toBe('block end-of-invocation 2800 ; timer +60000');
      rig.step(i + 0.15, finish(50));
    }
    // the 20th: elapsed 20 - 1 = 19 s < DD_FLUSH_TIMEOUT, so continuously,20000; 20 - 0 > 20 is false
    expect(rig.step(20, invoke())).toBe('- interval-not-passed');
    expect(rig.core.concreteStrategy).toEqual(CONTINUOUS);
    expect(rig.step(20.1, done)).toBe('- no-flush-this-phase');
    expect(rig.step(21, invoke())).toBe('bg start-of-invocation ; timer +60000');
  });

  it('switches to periodically,20000 (blocking, at the top of the invocation) for one a minute', () => {
    const rig = new Rig({ strategy: { kind: 'default' } });
    rig.step(0, start);
    for (let i = 1; i <= 19; i++) {
      rig.step(i * 60, invoke());
      expect(rig.step(i * 60 + 0.1, done)).toMatch(/^block end-of-invocation/);
      rig.step(i * 60 + 0.2, finish(100));
    }
    expect(rig.step(1200, invoke())).toBe('block start-of-invocation 2900 ; timer +60000');
    expect(rig.core.concreteStrategy).toEqual(PERIODIC);
    expect(rig.step(1200.1, done)).toBe('- no-flush-this-phase');
  });

  it('stays on End for one every two minutes', () => {
    const rig = new Rig({ strategy: { kind: 'default' } });
    rig.step(0, start);
    for (let i = 1; i <= 25; i++) {
      rig.step(i * 120, invoke());
      expect(rig.core.concreteStrategy).toEqual(END);
      expect(rig.step(i * 120 + 0.1, done)).toMatch(/^block end-of-invocation/);
      rig.step(i * 120 + 0.2, finish(100));
    }
  });

  it('reads DD_FLUSH_TIMEOUT for the continuous threshold', () => {
    const rig = new Rig({ strategy: { kind: 'default' }, flushTimeoutS: 10 });
    rig.step(0, start);
    for (let i = 1; i <= 20; i++) {
      rig.step(i, invoke());
      if (i < 20) rig.step(i + 0.1, done);
      if (i < 20) rig.step(i + 0.15, finish(10));
    }
    expect(rig.core.concreteStrategy).toEqual(PERIODIC);
  });
});
