import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mountNamespaceSupported } from '@serverless-agent/testkit';
import { describe, expect, it } from 'vitest';
import { APP_DIR, scratch } from './helpers.js';

const WRAPPER = join(APP_DIR, 'layer/datadog_wrapper');
const run = (env: Record<string, string>, args: string[]) =>
  spawnSync('/bin/sh', [WRAPPER, ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    encoding: 'utf8',
  });
const printEnv = [
  '/bin/sh',
  '-c',
  'echo "$AWS_LAMBDA_RUNTIME_API|$DD_TRACE_ENABLED|$DD_INSTRUMENTATION_TELEMETRY_ENABLED|$CORECLR_ENABLE_PROFILING|$CORECLR_PROFILER"',
];

describe('datadog_wrapper', () => {
  it('execs the runtime command with its arguments unchanged', () => {
    const r = run({ AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs20.x' }, [
      '/bin/echo',
      'a b',
      '-XX:-TieredCompilation',
      'c',
    ]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('a b -XX:-TieredCompilation c\n');
  });

  it('passes the exit code through', () => {
    expect(run({}, ['/bin/sh', '-c', 'exit 7']).status).toBe(7);
  });

  it('with App and API Protection on, enables tracing and telemetry but leaves the Runtime API alone', () => {
    const r = run(
      { DD_SERVERLESS_APPSEC_ENABLED: 'TRUE', AWS_LAMBDA_RUNTIME_API: '127.0.0.1:9001' },
      printEnv,
    );
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^\[datadog-wrapper\] the Runtime API proxy .* not supported yet/);
    expect(lines[1]).toBe('127.0.0.1:9001|true|true||');
  });

  it('keeps a telemetry setting the user made', () => {
    const r = run(
      { DD_SERVERLESS_APPSEC_ENABLED: '1', DD_INSTRUMENTATION_TELEMETRY_ENABLED: 'false' },
      printEnv,
    );
    expect(r.stdout.trim().split('\n')[1]).toBe('|true|false||');
  });

  it('configures the .NET profiler for dotnet runtimes', () => {
    const r = run({ AWS_EXECUTION_ENV: 'AWS_Lambda_dotnet8' }, printEnv);
    // No tracer in /opt/datadog here: it says so, and still sets the profiler variables.
    expect(r.stdout).toContain('.NET library not found');
    expect(r.stdout.trim().split('\n').at(-1)).toBe('||false|1|{846F5F1C-F9AE-4B07-969E-05C26BC060D8}');
  });

  it('prints debug lines only at DD_LOG_LEVEL=debug', () => {
    expect(run({ DD_LOG_LEVEL: 'DEBUG', AWS_EXECUTION_ENV: 'x' }, ['/bin/true']).stdout).toBe(
      '[datadog-wrapper] runtime: x\n',
    );
    expect(run({ AWS_EXECUTION_ENV: 'x' }, ['/bin/true']).stdout).toBe('');
  });

  it.runIf(mountNamespaceSupported())(
    'adds the Java agent and drops -XX:-TieredCompilation when the jar is in /opt',
    () => {
      const s = scratch();
      try {
        mkdirSync(join(s.dir, 'java/lib'), { recursive: true });
        writeFileSync(join(s.dir, 'java/lib/dd-java-agent.jar'), '');
        const unshare = process.getuid?.() === 0 ? ['-m'] : ['-rm'];
        const r = spawnSync(
          'unshare',
          [
            ...unshare,
            '/bin/sh',
            '-c',
            `mount --bind "$0" /opt && exec /bin/sh "$1" /bin/echo -XX:+UseSerialGC -XX:-TieredCompilation -cp x Main`,
            s.dir,
            WRAPPER,
          ],
          {
            env: { PATH: process.env.PATH ?? '/usr/bin:/bin', AWS_EXECUTION_ENV: 'AWS_Lambda_java21' },
            encoding: 'utf8',
          },
        );
        expect(r.stderr).toBe('');
        expect(r.stdout).toBe(
          '-javaagent:/opt/java/lib/dd-java-agent.jar -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp x Main\n',
        );
      } finally {
        s.cleanup();
      }
    },
  );
});
