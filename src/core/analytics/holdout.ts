// The holdout (control group) of a program (SPEC §11): a fixed share of customers who are members
// like the others (their events are recorded, they are counted) but earn nothing, so that their
// spend shows what customers spend without the program.
//
// Who is in it is a pure function of the program and the customer, with no state to drift:
//   key    = salt + ":" + the member's externalId (their Laurel memberId when they have none);
//            the salt is the program's holdout salt setting, by default the program's id
//   bucket = the first 32 bits of MD5(key), read as an unsigned big-endian integer, modulo 10 000
//   control when bucket < the program's share in basis points
// MD5 is used for its uniform spread, not for secrecy, and because PostgreSQL computes the same
// value (holdoutBucketSql in db/analytics.ts), so reports split members set-based. Raising the share
// keeps everyone already in the control group in it; a member never moves because others join;
// a new salt draws a new group (a new experiment).
import { createHash } from 'node:crypto';

export const HOLDOUT_BUCKETS = 10_000;
/** At most half the customers may be held out. */
export const MAX_CONTROL_SHARE_BP = 5_000;

export const holdoutKey = (salt: string, member: { externalId: string | null; memberId: string }): string =>
  `${salt}:${member.externalId ?? member.memberId}`;

export function holdoutBucket(key: string): number {
  return createHash('md5').update(key, 'utf8').digest().readUInt32BE(0) % HOLDOUT_BUCKETS;
}

export const inControlGroup = (salt: string, member: { externalId: string | null; memberId: string }, shareBp: number): boolean =>
  shareBp > 0 && holdoutBucket(holdoutKey(salt, member)) < shareBp;
