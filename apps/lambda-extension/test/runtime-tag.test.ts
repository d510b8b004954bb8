import { describe, expect, it } from 'vitest';
import { runtimeResolver } from '../src/runtime-tag.js';

describe('runtimeResolver', () => {
  it('asks once when the runtime is found', () => {
    let asked = 0;
    const runtime = runtimeResolver(() => {
      asked++;
      return 'python3.12';
    });
    expect([runtime(), runtime(), runtime()]).toEqual(['python3.12', 'python3.12', 'python3.12']);
    expect(asked).toBe(1);
  });

  it('asks again while the answer is unknown, a bounded number of times', () => {
    const answers = ['unknown', 'unknown', 'java21'];
    let asked = 0;
    const late = runtimeResolver(() => answers[asked++]!);
    expect([late(), late(), late(), late()]).toEqual(['unknown', 'unknown', 'java21', 'java21']);
    expect(asked).toBe(3);

    let never = 0;
    const none = runtimeResolver(() => {
      never++;
      return 'unknown';
    });
    for (let i = 0; i < 10; i++) none();
    expect(never).toBe(3);
  });
});
