// Statements per purchase, program by program: 240 purchases of 4 members through `ingestEvent`
// (bench/achievements.ts's baskets, a day apart) in a one-rule program, the same with its 10
// achievements, and the same with referrals on too (the members are referees), each statement
// counted by wrapping `pg.Client#query`; then what each side sends beyond the plain program.
//   npx tsx bench/statements.ts            (DATABASE_URL as for npm run bench)
import pg from 'pg';
import { openLaurel } from '../src/services/context.js';
import { ingestEvent } from '../src/services/events.js';
import { addAchievements, purchaseOf } from './achievements.js';
import { ensureDatabase } from './database.js';
import { newFixture, newMembers } from './fixtures.js';
import { DEFAULT_URL } from './options.js';
import { REFERRAL_PROGRAM, referees, referrerCodes, turnOnReferrals } from './referrals.js';

const MEMBERS = 4;
const PURCHASES = 60;
const url = process.env.DATABASE_URL || DEFAULT_URL;
await ensureDatabase(url, false);
const laurel = await openLaurel({ databaseUrl: url, poolSize: 4 });
const runId = `s${Date.now()}`;
const counts = new Map<string, Map<string, number>>();
let counting: Map<string, number> | null = null;
const client = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
const query = client.query;
client.query = function (this: unknown, ...args: unknown[]) {
  const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string } | undefined)?.text;
  if (counting && text) {
    const head = text.replace(/\s+/g, ' ').trim().slice(0, 100);
    counting.set(head, (counting.get(head) ?? 0) + 1);
  }
  return query.apply(this, args);
};
const sides = ['one rule', '+ 10 achievements', '+ 10 achievements and referrals'] as const;
for (const side of sides) {
  const fx = await newFixture(laurel, runId, side, REFERRAL_PROGRAM);
  if (side !== 'one rule') await addAchievements(laurel, fx);
  let members: string[];
  if (side === '+ 10 achievements and referrals') {
    await turnOnReferrals(laurel, fx, 1000);
    members = await referees(laurel, fx, await referrerCodes(laurel, fx), MEMBERS, 'statements');
  } else {
    members = await newMembers(laurel, fx, MEMBERS, 'statements');
  }
  counting = new Map();
  counts.set(side, counting);
  for (let seq = 0; seq < PURCHASES; seq++) {
    for (const [w, memberId] of members.entries()) {
      await ingestEvent(laurel, fx.tenantId, purchaseOf(fx, memberId, `statements-${w}-${seq}`, seq));
    }
  }
  counting = null;
}
await laurel.close();
const perPurchase = (n: number) => (n / PURCHASES / MEMBERS).toFixed(2);
const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
for (const side of sides) console.log(`${side.padEnd(34)} ${perPurchase(total(counts.get(side)!))} statements per purchase`);
const base = counts.get('one rule')!;
for (const side of sides.slice(1)) {
  console.log(`\n${side}, beyond the one-rule program (per purchase):`);
  const mine = counts.get(side)!;
  for (const head of new Set([...mine.keys(), ...base.keys()])) {
    const more = (mine.get(head) ?? 0) - (base.get(head) ?? 0);
    if (Math.abs(more) >= PURCHASES * MEMBERS / 200) console.log(`${perPurchase(more).padStart(6)}  ${head}`);
  }
}
