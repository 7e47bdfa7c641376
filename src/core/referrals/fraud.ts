// Self-referral signals: two members are the same person when they share an e-mail (lower-cased,
// plus-addressing folded: ada+shop@x.com is ada@x.com), a phone, a device id or a payment
// fingerprint. Device ids and fingerprints are kept only as hashes, salted per tenant.
import { createHash } from 'node:crypto';

export type SignalKind = 'device' | 'payment';

/** An e-mail as one person: lower case, the +tag of the local part dropped. */
export function foldEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at < 0) return email.toLowerCase();
  const local = email.slice(0, at).toLowerCase().replace(/\+.*$/, '');
  return `${local}@${email.slice(at + 1).toLowerCase()}`;
}

export const signalHash = (tenantId: string, kind: SignalKind, value: string): string =>
  createHash('sha256').update(`${tenantId}:${kind}:${value.trim()}`).digest('hex');

/** The signals an event's attributes carry: `deviceId` and `paymentFingerprint` (text). */
export function signalsOf(tenantId: string, attributes: Record<string, unknown>): { kind: SignalKind; hash: string }[] {
  const found: { kind: SignalKind; hash: string }[] = [];
  const device = attributes.deviceId;
  const payment = attributes.paymentFingerprint;
  if (typeof device === 'string' && device.trim() !== '') found.push({ kind: 'device', hash: signalHash(tenantId, 'device', device) });
  if (typeof payment === 'string' && payment.trim() !== '') found.push({ kind: 'payment', hash: signalHash(tenantId, 'payment', payment) });
  return found;
}

export interface Person {
  email: string | null;
  phone: string | null;
}

/** Whether referrer and referee share an e-mail or phone: a reason to refuse, or null. */
export function samePerson(referrer: Person, referee: Person): 'email' | 'phone' | null {
  if (referrer.email && referee.email && foldEmail(referrer.email) === foldEmail(referee.email)) return 'email';
  if (referrer.phone && referee.phone && referrer.phone === referee.phone) return 'phone';
  return null;
}
