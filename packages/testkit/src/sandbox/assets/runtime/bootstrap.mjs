// A Node runtime for the sandbox: a Runtime API 2018-06-01 client that loads the handler as the
// Lambda Node runtime does (`_HANDLER=path/file.export` under `LAMBDA_TASK_ROOT`, ESM or CJS, async
// or callback handlers), builds a real `context`, and writes the runtime's log line format.
import { existsSync, writeSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { format } from 'node:util';

const [apiHost, apiPort] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const taskRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
const handlerSpec = process.env._HANDLER || 'index.handler';
const jsonLogs = process.env.AWS_LAMBDA_LOG_FORMAT === 'JSON';
const LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];
const minLevel = Math.max(0, LEVELS.indexOf((process.env.AWS_LAMBDA_LOG_LEVEL || 'TRACE').toUpperCase()));

let currentRequestId;

// Log lines are written synchronously, as the Lambda runtime does: a line must not sit in a
// user-space buffer when the environment is frozen or killed right after the response.
const pause = new Int32Array(new SharedArrayBuffer(4));
function writeLine(fd, text) {
  let buf = Buffer.from(text);
  while (buf.length > 0) {
    try {
      buf = buf.subarray(writeSync(fd, buf));
    } catch (err) {
      // EPIPE and the like: nobody reads our output any more; the line is lost, not the runtime.
      if (err.code !== 'EAGAIN') return;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

function call(method, urlPath, headers = {}, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: apiHost, port: apiPort, method, path: urlPath, headers, agent },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

// Log lines: `<ISO time>\t<requestId>\t<LEVEL>\t<message>\n`, newlines inside a message turned
// into `\r` so one call stays one line (as the Node runtime does on stdout), or one JSON object
// per line with AWS_LAMBDA_LOG_FORMAT=JSON.
function writeLog(level, args) {
  if (LEVELS.indexOf(level) < minLevel) return;
  const timestamp = new Date().toISOString();
  const message = format(...args);
  if (jsonLogs) {
    const entry = { timestamp, level, requestId: currentRequestId, message };
    writeLine(1, `${JSON.stringify(entry)}\n`);
  } else {
    const line = `${timestamp}\t${currentRequestId ?? 'undefined'}\t${level}\t${message}`;
    writeLine(1, `${line.replace(/\n/g, '\r')}\n`);
  }
}
console.log = (...a) => writeLog('INFO', a);
console.info = (...a) => writeLog('INFO', a);
console.warn = (...a) => writeLog('WARN', a);
console.error = (...a) => writeLog('ERROR', a);
console.debug = (...a) => writeLog('DEBUG', a);
console.trace = (...a) => writeLog('TRACE', a);
console.fatal = (...a) => writeLog('FATAL', a);

function errorBody(err) {
  const e = err instanceof Error ? err : new Error(String(err));
  return {
    errorType: e.name || 'Error',
    errorMessage: e.message,
    trace: typeof e.stack === 'string' ? e.stack.split('\n') : [],
  };
}

class UserError extends Error {
  constructor(name, message, cause) {
    super(message, { cause });
    this.name = name;
  }
}

async function loadHandler() {
  const slash = handlerSpec.lastIndexOf('/');
  const dir = slash >= 0 ? handlerSpec.slice(0, slash + 1) : '';
  const rest = handlerSpec.slice(slash + 1);
  const dot = rest.indexOf('.');
  if (dot <= 0) throw new UserError('Runtime.MalformedHandlerName', `Bad handler ${handlerSpec}`);
  const moduleBase = path.resolve(taskRoot, dir + rest.slice(0, dot));
  const exportPath = rest.slice(dot + 1).split('.');
  const file = ['.js', '.mjs', '.cjs'].map((ext) => moduleBase + ext).find((f) => existsSync(f));
  if (!file) {
    throw new UserError(
      'Runtime.ImportModuleError',
      `Error: Cannot find module '${path.basename(moduleBase)}'`,
    );
  }
  let mod;
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (err) {
    if (err instanceof SyntaxError) throw new UserError('Runtime.UserCodeSyntaxError', String(err), err);
    throw err;
  }
  let fn = mod;
  for (const key of exportPath) fn = fn?.[key] ?? (fn === mod ? mod.default?.[key] : undefined);
  if (typeof fn !== 'function') {
    throw new UserError('Runtime.HandlerNotFound', `${handlerSpec} is undefined or not exported`);
  }
  return fn;
}

function buildContext(headers, finish) {
  const deadline = Number(headers['lambda-runtime-deadline-ms']);
  const parse = (h) => (headers[h] ? JSON.parse(headers[h]) : undefined);
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: headers['lambda-runtime-aws-request-id'],
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    identity: parse('lambda-runtime-cognito-identity'),
    clientContext: parse('lambda-runtime-client-context'),
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    // The legacy completion methods.
    succeed: (result) => finish(undefined, result),
    fail: (err) => finish(err ?? new Error('handled')),
    done: (err, result) => finish(err, result),
  };
  return context;
}

async function postResult(requestId, err, result) {
  if (err !== undefined && err !== null) {
    const body = errorBody(err);
    writeLog('ERROR', [`Invoke Error \t${JSON.stringify(body)}`]);
    await call(
      'POST',
      `/2018-06-01/runtime/invocation/${requestId}/error`,
      { 'Content-Type': 'application/json', 'Lambda-Runtime-Function-Error-Type': body.errorType },
      JSON.stringify(body),
    );
    return;
  }
  const text = result === undefined ? 'null' : JSON.stringify(result);
  await call('POST', `/2018-06-01/runtime/invocation/${requestId}/response`, {}, text);
}

let dying = false;
async function fatal(err, requestId) {
  // As the Node runtime does for an uncaught exception: report it, then exit.
  if (dying) return;
  dying = true;
  // Whatever happens while reporting, the process ends (the platform may be gone already).
  setTimeout(() => process.exit(129), 2000).unref();
  const body = errorBody(err);
  const line = `${new Date().toISOString()}\t${requestId ?? 'undefined'}\tERROR\t${JSON.stringify(body)}`;
  writeLine(2, `${line.replace(/\n/g, '\r')}\n`);
  try {
    const target = requestId ? `invocation/${requestId}/error` : 'init/error';
    await call(
      'POST',
      `/2018-06-01/runtime/${target}`,
      { 'Content-Type': 'application/json', 'Lambda-Runtime-Function-Error-Type': body.errorType },
      JSON.stringify(body),
    );
  } finally {
    process.exit(129);
  }
}

async function main() {
  let handler;
  try {
    handler = await loadHandler();
  } catch (err) {
    const body = errorBody(err);
    writeLine(
      2,
      `${new Date().toISOString()}\tundefined\tERROR\t${JSON.stringify(body).replace(/\n/g, '\r')}\n`,
    );
    await call(
      'POST',
      '/2018-06-01/runtime/init/error',
      { 'Content-Type': 'application/json', 'Lambda-Runtime-Function-Error-Type': body.errorType },
      JSON.stringify(body),
    );
    process.exit(129);
  }
  process.on('uncaughtException', (err) => fatal(err, currentRequestId));
  process.on('unhandledRejection', (reason) => {
    const err = new UserError('Runtime.UnhandledPromiseRejection', String(reason?.stack ?? reason));
    return fatal(err, currentRequestId);
  });

  for (;;) {
    const next = await call('GET', '/2018-06-01/runtime/invocation/next');
    if (next.status !== 200) throw new Error(`next: ${next.status} ${next.body}`);
    const requestId = next.headers['lambda-runtime-aws-request-id'];
    currentRequestId = requestId;
    if (next.headers['lambda-runtime-trace-id'])
      process.env._X_AMZN_TRACE_ID = next.headers['lambda-runtime-trace-id'];
    else delete process.env._X_AMZN_TRACE_ID;
    const event = JSON.parse(next.body.toString('utf8') || 'null');
    await new Promise((resolve) => {
      let finished = false;
      const finish = (err, result) => {
        if (finished) return;
        finished = true;
        postResult(requestId, err, result).then(resolve, (e) => fatal(e, requestId));
      };
      const context = buildContext(next.headers, finish);
      try {
        const callback = (err, result) => finish(err, result);
        const out = handler.length >= 3 ? handler(event, context, callback) : handler(event, context);
        if (out && typeof out.then === 'function')
          out.then(
            (r) => finish(undefined, r),
            (e) => finish(e ?? new Error('rejected')),
          );
        else if (handler.length < 3) finish(undefined, out);
      } catch (err) {
        finish(err);
      }
    });
  }
}

main().catch((err) => fatal(err, currentRequestId));
