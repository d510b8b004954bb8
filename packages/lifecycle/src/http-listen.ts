import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/** Resolves once the server accepts on the address, rejects with the bind error (EADDRINUSE…). */
export function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Closes the server without waiting for its clients' keep-alive connections to go idle. */
export function closeNow(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
}

/**
 * A server socket someone else bound and listens on (an entry that binds before registration is
 * answered), whose requests, those it held so far first, go to the handler attached.
 */
export interface ListeningSocket {
  readonly port: number;
  attach(handler: (req: IncomingMessage, res: ServerResponse) => void): void;
  close(): Promise<void>;
}
