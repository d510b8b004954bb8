// The first thing the extension process does. Plain CommonJS with Node built-ins only, on
// purpose: an entry point that `require`s it registers before anything else loads, the ES module
// loader included (the null extension it is measured against is CommonJS too). Types come from
// the JSDoc, checked by tsc.
'use strict';
const { request } = require('node:http');

const EXTENSION_NAME = 'datadog-agent';
const EXTENSIONS_API_VERSION = '2020-01-01';

/** @typedef {'INVOKE' | 'SHUTDOWN'} ExtensionEventType */

/**
 * @typedef {object} Registration
 * @property {string} extensionId
 * @property {string} accountId From the `accountId` feature; `"none"` when Lambda sent none (as the real extension).
 * @property {string} [functionName]
 * @property {string} [functionVersion]
 * @property {string} [handler]
 * @property {ExtensionEventType[]} events
 */

/**
 * @typedef {object} RegisterOptions
 * @property {string} [runtimeApi] `host:port` of the Lambda API; default `AWS_LAMBDA_RUNTIME_API`.
 * @property {boolean} [managedInstances] Registers SHUTDOWN only (invocations are driven by telemetry).
 * @property {string} [name]
 * @property {number} [timeoutMs]
 * @property {import('node:http').Agent} [agent] A kept-alive agent the calls after it (the subscription,
 *   `event/next`) use too: one connection for all, each request written at once rather than a turn of
 *   the event loop after a new connection's connect.
 */

/**
 * @typedef {object} HttpResult
 * @property {number} status
 * @property {import('node:http').IncomingHttpHeaders} headers
 * @property {string} body
 */

class ExtensionsApiError extends Error {
  /**
   * @param {string} message
   * @param {number} status
   * @param {string | undefined} errorType
   */
  constructor(message, status, errorType) {
    super(message);
    this.name = 'ExtensionsApiError';
    /** @readonly */
    this.status = status;
    /** @readonly */
    this.errorType = errorType;
  }
}

/**
 * One HTTP exchange with the Lambda API, without a proxy; on a connection of its own unless `agent`
 * is given. An error on a kept-alive connection carries `reusedSocket: true` (safe to retry once).
 * @param {string} runtimeApi
 * @param {string} method
 * @param {string} path
 * @param {Record<string, string>} headers
 * @param {string} [body]
 * @param {number} [timeoutMs]
 * @param {import('node:http').Agent} [agent]
 * @returns {Promise<HttpResult>}
 */
function lambdaApiRequest(runtimeApi, method, path, headers, body, timeoutMs, agent) {
  const colon = runtimeApi.lastIndexOf(':');
  const host = colon > 0 ? runtimeApi.slice(0, colon) : runtimeApi;
  const port = colon > 0 ? Number(runtimeApi.slice(colon + 1)) : 80;
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(body);
    const req = request(
      {
        host,
        port,
        method,
        path,
        agent: agent ?? false,
        headers: payload
          ? { ...headers, 'content-type': 'application/json', 'content-length': String(payload.length) }
          : headers,
      },
      (res) => {
        /** @type {Buffer[]} */
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', (err) => {
      if (req.reusedSocket) Object.assign(err, { reusedSocket: true });
      reject(err);
    });
    if (timeoutMs !== undefined) {
      req.setTimeout(timeoutMs, () =>
        req.destroy(new Error(`${method} ${path} timed out after ${timeoutMs} ms`)),
      );
    }
    req.end(payload);
  });
}

/**
 * `lambdaApiRequest`, sent again on a new connection when it failed on a kept-alive one (the other
 * side closed it meanwhile: it fails at once, and nothing was processed).
 * @param {string} runtimeApi
 * @param {string} method
 * @param {string} path
 * @param {Record<string, string>} headers
 * @param {string | undefined} body
 * @param {number | undefined} timeoutMs
 * @param {import('node:http').Agent | undefined} agent
 * @returns {Promise<HttpResult>}
 */
function lambdaApiRequestRetried(runtimeApi, method, path, headers, body, timeoutMs, agent) {
  const send = () => lambdaApiRequest(runtimeApi, method, path, headers, body, timeoutMs, agent);
  return send().catch((err) => {
    if (err?.reusedSocket) return send();
    throw err;
  });
}

/**
 * @param {string} body
 * @returns {string | undefined}
 */
function errorTypeOf(body) {
  try {
    const parsed = JSON.parse(body);
    return parsed && typeof parsed.errorType === 'string' ? parsed.errorType : undefined;
  } catch {
    return undefined;
  }
}

/** @param {unknown} v */
const str = (v) => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * `POST /2020-01-01/extension/register` as the real extension does it.
 * @param {RegisterOptions} [options]
 * @returns {Promise<Registration>}
 */
async function register(options = {}) {
  const runtimeApi = options.runtimeApi ?? process.env['AWS_LAMBDA_RUNTIME_API'];
  if (!runtimeApi) throw new ExtensionsApiError('AWS_LAMBDA_RUNTIME_API is not set', 0, undefined);
  /** @type {ExtensionEventType[]} */
  const events = options.managedInstances ? ['SHUTDOWN'] : ['INVOKE', 'SHUTDOWN'];
  const res = await lambdaApiRequest(
    runtimeApi,
    'POST',
    `/${EXTENSIONS_API_VERSION}/extension/register`,
    {
      'lambda-extension-name': options.name ?? EXTENSION_NAME,
      'lambda-extension-accept-feature': 'accountId',
    },
    JSON.stringify({ events }),
    options.timeoutMs,
    options.agent,
  );
  const errorType = errorTypeOf(res.body);
  if (res.status !== 200) {
    throw new ExtensionsApiError(
      `register answered ${res.status}${errorType ? ` ${errorType}` : ''}`,
      res.status,
      errorType,
    );
  }
  const id = res.headers['lambda-extension-identifier'];
  const extensionId = Array.isArray(id) ? id[0] : id;
  if (!extensionId) throw new ExtensionsApiError('register answered without an extension id', 200, undefined);
  /** @type {Record<string, unknown>} */
  let info = {};
  try {
    const parsed = JSON.parse(res.body);
    if (parsed && typeof parsed === 'object') info = parsed;
  } catch {
    // The body is informational; the id in the header is what matters.
  }
  /** @type {Registration} */
  const registration = { extensionId, accountId: str(info['accountId']) ?? 'none', events };
  const functionName = str(info['functionName']);
  const functionVersion = str(info['functionVersion']);
  const handler = str(info['handler']);
  if (functionName) registration.functionName = functionName;
  if (functionVersion) registration.functionVersion = functionVersion;
  if (handler) registration.handler = handler;
  return registration;
}

exports.EXTENSION_NAME = EXTENSION_NAME;
exports.EXTENSIONS_API_VERSION = EXTENSIONS_API_VERSION;
exports.ExtensionsApiError = ExtensionsApiError;
exports.lambdaApiRequest = lambdaApiRequest;
exports.lambdaApiRequestRetried = lambdaApiRequestRetried;
exports.errorTypeOf = errorTypeOf;
exports.register = register;
