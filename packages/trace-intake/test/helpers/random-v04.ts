// Random v0.4 payloads for the tests that compare two ways of reading them: every field kind, odd
// ids and texts, missing and unknown fields; `odd` adds the shapes only the general decoder takes.

/** Seeded PRNG, so that a failure names a reproducible case. */
export function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 2 ** 32;
  };
}

const TEXTS = ['', 'a', 'GET /items/1', 'é', 'naïve café', '日本語のリソース', '🙂 emoji', 'x'.repeat(17)];

function randomText(r: () => number): string {
  const t = TEXTS[Math.floor(r() * TEXTS.length)]!;
  return r() < 0.02 ? t.repeat(1 + Math.floor(r() * 600)) : t;
}

function randomId(r: () => number): unknown {
  const k = Math.floor(r() * 7);
  if (k === 0) return BigInt.asUintN(64, BigInt(Math.floor(r() * 2 ** 32)) << 32n) | 1n;
  if (k === 1) return Math.floor(r() * 200);
  if (k === 2) return Math.floor(r() * 2 ** 31);
  if (k === 3) return -Math.floor(r() * 2 ** 31);
  if (k === 4) return BigInt.asIntN(64, -(BigInt(Math.floor(r() * 2 ** 31)) << 31n));
  if (k === 5) return r() * 1e6;
  return null;
}

export function randomSpan(r: () => number, odd: boolean): Record<string, unknown> {
  const span: Record<string, unknown> = {};
  const fields: [string, () => unknown][] = [
    ['service', () => randomText(r)],
    ['name', () => randomText(r)],
    ['resource', () => randomText(r)],
    ['trace_id', () => randomId(r)],
    ['span_id', () => randomId(r)],
    ['parent_id', () => randomId(r)],
    ['start', () => randomId(r)],
    ['duration', () => randomId(r)],
    ['error', () => (r() < 0.5 ? 0 : r() < 0.5 ? 1 : 2.7)],
    [
      'meta',
      () => {
        const m: Record<string, unknown> = {};
        const n = Math.floor(r() * 20);
        for (let i = 0; i < n; i++)
          m[`${randomText(r).slice(0, 40)}.${i}`] = odd && r() < 0.1 ? 5 : randomText(r);
        return m;
      },
    ],
    [
      'metrics',
      () => {
        const m: Record<string, unknown> = {};
        const n = Math.floor(r() * 18);
        for (let i = 0; i < n; i++) m[`m.${i}`] = r() < 0.5 ? Math.floor(r() * 1e9) : r() * 100 - 50;
        return m;
      },
    ],
    ['type', () => randomText(r)],
  ];
  // shuffled, with some fields missing, some unknown, a few extra kinds
  for (const [k, gen] of fields.sort(() => r() - 0.5)) if (r() < 0.92) span[k] = gen();
  if (odd && r() < 0.1) span['meta_struct'] = { x: Buffer.from([1, 2]) };
  if (odd && r() < 0.1) span['custom_field'] = 'x';
  return span;
}
