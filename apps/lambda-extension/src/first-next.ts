// Whatever loads after the first `next` (the agent, the components) waits for its request to be on
// the wire: compiling earlier would hold it back, and the request is what Lambda waits for.
import diagnostics from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';

/** How long the loading waits for it at most (a slow subscription, say). */
export const FIRST_NEXT_WAIT_MS = 250;

/** Resolves once an `event/next` request of this process has been written out (or after `maxMs`). */
export function firstNextSent(maxMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const channel = diagnostics.channel('http.client.request.start');
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      channel.unsubscribe(onRequest);
      clearTimeout(timer);
      // One more turn, so the bytes leave before the compiler takes the thread.
      setImmediate(resolve);
    };
    const onRequest = (message: unknown) => {
      const req = (message as { request?: ClientRequest }).request;
      if (req?.path?.endsWith('/extension/event/next')) req.once('finish', finish);
    };
    channel.subscribe(onRequest);
    const timer = setTimeout(finish, maxMs);
  });
}
