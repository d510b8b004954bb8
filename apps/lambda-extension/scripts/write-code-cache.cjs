// Build time, run by scripts/build-layer.mjs with the launcher's node flags:
//   node write-code-cache.cjs BUNDLES_DIR [--check]
// Loads agent.cjs and components.cjs through the layer's cached loader, runs one invocation's
// worth of work through the real components (a datagram, a trace, requests that load fastify.cjs,
// telemetry with log lines, a flush to a local sink that answers 202), and writes each bundle's V8 code cache: the cache then
// holds what the start and the first flush compile, not just the top level, so the first
// invocation does not pay for compiling the encoders. The run is best effort: if it fails, the
// cache holds what ran until then. With --check it only loads the bundles and fails unless V8
// took every cache. CODE_CACHE_VERBOSE=1 lists the requests the warm-up flush made.
'use strict';
const dgram = require('node:dgram');
const http = require('node:http');
const { join } = require('node:path');
const v8 = require('node:v8');
const loader = require(join(__dirname, '../layer/load-cached.cjs'));

const [dir, mode] = process.argv.slice(2);
const eager = (process.env.EAGER_CACHE ?? '').split(',').filter(Boolean);
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

function load(name) {
  // EAGER_CACHE=components: every function of that bundle compiled into its cache (--no-lazy while
  // it compiles, undone before the cache is written, so the cache's flags are the launcher's).
  const e = mode !== '--check' && eager.includes(name);
  if (e) v8.setFlagsFromString('--no-lazy');
  const exports = loader.loadBundle(dir, name);
  if (e) v8.setFlagsFromString('--lazy');
  return exports;
}

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

/** One request on loopback; resolves once answered (or failed). */
function exchange(port, method, path, body = Buffer.alloc(0), headers = {}) {
  return new Promise((resolve) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path, headers: { ...headers, 'content-length': body.length } },
      (res) => {
        res.resume();
        res.on('end', resolve);
      },
    );
    req.on('error', resolve);
    req.end(body);
  });
}

async function invocation(c) {
  const sink = http.createServer((req, res) => {
    if (process.env.CODE_CACHE_VERBOSE) console.error(`code cache warm-up: ${req.method} ${req.url}`);
    req.resume();
    req.on('end', () => {
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  const url = `http://127.0.0.1:${await listen(sink)}`;
  const env = {
    DD_API_KEY: 'code-cache',
    DD_DD_URL: url,
    DD_APM_DD_URL: url,
    DD_LOGS_CONFIG_LOGS_DD_URL: url,
    DD_SERVERLESS_FLUSH_STRATEGY: 'end',
    DD_LOG_LEVEL: 'off',
    AWS_LAMBDA_FUNCTION_NAME: 'code-cache',
    AWS_REGION: 'us-east-1',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1024',
  };
  const early = await c.bindEarlyListeners({ dogstatsd: 0, traces: 0, hooks: 0, telemetry: 0 });
  const lifecycle = { processor: { outOfMemoryDetected() {} }, subscribe: () => () => {} };
  const registration = {
    extensionId: 'code-cache',
    accountId: '123456789012',
    events: ['INVOKE', 'SHUTDOWN'],
  };
  const components = await c.loadComponents(env, registration, early, lifecycle, quiet, {
    datagrams: 0,
    datagramBytes: 0,
  });
  try {
    const requestId = '00000000-0000-4000-8000-000000000000';
    const now = Date.now();
    const iso = (t) => new Date(t).toISOString();
    const udp = dgram.createSocket('udp4');
    await new Promise((resolve) =>
      udp.send(
        'cache.count:1|c|#a:b\ncache.dist:2.5|d|#a:b\ncache.gauge:3|g',
        early.ports.dogstatsd,
        '127.0.0.1',
        resolve,
      ),
    );
    udp.close();
    components.submit({
      name: 'aws.lambda.enhanced.invocations',
      value: 1,
      tags: ['cold_start:true'],
      timestamp: now / 1000,
      type: 'distribution',
    });
    const span = {
      trace_id: 1234567890123456789n,
      span_id: 987654321n,
      parent_id: 0n,
      name: 'aws.lambda',
      resource: 'code-cache',
      service: 'code-cache',
      type: 'serverless',
      start: BigInt(now) * 1000000n,
      duration: 1000000n,
      error: 0,
      meta: { request_id: requestId, cold_start: 'true' },
      metrics: { _sampling_priority_v1: 1 },
    };
    const body = c.pack([[span]]);
    await exchange(early.ports.traces, 'PUT', '/v0.4/traces', body, {
      'content-type': 'application/msgpack',
      'x-datadog-trace-count': '1',
    });
    // What the hot trace routes leave to fastify, which then loads (fastify.cjs) and routes.
    await exchange(early.ports.traces, 'GET', '/info');
    await exchange(early.ports.traces, 'PUT', '/v0.4/traces', body, {
      'content-type': 'application/msgpack; charset=utf-8',
    });
    await exchange(early.ports.traces, 'POST', '/telemetry/proxy/api/v2/apmtelemetry', Buffer.from('{}'), {
      'content-type': 'application/json',
      'dd-telemetry-request-type': 'app-heartbeat',
    });
    components.ingestTelemetry([
      { time: iso(now), type: 'platform.start', record: { requestId, version: '$LATEST' } },
      { time: iso(now), type: 'function', record: `${iso(now)}\t${requestId}\tINFO\tcode cache` },
      {
        time: iso(now),
        type: 'platform.runtimeDone',
        record: { requestId, status: 'success', metrics: { durationMs: 1, producedBytes: 2 } },
      },
      {
        time: iso(now),
        type: 'platform.report',
        record: {
          requestId,
          status: 'success',
          metrics: { durationMs: 1, billedDurationMs: 1, memorySizeMB: 1024, maxMemoryUsedMB: 64 },
        },
      },
    ]);
    await components.flushAll(true);
  } finally {
    await components.close().catch(() => {});
    await c.closeEarlyListeners(early).catch(() => {});
    sink.close();
    sink.closeAllConnections();
  }
}

async function main() {
  load('agent');
  const c = load('components');
  if (mode === '--check') {
    load('fastify');
    const status = loader.codeCacheStatus();
    if (!Object.values(status).every((v) => v === true)) {
      console.error(`code cache not taken: ${JSON.stringify(status)}`);
      process.exit(1);
    }
    process.exit(0);
  }
  const timer = setTimeout(() => {
    console.error('code cache: the warm-up invocation did not finish in 20 s; writing what ran');
    loader.writeCodeCaches(dir);
    process.exit(0);
  }, 20_000);
  try {
    await invocation(c);
  } catch (err) {
    console.error(`code cache: the warm-up invocation failed (${err.message}); writing what ran`);
  }
  clearTimeout(timer);
  loader.writeCodeCaches(dir);
  process.exit(0);
}

main();
