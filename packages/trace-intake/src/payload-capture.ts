// DD_CAPTURE_LAMBDA_PAYLOAD: request and response JSON flattened into span tags
// (`function.request.*`, `function.response.*`) by the Datadog extension's rules: each object or
// array level, and each JSON document found inside a string, costs one depth level; at the maximum
// depth the value is kept as its JSON text; values are cut at 4096 characters; a string leaf whose
// key (its last dot-separated segment) is one of eight names is redacted, case-sensitively, also
// at the maximum depth (where the Datadog extension keeps it as JSON text).

/** The keys the Datadog extension redacts, matched exactly on the key's last segment. */
export const REDACTED_PAYLOAD_KEYS: readonly string[] = [
  'password',
  'passwd',
  'pwd',
  'secret',
  'token',
  'authorization',
  'x-authorization',
  'api_key',
];
const REDACTED = new Set(REDACTED_PAYLOAD_KEYS);
/** The cut, in characters (code points), not UTF-16 units. */
export const MAX_CAPTURED_VALUE = 4096;

function cut(value: string): string {
  // a code point is at most 2 units: only long strings can be over the limit
  if (value.length <= MAX_CAPTURED_VALUE) return value;
  let out = '';
  let n = 0;
  for (const ch of value) {
    if (n++ === MAX_CAPTURED_VALUE) break;
    out += ch;
  }
  return out;
}

function redact(key: string, value: string): string {
  return REDACTED.has(key.slice(key.lastIndexOf('.') + 1)) ? 'redacted' : value;
}

const json = (v: unknown): string | undefined =>
  JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));

function walk(v: unknown, key: string, depth: number, maxDepth: number, tags: Record<string, string>): void {
  if (v === null || v === undefined) {
    tags[key] = 'null';
    return;
  }
  if (depth >= maxDepth) {
    const text = json(v);
    // a secret's string stays out even as JSON text (the Datadog extension lets it through here)
    if (text !== undefined) tags[key] = typeof v === 'string' ? redact(key, cut(text)) : cut(text);
    return;
  }
  switch (typeof v) {
    case 'string': {
      // JSON carried in a string (an API Gateway body, an SQS message) is tagged as its fields
      let parsed: unknown;
      let isJson = false;
      try {
        parsed = JSON.parse(v);
        isJson = true;
      } catch {
        // not JSON: tagged as text
      }
      if (isJson) walk(parsed, key, depth + 1, maxDepth, tags);
      else tags[key] = redact(key, cut(v));
      return;
    }
    case 'number':
    case 'bigint':
    case 'boolean':
      tags[key] = String(v);
      return;
    case 'object':
      break;
    default:
      return;
  }
  if (Array.isArray(v)) {
    if (v.length === 0) {
      tags[key] = '[]';
      return;
    }
    for (let i = 0; i < v.length; i++) walk(v[i], `${key}.${i}`, depth + 1, maxDepth, tags);
    return;
  }
  for (const [k, x] of Object.entries(v as Record<string, unknown>))
    walk(x, `${key}.${k}`, depth + 1, maxDepth, tags);
}

/** Flattens `payload` under `prefix` (`function.request` or `function.response`). */
export function capturePayloadTags(payload: unknown, prefix: string, maxDepth = 10): Record<string, string> {
  const tags: Record<string, string> = {};
  // no body at all (a timeout, a crash) is no payload
  if (payload === undefined) return tags;
  walk(payload, prefix, 0, Math.max(0, maxDepth), tags);
  return tags;
}
