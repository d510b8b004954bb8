import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PACKAGE } from '../src/index.js';

describe('@serverless-agent/logs public surface', () => {
  it('names itself as its package.json does', () => {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    expect(PACKAGE).toEqual({ name: manifest.name, version: manifest.version });
  });
});
