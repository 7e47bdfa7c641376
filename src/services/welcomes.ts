// The welcomes job: a member's welcome (their signup event) is sent after the member is committed,
// so it can fail on its own (a database blip, a process killed between the two). The member keeps
// it due until the signup event is recorded, in that event's transaction, and this job sends the
// due ones again: at least once each, and only once, since the signup event's id is the member's.
import { DomainError } from '../core/errors.js';
import { dueWelcomes, markWelcomed, postponeWelcome, type After } from '../db/members.js';
import type { Laurel } from './context.js';
import { welcome } from './events.js';

const CHUNK = 500;
/** A welcome that failed for another reason than a refusal waits this long before the next try. */
const RETRY_AFTER_MS = 3_600_000;

export async function sendDueWelcomes(laurel: Laurel, now: Date, progress: (done: number) => void = () => {}) {
  let welcomed = 0;
  let refused = 0;
  let failed = 0;
  let after: After = null;
  for (;;) {
    const due = await dueWelcomes(laurel.db, now, CHUNK, after);
    for (const m of due) {
      try {
        await welcome(laurel, m.tenantId, m.programId, m.memberId);
        welcomed++;
      } catch (e) {
        if (!(e instanceof DomainError)) {
          // Not a refusal: tried again later (a database that is down fails this update too, and with it the run).
          await postponeWelcome(laurel.db, m.tenantId, m.memberId, new Date(now.getTime() + RETRY_AFTER_MS));
          failed++;
          continue;
        }
        // Refused for good (the member was suspended or erased since): no welcome is owed any more.
        await markWelcomed(laurel.db, m.tenantId, m.memberId);
        refused++;
      }
    }
    progress(welcomed + refused + failed);
    if (due.length < CHUNK) return { welcomed, refused, failed };
    after = due[due.length - 1]!;
  }
}
