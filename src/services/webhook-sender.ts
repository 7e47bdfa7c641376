// The HTTP side of webhook delivery: one signed POST per claimed delivery, a bounded number in
// flight, each cut off after a timeout. It never throws: every send ends as an attempt result
// (a status code, or the reason none came back) for the deliverer to record. Unless the
// deployment allows it, a URL whose host is, or resolves to, an internal address is refused
// without connecting: a failed attempt like any other, retried on the same backoff.
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { bareHost, describeKind, internalKind } from '../core/webhooks/addresses.js';
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
  /** send to hosts that are or resolve to internal addresses (LAUREL_WEBHOOKS_ALLOW_PRIVATE); default false */
  allowPrivate?: boolean;
  /** every address of a host name (tests inject one); default node:dns lookup, as fetch resolves */
  lookup?: (hostname: string) => Promise<readonly { address: string }[]>;
}

const systemLookup = (hostname: string) => dnsLookup(hostname, { all: true, verbatim: true });

const TIMEOUT_MS = 10_000;
const CONCURRENCY = 8;
const USER_AGENT = 'Laurel-Webhooks/1';
/** What is kept of a failing response's body in the delivery log. */
const SNIPPET_BYTES = 300;

/** Sends each delivery at `at` (its signature's timestamp); results in the same order. */
export async function sendAll(deliveries: readonly ClaimedDelivery[], at: Date, options: SendOptions = {}): Promise<AttemptResult[]> {
  const doFetch = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? TIMEOUT_MS;
  const guard = options.allowPrivate ? null : options.lookup ?? systemLookup;
  const results: AttemptResult[] = new Array(deliveries.length);
  let next = 0;
  const lane = async () => {
    while (next < deliveries.length) {
      const i = next++;
      results[i] = await send(deliveries[i]!, at, doFetch, timeoutMs, guard);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? CONCURRENCY, deliveries.length) }, lane));
  return results;
}

/** `lookup` when internal hosts are refused; null when the deployment allows them. */
async function send(d: ClaimedDelivery, at: Date, doFetch: typeof globalThis.fetch, timeoutMs: number,
  lookup: SendOptions['lookup'] | null): Promise<AttemptResult> {
  const body = messageBody(d);
  const headers = { 'content-type': 'application/json', 'user-agent': USER_AGENT, ...signatureHeaders(d.secret, d.messageId, at, body) };
  // one deadline for resolving and sending
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const refusal = lookup ? await refusalOf(d.url, lookup, signal) : null;
    if (refusal) return { statusCode: null, error: refusal };
    // Redirects are not followed: a 3xx is a failed attempt, so a message never lands where the tenant did not point it
    // (nor, through a redirect, inside the deployment).
    const response = await doFetch(d.url, { method: 'POST', headers, body, redirect: 'manual', signal });
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

/**
 * Why this URL must not be sent to: its host is an internal address, or a name (localhost
 * included) with at least one internal address (a name can point inside, or be rebound to point
 * there after the endpoint was accepted). Null when every address is public.
 *
 * fetch resolves the name again when it connects, so a DNS server answering public here and
 * internal a moment later (rebinding with a zero TTL) still gets through in that window. Closing
 * it means connecting to the address checked here (undici's Agent with a `connect.lookup`, or
 * node:http with a `lookup`), which Node's global fetch does not offer without the undici package.
 */
async function refusalOf(url: string, lookup: NonNullable<SendOptions['lookup']>, signal: AbortSignal): Promise<string | null> {
  const host = bareHost(new URL(url).hostname);
  if (isIP(host)) {
    const kind = internalKind(host);
    return kind ? `refused: ${host} is ${describeKind(kind)}` : null;
  }
  // names, localhost included, are asked of the resolver: it says where fetch would connect
  for (const { address } of await untilAborted(lookup(host), signal)) {
    const kind = internalKind(address);
    if (kind) return `refused: ${host} resolves to ${address}, ${describeKind(kind)}`;
  }
  return null;
}

/** `promise`, or the signal's reason once it aborts first (a DNS lookup takes no signal). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(signal.reason);
    signal.addEventListener('abort', abort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
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
