// What the layer's bundle gets for `undici`: the dispatchers and the `request` API the forwarder
// uses, without the rest of undici's index (fetch, WebSocket, EventSource, caches, mocks), which
// would otherwise be compiled and evaluated at every cold start: about two thirds of undici's load
// time. scripts/build-layer.mjs maps `undici` here; the packages themselves import `undici`.
'use strict';
const Agent = require('undici/lib/dispatcher/agent.js');
const Pool = require('undici/lib/dispatcher/pool.js');
const ProxyAgent = require('undici/lib/dispatcher/proxy-agent.js');
const Dispatcher = require('undici/lib/dispatcher/dispatcher.js');
const errors = require('undici/lib/core/errors.js');
const api = require('undici/lib/api/index.js');
const { getGlobalDispatcher, setGlobalDispatcher } = require('undici/lib/global.js');

// Every dispatcher gets request/stream/pipeline/upgrade/connect, as undici's index gives them.
Object.assign(Dispatcher.prototype, api);

/**
 * `undici.request(url, options)`: an absolute URL (string or URL) and the request options, on
 * `options.dispatcher` or the global one, as undici's own export does it.
 * @param {string | URL} url
 * @param {Record<string, unknown> & { dispatcher?: { request: Function } }} [options]
 */
function request(url, options = {}) {
  if (options.agent)
    throw new errors.InvalidArgumentError('unsupported opts.agent. Did you mean opts.client?');
  const target = typeof url === 'string' ? new URL(url) : url;
  let path = target.search ? `${target.pathname}${target.search}` : target.pathname;
  if (typeof options.path === 'string')
    path = options.path.startsWith('/') ? options.path : `/${options.path}`;
  const { dispatcher = getGlobalDispatcher(), ...rest } = options;
  return api.request.call(dispatcher, {
    ...rest,
    origin: target.origin,
    path,
    method: rest.method || (rest.body ? 'PUT' : 'GET'),
  });
}

module.exports = {
  Agent,
  Pool,
  ProxyAgent,
  Dispatcher,
  errors,
  request,
  getGlobalDispatcher,
  setGlobalDispatcher,
};
