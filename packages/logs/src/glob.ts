import { readdir } from 'node:fs/promises';
import { isAbsolute, join, resolve, sep } from 'node:path';

const MAGIC = /[*?[]/;

/** A path segment's glob (`*`, `?`, `[…]`) as a RegExp; `*` never crosses `/`. */
export function segmentRegex(segment: string): RegExp {
  let re = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = segment.indexOf(']', i + 2);
      if (end === -1) re += '\\[';
      else {
        let cls = segment.slice(i + 1, end);
        if (cls.startsWith('!')) cls = '^' + cls.slice(1);
        re += '[' + cls.replace(/\\/g, '\\\\') + ']';
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp('^' + re + '$');
}

/** The leading part of a pattern without wildcards (the directory to watch). */
export function globBase(pattern: string): string {
  const parts = resolve(pattern).split(sep);
  const out: string[] = [];
  for (const p of parts) {
    if (MAGIC.test(p)) break;
    out.push(p);
  }
  if (out.length === parts.length) out.pop(); // a plain file path: its directory
  return out.join(sep) || sep;
}

/** Files matching a glob whose wildcards sit inside path segments (no `**`); sorted. */
export async function expandGlob(pattern: string): Promise<string[]> {
  const abs = isAbsolute(pattern) ? pattern : resolve(pattern);
  const parts = abs.split(sep).filter((p, i) => p !== '' || i === 0);
  let current = [parts[0] === '' ? sep : parts[0]!];
  for (const part of parts.slice(1)) {
    if (!MAGIC.test(part)) {
      current = current.map((d) => join(d, part));
      continue;
    }
    const re = segmentRegex(part);
    const next: string[] = [];
    for (const dir of current) {
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        continue;
      }
      for (const n of names) if (re.test(n) && !n.startsWith('.')) next.push(join(dir, n));
    }
    current = next;
  }
  return current.sort();
}
