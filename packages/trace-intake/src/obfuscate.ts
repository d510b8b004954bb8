// Span obfuscation in the manner of the Datadog Agent (pkg/obfuscate): what keeps users' secrets out of
// their traces. Each span type has its own rules; credit-card numbers are scrubbed from every tag.
import { obfuscateSql } from './obfuscate-sql.js';
import type { Span } from './types.js';

export interface ObfuscationOptions {
  sql: { enabled: boolean; keepAlias: boolean };
  redis: { enabled: boolean; removeAllArgs: boolean };
  memcached: { enabled: boolean; keepCommand: boolean };
  elasticsearch: { enabled: boolean; keepValues: string[]; obfuscateSqlValues: string[] };
  opensearch: { enabled: boolean; keepValues: string[]; obfuscateSqlValues: string[] };
  mongodb: { enabled: boolean; keepValues: string[]; obfuscateSqlValues: string[] };
  http: { removeQueryString: boolean; removePathDigits: boolean };
  creditCards: { enabled: boolean; luhn: boolean; keepValues: string[] };
  removeStackTraces: boolean;
}

export const defaultObfuscationOptions = (): ObfuscationOptions => ({
  sql: { enabled: true, keepAlias: false },
  redis: { enabled: true, removeAllArgs: false },
  memcached: { enabled: true, keepCommand: false },
  elasticsearch: { enabled: true, keepValues: [], obfuscateSqlValues: [] },
  opensearch: { enabled: true, keepValues: [], obfuscateSqlValues: [] },
  mongodb: { enabled: true, keepValues: [], obfuscateSqlValues: [] },
  http: { removeQueryString: false, removePathDigits: false },
  creditCards: { enabled: true, luhn: false, keepValues: [] },
  removeStackTraces: false,
});

export const NON_PARSABLE_SQL = 'Non-parsable SQL query';

// ---------------------------------------------------------------------------------------------- Redis

// Commands made of two words (the sub-command belongs to the name in the resource).
const REDIS_COMPOUND = new Set(['CLIENT', 'CLUSTER', 'COMMAND', 'CONFIG', 'DEBUG', 'SCRIPT']);
const REDIS_TRUNCATION = '...';

function redisArgs(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[0]);
  return out;
}

const REDIS_MAX_COMMANDS = 3;

/** Resource for a redis span: up to three command names, then `...` ("GET GET HDEL ..."). */
export function quantizeRedis(query: string): string {
  const lines = query
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const names: string[] = [];
  let truncated = false;
  for (let i = 0; i < lines.length; i++) {
    const args = redisArgs(lines[i]!);
    // a command cut by the tracer's length limit: skipped, and marked when it ends the query
    if (args.length === 1 && args[0]!.endsWith(REDIS_TRUNCATION)) {
      if (i === lines.length - 1) truncated = true;
      continue;
    }
    let cmd = args[0]!.toUpperCase();
    if (REDIS_COMPOUND.has(cmd) && args[1]) cmd += ` ${args[1].toUpperCase()}`;
    names.push(cmd);
    if (names.length === REDIS_MAX_COMMANDS && i < lines.length - 1) {
      truncated = true;
      break;
    }
  }
  if (!truncated) return names.join(' ');
  return names.length > 0 ? `${names.join(' ')} ${REDIS_TRUNCATION}` : REDIS_TRUNCATION;
}

const ZADD_FLAGS = new Set(['NX', 'XX', 'GT', 'LT', 'CH', 'INCR']);

function obfuscateRedisCmd(args: string[]): string[] {
  if (args.length === 0) return args;
  const cmd = args[0]!.toUpperCase();
  const a = args.slice(1);
  const q = (from: number) => {
    if (a.length > from) a.splice(from, a.length - from, '?');
  };
  switch (cmd) {
    case 'AUTH':
    case 'HELLO':
    case 'MIGRATE':
      if (a.length > 0) a.splice(0, a.length, '?');
      break;
    case 'APPEND':
    case 'GETSET':
    case 'LPUSHX':
    case 'GEORADIUSBYMEMBER':
    case 'RPUSHX':
    case 'SET':
    case 'SETNX':
    case 'SISMEMBER':
    case 'ZRANK':
    case 'ZREVRANK':
    case 'ZSCORE':
      // SET key value [EX ...]: only the value
      if (a.length > 1) a[1] = '?';
      break;
    case 'HSET':
    case 'HSETNX':
    case 'LREM':
    case 'LSET':
    case 'SETBIT':
    case 'SETEX':
    case 'PSETEX':
    case 'SETRANGE':
    case 'ZINCRBY':
    case 'SMOVE':
    case 'RESTORE':
      if (a.length > 2) a[2] = '?';
      break;
    case 'LINSERT':
      if (a.length > 3) a[3] = '?';
      break;
    case 'GEOHASH':
    case 'GEOPOS':
    case 'GEODIST':
    case 'LPUSH':
    case 'RPUSH':
    case 'SREM':
    case 'ZREM':
    case 'SADD':
      q(1);
      break;
    case 'GEOADD':
      // GEOADD key longitude latitude member [...]: members
      for (let i = 3; i < a.length; i += 3) a[i] = '?';
      break;
    case 'HMSET':
      for (let i = 2; i < a.length; i += 2) a[i] = '?';
      break;
    case 'MSET':
    case 'MSETNX':
      for (let i = 1; i < a.length; i += 2) a[i] = '?';
      break;
    case 'CONFIG':
      if (a[0]?.toUpperCase() === 'SET' && a.length > 2) q(2);
      break;
    case 'BITFIELD':
      for (let i = 0; i < a.length; i++)
        if (a[i]!.toUpperCase() === 'SET' && a.length > i + 3) a[i + 3] = '?';
      break;
    case 'ZADD': {
      // ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]: members
      let i = 1;
      while (i < a.length && ZADD_FLAGS.has(a[i]!.toUpperCase())) i++;
      for (; i + 1 < a.length; i += 2) a[i + 1] = '?';
      break;
    }
    default:
      break;
  }
  return [args[0]!, ...a];
}

/** The `redis.raw_command` tag with values replaced by `?`, command by command. */
export function obfuscateRedis(cmd: string, removeAllArgs = false): string {
  return cmd
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => {
      const args = redisArgs(line);
      if (removeAllArgs) return args.length > 1 ? `${args[0]} ?` : args[0]!;
      return obfuscateRedisCmd(args).join(' ');
    })
    .join('\n');
}

// -------------------------------------------------------------------------------------- Memcached

/** `memcached.command`: the command line without its data block, or nothing unless keepCommand. */
export function obfuscateMemcached(cmd: string, keepCommand: boolean): string {
  if (!keepCommand) return '';
  const cut = cmd.indexOf('\r\n');
  return (cut >= 0 ? cmd.slice(0, cut) : cmd).trim();
}

// -------------------------------------------------------------------------------- JSON (ES, Mongo)

/** Replaces every leaf of a JSON document by "?" except under keys in keepValues. */
export function obfuscateJson(text: string, keepValues: string[] = [], sqlValues: string[] = []): string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    // several documents separated by newlines (bulk bodies)
    const lines = text.split('\n').filter((l) => l.trim() !== '');
    if (lines.length > 1) {
      try {
        return lines.map((l) => obfuscateJsonStrict(l, keepValues, sqlValues)).join('\n');
      } catch {
        return '?';
      }
    }
    return '?';
  }
  return JSON.stringify(walk(doc, new Set(keepValues), new Set(sqlValues), false));
}

function obfuscateJsonStrict(text: string, keepValues: string[], sqlValues: string[]): string {
  return JSON.stringify(walk(JSON.parse(text), new Set(keepValues), new Set(sqlValues), false));
}

function walk(v: unknown, keep: Set<string>, sql: Set<string>, keeping: boolean, sqlMode = false): unknown {
  if (Array.isArray(v)) return v.map((x) => walk(x, keep, sql, keeping, sqlMode));
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = walk(x, keep, sql, keeping || keep.has(k), sql.has(k));
    return out;
  }
  if (keeping) return v;
  if (sqlMode && typeof v === 'string') {
    try {
      return obfuscateSql(v);
    } catch {
      return '?';
    }
  }
  return '?';
}

// --------------------------------------------------------------------------------------------- HTTP

/** `http.url`: query string and digit-bearing path segments as the options say. */
export function obfuscateUrl(url: string, removeQuery: boolean, removeDigits: boolean): string {
  if (!removeQuery && !removeDigits) return url;
  let rest = url;
  let fragment = '';
  const hash = rest.indexOf('#');
  if (hash >= 0) {
    fragment = rest.slice(hash);
    rest = rest.slice(0, hash);
  }
  let query = '';
  const qi = rest.indexOf('?');
  if (qi >= 0) {
    query = rest.slice(qi);
    rest = rest.slice(0, qi);
  }
  if (removeQuery && query !== '') query = '?';
  if (removeDigits) {
    const m = /^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/]*)?(.*)$/.exec(rest)!;
    const path = (m[2] ?? '')
      .split('/')
      .map((seg) => (/\d/.test(seg) ? '?' : seg))
      .join('/');
    rest = (m[1] ?? '') + path;
  }
  return rest + query + fragment;
}

// ------------------------------------------------------------------------------------ Credit cards

// Tags that hold numbers by design, never card numbers (the Agent's allow list).
const CC_EXEMPT = new Set([
  '_sample_rate',
  '_sampling_priority_v1',
  'account_id',
  'aws_account',
  'error',
  'error.msg',
  'error.type',
  'error.stack',
  'env',
  'graphql.field',
  'graphql.query',
  'graphql.type',
  'graphql.operation.name',
  'grpc.code',
  'grpc.method',
  'grpc.request',
  'http.status_code',
  'http.method',
  'runtime-id',
  'out.host',
  'out.port',
  'sampling.priority',
  'span.type',
  'span.name',
  'service.name',
  'service',
  'sql.query',
  'version',
  'request_id',
  'function_arn',
  'trace_id',
  'span_id',
  'parent_id',
  'http.client_ip',
  'network.client.ip',
]);

function luhnValid(digits: string): boolean {
  let sum = 0;
  let dbl = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return sum % 10 === 0;
}

function validIin(d: string): boolean {
  const p2 = Number(d.slice(0, 2));
  const p3 = Number(d.slice(0, 3));
  const p4 = Number(d.slice(0, 4));
  const len = d.length;
  switch (d[0]) {
    case '2':
      return p4 >= 2221 && p4 <= 2720 && len === 16; // Mastercard 2-series
    case '3':
      if (p2 === 34 || p2 === 37) return len === 15; // Amex
      if ((p3 >= 300 && p3 <= 305) || p2 === 36 || p2 === 38 || p2 === 39) return len >= 14 && len <= 19; // Diners
      if (p4 >= 3528 && p4 <= 3589) return len >= 16 && len <= 19; // JCB
      return false;
    case '4':
      return len === 13 || len === 16 || len === 19; // Visa
    case '5':
      if (p2 >= 51 && p2 <= 55) return len === 16; // Mastercard
      return p2 === 50 || (p2 >= 56 && p2 <= 58) ? len >= 12 && len <= 19 : false; // Maestro
    case '6':
      if (p4 === 6011 || p2 === 65 || (p3 >= 644 && p3 <= 649)) return len >= 16 && len <= 19; // Discover
      if (p2 === 62) return len >= 16 && len <= 19; // UnionPay
      return len >= 12 && len <= 19; // Maestro 6x
    default:
      return false;
  }
}

/** True when the value is a payment card number (spaces and dashes allowed as separators). */
export function isCardNumber(value: string, luhn: boolean): boolean {
  if (value.length < 12 || value.length > 23) return false;
  if (!/^\d[\d -]*\d$/.test(value)) return false;
  const digits = value.replace(/[ -]/g, '');
  if (digits.length < 12 || digits.length > 19) return false;
  if (!validIin(digits)) return false;
  return !luhn || luhnValid(digits);
}

// ---------------------------------------------------------------------------------------------- Span

export class Obfuscator {
  readonly sqlErrors = { count: 0 };
  private readonly ccKeep: Set<string>;
  constructor(private readonly opts: ObfuscationOptions = defaultObfuscationOptions()) {
    this.ccKeep = new Set(opts.creditCards.keepValues);
  }

  obfuscate(span: Span): void {
    const o = this.opts;
    const meta = span.meta;
    switch (span.type) {
      case 'sql':
      case 'cassandra': {
        if (!o.sql.enabled) break;
        const src = span.resource !== '' ? span.resource : meta['sql.query'];
        if (src === undefined || src === '') break;
        let q: string;
        try {
          q = obfuscateSql(src, { keepAlias: o.sql.keepAlias });
        } catch {
          this.sqlErrors.count++;
          q = NON_PARSABLE_SQL;
        }
        span.resource = q;
        // the Agent keeps a tracer-provided `sql.query` (already obfuscated by the tracer) and fills it otherwise
        if (meta['sql.query'] === undefined || meta['sql.query'] === '') meta['sql.query'] = q;
        else if (meta['sql.query'] === src) meta['sql.query'] = q;
        break;
      }
      case 'redis':
      case 'valkey': {
        if (span.resource !== '') span.resource = quantizeRedis(span.resource);
        const key = span.type === 'redis' ? 'redis.raw_command' : 'valkey.raw_command';
        if (o.redis.enabled && meta[key] !== undefined)
          meta[key] = obfuscateRedis(meta[key], o.redis.removeAllArgs);
        break;
      }
      case 'memcached': {
        if (o.memcached.enabled && meta['memcached.command'] !== undefined) {
          const v = obfuscateMemcached(meta['memcached.command'], o.memcached.keepCommand);
          if (v === '') delete meta['memcached.command'];
          else meta['memcached.command'] = v;
        }
        break;
      }
      case 'elasticsearch':
      case 'opensearch': {
        const es = span.type === 'elasticsearch' ? o.elasticsearch : o.opensearch;
        const key = `${span.type}.body`;
        if (es.enabled && meta[key] !== undefined)
          meta[key] = obfuscateJson(meta[key], es.keepValues, es.obfuscateSqlValues);
        break;
      }
      case 'mongodb': {
        if (o.mongodb.enabled && meta['mongodb.query'] !== undefined) {
          meta['mongodb.query'] = obfuscateJson(
            meta['mongodb.query'],
            o.mongodb.keepValues,
            o.mongodb.obfuscateSqlValues,
          );
        }
        break;
      }
      default:
        break;
    }
    if ((o.http.removeQueryString || o.http.removePathDigits) && meta['http.url'] !== undefined) {
      meta['http.url'] = obfuscateUrl(meta['http.url'], o.http.removeQueryString, o.http.removePathDigits);
    }
    if (o.removeStackTraces && meta['error.stack'] !== undefined) meta['error.stack'] = '?';
    if (o.creditCards.enabled) for (const k in meta) if (this.scrubsCard(k, meta[k]!)) meta[k] = '?';
  }

  /** Whether the meta entry is a credit-card number this obfuscator replaces with `?`. */
  scrubsCard(k: string, v: string): boolean {
    const cc = this.opts.creditCards;
    if (!cc.enabled) return false;
    // cheap pre-checks first: card numbers start with a digit 2-6 and have 12 to 23 characters
    const c = v.charCodeAt(0);
    if (c < 50 || c > 54 || v.length < 12 || v.length > 23) return false;
    if (k.charCodeAt(0) === 95 /* _ */ || CC_EXEMPT.has(k) || this.ccKeep.has(k)) return false;
    return isCardNumber(v, cc.luhn);
  }

  /** The meta keys `obfuscate` reads or rewrites, credit-card numbers aside (see scrubsCard). */
  get metaKeys(): string[] {
    return [
      'sql.query',
      'redis.raw_command',
      'valkey.raw_command',
      'memcached.command',
      'elasticsearch.body',
      'opensearch.body',
      'mongodb.query',
      'http.url',
      'error.stack',
    ];
  }
}
