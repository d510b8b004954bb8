// What the listeners feed. Until a component is built (or when the extension is idle) its input is
// answered as the real component answers, read to the end, dropped and counted.
import type { RemoteInfo } from 'node:dgram';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ExtensionEvent } from './extensions-api.js';

export interface Pipeline {
  onDatagram(msg: Buffer, rinfo: RemoteInfo): void;
  onTraceRequest(req: IncomingMessage, res: ServerResponse): void;
  onHookRequest(req: IncomingMessage, res: ServerResponse): void;
  onTelemetryRequest(req: IncomingMessage, res: ServerResponse): void;
  /** Awaited before the next `next`: its time is the invocation's post-runtime duration. */
  onInvoke(event: Extract<ExtensionEvent, { eventType: 'INVOKE' }>): Promise<void>;
  onShutdown(event: Extract<ExtensionEvent, { eventType: 'SHUTDOWN' }>): Promise<void>;
}

export interface DropCounts {
  datagrams: number;
  datagramBytes: number;
  traceRequests: number;
  traceBytes: number;
  hookRequests: number;
  telemetryBatches: number;
  telemetryBytes: number;
  invocations: number;
}

const TRACE_ENDPOINTS = ['/v0.4/traces', '/v0.5/traces', '/v0.6/stats', '/info'];

function drain(req: IncomingMessage, onEnd: (bytes: number) => void): void {
  let bytes = 0;
  req.on('data', (c: Buffer) => {
    bytes += c.length;
  });
  req.on('end', () => onEnd(bytes));
  req.on('error', () => onEnd(bytes));
}

function send(res: ServerResponse, status: number, body: string, type = 'application/json'): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Answers every client as the real components do, and drops (counting) what they send. */
export class DropPipeline implements Pipeline {
  readonly counts: DropCounts = {
    datagrams: 0,
    datagramBytes: 0,
    traceRequests: 0,
    traceBytes: 0,
    hookRequests: 0,
    telemetryBatches: 0,
    telemetryBytes: 0,
    invocations: 0,
  };

  onDatagram(msg: Buffer): void {
    this.counts.datagrams++;
    this.counts.datagramBytes += msg.length;
  }

  onTraceRequest(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0]!;
    drain(req, (bytes) => {
      if (path === '/info') {
        return send(res, 200, JSON.stringify({ endpoints: TRACE_ENDPOINTS, client_drop_p0s: false }));
      }
      if (path === '/v0.4/traces' || path === '/v0.5/traces') {
        this.counts.traceRequests++;
        this.counts.traceBytes += bytes;
        return send(res, 200, '{"rate_by_service":{}}');
      }
      if (path === '/v0.6/stats') return send(res, 200, '{}');
      send(res, 404, '{}');
    });
  }

  onHookRequest(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0]!;
    drain(req, () => {
      if (path.startsWith('/lambda/')) {
        this.counts.hookRequests++;
        return send(res, 200, '{}');
      }
      send(res, 404, '{}');
    });
  }

  onTelemetryRequest(req: IncomingMessage, res: ServerResponse): void {
    drain(req, (bytes) => {
      this.counts.telemetryBatches++;
      this.counts.telemetryBytes += bytes;
      send(res, 200, 'OK', 'text/plain');
    });
  }

  async onInvoke(): Promise<void> {
    this.counts.invocations++;
  }

  async onShutdown(): Promise<void> {}
}
