// The demo: the fake Datadog intake, the sandbox with the null extension and a sample function
// pointed at it, a few invocations, and the timeline of what happened, printed as it happens.
import type { Writable } from 'node:stream';
import { startIntake } from '../intake/index.js';
import { NULL_EXTENSION_DIR, SAMPLE_FUNCTION_DIR } from './paths.js';
import { LambdaSandbox } from './sandbox.js';
import type { LambdaSandboxOptions, TelemetryEvent } from './types.js';

export interface DemoOptions {
  out?: Writable;
  invocations?: number;
  /** Overrides of the sandbox options (function folder, extensions, memory...). */
  sandbox?: LambdaSandboxOptions;
}

function describe(e: TelemetryEvent): string | undefined {
  switch (e.type) {
    case 'platform.initStart':
      return `init start (${e.record.initializationType}, phase ${e.record.phase})`;
    case 'platform.extension':
      return `extension ${e.record.name} ready, events ${e.record.events.join(',') || '-'}`;
    case 'platform.telemetrySubscription':
      return `${e.record.name} subscribed to ${e.record.types.join(',')}`;
    case 'platform.initRuntimeDone':
      return `runtime init done: ${e.record.status}${e.record.errorType ? ` ${e.record.errorType}` : ''}`;
    case 'platform.initReport':
      return `init report: ${e.record.status ?? 'success'} in ${e.record.metrics.durationMs} ms`;
    case 'platform.start':
      return `invoke ${e.record.requestId}`;
    case 'platform.runtimeDone':
      return `runtime done: ${e.record.status} in ${e.record.metrics?.durationMs} ms`;
    case 'platform.report': {
      const m = e.record.metrics;
      const init = m.initDurationMs !== undefined ? `, init ${m.initDurationMs} ms` : '';
      return `report: ${e.record.status}, ${m.durationMs} ms (billed ${m.billedDurationMs}), max memory ${m.maxMemoryUsedMB}/${m.memorySizeMB} MB${init}`;
    }
    case 'function':
      return `function log: ${typeof e.record === 'string' ? e.record.trimEnd().split('\t').slice(3).join('\t') : JSON.stringify(e.record)}`;
    case 'extension':
      return `extension log: ${typeof e.record === 'string' ? e.record : JSON.stringify(e.record)}`;
    default:
      return e.type;
  }
}

/** Runs the demo and prints its timeline to `out` (default stdout). */
export async function runDemo(options: DemoOptions = {}): Promise<void> {
  const out = options.out ?? process.stdout;
  const print = (line: string) => out.write(`${line}\n`);
  const t0 = performance.now();
  const stamp = () => `${`+${(performance.now() - t0).toFixed(1)}`.padStart(9)} ms`;
  print('serverless-agent demo: a local Lambda sandbox and a fake Datadog intake');
  const intake = await startIntake();
  intake.onRequest((r) => print(`${stamp()}  intake: ${r.method} ${r.path} -> ${r.status}`));
  print(`${stamp()}  datadog intake on ${intake.url}`);
  const sandbox = new LambdaSandbox({
    taskRoot: SAMPLE_FUNCTION_DIR,
    extensionsDir: NULL_EXTENSION_DIR,
    memorySizeMB: 256,
    ...options.sandbox,
    // The extensions get the intake as their Datadog (DD_API_KEY, DD_DD_URL, ...).
    env: { ...intake.agentEnv(), ...options.sandbox?.env },
  });
  sandbox.on('telemetry', (e) => {
    const text = describe(e);
    if (text) print(`${stamp()}  ${text}`);
  });
  sandbox.on('freeze', () => print(`${stamp()}  frozen (SIGSTOP runtime and extensions)`));
  sandbox.on('thaw', () => print(`${stamp()}  thawed (SIGCONT)`));
  try {
    const init = await sandbox.start();
    print(`${stamp()}  sandbox APIs on ${sandbox.runtimeApi}`);
    for (const x of init.extensions) {
      print(
        `${stamp()}  ${x.name}: spawn→register ${x.spawnToRegisterMs} ms, spawn→ready ${x.spawnToFirstNextMs} ms`,
      );
    }
    for (let i = 0; i < (options.invocations ?? 3); i++) {
      await sandbox.waitForFreeze(2000);
      const r = await sandbox.invoke({ demo: i + 1 });
      const ext = r.record.extensions
        .map((x) => `${x.name} RSS ${Math.round((x.rssKB ?? 0) / 1024)} MB`)
        .join(', ');
      print(
        `${stamp()}  invocation ${i + 1}: ${r.status}, runtime ${r.record.runtimeDurationMs} ms, post-runtime ${r.record.postRuntimeDurationMs} ms${ext ? `, ${ext}` : ''}`,
      );
    }
    const down = await sandbox.shutdown();
    for (const p of down.processes) {
      print(
        `${stamp()}  shutdown: ${p.name} ${p.ended === 'exit' ? `exited (${p.code ?? p.signal})` : 'SIGKILLed'}`,
      );
    }
  } finally {
    await sandbox.shutdown();
    const received = intake.requests().length;
    print(`${stamp()}  intake received ${received} request${received === 1 ? '' : 's'}`);
    await intake.stop();
  }
  print(`${stamp()}  done`);
}
