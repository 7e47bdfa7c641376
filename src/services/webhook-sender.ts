// The HTTP side of webhook delivery: one signed POST per claimed delivery, a bounded number in
// flight, each cut off after a timeout. It never throws: every send ends as an attempt result
// (a status code, or the reason none came back) for the deliverer to record.
import { messageBody, type AttemptResult } from '../core/webhooks/delivery.js';
import { signatureHeaders } from '../core/webhooks/signature.js';
import type { ClaimedDelivery } from '../db/webhooks.js';

export interface SendOptions {
  /** the HTTP client (tests inject one); default: Node's global fetch */
  fetch?: typeof globalThis.fetch;
  /** per send; default 10 s */
  timeoutMs?: number;
  /** sends in flight at once; default 8 */
  concurrency?: number;
}

const TIMEOUT_MS = 10_000;
const CONCURRENCY = 8;
const USER_AGENT = 'Laurel-Webhooks/1';
/** What is kept of a failing response's body in the delivery log. */
const SNIPPET_BYTES = 300;

/** Sends each delivery at `at` (its signature's timestamp); results in the same order. */
export async function sendAll(deliveries: readonly ClaimedDelivery[], at: Date, options: SendOptions = {}): Promise<AttemptResult[]> {
  const doFetch = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? TIMEOUT_MS;
  const results: AttemptResult[] = new Array(deliveries.length);
  let next = 0;
  const lane = async () => {
    while (next < deliveries.length) {
      const i = next++;
      results[i] = await send(deliveries[i]!, at, doFetch, timeoutMs);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? CONCURRENCY, deliveries.length) }, lane));
  return results;
}

async function send(d: ClaimedDelivery, at: Date, doFetch: typeof globalThis.fetch, timeoutMs: number): Promise<AttemptResult> {
  const body = messageBody(d);
  const headers = { 'content-type': 'application/json', 'user-agent': USER_AGENT, ...signatureHeaders(d.secret, d.messageId, at, body) };
  try {
    // Redirects are not followed: a 3xx is a failed attempt, so a message never lands where the tenant did not point it.
    const response = await doFetch(d.url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    if (response.status >= 200 && response.status < 300) {
      await response.body?.cancel().catch(() => {});
      return { statusCode: response.status, error: null };
    }
    const text = await snippet(response);
    return { statusCode: response.status, error: `HTTP ${response.status}${text ? `: ${text}` : ''}` };
  } catch (e) {
    return { statusCode: null, error: describe(e, timeoutMs) };
  }
}

/** The start of a response body, as storable text (PostgreSQL text holds no NUL). */
async function snippet(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < SNIPPET_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } catch {
    // a body cut off part way: keep what came
  } finally {
    reader.cancel().catch(() => {});
  }
  return clean(Buffer.concat(chunks).subarray(0, SNIPPET_BYTES).toString('utf8'));
}

function describe(e: unknown, timeoutMs: number): string {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError') return `no response within ${timeoutMs / 1000} s`;
  const cause = err?.cause?.code ?? err?.cause?.message;
  return clean(`${err?.message ?? String(e)}${cause ? ` (${cause})` : ''}`);
}

// eslint-disable-next-line no-control-regex -- NUL is what PostgreSQL text refuses
const clean = (s: string): string => s.replace(/\u0000/g, '').slice(0, 500);
