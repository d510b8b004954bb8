import { type ForwarderOptions, fromEnv, type Logger, type OutgoingPayload } from '../../src/index.js';
import { captureLogger } from './logger.js';

export const API_KEY = 'abcdef0123456789abcdef0123456789';

/** Options from the environment a user would set, every intake pointed at `url`. */
export function optionsFor(
  url: string,
  env: Record<string, string> = {},
  logger: Logger = captureLogger(),
  overrides: Partial<ForwarderOptions> = {},
): ForwarderOptions {
  const options = fromEnv(
    {
      DD_API_KEY: API_KEY,
      DD_DD_URL: url,
      DD_APM_DD_URL: url,
      DD_LOGS_CONFIG_LOGS_DD_URL: url,
      ...env,
    },
    logger,
  );
  return {
    ...options,
    freezeTickMs: 0,
    backoff: { baseMs: 5, maxMs: 20 },
    ...overrides,
  };
}

export function jsonPayload(
  kind: OutgoingPayload['kind'],
  value: unknown,
  extra: Partial<OutgoingPayload> = {},
) {
  return {
    kind,
    body: Buffer.from(JSON.stringify(value)),
    contentType: 'application/json',
    items: 1,
    ...extra,
  } satisfies OutgoingPayload;
}

/** A clock the test moves by hand. */
export function manualClock(start = 1_000) {
  let t = start;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
  };
}
