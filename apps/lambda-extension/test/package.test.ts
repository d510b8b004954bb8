import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PACKAGE, VERSION } from '../src/index.js';

describe('@serverless-agent/lambda-extension public surface', () => {
  it('names itself as its package.json does, and tags dd_extension_version with that version', () => {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    expect(PACKAGE).toEqual({ name: manifest.name, version: manifest.version });
    expect(VERSION).toBe(manifest.version);
  });
});
