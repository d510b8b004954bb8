import { describe, expect, it } from 'vitest';
import { parseMode } from '../src/command.js';

describe('parseMode', () => {
  it('selects sidecar mode without arguments', () => {
    expect(parseMode([])).toEqual({ kind: 'sidecar' });
  });

  it('splits a single argument on whitespace, without a shell', () => {
    expect(parseMode(['node  server.js\t--port 8080'])).toEqual({
      kind: 'init',
      command: 'node',
      args: ['server.js', '--port', '8080'],
    });
    expect(parseMode(['echo "a b"'])).toEqual({ kind: 'init', command: 'echo', args: ['"a', 'b"'] });
  });

  it('keeps several arguments as given', () => {
    expect(parseMode(['python', 'app.py', 'two words'])).toEqual({
      kind: 'init',
      command: 'python',
      args: ['app.py', 'two words'],
    });
  });

  it('rejects an empty command', () => {
    expect(parseMode(['   ']).kind).toBe('invalid');
    expect(parseMode(['']).kind).toBe('invalid');
  });
});
