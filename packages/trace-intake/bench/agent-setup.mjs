// The TraceAgent of each app, configured as the app configures it, for the benchmark's processes.
import { fromEnv, TraceAgent } from '@serverless-agent/trace-intake';

const FUNCTION = 'my-function';
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
  });
}
