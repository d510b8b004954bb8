// Checks a logs payload against the logs intake's documented contract (wire-protocols §C): a JSON
// array of at most 1000 entries, at most 5 MiB uncompressed, no entry over 1 MiB, each entry with
// the fields the real extension (nested `message`) or the Agent (flat) sends.
import type { OutgoingPayload } from '../../src/index.js';

const STATUSES = new Set(['critical', 'error', 'warn', 'info', 'debug', 'trace']);
export const MiB = 1024 * 1024;

export interface DecodedLog {
  message: string;
  status: string;
  timestamp: number;
  hostname: string;
  service: string;
  ddsource: string;
  ddtags: string;
  lambda?: { arn: string; request_id: string | null; [k: string]: unknown };
  attributes: Record<string, unknown>;
}

function fail(msg: string): never {
  throw new Error(`logs payload violates the intake schema: ${msg}`);
}

export function decodeLogsPayload(p: OutgoingPayload): DecodedLog[] {
  if (p.kind !== 'logs') fail(`kind ${p.kind}`);
  if (p.contentType !== 'application/json') fail(`content type ${p.contentType}`);
  if (p.headers?.['DD-PROTOCOL'] !== 'agent-json') fail('missing DD-PROTOCOL: agent-json');
  if (p.body.byteLength > 5 * MiB) fail(`body of ${p.body.byteLength} bytes > 5 MiB`);
  const text = Buffer.from(p.body).toString('utf8');
  const arr: unknown = JSON.parse(text);
  if (!Array.isArray(arr)) fail('body is not a JSON array');
  if (arr.length === 0 || arr.length > 1000) fail(`${arr.length} entries`);
  if (p.items !== arr.length) fail(`items=${p.items} but ${arr.length} entries`);
  return arr.map((e, i) => {
    if (Buffer.byteLength(JSON.stringify(e)) > MiB) fail(`entry ${i} over 1 MiB`);
    return decodeEntry(e, i);
  });
}

function str(v: unknown, what: string): string {
  if (typeof v !== 'string') fail(`${what} is not a string`);
  return v;
}

function decodeEntry(e: unknown, i: number): DecodedLog {
  if (e === null || typeof e !== 'object') fail(`entry ${i} is not an object`);
  const o = e as Record<string, unknown>;
  const hostname = str(o['hostname'], 'hostname');
  const service = str(o['service'], 'service');
  const ddsource = str(o['ddsource'], 'ddsource');
  const ddtags = str(o['ddtags'], 'ddtags');
  if (ddtags.split(',').some((t) => t === '' && ddtags !== '')) fail(`empty tag in ${ddtags}`);
  let inner: Record<string, unknown>;
  let lambda: DecodedLog['lambda'];
  if (typeof o['message'] === 'object' && o['message'] !== null) {
    inner = o['message'] as Record<string, unknown>;
    const l = inner['lambda'] as Record<string, unknown> | undefined;
    if (!l || typeof l['arn'] !== 'string') fail(`entry ${i}: message.lambda.arn missing`);
    if (!(l['request_id'] === null || typeof l['request_id'] === 'string')) fail('lambda.request_id');
    lambda = l as DecodedLog['lambda'];
  } else {
    inner = o;
  }
  const message = str(inner['message'], 'message');
  const status = str(inner['status'], 'status');
  if (!STATUSES.has(status)) fail(`status ${status}`);
  const ts = inner['timestamp'];
  if (typeof ts !== 'number' || !Number.isInteger(ts) || ts < 1e12 || ts > 1e13)
    fail(`timestamp ${ts} not unix ms`);
  const attributes: Record<string, unknown> = {};
  const skip = new Set([
    'message',
    'status',
    'timestamp',
    'lambda',
    'hostname',
    'service',
    'ddsource',
    'ddtags',
  ]);
  for (const [k, v] of Object.entries(inner)) if (!skip.has(k)) attributes[k] = v;
  const out: DecodedLog = { message, status, timestamp: ts, hostname, service, ddsource, ddtags, attributes };
  if (lambda) out.lambda = lambda;
  return out;
}

export function decodeAll(payloads: OutgoingPayload[]): DecodedLog[] {
  return payloads.flatMap(decodeLogsPayload);
}
