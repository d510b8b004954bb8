// DD_CAPTURE_LAMBDA_PAYLOAD: request and response JSON flattened into span tags
// (`function.request.*`, `function.response.*`), depth-limited, values cut, secrets redacted.

const REDACTED_KEYS =
  /^(password|passwd|pwd|secret|token|authorization|x-authorization|api_key|apikey|api-key|x-api-key|access_token|refresh_token|client_secret)$/i;
export const MAX_CAPTURED_VALUE = 4096;

function put(tags: Record<string, string>, key: string, value: string): void {
  tags[key] = value.length > MAX_CAPTURED_VALUE ? value.slice(0, MAX_CAPTURED_VALUE) : value;
}

function walk(v: unknown, key: string, depth: number, maxDepth: number, tags: Record<string, string>): void {
  if (v === null || v === undefined) {
    put(tags, key, String(v));
    return;
  }
  if (typeof v === 'string') {
    // JSON carried in a string (an API Gateway body, an SQS message) is tagged as its fields
    const t = v.trimStart();
    if ((t.startsWith('{') || t.startsWith('[')) && depth < maxDepth) {
      try {
        const parsed = JSON.parse(v);
        if (typeof parsed === 'object' && parsed !== null) {
          walk(parsed, key, depth, maxDepth, tags);
          return;
        }
      } catch {
        // not JSON: tagged as text
      }
    }
    put(tags, key, v);
    return;
  }
  if (typeof v !== 'object') {
    put(tags, key, String(v));
    return;
  }
  if (depth >= maxDepth) {
    put(
      tags,
      key,
      JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x)),
    );
    return;
  }
  const entries = Array.isArray(v) ? v.map((x, i) => [String(i), x] as const) : Object.entries(v);
  if (entries.length === 0) {
    put(tags, key, Array.isArray(v) ? '[]' : '{}');
    return;
  }
  for (const [k, x] of entries) {
    const child = `${key}.${k}`;
    if (REDACTED_KEYS.test(k)) put(tags, child, 'redacted');
    else walk(x, child, depth + 1, maxDepth, tags);
  }
}

/** Flattens `payload` under `prefix` (`function.request` or `function.response`). */
export function capturePayloadTags(payload: unknown, prefix: string, maxDepth = 10): Record<string, string> {
  const tags: Record<string, string> = {};
  walk(payload, prefix, 0, Math.max(0, maxDepth), tags);
  return tags;
}
