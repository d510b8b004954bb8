// AgentPayload bodies write each TracerPayload in place after its precomputed size (no fork and
// move); the size must be exact for that, with non-ASCII text and every optional field set.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  decodeV04,
  defaultProcessorOptions,
  encodeTracerPayload,
  encodeTracerPayloadChunks,
  SpanProcessor,
  tracerHeadersFrom,
} from '../src/index.js';

describe('TracerPayload size', () => {
  it('is the encoded length, for the real clients captures', () => {
    for (const f of [
      'dd-trace-plain',
      'dd-trace-lambda',
      'dd-lambda-v12',
      'dd-lambda-v12-localtesting-error',
    ]) {
      const p = new SpanProcessor({
        ...defaultProcessorOptions(),
        tags: { functionname: 'f', région: 'é' },
        env: 'prod',
        version: '1.0',
      });
      const body = readFileSync(new URL(`./fixtures/${f}/trace-1.msgpack`, import.meta.url));
      const headers = {
        'datadog-meta-lang': 'nodejs',
        'datadog-meta-lang-version': 'v20.1',
        'datadog-container-id': 'ç1',
      };
      const tp = p.process(decodeV04(body), tracerHeadersFrom(headers))!;
      tp.runtimeId = 'runtime-1';
      tp.hostname = 'hôte';
      expect(encodeTracerPayloadChunks(tp).size, f).toBe(encodeTracerPayload(tp).length);
    }
  });
});
