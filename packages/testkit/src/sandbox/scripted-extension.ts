// Scripted extensions: small, configurable external extensions for tests.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What a scripted extension does. It is written as a plain Node script (built-ins only) and behaves
 * as a correct external extension unless told otherwise: a ready-made peer for tests of freeze,
 * post-runtime time, crashes and shutdown deadlines. It uses `process.getBuiltinModule`, so it runs
 * as CommonJS or as ESM whatever the package scope of `dir`.
 */
export interface ScriptedExtension {
  events?: string[];
  /** Subscribe to the Telemetry API with this body before the first `next`. */
  subscribe?: unknown;
  /** Keep running after SHUTDOWN (it must then be SIGKILLed). */
  ignoreShutdown?: boolean;
  /** Exit with this code right after registering. */
  exitAfterRegister?: number;
  /** Call init/error with this error type instead of `next`. */
  initError?: string;
  /** Milliseconds it waits (a timer) after each INVOKE before calling `next` again. */
  workAfterInvokeMs?: number;
  /** Milliseconds to wait before registering. */
  registerDelayMs?: number;
  /** Print this line to stdout on each INVOKE. */
  logOnInvoke?: string;
  /** On INVOKE, exit with code 1 unless this file exists (and create it): a crash, once. */
  crashOnInvokeOnce?: string;
  /** Write its environment as JSON to this file at start. */
  dumpEnvTo?: string;
}

/** Writes an executable extension `name` into `dir` (e.g. an extensions folder) and returns its path. */
export function writeScriptedExtension(dir: string, name: string, spec: ScriptedExtension = {}): string {
  const file = join(dir, name);
  const source = `#!/usr/bin/env node
'use strict';
const http = process.getBuiltinModule('node:http');
const spec = ${JSON.stringify(spec)};
const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
function call(method, path, headers, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, path, headers }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Synchronous writes: a line must be out before the next call lets the platform freeze us.
const say = (fd, line) => process.getBuiltinModule('node:fs').writeSync(fd, line + '\\n');
(async () => {
  if (spec.dumpEnvTo) process.getBuiltinModule('node:fs').writeFileSync(spec.dumpEnvTo, JSON.stringify(process.env));
  if (spec.registerDelayMs) await sleep(spec.registerDelayMs);
  const reg = await call('POST', '/2020-01-01/extension/register',
    { 'Lambda-Extension-Name': ${JSON.stringify(name)} }, JSON.stringify({ events: spec.events || ['INVOKE', 'SHUTDOWN'] }));
  if (reg.status !== 200) { say(2, 'register ' + reg.status + ' ' + reg.body); process.exit(2); }
  const id = reg.headers['lambda-extension-identifier'];
  if (spec.exitAfterRegister !== undefined) process.exit(spec.exitAfterRegister);
  if (spec.subscribe) {
    const s = await call('PUT', '/2022-07-01/telemetry', { 'Lambda-Extension-Identifier': id, 'Content-Type': 'application/json' }, JSON.stringify(spec.subscribe));
    say(1, 'subscribe ' + s.status + ' ' + s.body);
  }
  if (spec.initError) {
    await call('POST', '/2020-01-01/extension/init/error', { 'Lambda-Extension-Identifier': id, 'Lambda-Extension-Function-Error-Type': spec.initError }, '{}');
    process.exit(1);
  }
  for (;;) {
    const r = await call('GET', '/2020-01-01/extension/event/next', { 'Lambda-Extension-Identifier': id });
    const ev = JSON.parse(r.body);
    if (ev.eventType === 'SHUTDOWN') {
      say(1, 'shutdown ' + ev.shutdownReason);
      if (spec.ignoreShutdown) { setInterval(() => {}, 1000); return; }
      process.exit(0);
    }
    if (spec.logOnInvoke) say(1, spec.logOnInvoke);
    if (spec.crashOnInvokeOnce && !process.getBuiltinModule('node:fs').existsSync(spec.crashOnInvokeOnce)) {
      process.getBuiltinModule('node:fs').writeFileSync(spec.crashOnInvokeOnce, '1');
      process.exit(1);
    }
    if (spec.workAfterInvokeMs) await sleep(spec.workAfterInvokeMs);
  }
})();
`;
  writeFileSync(file, source);
  chmodSync(file, 0o755);
  return file;
}
