// The birthdays job: on a member's birthday, in their tenant's time zone, a `birthday` event goes
// through the normal event path, so the program's birthday rules (caps, conditions, campaigns)
// decide what it earns. Once per member and year: the event's external id is
// `birthday:<member>:<year>`, so a second run, a second worker or a rerun after a crash finds it
// recorded and sends nothing. 29 February birthdays are kept on 28 February in common years: the
// member is still in their birthday month, and gets it no later than the day itself.
import { DomainError } from '../core/errors.js';
import { birthdayEventId, dueBirthdays, type After } from '../db/members.js';
import type { Laurel } from './context.js';
import { ingestEvent } from './events.js';

export const BIRTHDAY = 'birthday';
const CHUNK = 500;

export async function sendBirthdays(laurel: Laurel, now: Date, progress: (done: number) => void = () => {}) {
  let sent = 0;
  let refused = 0;
  let after: After = null;
  for (;;) {
    const due = await dueBirthdays(laurel.db, now, CHUNK, after);
    for (const m of due) {
      try {
        await ingestEvent(laurel, m.tenantId, {
          programId: m.programId, memberId: m.memberId, type: BIRTHDAY, externalId: birthdayEventId(m.memberId, m.year), actor: 'system:birthdays',
        });
        sent++;
      } catch (e) {
        // Any other error ends the run; the runner retries it, and the members done so far are not sent to again.
        if (!(e instanceof DomainError)) throw e;
        // Refused (the member was suspended a moment ago): nothing is owed.
        refused++;
      }
    }
    progress(sent + refused);
    if (due.length < CHUNK) return { sent, refused };
    after = due[due.length - 1]!;
  }
}
