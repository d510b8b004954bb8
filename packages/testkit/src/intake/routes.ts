// The intake's endpoints, their payload limits and their success answers.
import {
  type DecodeContext,
  type DecodeResult,
  decodeApiEvent,
  decodeCheckRun,
  decodeIntakeEvents,
  decodeLogs,
  decodeSeries,
  decodeSeriesV1,
  decodeSketches,
  decodeStats,
  decodeTraces,
} from './payloads.js';
import type { IntakeKind } from './types.js';

export interface PayloadLimit {
  /** Bytes on the wire (as sent, compressed or not). */
  compressed: number;
  /** Bytes after decompression. */
  decompressed: number;
}

const MB_5 = 5 * 1024 * 1024;
/** The Agent's generic payload limits (serializer_max_payload_size / _uncompressed_payload_size). */
const GENERIC: PayloadLimit = { compressed: 2_621_440, decompressed: 4_194_304 };

/** Limits per endpoint, from the wire-protocol reference; override any of them with `limits`. */
export const DEFAULT_LIMITS: Readonly<Record<IntakeKind, PayloadLimit>> = {
  series: { compressed: 512_000, decompressed: 5_242_880 },
  series_v1: GENERIC,
  sketches: GENERIC,
  check_run: GENERIC,
  events: GENERIC,
  logs: { compressed: MB_5, decompressed: MB_5 },
  // "3.2MB is the maximum allowed by the Datadog API" (the Agent trace writer's cap).
  traces: { compressed: 3_200_000, decompressed: 3_200_000 },
  stats: GENERIC,
  validate: { compressed: 0, decompressed: 0 },
};

export interface Route {
  kind: IntakeKind;
  method: 'POST' | 'GET';
  decode?: (body: Uint8Array, ctx: DecodeContext) => DecodeResult;
  successStatus: number;
  successBody: (result: DecodeResult | undefined) => string;
  /** Logs answer 401 for a missing key and 403 for a wrong one; the others 403 for both. */
  missingKeyStatus: 401 | 403;
}

const json = (v: unknown) => () => JSON.stringify(v);

const ROUTES: Record<string, Route> = {
  '/api/v2/series': {
    kind: 'series',
    method: 'POST',
    decode: decodeSeries,
    successStatus: 202,
    successBody: json({ errors: [] }),
    missingKeyStatus: 403,
  },
  '/api/v1/series': {
    kind: 'series_v1',
    method: 'POST',
    decode: decodeSeriesV1,
    successStatus: 202,
    successBody: json({ status: 'ok' }),
    missingKeyStatus: 403,
  },
  '/api/beta/sketches': {
    kind: 'sketches',
    method: 'POST',
    decode: decodeSketches,
    successStatus: 202,
    successBody: json({}),
    missingKeyStatus: 403,
  },
  '/api/v1/check_run': {
    kind: 'check_run',
    method: 'POST',
    decode: decodeCheckRun,
    successStatus: 202,
    successBody: json({ status: 'ok' }),
    missingKeyStatus: 403,
  },
  '/api/v1/events': {
    kind: 'events',
    method: 'POST',
    decode: decodeApiEvent,
    successStatus: 202,
    successBody: (r) => JSON.stringify({ status: 'ok', event: r?.decoded ?? {} }),
    missingKeyStatus: 403,
  },
  '/intake': {
    kind: 'events',
    method: 'POST',
    decode: decodeIntakeEvents,
    successStatus: 202,
    successBody: json({ status: 'ok' }),
    missingKeyStatus: 403,
  },
  '/api/v2/logs': {
    kind: 'logs',
    method: 'POST',
    decode: decodeLogs,
    successStatus: 202,
    successBody: json({}),
    missingKeyStatus: 401,
  },
  '/api/v0.2/traces': {
    kind: 'traces',
    method: 'POST',
    decode: decodeTraces,
    successStatus: 202,
    successBody: json({}),
    missingKeyStatus: 403,
  },
  '/api/v0.2/stats': {
    kind: 'stats',
    method: 'POST',
    decode: decodeStats,
    successStatus: 202,
    successBody: json({}),
    missingKeyStatus: 403,
  },
  '/api/v1/validate': {
    kind: 'validate',
    method: 'GET',
    successStatus: 200,
    successBody: json({ valid: true }),
    missingKeyStatus: 403,
  },
};

/** Paths the intake serves (for docs and `intake.paths`). */
export const INTAKE_PATHS: readonly string[] = [
  ...Object.keys(ROUTES).filter((p) => p !== '/intake'),
  '/intake/',
];

export function findRoute(path: string): Route | undefined {
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  return ROUTES[trimmed];
}
