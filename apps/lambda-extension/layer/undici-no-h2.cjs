// What the layer's bundle gets for undici's HTTP/2 client (lib/dispatcher/client-h2.js): the
// forwarder speaks HTTP/1.1 only (it never sets `allowH2`, so no connection negotiates h2), and the
// real module loads `node:http2` at require, about 13 ms of CPU at every cold start for nothing.
// undici's Client requires it at load and calls it only for an h2 connection.
'use strict';

module.exports = function connectH2() {
  throw new Error('serverless-agent: HTTP/2 is not in this layer (the forwarder speaks HTTP/1.1)');
};
