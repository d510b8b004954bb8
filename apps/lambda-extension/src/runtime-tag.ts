/** How many times an `unknown` answer is asked again (the runtime's process may not be there yet). */
const UNKNOWN_RETRIES = 3;

/**
 * The function's runtime, found once and shared by the enhanced metrics' `runtime` tag and the
 * `aws.lambda` span. Asked lazily: it is read from the runtime's process, which exists only once the
 * environment has started it.
 */
export function runtimeResolver(resolve: () => string): () => string {
  let found: string | undefined;
  let unknownAnswers = 0;
  return () => {
    if (found !== undefined) return found;
    const r = resolve();
    if (r !== 'unknown' || ++unknownAnswers >= UNKNOWN_RETRIES) found = r;
    return r;
  };
}
