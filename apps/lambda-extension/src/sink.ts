// Where finished payloads go. The forwarder is not part of this build yet: payloads are counted
// (items and bytes, per kind) and dropped, and the extension says so once at start.
export interface OutgoingPayload {
  kind: string;
  body: Uint8Array;
  contentType: string;
  headers?: Record<string, string>;
  items?: number;
  split?: () => OutgoingPayload[] | undefined;
}

export interface PayloadSink {
  send(payload: OutgoingPayload): void;
  /** Resolves when what was sent so far is settled. */
  settle(): Promise<'success' | 'partial' | 'failure' | 'timeout'>;
}

export class CountingSink implements PayloadSink {
  readonly dropped: Record<string, { payloads: number; items: number; bytes: number }> = {};

  send(p: OutgoingPayload): void {
    let c = this.dropped[p.kind];
    if (!c) {
      c = { payloads: 0, items: 0, bytes: 0 };
      this.dropped[p.kind] = c;
    }
    c.payloads++;
    c.items += p.items ?? 0;
    c.bytes += p.body.length;
  }

  async settle(): Promise<'success'> {
    return 'success';
  }
}
