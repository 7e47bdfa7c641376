// Standard Webhooks signatures: the spec's published vector, and what a receiver must refuse.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { newSecret, sign, signatureHeaders, verify } from './signature.js';

// The vector of the Standard Webhooks reference libraries (libraries/javascript/src/webhook.test.ts, "sign function works").
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const TIMESTAMP = 1614265330;
const BODY = '{"test": 2432232314}';
const SIGNATURE = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';
const AT = new Date(TIMESTAMP * 1000);

describe('sign', () => {
  it("gives the Standard Webhooks spec's test vector", () => {
    expect(sign(SECRET, ID, TIMESTAMP, BODY)).toBe(SIGNATURE);
    // the whsec_ prefix is optional: the key is the base64 after it
    expect(sign(SECRET.slice('whsec_'.length), ID, TIMESTAMP, BODY)).toBe(SIGNATURE);
  });

  it('is base64(HMAC-SHA256(decoded secret, id.timestamp.body)), computed independently', () => {
    const secret = newSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/); // 24 bytes: 32 base64 characters, no padding
    const body = JSON.stringify({ type: 'points.expiring', data: { note: 'héllo ✓' } });
    const mac = createHmac('sha256', Buffer.from(secret.slice(6), 'base64')).update(`m1.1700000000.${body}`).digest('base64');
    expect(sign(secret, 'm1', 1700000000, body)).toBe(`v1,${mac}`);
  });

  it('puts the id, the unix seconds and the signature in the three headers', () => {
    expect(signatureHeaders(SECRET, ID, new Date(TIMESTAMP * 1000 + 999), BODY)).toEqual({
      'webhook-id': ID, 'webhook-timestamp': String(TIMESTAMP), 'webhook-signature': SIGNATURE,
    });
  });
});

describe('verify', () => {
  const headers = { 'webhook-id': ID, 'webhook-timestamp': String(TIMESTAMP), 'webhook-signature': SIGNATURE };

  it('accepts the vector within 5 minutes, and one good signature among several', () => {
    expect(verify(SECRET, headers, BODY, AT)).toEqual({ ok: true });
    expect(verify(SECRET, headers, BODY, new Date(AT.getTime() + 300_000))).toEqual({ ok: true });
    expect(verify(SECRET, headers, BODY, new Date(AT.getTime() - 300_000))).toEqual({ ok: true });
    const several = { ...headers, 'webhook-signature': `v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,xyz ${SIGNATURE}` };
    expect(verify(SECRET, several, BODY, AT)).toEqual({ ok: true });
  });

  it('refuses another body, id or secret, a stale or future timestamp, a missing header and a cut signature', () => {
    const refused = (h: Record<string, string | undefined>, body = BODY, now = AT, secret = SECRET) => verify(secret, h, body, now).ok;
    expect(refused(headers, '{"test": 2432232315}')).toBe(false);
    expect(refused({ ...headers, 'webhook-id': 'msg_other' })).toBe(false);
    expect(refused(headers, BODY, AT, newSecret())).toBe(false);
    expect(refused(headers, BODY, new Date(AT.getTime() + 301_000))).toBe(false);
    expect(refused(headers, BODY, new Date(AT.getTime() - 301_000))).toBe(false);
    expect(refused({ ...headers, 'webhook-signature': undefined })).toBe(false);
    expect(refused({ ...headers, 'webhook-timestamp': 'hello' })).toBe(false);
    expect(refused({ ...headers, 'webhook-signature': SIGNATURE.slice(0, 8) })).toBe(false);
    expect(refused({ ...headers, 'webhook-signature': 'v1,' })).toBe(false);
    expect(refused({ ...headers, 'webhook-signature': SIGNATURE.replace('v1,', 'v2,') })).toBe(false);
  });
});
