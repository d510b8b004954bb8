import { createForwarder, fromEnv, type OutgoingPayload } from '@serverless-agent/forwarder';
import type { Env } from './config.js';
import type { Logger } from './logger.js';

/** How the app groups payloads for the final flush's per-kind budgets. */
export type PayloadKind = 'traces' | 'logs' | 'metrics';

/** A payload as every package hands it over (structurally the forwarder's, with any kind name). */
export interface AnyOutgoingPayload {
  kind: string;
  body: Uint8Array;
  contentType: string;
  headers?: Record<string, string>;
  items?: number;
}

export interface Sender {
  send(payloads: AnyOutgoingPayload[], kind: PayloadKind, signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** A periodic flush's requests end after this (serverless-init's 5 s flush timeout). */
const PERIODIC_TIMEOUT_MS = 5_000;

/** The trace receiver's LLM Observability eval route maps onto the forwarder's two kinds by version. */
function normaliseKind(p: AnyOutgoingPayload): AnyOutgoingPayload {
  if (p.kind !== 'llmobs_eval') return p;
  const path = Object.entries(p.headers ?? {}).find(
    ([k]) => k.toLowerCase() === 'x-serverless-agent-intake-path',
  )?.[1];
  return { ...p, kind: path?.includes('/v2/') ? 'llmobs_eval_v2' : 'llmobs_eval_v1' };
}

/** The forwarder, configured from the DD_* variables (site, URLs, proxy, compression, API key). */
export function startSender(env: Env, logger: Logger): Sender {
  // A container is never frozen: a long event-loop stall is not a thaw, so the freeze detector is off.
  const forwarder = createForwarder({
    ...fromEnv(env, logger),
    freezeTickMs: 0,
    freezeGapMs: Number.MAX_SAFE_INTEGER,
  });
  // One line a minute per kind at most: a dead intake must not flood the user's stderr.
  const lastWarned = new Map<PayloadKind, number>();
  return {
    async send(payloads, kind, signal) {
      const result = await forwarder.flush(payloads.map(normaliseKind) as OutgoingPayload[], {
        signal: signal ?? AbortSignal.timeout(PERIODIC_TIMEOUT_MS),
      });
      const dropped = Object.entries(result.dropped).filter(([, n]) => (n ?? 0) > 0);
      const now = Date.now();
      if (dropped.length > 0 && now - (lastWarned.get(kind) ?? Number.NEGATIVE_INFINITY) >= 60_000) {
        lastWarned.set(kind, now);
        logger.warn(`${kind}: ${dropped.map(([why, n]) => `${n} dropped (${why})`).join(', ')}`);
      }
    },
    close: () => forwarder.close(),
  };
}
