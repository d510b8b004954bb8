import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventEncoder, type LogRecord, type LogStatus } from '../src/index.js';

const ARN = 'arn:aws:lambda:us-east-1:123456789012:function:enc';
const STATUSES: LogStatus[] = ['critical', 'error', 'warn', 'info', 'debug', 'trace'];

/** The event as the intake reads it, built as a plain object in the real extension's key order. */
function expectedEvent(r: LogRecord, tags: string): unknown {
  const attrs = r.attributesJson ? JSON.parse(`{${r.attributesJson.slice(1)}}`) : {};
  return {
    message: {
      message: r.message,
      lambda: { arn: ARN, request_id: r.requestId, ...(r.lambda ?? {}) },
      timestamp: r.timestamp,
      status: r.status,
      ...attrs,
    },
    hostname: ARN,
    service: 'svc',
    ddtags: r.tags ? `${tags},${r.tags}` : tags,
    ddsource: 'lambda',
  };
}

describe('EventEncoder (lambda layout)', () => {
  it('writes every event as JSON.stringify of its fields, whatever the records before it', () => {
    const record = fc.record({
      message: fc.string({ maxLength: 40 }),
      status: fc.constantFrom(...STATUSES),
      // Mostly the same few seconds, as consecutive events are; and times of any other form.
      timestamp: fc.oneof(
        fc.integer({ min: 1714564800000, max: 1714564803999 }),
        fc.constantFrom(0, 999, 1e12 - 1, 1e12, 2_147_483_646_999, 2_147_483_647_000, 1714564800431.5, -5),
      ),
      requestId: fc.constantFrom(null, 'r-1', 'r-2', '6d68ca91-49c9-448d-89b8-7ca3e6dc66aa'),
      attributesJson: fc.constantFrom(undefined, '', ',"a":1', ',"b":"x","c":[1,2]'),
      tags: fc.constantFrom(undefined, '', 'team:a'),
      lambda: fc.constantFrom(
        undefined,
        {},
        { durable_function: { execution_name: 'n', execution_id: 'i' } },
      ),
    });
    fc.assert(
      fc.property(fc.array(record, { minLength: 1, maxLength: 40 }), (records) => {
        const enc = new EventEncoder({
          layout: 'lambda',
          hostname: ARN,
          service: 'svc',
          source: 'lambda',
          tags: 'env:t',
        });
        for (const r of records) {
          const rec = r as LogRecord;
          const e = enc.encode(rec);
          expect(e.json).toBe(JSON.stringify(expectedEvent(rec, 'env:t')));
        }
      }),
      { numRuns: 300 },
    );
  });
});
