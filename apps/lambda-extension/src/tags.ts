// The function's tags, as upstream's tag provider builds them from the environment and the
// registration (every metric, span and log of the function carries them).
import type { Env } from './env.js';
import { VERSION } from './version.js';

export interface FunctionIdentity {
  functionName: string;
  region: string;
  accountId: string;
  functionArn: string;
}

export function functionIdentity(env: Env, accountId: string | undefined): FunctionIdentity {
  const functionName = env.AWS_LAMBDA_FUNCTION_NAME ?? '';
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const account = accountId && accountId !== 'none' ? accountId : '';
  const partition = region.startsWith('cn-') ? 'aws-cn' : region.startsWith('us-gov-') ? 'aws-us-gov' : 'aws';
  const functionArn = `arn:${partition}:lambda:${region}:${account}:function:${functionName}`.toLowerCase();
  return { functionName, region, accountId: account, functionArn };
}

export function functionTags(env: Env, id: FunctionIdentity): Record<string, string> {
  const tags: Record<string, string> = {
    region: id.region,
    functionname: id.functionName.toLowerCase(),
    resource: id.functionName.toLowerCase(),
    dd_extension_version: VERSION,
  };
  if (id.accountId) {
    tags.account_id = id.accountId;
    tags.aws_account = id.accountId;
    tags.function_arn = id.functionArn;
  }
  const version = env.AWS_LAMBDA_FUNCTION_VERSION;
  if (version && version !== '$LATEST') {
    tags.executedversion = version;
    tags.resource = `${tags.resource}:${version}`;
  }
  if (env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE) tags.memorysize = env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE;
  tags.architecture = process.arch === 'arm64' ? 'arm64' : 'x86_64';
  return tags;
}
