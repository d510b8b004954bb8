#!/usr/bin/env node
// `pnpm demo`: starts the fake Datadog intake and the local Lambda sandbox with the null extension
// and a sample function, invokes it a few times and prints the timeline (testkit README, "CLI").
import { runDemo } from '@serverless-agent/testkit';

await runDemo({ out: process.stdout });
