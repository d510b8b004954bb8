// The TraceAgent of each app, configured as the app configures it, for the benchmark's processes.
import { fromEnv, TraceAgent } from '@serverless-agent/trace-intake';

const FUNCTION = 'my-function';
/** Just after the earliest captured span in test/fixtures started (the captures span about 40 s). */
const CAPTURED_AT_NS = 1_796_311_861_000_000_000;
const ARN = `arn:aws:lambda:us-east-1:123456789012:function:${FUNCTION}`;

/** `lambda`: as apps/lambda-extension; `serverless-init`: as apps/serverless-init (stats computed here). */
export function benchAgent(platform) {
  if (platform === 'lambda') {
    const env = { DD_SERVICE: FUNCTION, DD_ENV: 'prod', DD_TAGS: 'team:traces' };
    const o = fromEnv(env);
    return new TraceAgent({
      ...o,
      port: 0,
      agentVersion: '0.1.0',
      tags: {
        ...o.tags,
        region: 'us-east-1',
        functionname: FUNCTION,
        resource: FUNCTION,
        account_id: '123456789012',
        aws_account: '123456789012',
        function_arn: ARN,
        memorysize: '1024',
        architecture: 'x86_64',
      },
      functionName: FUNCTION,
      functionArn: ARN,
      region: 'us-east-1',
      accountId: '123456789012',
    });
  }
  const env = { DD_SERVICE: 'capture-svc', DD_ENV: 'test', DD_VERSION: '1.0' };
  // The captured spans are hours old, so on the real clock every flush would close their stats
  // buckets and encode the sketches again. Held at the spans' time, the buckets stay open through the
  // run, as a bucket does for its 10 s in production: sketches are encoded once per bucket.
  const o = fromEnv(env, undefined, 'serverless-init');
  return new TraceAgent({
    ...o,
    port: 0,
    agentVersion: '0.1.0',
    tags: { ...o.tags, origin: 'cloudrun', location: 'us-central1', service_name: 'capture-svc' },
    origin: 'cloudrun',
    service: 'capture-svc',
    env: 'test',
    version: '1.0',
    nowNs: () => CAPTURED_AT_NS,
  });
}
