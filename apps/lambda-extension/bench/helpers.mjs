// Shared by the app's benchmarks.
import { createSocket } from 'node:dgram';
import { readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

const tcp = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
const udp = () =>
  new Promise((resolve) => {
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

export async function freePortEnv() {
  const ports = { hooks: await tcp(), dogstatsd: await udp(), traces: await tcp(), telemetry: await tcp() };
  return {
    ports,
    env: {
      SERVERLESS_AGENT_HOOKS_PORT: String(ports.hooks),
      DD_DOGSTATSD_PORT: String(ports.dogstatsd),
      DD_APM_RECEIVER_PORT: String(ports.traces),
      SERVERLESS_AGENT_TELEMETRY_PORT: String(ports.telemetry),
    },
  };
}

function sizeOf(dir) {
  let n = 0;
  for (const name of readdirSync(dir)) {
    const st = statSync(join(dir, name));
    n += st.isDirectory() ? sizeOf(join(dir, name)) : st.size;
  }
  return n;
}

export function layerSizes(outDir, unzippedDir) {
  return { zipped: statSync(join(outDir, 'layer.zip')).size, unzipped: sizeOf(unzippedDir) };
}
