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
  return {
    type: type as RuleType,
    name: r['name'],
    pattern,
    regex,
    globalRegex: new RegExp(regex.source, regex.flags + 'g'),
    replace: compilePlaceholder(placeholder ?? ''),
    literal: (placeholder ?? '').includes('$') ? undefined : (placeholder ?? ''),
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
        if (rule.regex.test(msg)) return null;
        break;
      case 'include_at_match':
        if (!rule.regex.test(msg)) return null;
        break;
      case 'mask_sequences': {
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
