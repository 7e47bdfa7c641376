// Reward instance codes: what a member shows at the till or types at checkout. 16 characters of
// Crockford base32 from the operating system's cryptographic random source: 80 bits, so codes are
// neither guessable nor sequential, and a million of them collide with probability ~4 × 10^-13
// (the database's unique index catches even that, and the service draws again).
// Crockford's alphabet has no I, L, O or U: read aloud or typed, 1/I/L and 0/O are the same code.
import { randomBytes } from 'node:crypto';
import { invalid } from '../errors.js';

export const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const CODE_LENGTH = 16;
/** 5 bits a character */
export const CODE_BITS = CODE_LENGTH * 5;

export type RandomSource = (bytes: number) => Uint8Array;

/** A new code: 10 random bytes, read 5 bits at a time (80 bits, 16 characters, no bias). */
export function newCode(random: RandomSource = randomBytes): string {
  const bytes = random(CODE_BITS / 8);
  let bits = 0n;
  for (const b of bytes) bits = (bits << 8n) | BigInt(b);
  let code = '';
  for (let i = CODE_LENGTH - 1; i >= 0; i--) code += ALPHABET[Number((bits >> BigInt(i * 5)) & 31n)];
  return code;
}

/** For people: four groups of four, ABCD-EFGH-JKMN-PQRS. */
export const displayCode = (code: string): string => code.match(/.{4}/g)!.join('-');

/**
 * For a QR code: QR's alphanumeric mode holds upper-case letters, digits and ':' at 5.5 bits a
 * character, so this fits the smallest symbols; the prefix tells a scanner it is a Laurel reward.
 */
export const qrPayload = (code: string): string => `LAUREL:${code}`;

/** What a person typed or a scanner read, as the code: case, dashes, spaces and the QR prefix do not matter; I/L read as 1 and O as 0. */
export function normaliseCode(input: unknown, field = 'code'): string {
  if (typeof input !== 'string' || input.length > 64) throw invalid(field, `${field} must be a reward code such as ABCD-EFGH-JKMN-PQRS`);
  const code = input.toUpperCase().replace(/^LAUREL:/, '').replace(/[\s-]/g, '').replace(/[IL]/g, '1').replace(/O/g, '0');
  if (code.length !== CODE_LENGTH || [...code].some((c) => !ALPHABET.includes(c))) {
    throw invalid(field, `${field} must be a reward code such as ABCD-EFGH-JKMN-PQRS`);
  }
  return code;
}
