// Standard Webhooks signatures (https://www.standardwebhooks.com): what Laurel puts on every
// webhook it sends, and the check a receiver makes. Symmetric scheme only: v1 = HMAC-SHA256.
// The signed content is `${webhook-id}.${webhook-timestamp}.${body}`, the key is the base64 part
// of the endpoint's `whsec_` secret, and the signature travels base64-encoded after `v1,`.
// Pure: no clock (the timestamp is a parameter) and no I/O; node:crypto only computes.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SECRET_PREFIX = 'whsec_';
/** Standard Webhooks asks for 24 to 64 bytes of key. */
const SECRET_BYTES = 24;
/** A receiver refuses a timestamp further than this from its own clock: a captured request cannot be replayed later. */
export const DEFAULT_TOLERANCE_SECONDS = 5 * 60;

export interface SignatureHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/** A new endpoint secret: `whsec_` and the base64 of 24 random bytes. */
export function newSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64');
}

/** The HMAC key of a secret: its base64 after the (optional) `whsec_` prefix. */
function keyOf(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  const key = Buffer.from(encoded, 'base64');
  if (key.length === 0) throw new Error('a webhook secret must be whsec_ followed by base64');
  return key;
}

/** `v1,` + base64(HMAC-SHA256(key, `${id}.${timestamp}.${body}`)); timestamp in unix seconds. */
export function sign(secret: string, id: string, timestamp: number, body: string): string {
  const mac = createHmac('sha256', keyOf(secret)).update(`${id}.${timestamp}.${body}`, 'utf8').digest('base64');
  return `v1,${mac}`;
}

/** The three headers of a message sent at `sentAt`. */
export function signatureHeaders(secret: string, id: string, sentAt: Date, body: string): SignatureHeaders {
  const timestamp = Math.floor(sentAt.getTime() / 1000);
  return { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': sign(secret, id, timestamp, body) };
}

export type Verification = { ok: true } | { ok: false; reason: string };

/**
 * A receiver's check of a request: the headers are there, the timestamp is within
 * `toleranceSeconds` of `now`, and one of the space-separated signatures is a v1 signature of
 * the raw body (the exact bytes received, before any JSON parsing) with this secret. Signatures
 * are compared in constant time. Header names are looked up in lower case, as Node gives them.
 */
export function verify(secret: string, headers: Record<string, string | string[] | undefined>, body: string,
  now: Date, toleranceSeconds = DEFAULT_TOLERANCE_SECONDS): Verification {
  const header = (name: keyof SignatureHeaders) => {
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const id = header('webhook-id');
  const timestampText = header('webhook-timestamp');
  const signatures = header('webhook-signature');
  if (!id || !timestampText || !signatures) return { ok: false, reason: 'missing webhook-id, webhook-timestamp or webhook-signature' };
  if (!/^\d{1,12}$/.test(timestampText)) return { ok: false, reason: 'webhook-timestamp is not unix seconds' };
  const timestamp = Number(timestampText);
  if (Math.abs(now.getTime() / 1000 - timestamp) > toleranceSeconds) return { ok: false, reason: 'webhook-timestamp is too old or too new' };
  const expected = Buffer.from(sign(secret, id, timestamp, body).slice('v1,'.length), 'base64');
  for (const candidate of signatures.split(' ')) {
    const [version, mac] = candidate.split(',', 2);
    if (version !== 'v1' || !mac) continue;
    const given = Buffer.from(mac, 'base64');
    if (given.length === expected.length && timingSafeEqual(given, expected)) return { ok: true };
  }
  return { ok: false, reason: 'no v1 signature matches' };
}
