import type { StartPosition } from './file-tailer.js';
import { type ProcessingRule, parseProcessingRules } from './rules.js';
import { type Logger, noopLogger } from './types.js';

export interface LogsConfig {
  /** Ship logs: Lambda's `DD_SERVERLESS_LOGS_ENABLED`/`DD_LOGS_ENABLED`, or serverless-init's `DD_LOGS_ENABLED`. */
  enabled: boolean;
  rules: ProcessingRule[];
  /** `DD_SERVICE`, lower-cased; "" when unset. */
  service: string;
  /** `DD_SOURCE`, lower-cased, when set (serverless-init). */
  source?: string;
  /** `DD_SERVERLESS_LOG_PATH` (serverless-init file tailing). */
  logPath?: string;
  /** `DD_LOGS_CONFIG_RUN_PATH`: where the tailer keeps its registry. */
  runPath?: string;
  /** `DD_LOGS_CONFIG_TAILING_MODE`-style start position for tailed files (default `beginning`). */
  startPosition: StartPosition;
  /** `DD_LOGS_CONFIG_OPEN_FILES_LIMIT`: most files tailed at once (default 500). */
  openFilesLimit: number;
  /** `DD_SERVERLESS_AGENT_SHIP_OWN_LOGS`: also ship this extension's own lines. */
  shipOwnLogs: boolean;
}

export interface FromEnvOptions {
  /** `lambda` (default) or `serverless-init`: the two read `DD_LOGS_ENABLED` differently. */
  target?: 'lambda' | 'serverless-init';
}

type Env = Readonly<Record<string, string | undefined>>;

/** The config crate's forgiving booleans: true/false, 1/0, yes/no, on/off; anything else warns. */
function parseBool(env: Env, name: string, logger: Logger): boolean | undefined {
  const raw = env[name];
  if (raw === undefined) return undefined;
  const v = raw.trim().toLowerCase();
  if (v === '') return undefined;
  if (v === 'true' || v === '1' || v === 'yes' || v === 'on' || v === 't' || v === 'y') return true;
  if (v === 'false' || v === '0' || v === 'no' || v === 'off' || v === 'f' || v === 'n') return false;
  logger.warn(`logs: ${name}=${JSON.stringify(raw)} is not a boolean; using the default`);
  return undefined;
}

const START_POSITIONS = new Set<StartPosition>(['beginning', 'end', 'forceBeginning', 'forceEnd']);

/**
 * Reads the logs variables with Datadog's names, defaults and formats. Invalid values warn and fall
 * back to the default; invalid processing rules are reported and left out. Never throws.
 */
export function fromEnv(env: Env, logger: Logger = noopLogger, options: FromEnvOptions = {}): LogsConfig {
  const target = options.target ?? 'lambda';
  let enabled: boolean;
  if (target === 'serverless-init') {
    // serverless-init tees the child's output only when DD_LOGS_ENABLED is "true".
    enabled = parseBool(env, 'DD_LOGS_ENABLED', logger) ?? false;
  } else {
    // If either is set the result is the OR of both, an unset one counting false; neither set: on.
    const serverless = parseBool(env, 'DD_SERVERLESS_LOGS_ENABLED', logger);
    const logs = parseBool(env, 'DD_LOGS_ENABLED', logger);
    enabled =
      serverless === undefined && logs === undefined ? true : (serverless ?? false) || (logs ?? false);
  }
  const config: LogsConfig = {
    enabled,
    rules: parseProcessingRules(env['DD_LOGS_CONFIG_PROCESSING_RULES'], logger),
    service: (env['DD_SERVICE'] ?? '').trim().toLowerCase(),
    startPosition: 'beginning',
    openFilesLimit: 500,
    shipOwnLogs: parseBool(env, 'DD_SERVERLESS_AGENT_SHIP_OWN_LOGS', logger) ?? false,
  };
  const source = env['DD_SOURCE']?.trim();
  if (source) config.source = source.toLowerCase();
  const logPath = env['DD_SERVERLESS_LOG_PATH']?.trim();
  if (logPath) config.logPath = logPath;
  const runPath = env['DD_LOGS_CONFIG_RUN_PATH']?.trim();
  if (runPath) config.runPath = runPath;
  const limit = env['DD_LOGS_CONFIG_OPEN_FILES_LIMIT']?.trim();
  if (limit) {
    const n = Number(limit);
    if (Number.isSafeInteger(n) && n > 0) config.openFilesLimit = n;
    else
      logger.warn(
        `logs: DD_LOGS_CONFIG_OPEN_FILES_LIMIT=${JSON.stringify(limit)} is not a positive integer; using 500`,
      );
  }
  const mode = env['DD_LOGS_CONFIG_TAILING_MODE']?.trim();
  if (mode) {
    if (START_POSITIONS.has(mode as StartPosition)) config.startPosition = mode as StartPosition;
    else
      logger.warn(
        `logs: DD_LOGS_CONFIG_TAILING_MODE=${JSON.stringify(mode)} is not one of beginning, end, forceBeginning, forceEnd; using beginning`,
      );
  }
  return config;
}
