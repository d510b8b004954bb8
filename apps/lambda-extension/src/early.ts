// The sockets the function may use during its own init, bound by the entry with built-ins while
// registration is on its way: DogStatsD (UDP), the trace receiver and the hooks. Lambda starts the
// runtime as soon as every extension registered, before the agent has even been compiled, so
// anything bound later could refuse what the function sends first. And the Telemetry listener's,
// so that the entry can subscribe as soon as registration is answered.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { request } from 'node:http';
import { EarlyHttpListener, EarlyUdpListener } from './early-listeners.js';
import type { Ports } from './ports.js';

export interface EarlyListeners {
  dogstatsd: EarlyUdpListener;
  traces: EarlyHttpListener;
  hooks: EarlyHttpListener;
  /** Holds Lambda's deliveries (unanswered) until the lifecycle's Telemetry listener takes it over. */
  telemetry: EarlyHttpListener;
  ports: Ports;
}

export const answer = (status: number, body: string) => (_req: unknown, res: ServerResponse) => {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
};

/**
 * Binds the Telemetry listener's socket first (handed to `telemetryBound` at once), then the others,
 * one per turn of the event loop: the first bind costs a few milliseconds (node loads its cluster
 * modules at the first listen), and a register answer that comes meanwhile is handled between two
 * binds, so that the entry's subscription is on its way while the rest bind.
 */
export async function bindEarlyListeners(
  ports: Ports,
  telemetryBound?: (telemetry: EarlyHttpListener) => void,
): Promise<EarlyListeners> {
  const dogstatsd = new EarlyUdpListener();
  const traces = new EarlyHttpListener(answer(200, '{"rate_by_service":{}}'));
  const hooks = new EarlyHttpListener(answer(200, '{}'));
  // Past its bound a delivery is answered as the listener answers one (and its events are lost).
  const telemetry = new EarlyHttpListener(answer(200, '"OK"'));
  // The Telemetry listener and DogStatsD take any interface (Lambda delivers to the sandbox's
  // address; upstream's DogStatsD does), the rest is loopback only.
  const binds = [
    () => telemetry.listen(ports.telemetry, '0.0.0.0'),
    () => dogstatsd.listen(ports.dogstatsd, '0.0.0.0'),
    () => traces.listen(ports.traces, '127.0.0.1'),
    () => hooks.listen(ports.hooks, '127.0.0.1'),
  ];
  const bound: number[] = [];
  try {
    for (const bind of binds) {
      if (bound.length > 0) await new Promise((resolve) => setImmediate(resolve));
      bound.push(await bind());
      if (bound.length === 1) telemetryBound?.(telemetry);
    }
  } catch (err) {
    await Promise.all([dogstatsd.close(), traces.close(), hooks.close(), telemetry.close()]).catch(() => {});
    throw err;
  }
  const [tm, d, t, h] = bound;
  return {
    dogstatsd,
    traces,
    hooks,
    telemetry,
    ports: { dogstatsd: d!, traces: t!, hooks: h!, telemetry: tm! },
  };
}

export async function closeEarlyListeners(l: EarlyListeners): Promise<void> {
  await Promise.all([l.dogstatsd.close(), l.traces.close(), l.hooks.close(), l.telemetry.close()]);
}

/**
 * Hands each request on to a server on loopback `port` (the lifecycle's hooks server) and its answer
 * back; a failure is answered 200 `{}`, as a hook never fails a tracer.
 */
export function proxyTo(port: () => number) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const upstream = request(
      { host: '127.0.0.1', port: port(), method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 200, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => answer(200, '{}')(req, res));
    req.pipe(upstream);
  };
}
