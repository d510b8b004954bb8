/**
 * @serverless-agent/dogstatsd: DogStatsD UDP server, parser, agent-exact aggregator (DDSketch distributions) and metric payload builders.
 *
 * This file is the package's whole public surface.
 */
export const PACKAGE = { name: '@serverless-agent/dogstatsd', version: '0.1.0' } as const;
