// AgentPayload bodies are written into one buffer of their precomputed size (each TracerPayload after
// its length, no fork and move); the size must be exact for that, with non-ASCII text and every
// optional field set. The writer throws on a mismatch; the bytes are read back with the independent schema.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  decodeV04,
  defaultProcessorOptions,
  encodeAgentPayloads,
  encodeTracerPayload,
  encodeTracerPayloadChunks,
  SpanProcessor,
  tracerHeadersFrom,
} from '../src/index.js';
import { allSpans, decodeAgentPayload } from './helpers/agent-payload-schema.js';

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
      const spans = tp.chunks.reduce((n, c) => n + c.spans.length, 0);
      const [out] = encodeAgentPayloads([tp, tp], {
        agentVersion: 'v-é',
        hostName: 'hôte',
        env: 'prod',
        targetTPS: 10,
        errorTPS: 0.5,
        tags: { clé: 'valeur ü', plain: 'x' },
      });
      const d = decodeAgentPayload(out!.body);
      expect(d.hostName).toBe('hôte');
      expect(d.agentVersion).toBe('v-é');
      expect([d.targetTPS, d.errorTPS]).toEqual([10, 0.5]);
      expect(d.tracerPayloads).toHaveLength(2);
      const t = d.tracerPayloads[1]!;
      expect([t.containerID, t.languageName, t.languageVersion, t.appVersion]).toEqual([
        'ç1',
        'nodejs',
        'v20.1',
        '1.0',
      ]);
      expect(t.tags['_dd.tags.function']).toBe('functionname:f,région:é');
      expect(allSpans(d)).toHaveLength(2 * spans);
      expect(allSpans(d).map((s) => s.spanID)).toEqual(
        [...tp.chunks, ...tp.chunks].flatMap((c) => c.spans.map((s) => BigInt(s.span_id).toString())),
      );
    }
  });

  it('is fixed when encoded: a header or tags changed afterwards do not break the envelope', () => {
    const body = readFileSync(new URL('./fixtures/dd-trace-plain/trace-1.msgpack', import.meta.url));
    const tp = new SpanProcessor(defaultProcessorOptions()).process(
      decodeV04(body),
      tracerHeadersFrom({ 'datadog-meta-lang': 'nodejs' }),
    )!;
    tp.tags = { a: 'b' };
    const encoded = encodeTracerPayloadChunks(tp);
    tp.header.lang = 'a much longer language name';
    tp.tags.a = 'a much longer value';
    const [out] = encodeAgentPayloads([encoded], { agentVersion: 'v', targetTPS: 10, errorTPS: 10 });
    const t = decodeAgentPayload(out!.body).tracerPayloads[0]!;
    expect(t.languageName).toBe('nodejs');
    expect(t.tags['a']).toBe('b');
  });
});
