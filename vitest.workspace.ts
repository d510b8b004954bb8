// The one list of test projects. `vitest.config.ts` reads it into `test.projects`.
//
// Tests that need the fixed ports the real Datadog clients use (8124-8126) live in files named
// `*.fixed-ports.test.ts`; they form their own project that runs one file at a time, after the
// others, so every other test can use free ports in parallel.
import type { TestProjectConfiguration } from 'vitest/config';

const FIXED_PORTS = '**/*.fixed-ports.test.ts';

const packageDirs = [
  'packages/lifecycle',
  'packages/dogstatsd',
  'packages/trace-intake',
  'packages/logs',
  'packages/flush-strategy',
  'packages/forwarder',
  'packages/testkit',
  'apps/lambda-extension',
  'apps/serverless-init',
];

const perPackage: TestProjectConfiguration[] = packageDirs.map((dir) => ({
  extends: true,
  test: {
    name: dir.split('/')[1],
    root: dir,
    include: ['test/**/*.test.ts'],
    exclude: [FIXED_PORTS, '**/node_modules/**'],
  },
}));

const fixedPorts: TestProjectConfiguration = {
  extends: true,
  test: {
    name: 'fixed-ports',
    include: packageDirs.map((dir) => `${dir}/test/**/*.fixed-ports.test.ts`),
    fileParallelism: false,
    sequence: { groupOrder: 1 },
  },
};

// Checks of the workspace as a whole (packing and installing every package).
const workspace: TestProjectConfiguration = {
  extends: true,
  test: { name: 'workspace', include: ['test/**/*.test.ts'] },
};

export default [...perPackage, workspace, fixedPorts];
