import { MAX_BATCH_BYTES, MAX_BATCH_EVENTS } from './limits.js';
import type { OutgoingPayload } from './types.js';

export const LOGS_HEADERS: Readonly<Record<string, string>> = { 'DD-PROTOCOL': 'agent-json' };

export interface BatchLimits {
  maxEvents?: number;
  maxBytes?: number;
}

/** One `/api/v2/logs` body: `[e1,e2,…]` of pre-serialised events. */
export function encodeBatch(entries: readonly string[]): OutgoingPayload {
  const body = Buffer.from('[' + entries.join(',') + ']', 'utf8');
  const payload: OutgoingPayload = {
    kind: 'logs',
    body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength),
    contentType: 'application/json',
    headers: { ...LOGS_HEADERS },
    items: entries.length,
    split: () => {
      if (entries.length < 2) return undefined;
      const mid = entries.length >>> 1;
      return [encodeBatch(entries.slice(0, mid)), encodeBatch(entries.slice(mid))];
    },
  };
  return payload;
}

/**
 * Groups serialised events (with their UTF-8 sizes) into bodies of at most `maxEvents` events and
 * `maxBytes` bytes, brackets and commas included, keeping their order.
 */
export function buildBatches(
  entries: readonly string[],
  sizes: readonly number[],
  limits: BatchLimits = {},
): OutgoingPayload[] {
  const maxEvents = limits.maxEvents ?? MAX_BATCH_EVENTS;
  const maxBytes = limits.maxBytes ?? MAX_BATCH_BYTES;
  const out: OutgoingPayload[] = [];
  let start = 0;
  let bytes = 2; // "[" and "]"
  for (let i = 0; i < entries.length; i++) {
    const add = sizes[i]! + (i > start ? 1 : 0);
    if (i > start && (i - start >= maxEvents || bytes + add > maxBytes)) {
      out.push(encodeBatch(entries.slice(start, i)));
      start = i;
      bytes = 2 + sizes[i]!;
    } else {
      bytes += add;
    }
  }
  if (start < entries.length) out.push(encodeBatch(entries.slice(start)));
  return out;
}
