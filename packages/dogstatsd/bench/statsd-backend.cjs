'use strict';
// A statsd backend for the benchmark that discards metrics and records how many statsd itself
// counted as received (its `statsd.metrics_received` / `packets_received` counters) in a file.
const { writeFileSync } = require('node:fs');

exports.init = function init(_startup, config, events) {
  let metrics = 0;
  let packets = 0;
  events.on('flush', (_ts, m) => {
    metrics += m.counters['statsd.metrics_received'] || 0;
    packets += m.counters['statsd.packets_received'] || 0;
    writeFileSync(config.benchCountFile, JSON.stringify({ metrics, packets }));
  });
  return true;
};
