// SERVERLESS_AGENT_TIMELINE=<file>: one line per step of the invocation path (epoch ms with a
// fraction, the step), appended synchronously so a freeze loses none. For measuring where the
// post-runtime time goes; unset, nothing is stamped.
import { appendFileSync } from 'node:fs';

export type Stamp = (step: string) => void;

export function timelineFromEnv(env: Record<string, string | undefined>): Stamp | undefined {
  const file = env.SERVERLESS_AGENT_TIMELINE;
  if (!file) return undefined;
  return (step) =>
    appendFileSync(file, `${(performance.timeOrigin + performance.now()).toFixed(2)} ${step}\n`);
}
