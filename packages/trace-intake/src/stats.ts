// Trace stats: the concentrator (wire-protocols E.3) for when neither the tracer nor the backend
// computes them, the pass-through of tracer-computed `/v0.6/stats`, and the `/api/v0.2/stats` msgpack.
import { LogCollapsingLowestDenseDDSketch } from '@datadog/sketches-js';
import { DecodeError, unpackMsgpack } from './decode.js';
import { isZeroId, toU64 } from './ids.js';
import { MsgpackWriter } from './msgpack-writer.js';
import type { OutgoingPayload, Span, TracerPayload } from './types.js';

export const BUCKET_NS = 10_000_000_000;
/** BC aggregates stats payloads of at most 3 MiB. */
export const MAX_STATS_PAYLOAD_BYTES = 3 * 1024 * 1024;

const SPAN_KINDS = new Set(['server', 'client', 'producer', 'consumer']);
const PEER_KINDS = new Set(['client', 'producer', 'consumer']);
const DEFAULT_PEER_TAGS = [
  '_dd.base_service',
  'amqp.destination',
  'amqp.exchange',
  'amqp.queue',
  'aws.queue.name',
  'aws.s3.bucket',
  'bucketname',
  'db.cassandra.contact.points',
  'db.couchbase.seed.nodes',
  'db.hostname',
  'db.instance',
  'db.name',
  'db.namespace',
  'db.system',
  'grpc.host',
  'hostname',
  'http.host',
  'http.server_name',
  'messaging.destination',
  'messaging.destination.name',
  'messaging.kafka.bootstrap.servers',
  'messaging.rabbitmq.exchange',
  'messaging.system',
  'mongodb.db',
  'msmq.queue.path',
  'net.peer.name',
  'network.destination.name',
  'peer.hostname',
  'peer.service',
  'queuename',
  'rpc.service',
  'rpc.system',
  'server.address',
  'streamname',
  'tablename',
  'topicname',
];

export interface ClientGroupedStats {
  Service: string;
  Name: string;
  Resource: string;
  HTTPStatusCode: number;
  Type: string;
  DBType: string;
  Hits: number;
  Errors: number;
  Duration: number | bigint;
  OkSummary: Uint8Array;
  ErrorSummary: Uint8Array;
  Synthetics: boolean;
  TopLevelHits: number;
  SpanKind: string;
  PeerTags: string[];
  IsTraceRoot: number;
  GRPCStatusCode: string;
  HTTPMethod: string;
  HTTPEndpoint: string;
}

export interface ClientStatsBucket {
  Start: number | bigint;
  Duration: number | bigint;
  Stats: ClientGroupedStats[];
  AgentTimeShift: number;
}

export interface ClientStatsPayload {
  Hostname: string;
  Env: string;
  Version: string;
  Stats: ClientStatsBucket[];
  Lang: string;
  TracerVersion: string;
  RuntimeID: string;
  Sequence: number | bigint;
  AgentAggregation?: string;
  Service?: string;
  ContainerID: string;
  Tags: string[];
  GitCommitSha: string;
  ImageTag: string;
  [k: string]: unknown;
}

interface Group {
  key: Omit<
    ClientGroupedStats,
    'Hits' | 'Errors' | 'Duration' | 'OkSummary' | 'ErrorSummary' | 'TopLevelHits'
  >;
  /** PeerTags joined, to compare keys. */
  peer: string;
  hits: number;
  errors: number;
  duration: number;
  topLevelHits: number;
  ok: LogCollapsingLowestDenseDDSketch;
  err: LogCollapsingLowestDenseDDSketch;
}

/**
 * The groups of one bucket and payload key, in the order they were first seen; found by resource
 * (it nearly always tells them apart), then by comparing the rest of the key.
 */
interface PayloadGroups {
  pk: PayloadKey;
  groups: Group[];
  byResource: Map<string, Group[]>;
}

interface PayloadKey {
  Hostname: string;
  Env: string;
  Version: string;
  ContainerID: string;
  Lang: string;
  GitCommitSha: string;
  ImageTag: string;
}

// Durations lose all but 10 bits of mantissa before entering a sketch, as the Agent does: the
// sketch's 1% accuracy makes the rest noise, and equal values merge into fewer bins.
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
export function reducePrecision(ns: number): number {
  f64[0] = ns;
  u32[0] = 0; // low 32 bits of the mantissa (little-endian)
  u32[1]! &= 0xfffffc00; // keep 10 of the remaining 20
  return f64[0]!;
}

export interface ConcentratorOptions {
  env: string;
  version: string;
  hostname: string;
  /** Buckets kept open behind the newest (the Agent keeps about two). */
  bufferLen: number;
  computeBySpanKind: boolean;
  peerTagKeys: string[];
  rand: () => number;
}

/** An id as a Map key: its unsigned 64-bit value, whatever width the tracer used. */
const u64Key = (id: Span['span_id']): bigint =>
  typeof id === 'bigint'
    ? id >= 0n
      ? id
      : toU64(id)
    : Number.isInteger(id) && id >= 0
      ? BigInt(id)
      : toU64(id);

/** Chunks of at most this many spans are searched for a parent rather than indexed. */
const SCAN_MAX = 16;

/** Whether two ids are the same unsigned 64-bit value (as u64Key compares them). */
function sameU64(a: Span['span_id'], b: Span['span_id']): boolean {
  if (typeof a === 'bigint' && typeof b === 'bigint' && a >= 0n && b >= 0n) return a === b;
  return u64Key(a) === u64Key(b);
}

function stochasticRound(x: number, rand: () => number): number {
  const f = Math.floor(x);
  return rand() < x - f ? f + 1 : f;
}

export class StatsConcentrator {
  private readonly buckets = new Map<number, Map<string, PayloadGroups>>();
  private readonly opts: ConcentratorOptions;
  spansCounted = 0;

  constructor(opts: Partial<ConcentratorOptions> = {}) {
    this.opts = {
      env: '',
      version: '',
      hostname: '',
      bufferLen: 2,
      computeBySpanKind: true,
      peerTagKeys: DEFAULT_PEER_TAGS,
      rand: Math.random,
      ...opts,
    };
  }

  /** The meta keys `add` reads. */
  get metaKeys(): string[] {
    return [
      'span.kind',
      'http.status_code',
      ...this.opts.peerTagKeys,
      'rpc.grpc.status_code',
      'grpc.code',
      'rpc.grpc.status.code',
      'grpc.status.code',
      '_dd.origin',
      'http.method',
      'http.endpoint',
      'http.route',
    ];
  }

  private eligible(s: Span, topLevel: boolean): boolean {
    if (s.metrics['_dd.partial_version'] !== undefined) return false;
    if (topLevel || s.metrics['_dd.measured'] === 1) return true;
    return this.opts.computeBySpanKind && SPAN_KINDS.has(s.meta['span.kind'] ?? '');
  }

  /** Counts every eligible span of the payload's chunks. */
  add(payload: TracerPayload): void {
    const h = payload.header;
    const pk: PayloadKey = {
      Hostname: payload.hostname ?? this.opts.hostname,
      Env: payload.env ?? this.opts.env,
      Version: payload.appVersion ?? this.opts.version,
      ContainerID: h.containerId,
      Lang: h.lang,
      GitCommitSha: '',
      ImageTag: '',
    };
    const pkKey = `${pk.Hostname}\u0000${pk.Env}\u0000${pk.Version}\u0000${pk.ContainerID}\u0000${pk.Lang}`;
    for (const chunk of payload.chunks) {
      const spans = chunk.spans;
      // a few spans (nearly every chunk) are searched; a set of their ids pays only for more
      const ids = spans.length > SCAN_MAX ? new Set(spans.map((s) => u64Key(s.span_id))) : undefined;
      const root = spans.find((s) => isZeroId(s.parent_id));
      const rate = root?.metrics['_sample_rate'];
      const weight = rate !== undefined && rate > 0 && rate <= 1 ? 1 / rate : 1;
      for (const s of spans) {
        const topLevel = s.metrics['_top_level'] === 1 || s.metrics['_dd.top_level'] === 1;
        if (!this.eligible(s, topLevel)) continue;
        const isRoot =
          isZeroId(s.parent_id) ||
          (ids ? !ids.has(u64Key(s.parent_id)) : !spans.some((p) => sameU64(p.span_id, s.parent_id)));
        this.addSpan(pk, pkKey, s, topLevel, isRoot, weight);
      }
    }
  }

  private addSpan(
    pk: PayloadKey,
    pkKey: string,
    s: Span,
    topLevel: boolean,
    isRoot: boolean,
    weight: number,
  ): void {
    const start = Number(s.start);
    const duration = Number(s.duration);
    const end = start + duration;
    const bucketStart = end - (end % BUCKET_NS);
    let bucket = this.buckets.get(bucketStart);
    if (!bucket) {
      bucket = new Map();
      this.buckets.set(bucketStart, bucket);
    }
    let perPayload = bucket.get(pkKey);
    if (!perPayload) {
      perPayload = { pk, groups: [], byResource: new Map() };
      bucket.set(pkKey, perPayload);
    }
    const m = s.meta;
    const kind = m['span.kind'] ?? '';
    const status = Number(m['http.status_code'] ?? s.metrics['http.status_code'] ?? 0);
    const httpStatus = Number.isInteger(status) && status > 0 ? status : 0;
    let peerTags: string[] | undefined;
    if (PEER_KINDS.has(kind)) {
      peerTags = [];
      for (const k of this.opts.peerTagKeys)
        if (m[k] !== undefined && m[k] !== '') peerTags.push(`${k}:${m[k]}`);
    }
    const grpc =
      m['rpc.grpc.status_code'] ?? m['grpc.code'] ?? m['rpc.grpc.status.code'] ?? m['grpc.status.code'] ?? '';
    const synthetics = (m['_dd.origin'] ?? '').startsWith('synthetics');
    const method = m['http.method'] ?? '';
    const endpoint = m['http.endpoint'] ?? m['http.route'] ?? '';
    // the group object is built only for a group not seen before
    const peer = peerTags?.join(',') ?? '';
    const traceRoot = isRoot ? 1 : 2;
    let candidates = perPayload.byResource.get(s.resource);
    if (!candidates) {
      candidates = [];
      perPayload.byResource.set(s.resource, candidates);
    }
    let g: Group | undefined;
    for (const c of candidates) {
      const k = c.key;
      if (
        k.Service === s.service &&
        k.Name === s.name &&
        k.HTTPStatusCode === httpStatus &&
        k.Type === s.type &&
        k.Synthetics === synthetics &&
        k.SpanKind === kind &&
        c.peer === peer &&
        k.IsTraceRoot === traceRoot &&
        k.GRPCStatusCode === grpc &&
        k.HTTPMethod === method &&
        k.HTTPEndpoint === endpoint
      ) {
        g = c;
        break;
      }
    }
    if (!g) {
      g = {
        key: {
          Service: s.service,
          Name: s.name,
          Resource: s.resource,
          HTTPStatusCode: httpStatus,
          Type: s.type,
          DBType: '',
          Synthetics: synthetics,
          SpanKind: kind,
          PeerTags: peerTags ?? [],
          IsTraceRoot: traceRoot,
          GRPCStatusCode: grpc,
          HTTPMethod: method,
          HTTPEndpoint: endpoint,
        },
        peer,
        hits: 0,
        errors: 0,
        duration: 0,
        topLevelHits: 0,
        ok: new LogCollapsingLowestDenseDDSketch({ relativeAccuracy: 0.01, binLimit: 2048 }),
        err: new LogCollapsingLowestDenseDDSketch({ relativeAccuracy: 0.01, binLimit: 2048 }),
      };
      candidates.push(g);
      perPayload.groups.push(g);
    }
    g.hits += weight;
    if (topLevel) g.topLevelHits += weight;
    g.duration += duration * weight;
    const v = reducePrecision(Math.max(duration, 0));
    if (s.error !== 0) {
      g.errors += weight;
      if (v > 0) g.err.accept(v);
    } else if (v > 0) g.ok.accept(v);
    this.spansCounted++;
  }

  /** Closed buckets (all of them when forced, e.g. at shutdown) as ClientStatsPayloads. */
  flush(nowNs: number, force = false): ClientStatsPayload[] {
    const horizon = nowNs - (nowNs % BUCKET_NS) - (this.opts.bufferLen - 1) * BUCKET_NS;
    const byPayload = new Map<string, ClientStatsPayload>();
    for (const [start, bucket] of [...this.buckets.entries()].sort((a, b) => a[0] - b[0])) {
      if (!force && start >= horizon) continue;
      this.buckets.delete(start);
      for (const [pkKey, { pk, groups }] of bucket) {
        let p = byPayload.get(pkKey);
        if (!p) {
          p = { ...pk, Stats: [], TracerVersion: '', RuntimeID: '', Sequence: 0, Tags: [], Service: '' };
          byPayload.set(pkKey, p);
        }
        const rand = this.opts.rand;
        p.Stats.push({
          Start: BigInt(start),
          Duration: BigInt(BUCKET_NS),
          AgentTimeShift: 0,
          Stats: groups.map((g) => ({
            ...g.key,
            Hits: stochasticRound(g.hits, rand),
            Errors: stochasticRound(g.errors, rand),
            Duration: BigInt(Math.round(g.duration)),
            TopLevelHits: stochasticRound(g.topLevelHits, rand),
            OkSummary: g.ok.toProto(),
            ErrorSummary: g.err.toProto(),
          })),
        });
      }
    }
    return [...byPayload.values()];
  }

  get openBuckets(): number {
    return this.buckets.size;
  }
}

/** `/v0.6/stats` body from a tracer: a msgpack ClientStatsPayload with PascalCase keys. */
export function decodeClientStats(body: Uint8Array): ClientStatsPayload {
  const v = unpackMsgpack(body);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new DecodeError('stats: expected a map');
  const p = v as ClientStatsPayload;
  if (p.Stats !== undefined && p.Stats !== null && !Array.isArray(p.Stats)) {
    throw new DecodeError('stats: Stats is not an array');
  }
  p.Stats ??= [];
  return p;
}

export interface StatsEncodeOptions {
  agentHostname: string;
  agentEnv: string;
  agentVersion: string;
  clientComputed: boolean;
  maxBytes?: number;
}

function writeStatsPayload(stats: ClientStatsPayload[], o: StatsEncodeOptions, split: boolean): Uint8Array {
  const w = new MsgpackWriter();
  w.map(6);
  w.str('AgentHostname').str(o.agentHostname);
  w.str('AgentEnv').str(o.agentEnv);
  w.str('Stats').value(stats);
  w.str('AgentVersion').str(o.agentVersion);
  w.str('ClientComputed').bool(o.clientComputed);
  w.str('SplitPayload').bool(split);
  return w.finish();
}

function groupsIn(stats: ClientStatsPayload[]): number {
  let n = 0;
  for (const p of stats) for (const b of p.Stats ?? []) n += b.Stats?.length ?? 0;
  return n;
}

function statsOutgoing(stats: ClientStatsPayload[], o: StatsEncodeOptions, split = false): OutgoingPayload {
  return {
    kind: 'stats',
    body: writeStatsPayload(stats, o, split),
    contentType: 'application/msgpack',
    items: groupsIn(stats),
    split: () => {
      if (stats.length < 2) return undefined;
      const mid = stats.length >> 1;
      return [statsOutgoing(stats.slice(0, mid), o, true), statsOutgoing(stats.slice(mid), o, true)];
    },
  };
}

/** StatsPayload msgpack for `/api/v0.2/stats`, in requests of at most `maxBytes`. */
export function encodeStatsPayloads(stats: ClientStatsPayload[], o: StatsEncodeOptions): OutgoingPayload[] {
  if (stats.length === 0) return [];
  const max = o.maxBytes ?? MAX_STATS_PAYLOAD_BYTES;
  const whole = statsOutgoing(stats, o);
  if (whole.body.length <= max || stats.length < 2) return [whole];
  const out: OutgoingPayload[] = [];
  let batch: ClientStatsPayload[] = [];
  let size = 128;
  for (const p of stats) {
    const len = new MsgpackWriter().value(p).finish().length;
    if (batch.length > 0 && size + len > max) {
      out.push(statsOutgoing(batch, o, true));
      batch = [];
      size = 128;
    }
    batch.push(p);
    size += len;
  }
  if (batch.length > 0) out.push(statsOutgoing(batch, o, out.length > 0));
  return out;
}
