#!/usr/bin/env node
// datadog-init: only what the process itself needs is loaded before the child is spawned; the
// agent comes in afterwards.
import { loadAgent } from './load-agent.js';
import { main } from './main.js';

main({
  argv: process.argv.slice(2),
  env: process.env,
  // Getters: the streams are made on first use, after the child is spawned.
  get stdout() {
    return process.stdout;
  },
  get stderr() {
    return process.stderr;
  },
  outputFds: { stdout: 1, stderr: 2 },
  signals: process,
  loadAgent,
}).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`datadog-init: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
