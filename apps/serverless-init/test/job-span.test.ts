import { describe, expect, it } from 'vitest';
import { JobSpan, type JobSpanLike } from '../src/job-span.js';

const span = (over: Partial<JobSpanLike>): JobSpanLike => ({
  service: 'app',
  name: 'work',
  resource: 'work',
  trace_id: 1n,
  span_id: 2n,
  parent_id: 0n,
  start: 0n,
  duration: 1n,
  error: 0,
  meta: {},
  metrics: {},
  type: '',
  ...over,
});

describe('JobSpan (Cloud Run Jobs task span)', () => {
  it('parents root spans under the task span and adopts the first trace id, 128-bit high half included', () => {
    const job = new JobSpan({
      service: 'nightly',
      job: 'nightly-job',
      startMs: 1_000,
      tags: { job_name: 'nightly-job' },
    });
    const root = span({ trace_id: 0xabcn, span_id: 10n, meta: { '_dd.p.tid': '6790000000000000' } });
    const child = span({ trace_id: 0xabcn, span_id: 11n, parent_id: 10n });
    job.hook({ spans: [root, child] });
    expect(root.parent_id).toBe(job.spanId);
    expect(child.parent_id).toBe(10n);

    // A second trace is moved into the task's trace.
    const other = span({ trace_id: 0xdefn, span_id: 20n });
    const otherChild = span({ trace_id: 0xdefn, span_id: 21n, parent_id: 20n });
    job.hook({ spans: [other, otherChild] });
    expect(other.parent_id).toBe(job.spanId);
    expect([other.trace_id, otherChild.trace_id]).toEqual([0xabcn, 0xabcn]);
    expect(other.meta['_dd.p.tid']).toBe('6790000000000000');

    const done = job.finish(3_500, 0);
    expect(done).toMatchObject({
      name: 'gcp.run.job.task',
      service: 'nightly',
      resource: 'nightly-job',
      trace_id: 0xabcn,
      span_id: job.spanId,
      parent_id: 0n,
      start: 1_000_000_000n,
      duration: 2_500_000_000n,
      error: 0,
      type: '',
    });
    expect(done.meta).toMatchObject({
      '_dd.origin': 'cloudrunjobs',
      '_dd.p.tid': '6790000000000000',
      job_name: 'nightly-job',
    });
    expect(done.metrics._sampling_priority_v1).toBe(2);
    expect(job.reparented).toBe(2);
    // Submitted through the same processor, the task span stays the root.
    job.hook({ spans: [done] });
    expect(done.parent_id).toBe(0n);
  });

  it('marks a failed task with error, error.msg and exit_code', () => {
    const job = new JobSpan({ service: 'j', job: 'j', startMs: 0, tags: {} });
    const done = job.finish(10, 3);
    expect(done.error).toBe(1);
    expect(done.meta.exit_code).toBe('3');
    expect(done.meta['error.msg']).toContain('3');
  });

  it('leaves chunks without a root alone', () => {
    const job = new JobSpan({ service: 'j', job: 'j', startMs: 0, tags: {} });
    const s = span({ parent_id: 5n });
    job.hook({ spans: [s] });
    expect(s.parent_id).toBe(5n);
    expect(job.reparented).toBe(0);
  });
});
