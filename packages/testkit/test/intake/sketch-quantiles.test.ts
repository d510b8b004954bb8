import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AGENT_SKETCH_BIAS,
  AGENT_SKETCH_GAMMA,
  AGENT_SKETCH_NORM_MIN,
  agentSketchKey,
  type DatadogIntake,
  startIntake,
} from '../../src/index.js';
import { buildSketch, exactQuantile, key } from './helpers/agent-sketch.js';
import { send } from './helpers/http.js';
import { sketchPayload } from './helpers/pb.js';

let intake: DatadogIntake;
beforeAll(async () => {
  intake = await startIntake();
});
afterAll(() => intake.stop());

/** The Agent's estimate sits in the bin next to the value's: within gamma^1.5 − 1 ≈ 2.35 %. */
const AGENT_ESTIMATE_BOUND = AGENT_SKETCH_GAMMA ** 1.5 - 1;

async function roundTrip(metric: string, values: number[]) {
  const s = buildSketch(values);
  const body = sketchPayload([{ metric, tags: ['t:1'], dogsketches: [{ ts: 1_700_000_000, ...s }] }]);
  const res = await send(intake.url, '/api/beta/sketches', {
    body,
    headers: { 'dd-api-key': intake.apiKey, 'content-type': 'application/x-protobuf' },
  });
  expect(res.status).toBe(202);
  const [d] = intake.distributions(metric);
  return d!;
}

/** A deterministic pseudo-random sequence (LCG), so the test data is the same on every run. */
function lcg(seed: number) {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1_664_525) + 1_013_904_223) >>> 0;
    return (x + 0.5) / 2 ** 32;
  };
}

describe('agent sketch mapping', () => {
  it('has the parameters of the reference', () => {
    expect(AGENT_SKETCH_GAMMA).toBe(1.015625);
    expect(AGENT_SKETCH_BIAS).toBe(1338);
    expect(AGENT_SKETCH_NORM_MIN).toBeCloseTo(9.94185e-10, 14);
  });

  it('maps the reference examples and agrees with an independent implementation', () => {
    expect(agentSketchKey(1)).toBe(1338);
    expect(agentSketchKey(100)).toBe(1635);
    expect(agentSketchKey(0.5)).toBe(1293);
    expect(agentSketchKey(-100)).toBe(-1635);
    expect(agentSketchKey(0)).toBe(0);
    expect(agentSketchKey(1e-10)).toBe(0);
    expect(agentSketchKey(1e300)).toBe(32767);
    const rnd = lcg(7);
    for (let i = 0; i < 2000; i++) {
      const v = 10 ** (rnd() * 18 - 9);
      expect(agentSketchKey(v)).toBe(key(v));
    }
  });
});

describe('distribution quantile estimates', () => {
  it('estimates 1..10000 within the agent sketch accuracy', async () => {
    const values = Array.from({ length: 10_000 }, (_, i) => i + 1);
    const d = await roundTrip('uniform', values);
    expect(d).toMatchObject({ count: 10_000, min: 1, max: 10_000, sum: 50_005_000, problems: [] });
    expect(d.avg).toBeCloseTo(5000.5, 6);
    for (const q of [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999]) {
      const exact = exactQuantile(values, q);
      expect(Math.abs(d.quantile(q) - exact) / exact, `q=${q}`).toBeLessThanOrEqual(AGENT_ESTIMATE_BOUND);
    }
    expect(d.p50).toBeGreaterThan(4900);
    expect(d.p50).toBeLessThan(5100);
    expect(d.quantile(0)).toBe(1);
    expect(d.quantile(1)).toBe(10_000);
  });

  it('estimates a heavy-tailed (log-normal) distribution of 20 000 values', async () => {
    const rnd = lcg(42);
    const values: number[] = [];
    for (let i = 0; i < 10_000; i++) {
      // Box–Muller: two normals per pair of uniforms, then exp() for a log-normal (median e^3).
      const r = Math.sqrt(-2 * Math.log(rnd()));
      const t = 2 * Math.PI * rnd();
      values.push(Math.exp(3 + 1.5 * r * Math.cos(t)), Math.exp(3 + 1.5 * r * Math.sin(t)));
    }
    const d = await roundTrip('lognormal', values);
    const sorted = [...values].sort((a, b) => a - b);
    expect(d.count).toBe(20_000);
    for (const q of [0.05, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99]) {
      const exact = exactQuantile(sorted, q);
      expect(Math.abs(d.quantile(q) - exact) / exact, `q=${q}`).toBeLessThanOrEqual(AGENT_ESTIMATE_BOUND);
    }
  });

  it('reads bins that spill past 65 535 under one key', async () => {
    const values = [...Array(70_000).fill(5), ...Array(10).fill(500)];
    const d = await roundTrip('spill', values);
    expect(d.k).toEqual([key(5), key(5), key(500)]);
    expect(d.n).toEqual([65_535, 4465, 10]);
    expect(d.problems).toEqual([]);
    expect(Math.abs(d.p50 - 5) / 5).toBeLessThanOrEqual(AGENT_ESTIMATE_BOUND);
    expect(d.quantile(0.9999)).toBeGreaterThan(400);
  });

  it('handles negative values and zero', async () => {
    const values = [-100, -10, -1, 0, 0, 1, 10, 100, 1000];
    const d = await roundTrip('signed', values);
    expect(d.k[0]).toBe(-key(100));
    expect(d.k).toContain(0);
    const sorted = [...values].sort((a, b) => a - b);
    for (const q of [0.5]) expect(d.quantile(q)).toBe(exactQuantile(sorted, q)); // the zero bin
    expect(d.quantile(0.125)).toBeLessThan(0);
    expect(d.quantile(0.9)).toBeGreaterThan(90);
  });
});
