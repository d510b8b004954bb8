/**
 * A context's tags: sorted, de-duplicated, with the agent's special tags taken out. Shared by all
 * contexts that carry the same tag set, and memoised per raw tag string, so the sort runs once per
 * distinct tag list rather than once per line.
 */
export interface TagSet {
  /** Sorted, unique tags. */
  readonly tags: readonly string[];
  /** `tags` joined with `,`: the tag part of a context key. */
  readonly key: string;
  /** From a `host:` tag; '' when absent. */
  readonly host: string;
}

export const EMPTY_TAGS: TagSet = { tags: [], key: '', host: '' };

/** Sorts and de-duplicates, and removes the tags the agent consumes (`host:`, `dd.internal.*`). */
export function normalizeTags(raw: readonly string[]): TagSet {
  let host = '';
  const kept: string[] = [];
  for (const t of raw) {
    if (t === '') continue;
    if (t.startsWith('host:')) {
      host = t.slice(5);
      continue;
    }
    if (t.startsWith('dd.internal.entity_id:') || t.startsWith('dd.internal.card:')) continue;
    if (t.startsWith('dd.internal.jmx_check_name:')) continue;
    kept.push(t);
  }
  kept.sort();
  let w = 0;
  for (let r = 0; r < kept.length; r++) {
    if (r === 0 || kept[r] !== kept[w - 1]) kept[w++] = kept[r]!;
  }
  kept.length = w;
  return { tags: kept, key: kept.join(','), host };
}

/** A bounded memo from the raw `#a,b,c` text to its TagSet; cleared whole when full. */
export class TagCache {
  private readonly map = new Map<string, TagSet>();
  constructor(private readonly max: number) {}

  get(raw: string): TagSet {
    if (raw === '') return EMPTY_TAGS;
    let t = this.map.get(raw);
    if (t === undefined) {
      t = normalizeTags(raw.split(','));
      if (this.map.size >= this.max) this.map.clear();
      this.map.set(raw, t);
    }
    return t;
  }
}

/** `a:b,c:d` or `a:b c:d` (DD_TAGS accepts both); items without a key or value are dropped. */
export function parseTagList(value: string | undefined): string[] {
  if (value === undefined) return [];
  const out: string[] = [];
  for (const item of value.split(/[\s,]+/)) {
    if (item === '') continue;
    const i = item.indexOf(':');
    if (i <= 0 || i === item.length - 1) continue;
    out.push(item);
  }
  return out;
}

/** Merges two sorted, unique tag lists into one (a linear merge, no re-sort). */
export function mergeTags(own: readonly string[], global: readonly string[]): string[] {
  if (global.length === 0) return own as string[];
  if (own.length === 0) return global as string[];
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < own.length && j < global.length) {
    const a = own[i]!;
    const b = global[j]!;
    if (a < b) {
      out.push(a);
      i++;
    } else if (b < a) {
      out.push(b);
      j++;
    } else {
      out.push(a);
      i++;
      j++;
    }
  }
  while (i < own.length) out.push(own[i++]!);
  while (j < global.length) out.push(global[j++]!);
  return out;
}
