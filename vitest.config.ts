import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';
import projects from './vitest.workspace.js';

// Workspace imports resolve to each package's `src` through this export condition, so tests need
// no build step across packages (child processes and benchmarks use the built `dist`).
const conditions = ['@serverless-agent/source', ...defaultServerConditions];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    projects,
    passWithNoTests: false,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    sequence: { groupOrder: 0 },
  },
});
