import { quoteJson } from './json-string.js';
import { statusFromLevel } from './status.js';
import type { LogStatus } from './types.js';

/** What a runtime's line or JSON record says about itself. */
export interface Interpretation {
  /** The message to ship (the raw line for text formats; the `message` field for JSON records). */
  message: string;
  status?: LogStatus;
  requestId?: string;
  /** Attributes parsed from a JSON message, as a JSON fragment: `,"key":value,…`. */
  attributesJson?: string;
  tags?: string;
  lambda?: Record<string, unknown>;
  /** `JSON.stringify(message)`, when it was already serialised (a JSON record's `message` field). */
  messageJson?: string;
}

/** An interpretation with every field present, so all share one shape (see `logRecord`). */
export function interpretation(message: string): Interpretation {
  return {
    message,
    status: undefined,
    requestId: undefined,
    attributesJson: undefined,
    tags: undefined,
    lambda: undefined,
    messageJson: undefined,
  };
}

/**
 * A record serialised once, key by key: `text` is exactly `JSON.stringify(obj)`, and `keys[i]`'s
 * value serialises as `values[i]`, so the rules' text and the attributes share one serialisation.
 */
export interface SerialisedObject {
  text: string;
  keys: string[];
  values: string[];
}

/**
 * `JSON.stringify(obj)`, keeping each value's JSON. `undefined` for what this cannot reproduce
 * exactly (a `toJSON` method, whose result may depend on the key; a BigInt, which may have one); the
 * caller then stringifies.
 * Throws where `JSON.stringify` throws (a cycle, a BigInt).
 */
export function serialiseObject(obj: Record<string, unknown>): SerialisedObject | undefined {
  if (typeof obj['toJSON'] === 'function') return undefined;
  const keys: string[] = [];
  const values: string[] = [];
  let text = '{';
  for (const key of Object.keys(obj)) {
    const value = obj[key];
    if (
      typeof value === 'bigint' ||
      (value !== null &&
        typeof value === 'object' &&
        typeof (value as { toJSON?: unknown }).toJSON === 'function')
    )
      return undefined;
    const v = valueText(value);
    if (v === undefined) continue; // undefined, a function or a symbol: left out, as JSON.stringify does
    const k = keyJson(key);
    text += (keys.length === 0 ? '' : ',') + k + ':' + v;
    keys.push(key);
    values.push(v);
  }
  return { text: text + '}', keys, values };
}

const keyJsonCache = new Map<string, string>();
/** `JSON.stringify(key)`, cached: structured logs repeat the same few keys. */
function keyJson(key: string): string {
  let k = keyJsonCache.get(key);
  if (k === undefined) {
    k = JSON.stringify(key);
    if (keyJsonCache.size < 1024) keyJsonCache.set(key, k);
  }
  return k;
}

/** Keys a JSON record cannot set as attributes: they are the event's own fields. */
const RESERVED = new Set([
  'message',
  'status',
  'timestamp',
  'lambda',
  'ddtags',
  'hostname',
  'service',
  'ddsource',
]);

const ISO_TS = String.raw`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z`;
// Node and .NET: `2024-05-01T12:00:00.431Z\t<requestId>\tINFO\tmessage` (parsed by hand below)
const TIME_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];
// Python: `[INFO]\t2024-05-01T12:00:00.431Z\t<requestId>\tmessage`
const PYTHON_LINE = new RegExp(String.raw`^\[([A-Za-z]+)\]\t${ISO_TS}\t([^\t]*)\t`);
// Python's uncaught-exception lines and Java's LambdaLogger text format: `[ERROR] message`
const BRACKET_LEVEL = /^\[([A-Za-z]+)\][ \t]/;
// Java log4j2 (aws-lambda-java-log4j2 pattern `%d{yyyy-MM-dd HH:mm:ss} %X{AWSRequestId} %-5p %c{1} - %m%n`)
const LOG4J_LINE =
  /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})? (?:([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}) +)? *(TRACE|DEBUG|INFO|WARN|ERROR|FATAL)\b/;
// Ruby's Logger: `I, [2024-05-01T12:00:00.431513 #8]  INFO -- : message`
const RUBY_LINE = /^[DIWEFA], \[[^\]]*\] +(DEBUG|INFO|WARN|ERROR|FATAL|ANY) -- /;

/**
 * Where the message starts in a Node/.NET line (`<ISO time>\t<requestId>\t<LEVEL>\t…`), or -1:
 * a hand-written check, as this is the hottest path of the package.
 */
function nodeLinePrefix(line: string): number {
  if (
    line.charCodeAt(4) !== 45 ||
    line.charCodeAt(7) !== 45 ||
    line.charCodeAt(10) !== 84 ||
    line.charCodeAt(13) !== 58 ||
    line.charCodeAt(16) !== 58
  ) {
    return -1;
  }
  const t1 = line.indexOf('\t', 20);
  if (t1 < 0 || t1 > 40 || line.charCodeAt(t1 - 1) !== 90 /* Z */) return -1;
  const t2 = line.indexOf('\t', t1 + 1);
  if (t2 < 0) return -1;
  const t3 = line.indexOf('\t', t2 + 1);
  if (t3 < 0 || t3 - t2 - 1 < 1 || t3 - t2 - 1 > 11) return -1;
  for (let i = t2 + 1; i < t3; i++) {
    const c = line.charCodeAt(i) | 0x20;
    if (c < 97 || c > 122) return -1;
  }
  for (const i of TIME_DIGITS) {
    const c = line.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
  }
  return t3 + 1;
}

function requestIdOrUndefined(id: string | undefined): string | undefined {
  if (id === undefined || id === '' || id === 'undefined' || id === 'null') return undefined;
  return id;
}

/** Interprets a text-format line: level marker, request id, and a JSON payload after the prefix. */
export function interpretText(line: string): Interpretation {
  const first = line.charCodeAt(0);
  let status: LogStatus | undefined;
  let requestId: string | undefined;
  let rest = -1; // where the message proper starts, when a runtime prefix was recognised
  if (first >= 48 && first <= 57) {
    const node = nodeLinePrefix(line);
    if (node > 0) {
      const t1 = line.indexOf('\t', 20);
      const t2 = line.indexOf('\t', t1 + 1);
      requestId = requestIdOrUndefined(line.slice(t1 + 1, t2));
      status = statusFromLevel(line.slice(t2 + 1, node - 1));
      rest = node;
    } else {
      const j = LOG4J_LINE.exec(line);
      if (j) {
        requestId = requestIdOrUndefined(j[1]);
        status = statusFromLevel(j[2]);
      }
    }
  } else if (first === 91 /* [ */) {
    const py = PYTHON_LINE.exec(line);
    if (py) {
      status = statusFromLevel(py[1]);
      requestId = requestIdOrUndefined(py[2]);
      rest = py[0].length;
    } else {
      const b = BRACKET_LEVEL.exec(line);
      if (b) {
        status = statusFromLevel(b[1]);
        rest = b[0].length;
      }
    }
  } else if (first === 123 /* { */) {
    const json = interpretJsonText(line);
    if (json) return json;
  } else if (line.charCodeAt(1) === 44 /* , */) {
    const rb = RUBY_LINE.exec(line);
    if (rb) status = rb[1] === 'ANY' ? 'info' : statusFromLevel(rb[1]);
  }
  const out = interpretation(line);
  if (rest >= 0 && line.charCodeAt(rest) === 123) {
    // A JSON payload after the runtime's prefix (e.g. `console.log(JSON.stringify(obj))`).
    const obj = parseObject(line.slice(rest));
    if (obj) {
      const inner = interpretObject(obj, line);
      if (inner.status) status = inner.status;
      if (inner.requestId) requestId ??= inner.requestId;
      if (inner.attributesJson) out.attributesJson = inner.attributesJson;
      if (inner.tags) out.tags = inner.tags;
      if (inner.lambda) out.lambda = inner.lambda;
    }
  }
  if (status) out.status = status;
  if (requestId) out.requestId = requestId;
  return out;
}

function parseObject(text: string): Record<string, unknown> | undefined {
  const last = text.charCodeAt(text.length - 1);
  if (last !== 125 /* } */ && last !== 10 && last !== 13 && last !== 32) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** A line that is a whole JSON object; `undefined` if it does not parse as one. */
export function interpretJsonText(text: string): Interpretation | undefined {
  const obj = parseObject(text);
  return obj ? interpretObject(obj, text) : undefined;
}

const DURABLE_ARN = /\/durable-execution\/([^/]+)\/([^/]+)\/?$/;

/**
 * Interprets a JSON log record (Lambda's JSON log format, or any structured line): status from
 * `level` then `status` (then Python's `log_level`), request id from `requestId`/`AWSRequestId`,
 * `ddtags` lifted into tags, the other keys as attributes. `raw` is the record's text, the message
 * when the record has no `message` string.
 */
export function interpretObject(
  obj: Record<string, unknown>,
  raw?: string,
  depth = 0,
  serialised?: SerialisedObject,
): Interpretation {
  let record = obj;
  let tags: string | undefined;
  let rawText = raw;
  if (typeof record['ddtags'] === 'string') {
    tags = record['ddtags'];
    record = { ...record };
    delete record['ddtags'];
    rawText = undefined;
  } else {
    const inner = record['message'];
    if (
      inner !== null &&
      typeof inner === 'object' &&
      !Array.isArray(inner) &&
      typeof (inner as Record<string, unknown>)['ddtags'] === 'string'
    ) {
      // `{"message":{"ddtags":"…",…}}`: the inner object becomes the record.
      tags = (inner as Record<string, unknown>)['ddtags'] as string;
      record = { ...(inner as Record<string, unknown>) };
      delete record['ddtags'];
      rawText = undefined;
    }
  }
  const status =
    statusFromLevel(record['level']) ??
    statusFromLevel(record['status']) ??
    statusFromLevel(record['log_level']);
  const requestId = requestIdOrUndefined(
    typeof record['requestId'] === 'string'
      ? record['requestId']
      : typeof record['AWSRequestId'] === 'string'
        ? record['AWSRequestId']
        : undefined,
  );
  const msg = record['message'];
  const message =
    typeof msg === 'string' ? msg : rawText !== undefined ? trimEnd(rawText) : JSON.stringify(record);
  // Values already serialised for the rules are reused (only for the record they were made from).
  const pre = record === obj ? serialised : undefined;
  let p = 0;
  let messageJson: string | undefined;
  let attributesJson = '';
  for (const key in record) {
    let v: string | undefined;
    if (pre !== undefined && pre.keys[p] === key) v = pre.values[p++];
    else {
      const value = record[key];
      if (value === undefined || typeof value === 'function' || RESERVED.has(key)) continue;
      v = valueJson(value);
    }
    if (key === 'message') messageJson = v;
    if (RESERVED.has(key)) continue;
    if (v !== undefined) attributesJson += ',' + keyJson(key) + ':' + v;
  }
  const out = interpretation(message);
  if (typeof msg === 'string') {
    // A short plain message is quoted here rather than escaped again by the encoder.
    if (messageJson === undefined && msg.length <= 64 && isPlainString(msg)) messageJson = '"' + msg + '"';
    if (messageJson !== undefined) out.messageJson = messageJson;
  }
  if (status) out.status = status;
  if (requestId) out.requestId = requestId;
  if (typeof msg === 'string' && msg.charCodeAt(0) === 123 /* { */ && depth === 0) {
    // The JSON log format with a JSON message (`console.log(JSON.stringify(obj))`): as in the text
    // format, the inner object's level and fields count, the message stays as written.
    const innerObj = parseObject(msg);
    if (innerObj) {
      const inner = interpretObject(innerObj, msg, 1);
      if (inner.status) out.status = inner.status;
      if (inner.requestId && !out.requestId) out.requestId = inner.requestId;
      if (inner.attributesJson) attributesJson += inner.attributesJson;
      if (inner.tags) out.tags = out.tags ? out.tags + ',' + inner.tags : inner.tags;
    }
  }
  if (attributesJson !== '') out.attributesJson = attributesJson;
  if (tags) out.tags = out.tags ? tags + ',' + out.tags : tags;
  const arn = record['executionArn'];
  if (typeof arn === 'string') {
    const m = DURABLE_ARN.exec(arn);
    if (m) out.lambda = { durable_function: { execution_name: m[1], execution_id: m[2] } };
  }
  return out;
}

/**
 * `JSON.stringify(value)`, throwing where it throws (a cycle, a BigInt). Short plain strings and
 * finite numbers, most of a structured record's values, skip the native call: its set-up costs more
 * than the scan.
 */
function valueText(value: unknown): string | undefined {
  if (typeof value === 'string') {
    return value.length <= 64 && isPlainString(value) ? '"' + value + '"' : quoteJson(value);
  }
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'null';
  return JSON.stringify(value);
}

/** `valueText`, `undefined` where `JSON.stringify` throws. */
function valueJson(value: unknown): string | undefined {
  try {
    return valueText(value);
  } catch {
    return undefined;
  }
}

/** No character JSON escapes (quote, backslash, controls) and no surrogate (a lone one is escaped). */
function isPlainString(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return false;
  }
  return true;
}

/** Drops one trailing line break (`\n` or `\r\n`): runtimes end each record with one. */
export function trimEnd(text: string): string {
  const n = text.length;
  if (n > 0 && text.charCodeAt(n - 1) === 10) {
    return n > 1 && text.charCodeAt(n - 2) === 13 ? text.slice(0, n - 2) : text.slice(0, n - 1);
  }
  return text;
}
