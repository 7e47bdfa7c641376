// What a webhook delivery sends and what an attempt's outcome decides: the body of a message,
// success (any 2xx), and the retry schedule — 30 s after the first failure, doubling, at most
// 6 h apart, given up after the 15th attempt (about 32 hours after the first). Pure.

/** Attempts a delivery gets before it is given up (status failed). */
export const MAX_ATTEMPTS = 15;
export const FIRST_RETRY_MS = 30_000;
export const MAX_RETRY_MS = 6 * 3_600_000;

/** The wait after the `attempts`-th failed attempt (from 1): 30 s, 1 min, 2 min… at most 6 h. */
export const retryDelayMs = (attempts: number): number =>
  Math.min(FIRST_RETRY_MS * 2 ** Math.min(Math.max(attempts - 1, 0), 30), MAX_RETRY_MS);

export interface Message {
  messageId: string;
  type: string;
  createdAt: Date;
  payload: unknown;
}

/**
 * The body, as Standard Webhooks recommends: `type`, `timestamp` (when the event happened, not
 * when it is sent) and `data`. Built from the stored message, so every retry sends the same bytes.
 */
export const messageBody = (m: Message): string =>
  JSON.stringify({ type: m.type, timestamp: m.createdAt.toISOString(), data: m.payload });

/** What came back from one attempt: a status code, or none (network error, timeout). */
export interface AttemptResult {
  statusCode: number | null;
  error: string | null;
}

export const succeeded = (r: AttemptResult): boolean => r.statusCode !== null && r.statusCode >= 200 && r.statusCode < 300;

export interface Outcome {
  status: 'delivered' | 'pending' | 'failed';
  nextAttemptAt: Date | null;
  deliveredAt: Date | null;
}

/** The delivery's state after its `attempt`-th attempt, made at `at`, gave `result`. */
export function outcomeOf(attempt: number, result: AttemptResult, at: Date): Outcome {
  if (succeeded(result)) return { status: 'delivered', nextAttemptAt: null, deliveredAt: at };
  if (attempt >= MAX_ATTEMPTS) return { status: 'failed', nextAttemptAt: null, deliveredAt: null };
  return { status: 'pending', nextAttemptAt: new Date(at.getTime() + retryDelayMs(attempt)), deliveredAt: null };
}
