// SERVERLESS_AGENT_TIMELINE=<file>: one line per step of the invocation path (epoch ms with a
// fraction, the step), appended synchronously so a freeze loses none. For measuring where the
// post-runtime time goes; unset, nothing is stamped.
import { appendFileSync } from 'node:fs';

export type Stamp = (step: string) => void;

/**
 * A file that cannot be written (a missing folder, no room) is said once and the stamps stop: they
 * run inside the Telemetry listener and the invocation path, where a throw would turn the extension
 * idle.
 */
export function timelineFromEnv(
  env: Record<string, string | undefined>,
  logger?: { warn(msg: string): void },
): Stamp | undefined {
  const file = env.SERVERLESS_AGENT_TIMELINE;
  if (!file) return undefined;
  let failed = false;
  return (step) => {
    if (failed) return;
    try {
      appendFileSync(file, `${(performance.timeOrigin + performance.now()).toFixed(2)} ${step}\n`);
    } catch (err) {
      failed = true;
      logger?.warn(
        `SERVERLESS_AGENT_TIMELINE: cannot write ${file} (${(err as Error).message}): no more timeline stamps`,
      );
    }
  };
}
