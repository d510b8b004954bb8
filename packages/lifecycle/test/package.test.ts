import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PACKAGE } from '../src/index.js';

describe('@serverless-agent/lifecycle public surface', () => {
  it('names itself as its package.json does', () => {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    expect(PACKAGE).toEqual({ name: manifest.name, version: manifest.version });
  });
});

describe('README', () => {
  it('lists every enhanced metric with a unit', async () => {
    const { ENHANCED } = await import('../src/index.js');
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    for (const name of Object.values(ENHANCED)) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${name}\` |`));
      expect(row, name).toBeDefined();
      expect(row!.split('|')[2]!.trim(), name).not.toBe('');
    }
  });
});
