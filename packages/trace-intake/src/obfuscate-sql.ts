// SQL quantization in the manner of the Datadog Agent's obfuscator: literals become `?`, comments and
// aliases go, lists of literals collapse to one `?`, tokens are re-joined with single spaces.

export class SqlParseError extends Error {
  override name = 'SqlParseError';
}

type Kind = 'ident' | 'literal' | 'op' | 'open' | 'close' | 'comma' | 'semi';
interface Tok {
  kind: Kind;
  text: string;
}

const LITERAL_WORDS = new Set(['NULL', 'TRUE', 'FALSE']);
const isIdentStart = (c: string) => /[A-Za-z_\u0080-\uffff]/.test(c);
const isIdentPart = (c: string) => /[A-Za-z0-9_$.\u0080-\uffff]/.test(c);
const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';

function tokenize(q: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  const n = q.length;
  const prevAllowsSign = () => {
    const p = out[out.length - 1];
    return (
      !p ||
      p.kind === 'op' ||
      p.kind === 'open' ||
      p.kind === 'comma' ||
      (p.kind === 'ident' && /^[A-Za-z]+$/.test(p.text) && KEYWORDS.has(p.text.toUpperCase()))
    );
  };
  while (i < n) {
    const c = q[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f') {
      i++;
      continue;
    }
    if (c === '-' && q[i + 1] === '-') {
      while (i < n && q[i] !== '\n') i++;
      continue;
    }
    if (c === '#' && (out.length === 0 || q[i + 1] === ' ')) {
      while (i < n && q[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && q[i + 1] === '*') {
      const end = q.indexOf('*/', i + 2);
      if (end < 0) throw new SqlParseError('unterminated comment');
      i = end + 2;
      continue;
    }
    if (c === "'") {
      i++;
      for (;;) {
        if (i >= n) throw new SqlParseError('unterminated string');
        if (q[i] === '\\') i += 2;
        else if (q[i] === "'" && q[i + 1] === "'") i += 2;
        else if (q[i] === "'") break;
        else i++;
      }
      i++;
      out.push({ kind: 'literal', text: '?' });
      continue;
    }
    if (c === '"' || c === '`') {
      const end = q.indexOf(c, i + 1);
      if (end < 0) throw new SqlParseError('unterminated quoted identifier');
      const inner = q.slice(i + 1, end).trim();
      out.push({ kind: 'ident', text: inner === '' ? '""' : inner });
      i = end + 1;
      continue;
    }
    if (c === '{') {
      // a map literal (CQL `WITH replication = {...}`) is one value
      let depth = 0;
      let j = i;
      for (; j < n; j++) {
        if (q[j] === '{') depth++;
        else if (q[j] === '}' && --depth === 0) break;
      }
      if (j >= n) throw new SqlParseError('unterminated brace');
      out.push({ kind: 'literal', text: '?' });
      i = j + 1;
      continue;
    }
    if (c === '$') {
      // $1 positional parameter, or $tag$ ... $tag$ dollar-quoted string
      if (isDigit(q[i + 1])) {
        i++;
        while (isDigit(q[i])) i++;
        out.push({ kind: 'literal', text: '?' });
        continue;
      }
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(q.slice(i));
      if (m) {
        const tag = m[0];
        const end = q.indexOf(tag, i + tag.length);
        if (end < 0) throw new SqlParseError('unterminated dollar-quoted string');
        i = end + tag.length;
        out.push({ kind: 'literal', text: '?' });
        continue;
      }
    }
    if (
      isDigit(c) ||
      (c === '.' && isDigit(q[i + 1])) ||
      (c === '-' && (isDigit(q[i + 1]) || q[i + 1] === '.') && prevAllowsSign())
    ) {
      let j = i + 1;
      if (c === '0' && (q[j] === 'x' || q[j] === 'X')) {
        j++;
        while (j < n && /[0-9a-fA-F]/.test(q[j]!)) j++;
      } else {
        while (j < n && /[0-9.]/.test(q[j]!)) j++;
        if (q[j] === 'e' || q[j] === 'E') {
          j++;
          if (q[j] === '+' || q[j] === '-') j++;
          while (isDigit(q[j])) j++;
        }
      }
      // `123abc` is an identifier (MySQL allows it), not a number
      if (j < n && /[A-Za-z_]/.test(q[j]!)) {
        while (j < n && isIdentPart(q[j]!)) j++;
        out.push({ kind: 'ident', text: q.slice(i, j) });
      } else out.push({ kind: 'literal', text: '?' });
      i = j;
      continue;
    }
    if (c === '?') {
      i++;
      out.push({ kind: 'literal', text: '?' });
      continue;
    }
    if (c === '%' && (q[i + 1] === 's' || q[i + 1] === 'd' || q[i + 1] === '(')) {
      // pyformat placeholders %s, %d, %(name)s
      if (q[i + 1] === '(') {
        const end = q.indexOf(')', i);
        if (end < 0) throw new SqlParseError('unterminated placeholder');
        i = end + 2;
      } else i += 2;
      out.push({ kind: 'literal', text: '?' });
      continue;
    }
    if ((c === ':' || c === '@') && q[i + 1] !== undefined && isIdentStart(q[i + 1]!) && q[i - 1] !== ':') {
      // :name bind variables and @variables name a value without holding one: kept
      let j = i + 1;
      while (j < n && isIdentPart(q[j]!)) j++;
      out.push({ kind: 'ident', text: q.slice(i, j) });
      i = j;
      continue;
    }
    if (isIdentStart(c)) {
      let j = i + 1;
      while (j < n && (isIdentPart(q[j]!) || q[j] === '#' || (q[j] === '*' && q[j - 1] === '.'))) j++;
      const text = q.slice(i, j);
      out.push(
        LITERAL_WORDS.has(text.toUpperCase()) ? { kind: 'literal', text: '?' } : { kind: 'ident', text },
      );
      i = j;
      continue;
    }
    if (c === '(' || c === '[') {
      out.push({ kind: 'open', text: c });
      i++;
      continue;
    }
    if (c === ')' || c === ']') {
      out.push({ kind: 'close', text: c });
      i++;
      continue;
    }
    if (c === ',') {
      out.push({ kind: 'comma', text: ',' });
      i++;
      continue;
    }
    if (c === ';') {
      out.push({ kind: 'semi', text: ';' });
      i++;
      continue;
    }
    const two = q.slice(i, i + 2);
    if (['<=', '>=', '<>', '!=', '||', '::', ':=', '=>', '->', '<<', '>>', '&&'].includes(two)) {
      out.push({ kind: 'op', text: two });
      i += 2;
      continue;
    }
    out.push({ kind: 'op', text: c });
    i++;
  }
  return out;
}

const KEYWORDS = new Set([
  'SELECT',
  'FROM',
  'WHERE',
  'AND',
  'OR',
  'NOT',
  'IN',
  'IS',
  'LIKE',
  'LIMIT',
  'OFFSET',
  'VALUES',
  'SET',
  'BETWEEN',
  'THEN',
  'WHEN',
  'ELSE',
  'CASE',
  'ON',
  'BY',
  'HAVING',
  'RETURN',
  'RETURNING',
  'ANY',
  'ALL',
]);

export interface SqlOptions {
  keepAlias?: boolean;
}

/** Quantizes one SQL statement; throws SqlParseError on unterminated strings or comments. */
export function obfuscateSql(query: string, opts: SqlOptions = {}): string {
  const toks = tokenize(query);
  // drop `AS alias`
  const kept: Tok[] = [];
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    const next = toks[i + 1];
    const upper = t.kind === 'ident' ? t.text.toUpperCase() : '';
    if (
      !opts.keepAlias &&
      upper === 'AS' &&
      (next?.kind === 'ident' || next?.kind === 'literal' || next?.kind === 'open')
    ) {
      // `AS alias` goes; `AS [alias]` goes with its brackets; `AS (subquery)` stays
      if (next.kind !== 'open') {
        i++;
        continue;
      }
      if (next.text === '[' && toks[i + 2]?.kind === 'ident' && toks[i + 3]?.kind === 'close') {
        i += 3;
        continue;
      }
    }
    // savepoint names are generated per transaction
    if (upper === 'SAVEPOINT' && next?.kind === 'ident') {
      kept.push(t, { kind: 'literal', text: '?' });
      i++;
      continue;
    }
    kept.push(t);
  }
  // collapse runs of literals: `?, ?, ?` → `?`, and repeated `( ? ), ( ? )` groups → one group
  const out: Tok[] = [];
  for (let i = 0; i < kept.length; i++) {
    const t = kept[i]!;
    const last = out[out.length - 1];
    if (t.kind === 'literal' && last?.kind === 'literal') continue;
    if (t.kind === 'comma' && last?.kind === 'literal') {
      const after = kept[i + 1];
      if (after === undefined || after.kind !== 'open') continue;
    }
    if (
      t.kind === 'comma' &&
      last?.kind === 'close' &&
      isLiteralGroupEnd(out) &&
      kept[i + 1]?.kind === 'open'
    ) {
      const end = literalGroupEnd(kept, i + 1);
      if (end > 0) {
        i = end;
        continue;
      }
    }
    out.push(t);
  }
  while (out.length > 0 && out[out.length - 1]!.kind === 'semi') out.pop();
  let s = '';
  for (const t of out) {
    if (s === '' || t.kind === 'comma' || t.kind === 'semi') s += t.text;
    else s += ` ${t.text}`;
  }
  return s;
}

function isLiteralGroupEnd(out: Tok[]): boolean {
  const n = out.length;
  return (
    n >= 3 && out[n - 1]!.kind === 'close' && out[n - 2]!.kind === 'literal' && out[n - 3]!.kind === 'open'
  );
}

/** Index of the `)` closing a group of only literals and commas starting at `open`, or -1. */
function literalGroupEnd(toks: Tok[], open: number): number {
  for (let j = open + 1; j < toks.length; j++) {
    const k = toks[j]!.kind;
    if (k === 'close') return j;
    if (k !== 'literal' && k !== 'comma') return -1;
  }
  return -1;
}
