#!/usr/bin/env node
// A complete extension built from this package alone. It registers first, with Node built-ins
// only (CommonJS, so not even the ES module loader starts before), then loads the rest, and
// prints every enhanced-metric sample and lifecycle event as a JSON line.
'use strict';
const { register } = require('@serverless-agent/lifecycle/register');

const registration = register({
  managedInstances: process.env.AWS_LAMBDA_INITIALIZATION_TYPE === 'lambda-managed-instances',
});
// Load the rest only once the request is answered: compiling modules on this thread earlier would
// hold the register request back (its socket connects and writes on a later turn of the loop).
registration.then(main, main);

async function main() {
  try {
    await run();
  } catch (err) {
    fatal(err);
  }
}

async function run() {
  const { Lifecycle, fromEnv } = await import('@serverless-agent/lifecycle');
  const line = (level) => (msg) => process.stderr.write(`DD_EXTENSION | ${level} | ${msg}\n`);
  const logger = { debug() {}, info: line('INFO'), warn: line('WARN'), error: line('ERROR') };
  const print = (obj) =>
    process.stdout.write(`${JSON.stringify(obj, (_, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`);

  const lifecycle = new Lifecycle(fromEnv(process.env, logger), {
    logger,
    submit: (sample) => print({ sample }),
    onFlush: () => print({ flush: true }),
  });
  lifecycle.subscribe((event) => {
    if (event.type !== 'telemetry') print({ event });
  });
  const started = await lifecycle.start(registration);
  print({ started });
  await lifecycle.run();
  process.exit(0);
}

function fatal(err) {
  process.stderr.write(`DD_EXTENSION | ERROR | ${err?.stack ?? err}\n`);
  // Exiting would fail the invocation; stay until Lambda ends the environment.
  setInterval(() => {}, 1 << 30);
}
