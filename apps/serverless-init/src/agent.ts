import type { AgentContext, RunningAgent, ShutdownInfo } from './agent-types.js';
import { fetchGcpMetadata } from './gcp-metadata.js';
import { detectPlatform, type GcpMetadata, mergedTags, platformTags } from './platform.js';

/**
 * Everything beyond the process itself: platform tags and metadata, and the pipelines behind the
 * sockets the entrypoint bound. Loaded after the child is spawned.
 */
export async function startAgent(context: AgentContext): Promise<RunningAgent> {
  const { env, logger } = context;
  const platform = detectPlatform(env);
  let metadata: GcpMetadata | undefined;
  if (platform.usesGcpMetadata) {
    const host = env.GCE_METADATA_HOST;
    metadata = await fetchGcpMetadata(host ? { host } : {});
  }
  const tags = mergedTags(env, platformTags(platform, env, metadata));
  logger.debug(`platform ${platform.kind}, ${Object.keys(tags).length} tags`);

  return {
    onTerminate() {},
    async shutdown(_info: ShutdownInfo) {},
  };
}
