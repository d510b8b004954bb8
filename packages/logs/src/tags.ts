/** Tags as the app hands them over: a comma string, a list, or a map. */
export type TagsInput = string | readonly string[] | Readonly<Record<string, string>>;

/** Comma-joins tags for `ddtags`, dropping empty items. */
export function tagString(tags: TagsInput | undefined): string {
  if (tags === undefined) return '';
  if (typeof tags === 'string') {
    return tags
      .split(',')
      .map((t) => t.trim())
      .filter((t) => t !== '')
      .join(',');
  }
  if (Array.isArray(tags)) return (tags as readonly string[]).filter((t) => t !== '').join(',');
  return Object.entries(tags as Record<string, string>)
    .map(([k, v]) => (v === '' ? k : `${k}:${v}`))
    .join(',');
}
