// The log processing thread's script (bundled as dist/datadog-init-logs.cjs).
import { parentPort, workerData } from 'node:worker_threads';
import { type FromWorker, LogWorkerCore, type LogWorkerData, type ToWorker } from './log-worker.js';

const port = parentPort;
if (port) {
  const core = new LogWorkerCore(workerData as LogWorkerData, (msg: FromWorker, transfer?: ArrayBuffer[]) =>
    port.postMessage(msg, transfer ?? []),
  );
  port.on('message', (msg: ToWorker) => core.receive(msg));
}
