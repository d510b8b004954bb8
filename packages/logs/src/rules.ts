import type { Logger } from './types.js';

export type RuleType = 'exclude_at_match' | 'include_at_match' | 'mask_sequences';

/** A processing rule as users write it in `DD_LOGS_CONFIG_PROCESSING_RULES`. */
export interface ProcessingRuleSpec {
  type: RuleType;
  name: string;
  pattern: string;
  replace_placeholder?: string;
}

/** A validated, compiled rule. */
export interface ProcessingRule {
  readonly type: RuleType;
  readonly name: string;
  readonly pattern: string;
  /** Non-global: safe for repeated `test` calls. */
  readonly regex: RegExp;
  /** Global copy for `mask_sequences`. */
  readonly globalRegex: RegExp;
  readonly replace: (
    match: string,
    groups: readonly (string | undefined)[],
    named?: Record<string, string>,
  ) => string;
  /** The placeholder itself when it references no group: the engine's own replacement is faster. */
  readonly literal: string | undefined;
  /**
   * Literal text every match starts with, for the pattern shapes the regex engine scans for
   * position by position (`leadingLiteral`): no match where `indexOf` finds none…
   */
  readonly lead?: string;
  /** …and, for `\b<literal>`, a sticky copy tried only where it occurs in a long text. */
  readonly stickyRegex?: RegExp;
  /** The pattern is `lead` and nothing else (`GET /healthz`): where `indexOf` finds it, it matches. */
  readonly exact?: true;
  /**
   * Where in `lead` its least frequent character is (`=` in `api_key=`): `lead` is searched from
   * there, as `indexOf` skips fast to a rare first character and stops at every common one.
   */
  readonly anchor?: number;
}

const TYPES = new Set<string>(['exclude_at_match', 'include_at_match', 'mask_sequences']);

export class RuleError extends Error {
  override readonly name = 'RuleError';
}

/**
 * Translates the RE2 syntax users copy from Datadog's docs into a JS RegExp: leading inline flags
 * (`(?i)`, `(?s)`, `(?m)`), `(?P<name>`, `\A` and `\z`. Anything else JS rejects is an invalid rule.
 */
export function compilePattern(pattern: string, extraFlags = ''): RegExp {
  let source = pattern;
  let flags = extraFlags;
  const lead = /^\(\?([ims]+)\)/.exec(source);
  if (lead) {
    for (const f of lead[1]!) if (!flags.includes(f)) flags += f;
    source = source.slice(lead[0].length);
  }
  source = source
    .replace(/\(\?P</g, '(?<')
    .replace(/\\A/g, '^')
    .replace(/\\z/g, '$');
  try {
    return new RegExp(source, flags + 'u');
  } catch {
    // RE2 accepts escapes of any punctuation (`\-`, `\:`), which unicode mode rejects.
    return new RegExp(source, flags);
  }
}

/**
 * Builds a replacer with RE2/Rust template semantics: `$1`, `${1}`, `$name`, `${name}` expand to
 * the group (empty when absent), `$$` is a literal `$`; JS's own `$&`, `` $` `` and `$'` mean nothing.
 */
export function compilePlaceholder(template: string): ProcessingRule['replace'] {
  if (!template.includes('$')) return () => template;
  type Part = string | { group: string };
  const parts: Part[] = [];
  const re = /\$(?:\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))/g;
  let last = 0;
  for (let m = re.exec(template); m; m = re.exec(template)) {
    if (m.index > last) parts.push(template.slice(last, m.index));
    if (m[0] === '$$') parts.push('$');
    else parts.push({ group: (m[1] ?? m[2])! });
    last = m.index + m[0].length;
  }
  if (last < template.length) parts.push(template.slice(last));
  return (match, groups, named) => {
    let out = '';
    for (const p of parts) {
      if (typeof p === 'string') out += p;
      else if (/^\d+$/.test(p.group)) {
        const n = Number(p.group);
        out += n === 0 ? match : (groups[n - 1] ?? '');
      } else out += named?.[p.group] ?? '';
    }
    return out;
  };
}

const SYNTAX = new Set('\\^$.|?*+()[]{}/');
const QUANTIFIER = new Set('?*{');

/** Where the group opening at `open` closes, or -1. */
function groupEnd(source: string, open: number): number {
  let depth = 0;
  let inClass = false;
  for (let i = open; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\\') i++;
    else if (inClass) inClass = c !== ']';
    else if (c === '[') inClass = true;
    else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  return -1;
}

/**
 * The literal text every match starts with, for the two pattern shapes the regex engine does not
 * scan fast by itself: `\b<literal>…` (the card mask of Datadog's docs) and `(<literal>…)…` (a
 * leading group, `(api_key=)\w+`). Undefined for any other shape, with the `i` flag, with a `|`
 * anywhere, or when the first character is optional.
 */
export function leadingLiteral(source: string, flags: string): string | undefined {
  if (flags.includes('i')) return undefined;
  let i: number;
  if (source.startsWith('\\b')) i = 2;
  else if (source.startsWith('(')) {
    if (source.startsWith('(?:')) i = 3;
    else if (/^\(\?<[A-Za-z_][A-Za-z0-9_]*>/.test(source)) i = source.indexOf('>') + 1;
    else if (source[1] === '?')
      return undefined; // a lookaround
    else i = 1;
    const end = groupEnd(source, 0);
    const after = source[end + 1];
    if (end < 0 || (after !== undefined && QUANTIFIER.has(after))) return undefined; // optional group
  } else return undefined;
  // With an alternation a match need not start with the literal.
  let inClass = false;
  for (let k = 0; k < source.length; k++) {
    const c = source[k]!;
    if (c === '\\') k++;
    else if (inClass) inClass = c !== ']';
    else if (c === '[') inClass = true;
    else if (c === '|') return undefined;
  }
  let lit = '';
  while (i < source.length) {
    let ch = source[i]!;
    let width = 1;
    if (ch === '\\') {
      const next = source[i + 1];
      // Only escaped punctuation is a literal (`\d`, `\w`, `\x41`, `\b` … are not).
      if (next === undefined || /[A-Za-z0-9]/.test(next)) break;
      ch = next;
      width = 2;
    } else if (SYNTAX.has(ch)) break;
    const code = ch.charCodeAt(0);
    if (code >= 0xd800 && code <= 0xdfff) break;
    const after = source[i + width];
    if (after !== undefined && QUANTIFIER.has(after)) break; // optional: not part of every match
    lit += ch;
    i += width;
    if (after === '+') break;
  }
  return lit === '' ? undefined : lit;
}

/**
 * The text a pattern of plain characters and escaped punctuation matches, exactly (`GET /healthz`);
 * undefined for any other pattern, or with the `i` flag.
 */
export function wholeLiteral(source: string, flags: string): string | undefined {
  if (flags.includes('i')) return undefined;
  let lit = '';
  for (let i = 0; i < source.length; i++) {
    let ch = source[i]!;
    if (ch === '\\') {
      const next = source[i + 1];
      if (next === undefined || /[A-Za-z0-9]/.test(next)) return undefined;
      ch = next;
      i++;
    } else if (SYNTAX.has(ch)) return undefined;
    const code = ch.charCodeAt(0);
    if (code >= 0xd800 && code <= 0xdfff) return undefined;
    lit += ch;
  }
  return lit === '' ? undefined : lit;
}

// Characters of log text from the most frequent on (a rough order: it only picks where a literal is
// searched from, never whether it matches); any other character counts as rarer than all of these.
const BY_FREQUENCY = ` etaoinsr0123456789hldcumfpgwybvkxjqz.:/-,_"()\n\tETAOINSRHLDCUMFPGWYBVKXJQZ'[]{}=`;

/** The offset of the least frequent character of `lit` (the first of equals). */
export function rarestOffset(lit: string): number {
  let best = 0;
  let bestRank = -1;
  for (let i = 0; i < lit.length; i++) {
    const f = BY_FREQUENCY.indexOf(lit[i]!);
    const rank = f < 0 ? BY_FREQUENCY.length : f;
    if (rank > bestRank) {
      best = i;
      bestRank = rank;
    }
  }
  return best;
}

/** Where `rule.lead` next occurs in `text` from `from` on, or -1: searched from its rare character. */
function findLead(rule: ProcessingRule, lead: string, text: string, from: number): number {
  const k = rule.anchor;
  if (k === undefined) return text.indexOf(lead, from);
  const rare = lead[k]!;
  for (let i = text.indexOf(rare, from + k); i >= 0; i = text.indexOf(rare, i + 1)) {
    if (text.startsWith(lead, i - k)) return i - k;
  }
  return -1;
}

function isWordChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95;
}

// Below this length one run of the regex is cheaper than trying it at each candidate.
const LONG_TEXT = 512;

const NO = 0;
const YES = 1;
const UNKNOWN = 2;

/**
 * The cheap pre-check: `NO` when the rule's literal is absent; for a `\b` pattern in a long text,
 * the answer itself (`NO`/`YES`) from trying its sticky copy at each candidate; else `UNKNOWN`.
 */
function precheck(rule: ProcessingRule, text: string): number {
  const { lead, stickyRegex } = rule;
  if (lead === undefined) return UNKNOWN;
  const first = findLead(rule, lead, text, 0);
  if (first < 0) return NO;
  if (rule.exact) return YES;
  if (stickyRegex === undefined || text.length < LONG_TEXT) return UNKNOWN;
  // `\b` holds where one side is a word character and the other is not (ASCII `\w`: no `i` flag).
  const leadIsWord = isWordChar(lead.charCodeAt(0));
  for (let i = first; i >= 0; i = findLead(rule, lead, text, i + 1)) {
    if (i > 0 && isWordChar(text.charCodeAt(i - 1)) === leadIsWord) continue;
    stickyRegex.lastIndex = i;
    if (stickyRegex.test(text)) return YES;
  }
  return NO;
}

/** Whether `rule` matches somewhere in `text`. */
function matches(rule: ProcessingRule, text: string): boolean {
  const p = precheck(rule, text);
  return p === UNKNOWN ? rule.regex.test(text) : p === YES;
}

/** Validates and compiles one rule, or throws a `RuleError` saying what is wrong with it. */
export function compileRule(spec: unknown, index: number): ProcessingRule {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    throw new RuleError(`processing rule #${index} is not an object`);
  }
  const r = spec as Record<string, unknown>;
  const label = typeof r['name'] === 'string' && r['name'] !== '' ? `"${r['name']}"` : `#${index} (unnamed)`;
  if (typeof r['name'] !== 'string' || r['name'] === '') {
    throw new RuleError(`processing rule ${label}: every rule needs a "name"`);
  }
  const type = r['type'];
  if (typeof type !== 'string' || type === '') {
    throw new RuleError(`processing rule ${label}: "type" must be set`);
  }
  if (!TYPES.has(type)) {
    throw new RuleError(
      `processing rule ${label}: type "${type}" is not supported (exclude_at_match, include_at_match, mask_sequences)`,
    );
  }
  if (typeof r['pattern'] !== 'string' || r['pattern'] === '') {
    throw new RuleError(`processing rule ${label}: no "pattern" given`);
  }
  const pattern = r['pattern'];
  let regex: RegExp;
  try {
    regex = compilePattern(pattern);
  } catch (err) {
    throw new RuleError(
      `processing rule ${label}: invalid pattern ${JSON.stringify(pattern)}: ${(err as Error).message}`,
    );
  }
  const placeholder = r['replace_placeholder'];
  if (placeholder !== undefined && typeof placeholder !== 'string') {
    throw new RuleError(`processing rule ${label}: "replace_placeholder" must be a string`);
  }
  const exact = wholeLiteral(regex.source, regex.flags);
  const lead = exact ?? leadingLiteral(regex.source, regex.flags);
  const anchor = lead === undefined ? 0 : rarestOffset(lead);
  return {
    type: type as RuleType,
    name: r['name'],
    pattern,
    regex,
    globalRegex: new RegExp(regex.source, regex.flags + 'g'),
    replace: compilePlaceholder(placeholder ?? ''),
    literal: (placeholder ?? '').includes('$') ? undefined : (placeholder ?? ''),
    ...(lead === undefined ? {} : { lead }),
    ...(exact === undefined ? {} : { exact: true as const }),
    ...(anchor === 0 ? {} : { anchor }),
    ...(lead !== undefined && regex.source.startsWith('\\b')
      ? { stickyRegex: new RegExp(regex.source, regex.flags + 'y') }
      : {}),
  };
}

/**
 * Compiles a list of rule specs. An invalid rule is reported once (one `error` line naming it and
 * why) and left out; the others keep working.
 */
export function compileRules(specs: unknown, logger?: Logger): ProcessingRule[] {
  if (specs === undefined || specs === null) return [];
  if (!Array.isArray(specs)) {
    logger?.error('logs: processing rules must be a JSON array of rules; ignoring them');
    return [];
  }
  const out: ProcessingRule[] = [];
  specs.forEach((spec, i) => {
    try {
      out.push(compileRule(spec, i));
    } catch (err) {
      logger?.error(`logs: ${(err as Error).message}; the rule is skipped, logs keep flowing without it`);
    }
  });
  return out;
}

/** Parses `DD_LOGS_CONFIG_PROCESSING_RULES`: a JSON array; invalid JSON is one error and no rules. */
export function parseProcessingRules(json: string | undefined, logger?: Logger): ProcessingRule[] {
  if (json === undefined || json.trim() === '') return [];
  let specs: unknown;
  try {
    specs = JSON.parse(json);
  } catch (err) {
    logger?.error(
      `logs: DD_LOGS_CONFIG_PROCESSING_RULES is not valid JSON (${(err as Error).message}); no processing rules apply`,
    );
    return [];
  }
  return compileRules(specs, logger);
}

/**
 * Applies the rules in order, as the Agent does: `exclude_at_match` drops on a match,
 * `include_at_match` drops on no match, `mask_sequences` replaces every match. Returns the
 * (possibly masked) message, or `null` when the log is dropped.
 */
export function applyRules(rules: readonly ProcessingRule[], message: string): string | null {
  let msg = message;
  for (const rule of rules) {
    switch (rule.type) {
      case 'exclude_at_match':
        if (matches(rule, msg)) return null;
        break;
      case 'include_at_match':
        if (!matches(rule, msg)) return null;
        break;
      case 'mask_sequences': {
        // Most messages hold nothing to mask: a test is cheaper than a replace that finds nothing.
        const p = precheck(rule, msg);
        if (p === NO || (p === UNKNOWN && !rule.regex.test(msg))) break;
        rule.globalRegex.lastIndex = 0;
        if (rule.literal !== undefined) {
          msg = msg.replace(rule.globalRegex, rule.literal);
          break;
        }
        const replace = rule.replace;
        msg = msg.replace(rule.globalRegex, (match: string, ...rest: unknown[]) => {
          // rest = groups..., offset, input[, namedGroups]
          const hasNamed = typeof rest[rest.length - 1] === 'object' && rest[rest.length - 1] !== null;
          const named = hasNamed ? (rest[rest.length - 1] as Record<string, string>) : undefined;
          const groups = rest.slice(0, rest.length - (hasNamed ? 3 : 2)) as (string | undefined)[];
          return replace(match, groups, named);
        });
        break;
      }
    }
  }
  return msg;
}
