// How `laurel verify` grows with a tenant: verifyLedger (what `laurel verify --tenant` runs) over a
// tenant of N members and over one of 10 × N, each with the expiry bench's history (10 earns a
// member: an entry, two postings, a lot and a movement each, and the balance rows), in a database
// of its own. The figure is the time per member at the large size divided by the time per member
// at the small one, in the same run: 1.0 is linear, and issue 11's bar is 1.5.
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import { DAY_MS, ManualClock } from '../src/core/clock.js';
import { lotExpiresAt } from '../src/core/program.js';
import { formatReport, verifyLedger } from '../src/db/verify.js';
import { openLaurel } from '../src/services/context.js';
import { databaseName } from './database.js';
import { LOTS_PER_MEMBER, bulkMembersWithLots, expiryProgram } from './expiry.js';
import { newFixture } from './fixtures.js';
import { resetDatabase, siblingDatabaseUrl } from './scale.js';
import { log, median } from './stats.js';

export interface VerifySize {
  members: number;
  journalEntries: number;
  buildMs: number;
  /** each timed verifyLedger, in ms */
  runsMs: number[];
  medianMs: number;
  perMemberUs: number;
}

export interface VerifyResults {
  sizes: [VerifySize, VerifySize];
  /** per-member time at the large size ÷ at the small size */
  ratio: number;
  database: string;
  check: string;
}

export const VERIFY_SCALE = 10;

export async function verifyBenchmark(benchUrl: string, runId: string, o: { members: number; rounds: number }): Promise<VerifyResults> {
  const url = siblingDatabaseUrl(benchUrl, 'verify');
  const start = new Date(Math.floor(Date.now() / 1000) * 1000);
  // Lots earned over the last ten days, none due: verify reads live lots and their movements.
  const earnedAt = Array.from({ length: LOTS_PER_MEMBER }, (_, k) => new Date(start.getTime() - (LOTS_PER_MEMBER - k) * DAY_MS));
  const expiresAt = earnedAt.map((d) => lotExpiresAt(expiryProgram.expiry, d, 'Europe/Paris')!);
  const sizes: VerifySize[] = [];
  for (const members of [o.members, o.members * VERIFY_SCALE]) {
    log(`verify: (re)creating database ${databaseName(url)} for ${members} members`);
    await resetDatabase(url, true);
    const laurel = await openLaurel({ databaseUrl: url, poolSize: 2 }, new ManualClock(start));
    try {
      const fx = await newFixture(laurel, runId, `verify-${members}`, expiryProgram);
      let t = performance.now();
      await bulkMembersWithLots(laurel, fx, `verify-${members}`, members, earnedAt, expiresAt);
      const buildMs = performance.now() - t;
      await sql`vacuum (analyze) members, balances, journal_entries, postings, lots, lot_movements`.execute(laurel.db);
      const runsMs: number[] = [];
      for (let r = 0; r < o.rounds; r++) {
        t = performance.now();
        const report = await verifyLedger(laurel.db, laurel.clock.now(), fx.tenantId);
        runsMs.push(performance.now() - t);
        if (!report.ok) throw new Error(`the verify bench's ledger is inconsistent:\n${formatReport(report)}`);
      }
      const medianMs = median(runsMs);
      log(`verify: ${members} members verified in ${runsMs.map((x) => (x / 1000).toFixed(2)).join(', ')} s`);
      sizes.push({ members, journalEntries: members * LOTS_PER_MEMBER, buildMs, runsMs, medianMs, perMemberUs: (medianMs * 1000) / members });
    } finally {
      await laurel.close();
    }
  }
  await resetDatabase(url, false);
  const [small, large] = sizes as [VerifySize, VerifySize];
  return {
    sizes: [small, large], ratio: large.perMemberUs / small.perMemberUs, database: databaseName(url),
    check: `laurel verify of each tenant: ok, ${o.rounds} time(s) each`,
  };
}
