#!/usr/bin/env node
// `pnpm demo`: runs the local Lambda sandbox with a sample function and the extension, shipping to
// a local intake (or to Datadog when DD_API_KEY is set), and prints what arrived.
import { runDemo } from '@serverless-agent/testkit';

await runDemo({ out: process.stdout });
