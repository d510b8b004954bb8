import { Agent, type Dispatcher } from 'undici';
import { type AwsEndpointSettings, awsEndpoint, awsJsonCall } from './aws/client.js';
import { type CredentialSource, loadCredentials } from './aws/credentials.js';
import { type Clock, type Logger, monotonicClock } from './types.js';

/** Where the API key comes from, in the Lambda extension's order of precedence. */
export type ApiKeySource =
  | { type: 'plain'; apiKey: string }
  | { type: 'kms'; ciphertext: string }
  | { type: 'secrets-manager'; secretArn: string }
  | { type: 'ssm'; parameter: string }
  | { type: 'none' };

export interface ApiKeyOptions {
  source: ApiKeySource;
  /** `DD_API_KEY_SECRET_RELOAD_INTERVAL`, in milliseconds; 0 = never. */
  reloadIntervalMs: number;
  /** `AWS_REGION` (else `AWS_DEFAULT_REGION`), for KMS and SSM names that are not ARNs. */
  region: string;
  /** `AWS_LAMBDA_FUNCTION_NAME`, the KMS encryption context the Lambda console adds. */
  functionName: string;
  aws: AwsEndpointSettings;
  credentials: CredentialSource;
  /** Time allowed for one resolution. */
  timeoutMs: number;
}

export type ApiKeyState = 'pending' | 'ready' | 'failed';

/** Least time between two re-reads of a secret caused by 403 answers. */
export const INVALIDATE_INTERVAL_MS = 60_000;

/** Trailing newlines and every space go, as the Lambda extension cleans keys. */
export function cleanApiKey(raw: string): string | undefined {
  const cleaned = raw.replace(/\n+$/, '').replace(/ /g, '').trim();
  return cleaned === '' ? undefined : cleaned;
}

/** A secret string is the key, or JSON holding it under `dd_api_key` (then `apiKey`). */
export function keyFromSecretString(secret: string): string | undefined {
  const trimmed = secret.trim();
  if (trimmed.startsWith('{')) {
    try {
      const parsed = JSON.parse(trimmed) as Record<string, unknown>;
      // An empty `dd_api_key` is as good as none: the next field may hold the key.
      for (const field of ['dd_api_key', 'apiKey']) {
        const v = parsed[field];
        const key = typeof v === 'string' ? cleanApiKey(v) : undefined;
        if (key) return key;
      }
      return undefined;
    } catch {
      // Not JSON after all: the whole string is the key.
    }
  }
  return cleanApiKey(secret);
}

function regionOfArn(arn: string): string | undefined {
  const parts = arn.split(':');
  return parts[0] === 'arn' && parts.length >= 6 && parts[3] ? parts[3] : undefined;
}

function describe(source: ApiKeySource): string {
  switch (source.type) {
    case 'kms':
      return 'DD_KMS_API_KEY (KMS Decrypt)';
    case 'secrets-manager':
      return 'DD_API_KEY_SECRET_ARN (Secrets Manager GetSecretValue)';
    case 'ssm':
      return 'the SSM parameter (GetParameter)';
    case 'plain':
      return 'DD_API_KEY';
    case 'none':
      return 'no API key source';
  }
}

/**
 * Resolves the API key concurrently with start-up: `start()` returns at once, senders `get()` it within
 * their own deadline. A failure is one log line; the forwarder then drops and counts what it cannot send.
 */
export class ApiKeyProvider {
  readonly #options: ApiKeyOptions;
  readonly #logger: Logger;
  readonly #clock: Clock;
  #key: string | undefined;
  #state: ApiKeyState = 'pending';
  #resolvedAt = 0;
  #invalidatedAt: number | undefined;
  #inFlight: Promise<void> | undefined;
  #waiters = new Set<() => void>();
  #dispatcher: Dispatcher | undefined;
  readonly #injectedDispatcher: Dispatcher | undefined;
  #onKey: ((key: string) => void) | undefined;

  constructor(
    options: ApiKeyOptions,
    logger: Logger,
    clock: Clock = monotonicClock,
    dispatcher?: Dispatcher,
  ) {
    this.#options = options;
    this.#logger = logger;
    this.#clock = clock;
    this.#injectedDispatcher = dispatcher;
    if (options.source.type === 'plain') this.#settle(cleanApiKey(options.source.apiKey), undefined);
    if (options.source.type === 'none')
      this.#settle(undefined, 'no API key configured (DD_API_KEY or a secret)');
  }

  get state(): ApiKeyState {
    return this.#state;
  }

  /** Tells the redacting logger about every key resolved, so none can appear in a log line. */
  onKey(listener: (key: string) => void): void {
    this.#onKey = listener;
    if (this.#key) listener(this.#key);
  }

  /** Starts resolution in the background (idempotent). */
  start(): void {
    if (this.#state === 'pending') this.#refresh();
  }

  /** The key when resolved (what `get` gives without waiting), else undefined; starts a due reload. */
  ready(): string | undefined {
    if (this.#state !== 'ready') return undefined;
    this.#maybeReload();
    return this.#key;
  }

  /** The key, waiting at most until `signal` aborts; undefined if it failed or is not there yet. */
  async get(signal: AbortSignal): Promise<string | undefined> {
    this.start();
    this.#maybeReload();
    if (this.#state !== 'pending' || signal.aborted) return this.#key;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.#waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.#waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
    return this.#key;
  }

  /**
   * After a 403 a rotated secret may have a new value: re-resolve (secret sources only), keeping the old key
   * until then. At most once per `INVALIDATE_INTERVAL_MS` (or the reload interval, if longer): a key that is
   * simply wrong must not cost an AWS call at every flush.
   */
  invalidate(): void {
    if (!this.#isSecret() || this.#inFlight) return;
    const interval = Math.max(INVALIDATE_INTERVAL_MS, this.#options.reloadIntervalMs);
    if (this.#invalidatedAt !== undefined && this.#clock.now() - this.#invalidatedAt < interval) return;
    this.#invalidatedAt = this.#clock.now();
    this.#refresh();
  }

  async close(): Promise<void> {
    await this.#inFlight?.catch(() => {});
    await this.#dispatcher?.close().catch(() => {});
    this.#dispatcher = undefined;
  }

  #isSecret(): boolean {
    const t = this.#options.source.type;
    return t === 'kms' || t === 'secrets-manager' || t === 'ssm';
  }

  #maybeReload(): void {
    const interval = this.#options.reloadIntervalMs;
    if (interval <= 0 || !this.#isSecret() || this.#inFlight || this.#state === 'pending') return;
    if (this.#clock.now() - this.#resolvedAt >= interval) this.#refresh();
  }

  #refresh(): void {
    if (this.#inFlight) return;
    const signal = AbortSignal.timeout(this.#options.timeoutMs);
    const started = this.#clock.now();
    this.#inFlight = this.#resolve(signal)
      .then((key) => {
        if (!key) throw new Error('the secret holds no usable API key');
        this.#logger.debug(
          `API key resolved from ${describe(this.#options.source)} in ${Math.round(this.#clock.now() - started)} ms`,
        );
        this.#settle(key, undefined);
      })
      .catch((err: unknown) => {
        const reason = err instanceof Error ? err.message : String(err);
        // A reload that fails keeps the key that works.
        if (this.#key) {
          this.#logger.warn(
            `API key reload from ${describe(this.#options.source)} failed: ${reason}; keeping the current key`,
          );
          this.#resolvedAt = this.#clock.now();
          return;
        }
        this.#settle(
          undefined,
          `could not resolve the API key from ${describe(this.#options.source)}: ${reason}`,
        );
      })
      .finally(() => {
        this.#inFlight = undefined;
      });
  }

  #settle(key: string | undefined, failure: string | undefined): void {
    this.#key = key;
    this.#resolvedAt = this.#clock.now();
    this.#state = key ? 'ready' : 'failed';
    if (key) this.#onKey?.(key);
    else
      this.#logger.error(
        `${failure ?? 'API key is empty'}; data for the Datadog intake is dropped and counted`,
      );
    for (const w of [...this.#waiters]) w();
  }

  #awsDispatcher(): Dispatcher {
    // Its own agent: the secrets client never goes through the Datadog proxy nor skips TLS validation.
    this.#dispatcher ??= this.#injectedDispatcher ?? new Agent({ keepAliveTimeout: 1_000, connections: 2 });
    return this.#dispatcher;
  }

  async #resolve(signal: AbortSignal): Promise<string | undefined> {
    const o = this.#options;
    const source = o.source;
    const dispatcher = this.#awsDispatcher();
    const credentials = await loadCredentials(o.credentials, dispatcher, signal);
    const call = async (
      service: 'secretsmanager' | 'kms' | 'ssm',
      region: string,
      target: string,
      body: unknown,
    ): Promise<Record<string, unknown>> =>
      awsJsonCall({
        service,
        region,
        target,
        body,
        endpoint: awsEndpoint(service, region, o.aws),
        credentials,
        dispatcher,
        signal,
      });

    switch (source.type) {
      case 'secrets-manager': {
        // The secret may live in another region than the function: its ARN says which.
        const region = regionOfArn(source.secretArn) ?? o.region;
        const out = await call('secretsmanager', region, 'secretsmanager.GetSecretValue', {
          SecretId: source.secretArn,
        });
        if (typeof out.SecretString !== 'string') throw new Error('the secret has no SecretString');
        return keyFromSecretString(out.SecretString);
      }
      case 'kms': {
        const region = o.region;
        // Keys encrypted with the CLI carry no context; those encrypted in the Lambda console carry the function name.
        const plain = async (context: Record<string, string> | undefined) => {
          const out = await call('kms', region, 'TrentService.Decrypt', {
            CiphertextBlob: source.ciphertext.trim(),
            ...(context ? { EncryptionContext: context } : {}),
          });
          if (typeof out.Plaintext !== 'string') throw new Error('KMS answered no Plaintext');
          return Buffer.from(out.Plaintext, 'base64').toString('utf8');
        };
        let decrypted: string;
        try {
          decrypted = await plain(undefined);
        } catch (first) {
          if (signal.aborted) throw first;
          decrypted = await plain({ LambdaFunctionName: o.functionName });
        }
        return cleanApiKey(decrypted);
      }
      case 'ssm': {
        const region = regionOfArn(source.parameter) ?? o.region;
        const out = await call('ssm', region, 'AmazonSSM.GetParameter', {
          Name: source.parameter,
          WithDecryption: true,
        });
        const parameter = out.Parameter as { Value?: unknown } | undefined;
        if (typeof parameter?.Value !== 'string') throw new Error('the parameter has no Value');
        return cleanApiKey(parameter.Value);
      }
      case 'plain':
        return cleanApiKey(source.apiKey);
      case 'none':
        return undefined;
    }
  }
}
