/** Intake limits (the logs intake's and the real extension's constants). */
export const MAX_BATCH_EVENTS = 1000;
/** 5 MiB: the uncompressed body of one `/api/v2/logs` request. */
export const MAX_BATCH_BYTES = 5 * 1024 * 1024;
/** 1 MiB: one event; bigger ones are truncated. */
export const MAX_EVENT_BYTES = 1024 * 1024;
/** The Agent's marker for a truncated log. */
export const TRUNCATED_MARKER = '...TRUNCATED...';
