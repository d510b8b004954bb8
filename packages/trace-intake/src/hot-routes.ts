// The trace routes tracers hit on every flush, served on the HTTP server before fastify routes the
// request: for a 358 KB batch, fastify's request and reply objects, hooks and parser machinery cost
// more CPU than the whole node:http exchange. Only the exact method + path pairs are taken, and only
// with a content type fastify would accept as it is; every other request (other methods, HEAD,
// OPTIONS, parameters in the content type, the server closing) goes to fastify unchanged, which
// still has the same routes and answers them the same way.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BodyBuffers, readBody } from './body.js';

export type TraceVersion = 'v0.3' | 'v0.4' | 'v0.5';

/** What a trace request is answered with: the content type as fastify writes it. */
export interface Answer {
  status: number;
  contentType: string;
  body: string;
  /** Set on body errors: the client may still be sending, so the connection is not reused. */
  close?: boolean;
}

export interface HotRoutes {
  paths: ReadonlyMap<string, TraceVersion>;
  limit: number;
  /** Headers every answer carries (the agent's version and state), as [name, value]. */
  headers: readonly (readonly [string, string])[];
  /**
   * `lent`: the body is in a buffer that the next request reuses once this returns, so nothing may
   * keep the body or a view of it.
   */
  serve(version: TraceVersion, req: IncomingMessage, body: Buffer, lent: boolean): Answer;
  /** The answer to a body that could not be read (413, 400), counted and logged by the caller. */
  failed(req: IncomingMessage, err: Error & { statusCode?: number }): Answer;
  /** The answer when serving itself threw: the request must still be answered. */
  crashed(req: IncomingMessage, err: unknown): Answer;
}

// a media type without parameters, in the characters HTTP allows in a token: fastify accepts it
const PLAIN_MEDIA_TYPE = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+\/[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

/** Serves `req` and returns true when it is one of the hot routes; false leaves it to fastify. */
export function hotRouteListener(routes: HotRoutes): (req: IncomingMessage, res: ServerResponse) => boolean {
  const buffers = new BodyBuffers();
  const write = (res: ServerResponse, a: Answer) => {
    const head: Record<string, string | number> = {};
    if (a.close) head.connection = 'close';
    head['content-type'] = a.contentType;
    for (const [k, v] of routes.headers) head[k] = v;
    head['content-length'] = Buffer.byteLength(a.body);
    res.writeHead(a.status, head);
    res.end(a.body);
  };
  return (req, res) => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const version = routes.paths.get(q < 0 ? url : url.slice(0, q));
    if (version === undefined || (req.method !== 'PUT' && req.method !== 'POST')) return false;
    const ct = req.headers['content-type'];
    if (ct !== undefined && !PLAIN_MEDIA_TYPE.test(ct)) return false;
    const done = (err: Error | null, body?: Buffer, lent?: Buffer) => {
      let answer: Answer;
      try {
        answer = err ? routes.failed(req, err) : routes.serve(version, req, body!, lent !== undefined);
      } catch (e) {
        answer = routes.crashed(req, e);
      }
      if (lent) buffers.give(lent);
      if (!res.headersSent && !res.destroyed) write(res, answer);
    };
    readBody(req, req.headers['content-length'], routes.limit, done, buffers);
    return true;
  };
}
