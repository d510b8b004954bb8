// The bench's minimal function: answers at once.
export const handler = async (event) => ({ ok: true, n: event?.n });
