// `laurel verify` against damage: each test builds a small, verified ledger in a tenant of its
// own, damages one thing directly in SQL (the append-only triggers disabled for that transaction
// only, by `session_replication_role = replica`), and expects verify to report exactly the
// invariant that damage breaks, naming the entity. The last test runs the `laurel verify` command
// on the same database: it exits 1 and prints every difference. A verify that always answered
// "ok" fails this file.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, type Transaction } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/core/clock.js';
import { uuidv7 } from '../src/core/ids.js';
import type { Database } from '../src/db/schema.js';
import { settleDue } from '../src/db/settlement.js';
import { verifyLedger, type CheckResult } from '../src/db/verify.js';
import { openLaurel, type Laurel } from '../src/services/context.js';
import { ingestEvent } from '../src/services/events.js';
import { captureHold, createHold, earn, redeem, reverseEntry } from '../src/services/ledger.js';
import { createRule } from '../src/services/rules.js';
import { expectVerified, key, newMember, newProgram, onPostgres } from './support/laurel.js';

let laurel: Laurel & { clock: ManualClock };
/** how the `laurel` command reaches this file's database */
let env: Record<string, string>;
let cleanup: () => Promise<void>;
let closed = false;

// A database the CLI can open too: a PGlite directory, or a PostgreSQL database of this file's own.
beforeAll(async () => {
  const clock = new ManualClock('2026-01-15T10:00:00Z');
  if (onPostgres) {
    const url = new URL(process.env.DATABASE_URL!);
    const name = `${url.pathname.slice(1) || 'laurel'}_verify_${process.pid}`;
    await onServer((c) => c.query(`create database "${name}"`));
    url.pathname = `/${name}`;
    laurel = { ...(await openLaurel({ databaseUrl: url.toString(), poolSize: 4 }, clock)), clock };
    env = { DATABASE_URL: url.toString() };
    cleanup = () => onServer((c) => c.query(`drop database if exists "${name}" with (force)`));
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'laurel-verify-'));
    laurel = { ...(await openLaurel({ dataDir: dir }, clock)), clock };
    env = { LAUREL_DATA_DIR: dir };
    cleanup = async () => rmSync(dir, { recursive: true, force: true });
  }
});
afterAll(async () => {
  if (!closed) await laurel.close();
  await cleanup();
  console.log(`verify against damage (${onPostgres ? 'PostgreSQL' : 'PGlite'}):\n${said.map(([d, s]) => `| ${d} | ${s} |`).join('\n')}`);
});

async function onServer(work: (c: pg.Client) => Promise<unknown>): Promise<void> {
  const c = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await c.connect();
  try { await work(c); } finally { await c.end(); }
}

/** What verify said about each damage, for the closing note. */
const said: [string, string][] = [];

/** Damages the ledger in one transaction that bypasses the append-only triggers, and nothing else. */
async function damage(work: (trx: Transaction<Database>) => Promise<unknown>): Promise<void> {
  await laurel.db.transaction().execute(async (trx) => {
    await sql`set local session_replication_role = replica`.execute(trx);
    await work(trx);
  });
}

/** The balance rows of the points wallet (a member has one per wallet). */
const points = (tenantId: string) => sql`wallet_id = (select wallet_id from wallets where tenant_id = ${tenantId} and code = 'points')`;

/** The one check verify fails for the tenant, and its failures. */
async function failed(tenantId: string, damageName: string): Promise<CheckResult> {
  const report = await verifyLedger(laurel.db, laurel.clock.now(), tenantId);
  expect(report.ok).toBe(false);
  const failing = report.checks.filter((c) => c.failures.length > 0);
  expect(failing.map((c) => c.name)).toHaveLength(1);
  said.push([damageName, `${failing[0]!.name}: ${JSON.stringify(failing[0]!.failures)}`]);
  return failing[0]!;
}

/**
 * A verified ledger: a program earning 1 point per euro under a budget, member `a` with an event
 * (a €50 purchase: 50 points), 100 points earned, 30 held and 20 redeemed; member `b` with an event only.
 */
async function ledger() {
  const p = await newProgram(laurel, { negativeBalance: 'debt' });
  const t = p.tenantId;
  const rule = await createRule(laurel, t, p.programId,
    { name: '1 point per euro', trigger: 'purchase', effect: { type: 'points_per_amount', points: 1, per: 100 }, limits: { budget: 100_000 } }, { actor: 'test' });
  const a = await newMember(laurel, p);
  const b = await newMember(laurel, p);
  const purchase = (memberId: string) => ingestEvent(laurel, t, {
    programId: p.programId, memberId, type: 'purchase', externalId: key(), currency: 'EUR', lines: [{ sku: 'X', quantity: 1, unitPrice: 5000 }],
  });
  const eventA = await purchase(a);
  const eventB = await purchase(b);
  const earned = await earn(laurel, { tenantId: t, memberId: a, amount: 100, idempotencyKey: key() });
  const hold = await createHold(laurel, { tenantId: t, memberId: a, amount: 30, ttlSeconds: 3600, idempotencyKey: key() });
  const redeemed = await redeem(laurel, { tenantId: t, memberId: a, amount: 20, idempotencyKey: key() });
  await expectVerified(laurel, t);
  return {
    t, a, b, ruleId: rule.ruleId, eventA: eventA.event, eventB: eventB.event,
    earnEntry: earned.entries[0]!.entryId, lot: earned.entries[0]!.lotId!, hold: hold.hold!, redeemEntry: redeemed.entries[0]!.entryId,
  };
}

/**
 * A verified ledger whose expiry has run: member `m` earned 10 and 20 points a day apart in a program
 * whose points expire after a month, and the settle job expired both lots in one expire entry.
 */
async function expired() {
  laurel.clock.set('2026-01-15T10:00:00Z');
  const p = await newProgram(laurel, { expiry: { kind: 'rolling', months: 1 } });
  const t = p.tenantId;
  const m = await newMember(laurel, p);
  const first = await earn(laurel, { tenantId: t, memberId: m, amount: 10, idempotencyKey: key() });
  laurel.clock.advance(86_400_000);
  const second = await earn(laurel, { tenantId: t, memberId: m, amount: 20, idempotencyKey: key() });
  laurel.clock.set('2026-03-01T10:00:00Z');
  expect(await settleDue(laurel.db, laurel.clock.now())).toMatchObject({ lotsExpired: 2, pointsExpired: 30n });
  const lots = [first.entries[0]!.lotId!, second.entries[0]!.lotId!];
  const row = await laurel.db.selectFrom('lot_expiries').select(['entry_id', 'lot_ids', 'amounts']).where('tenant_id', '=', t).executeTakeFirstOrThrow();
  // one row for the wallet's expire entry, its lots in id order (the earlier lot's id is the lower: ids are time-ordered)
  expect([row.lot_ids, row.amounts.map(String)]).toEqual([lots, ['10', '20']]);
  laurel.clock.set('2026-01-15T10:00:00Z');
  await expectVerified(laurel, t);
  return { t, m, lots, expireEntry: row.entry_id };
}

describe('verify reports exactly the invariant a damage breaks, naming the entity', () => {
  it("an expiry's amounts swapped between its lots: lots_follow_movements, both lots", async () => {
    const x = await expired();
    await damage((trx) => sql`update lot_expiries set amounts = array[20, 10]::bigint[] where tenant_id = ${x.t} and entry_id = ${x.expireEntry}`.execute(trx));
    const check = await failed(x.t, "an expiry's amounts swapped between its two lots");
    expect(check.name).toBe('lots_follow_movements');
    expect(check.failures).toEqual(expect.arrayContaining([
      expect.objectContaining({ lot_id: x.lots[0], remaining: 0, movements: -10 }), expect.objectContaining({ lot_id: x.lots[1], remaining: 0, movements: 10 }),
    ]));
  });

  it('without the bypass, an expiry record refuses any change: append-only', async () => {
    const x = await expired();
    for (const statement of [
      sql`update lot_expiries set amounts = array[20, 10]::bigint[] where tenant_id = ${x.t} and entry_id = ${x.expireEntry}`,
      sql`delete from lot_expiries where tenant_id = ${x.t} and entry_id = ${x.expireEntry}`,
    ]) {
      await expect(statement.execute(laurel.db)).rejects.toThrow(/lot_expiries is append-only/);
    }
    await expectVerified(laurel, x.t);
  });

  it('an expiry filed under another wallet than its entry: expiries_follow_journal, the entry', async () => {
    const x = await expired();
    await damage((trx) => sql`update lot_expiries set wallet_id = (select wallet_id from wallets where tenant_id = ${x.t} and code <> 'points' limit 1)
      where tenant_id = ${x.t} and entry_id = ${x.expireEntry}`.execute(trx));
    const check = await failed(x.t, 'an expiry filed under another wallet');
    expect(check.name).toBe('expiries_follow_journal');
    expect(check.failures).toEqual([expect.objectContaining({ entry_id: x.expireEntry, kind: 'expire', entry_amount: 30, total: 30, foreign_lots: 2 })]);
  });

  it('a posting changed so that its entry no longer sums to zero: double_entry, the entry', async () => {
    const l = await ledger();
    await damage((trx) => sql`update postings set amount = amount + 1 where tenant_id = ${l.t} and entry_id = ${l.earnEntry} and account = 'issuance'`.execute(trx));
    const check = await failed(l.t, 'a posting +1 (entry sums to 1)');
    expect(check.name).toBe('double_entry');
    expect(check.failures).toEqual([expect.objectContaining({ entry_id: l.earnEntry, sum: 1 })]);
  });

  it('a balance bucket off by one: balances_follow_postings, the member and both figures', async () => {
    const l = await ledger();
    await damage((trx) => sql`update balances set available = available + 1 where tenant_id = ${l.t} and member_id = ${l.a} and ${points(l.t)}`.execute(trx));
    const check = await failed(l.t, 'available +1 on a balance row');
    expect(check.name).toBe('balances_follow_postings');
    // 50 + 100 - 30 - 20 = 100 in the journal
    expect(check.failures).toEqual([expect.objectContaining({ member_id: l.a, available: 101, journal_available: 100 })]);
  });

  it("a lot's remaining differing from its movements: lots_follow_movements, the lot", async () => {
    const l = await ledger();
    await damage((trx) => sql`update lots set remaining = remaining - 1 where tenant_id = ${l.t} and lot_id = ${l.lot}`.execute(trx));
    const check = await failed(l.t, "a lot's remaining -1");
    expect(check.name).toBe('lots_follow_movements');
    expect(check.failures).toEqual([expect.objectContaining({ lot_id: l.lot, remaining: check.failures[0]!.movements as number - 1 })]);
  });

  it('a hold whose taken amount is wrong: holds_back_their_points, the hold', async () => {
    const l = await ledger();
    // The hold's lot movements re-filed under another consumption: the lots are right, the hold took nothing.
    await damage((trx) => sql`update lot_movements set group_entry_id = ${uuidv7(Date.now())} where tenant_id = ${l.t} and group_entry_id = ${l.hold.holdEntryId}`.execute(trx));
    const check = await failed(l.t, "a hold's movements filed under another group");
    expect(check.name).toBe('holds_back_their_points');
    expect(check.failures).toEqual([expect.objectContaining({ hold_id: l.hold.holdId, status: 'active', amount: 30, taken: 0 })]);
  });

  it("a matured lot marked pending: lots_back_balances, the member and the split between the buckets", async () => {
    const l = await ledger();
    await damage((trx) => sql`update lots set pending = true where tenant_id = ${l.t} and lot_id = ${l.lot}`.execute(trx));
    const check = await failed(l.t, 'a matured lot flagged pending');
    expect(check.name).toBe('lots_back_balances');
    expect(check.failures).toEqual([expect.objectContaining({ member_id: l.a, journal_pending: 0, lots_pending: 100, journal_available: 100, lots_matured: 0 })]);
  });

  it("a captured hold's capture filed under no hold: holds_back_their_points, the hold", async () => {
    const l = await ledger();
    const captured = await captureHold(laurel, { tenantId: l.t, holdId: l.hold.holdId, idempotencyKey: key() });
    await expectVerified(laurel, l.t);
    await damage((trx) => sql`update journal_entries set hold_id = null where tenant_id = ${l.t} and entry_id = ${captured.entries[0]!.entryId}`.execute(trx));
    const check = await failed(l.t, "a capture's entry detached from its hold");
    expect(check.name).toBe('holds_back_their_points');
    expect(check.failures).toEqual([expect.objectContaining({ hold_id: l.hold.holdId, status: 'captured', taken: 30, captured: 0 })]);
  });

  it('a lifetime counter off: counters_follow_entries, the member', async () => {
    const l = await ledger();
    await damage((trx) => sql`update balances set lifetime_earned = lifetime_earned - 1 where tenant_id = ${l.t} and member_id = ${l.a} and ${points(l.t)}`.execute(trx));
    const check = await failed(l.t, 'lifetime earned -1');
    expect(check.name).toBe('counters_follow_entries');
    expect(check.failures).toEqual([expect.objectContaining({ member_id: l.a, lifetime_earned: 149, journal_earned: 150 })]);
  });

  it('a debt beside spendable points: debts_repaid_first, the debt lot', async () => {
    const p = await newProgram(laurel, { negativeBalance: 'debt' });
    const t = p.tenantId;
    const m = await newMember(laurel, p);
    const e = await earn(laurel, { tenantId: t, memberId: m, amount: 100, idempotencyKey: key() });
    await redeem(laurel, { tenantId: t, memberId: m, amount: 80, idempotencyKey: key() });
    await reverseEntry(laurel, { tenantId: t, entryId: e.entries[0]!.entryId, idempotencyKey: key() });
    const fresh = (await earn(laurel, { tenantId: t, memberId: m, amount: 50, idempotencyKey: key() })).entries[0]!.lotId!;
    await expectVerified(laurel, t);
    // Undo the repayment: the new lot keeps its 50, the debt owes 80 again; sums, balance and journal still agree.
    const debt = (await laurel.db.selectFrom('lots').select('lot_id').where('tenant_id', '=', t).where('amount', '<', 0n).executeTakeFirstOrThrow()).lot_id;
    await damage(async (trx) => {
      await sql`delete from lot_movements where tenant_id = ${t} and ((lot_id = ${fresh} and delta < 0) or (lot_id = ${debt} and delta > 0))`.execute(trx);
      await sql`update lots set remaining = (select sum(delta) from lot_movements m where m.tenant_id = lots.tenant_id and m.lot_id = lots.lot_id)
        where tenant_id = ${t} and lot_id in (${fresh}, ${debt})`.execute(trx);
    });
    const check = await failed(t, 'a debt lot left unpaid beside a spendable lot');
    expect(check.name).toBe('debts_repaid_first');
    expect(check.failures).toEqual([expect.objectContaining({ member_id: m, debt_lot: debt, owed: -80 })]);
  });

  it("an event's journal entry missing (and everything it moved, so the ledger is otherwise whole): events_follow_journal, the event", async () => {
    const l = await ledger();
    const entryId = l.eventB.ledgerEntryId!;
    await damage(async (trx) => {
      await sql`delete from lot_movements where tenant_id = ${l.t} and entry_id = ${entryId}`.execute(trx);
      await sql`delete from lots where tenant_id = ${l.t} and entry_id = ${entryId}`.execute(trx);
      await sql`delete from postings where tenant_id = ${l.t} and entry_id = ${entryId}`.execute(trx);
      await sql`delete from journal_entries where tenant_id = ${l.t} and entry_id = ${entryId}`.execute(trx);
      await sql`update balances set available = available - 50, lifetime_earned = lifetime_earned - 50 where tenant_id = ${l.t} and member_id = ${l.b} and ${points(l.t)}`.execute(trx);
    });
    const check = await failed(l.t, "an event's journal entry deleted with all it moved");
    expect(check.name).toBe('events_follow_journal');
    expect(check.failures).toEqual([expect.objectContaining({ event_id: l.eventB.eventId, points: 50, listed: 1, matching: 0, missing: [entryId] })]);
  });

  it("an event's points differing from its entries: events_follow_journal, the event", async () => {
    const l = await ledger();
    await damage((trx) => sql`update events set points = points + 1 where tenant_id = ${l.t} and event_id = ${l.eventA.eventId}`.execute(trx));
    const check = await failed(l.t, "an event's points +1");
    expect(check.name).toBe('events_follow_journal');
    expect(check.failures).toEqual([expect.objectContaining({ event_id: l.eventA.eventId, points: 51, entries_points: 50 })]);
  });

  it('a rule award the journal never paid (its budget counting it too): awards_follow_journal, the event and wallet', async () => {
    const l = await ledger();
    await damage(async (trx) => {
      await sql`update rule_awards set points = points + 1 where tenant_id = ${l.t} and event_id = ${l.eventA.eventId}`.execute(trx);
      await sql`update budget_shards set used = used + 1, room = room - 1 where tenant_id = ${l.t} and scope = ${`rule:${l.ruleId}`} and shard = 0`.execute(trx);
    });
    const check = await failed(l.t, 'an award +1 (and its budget +1)');
    expect(check.name).toBe('awards_follow_journal');
    expect(check.failures).toEqual([expect.objectContaining({ event_id: l.eventA.eventId, wallet: 'points', awarded: 51, entries_amount: 50 })]);
  });

  it('a budget used beyond its awards: budgets_follow_awards, the rule', async () => {
    const l = await ledger();
    await damage((trx) => sql`update budget_shards set used = used + 1, room = room - 1 where tenant_id = ${l.t} and scope = ${`rule:${l.ruleId}`} and shard = 3`.execute(trx));
    const check = await failed(l.t, 'budget used +1');
    expect(check.name).toBe('budgets_follow_awards');
    expect(check.failures).toEqual([expect.objectContaining({ scope: 'rule', id: l.ruleId, budget_used: 101, awards_earned: 100 })]);
  });

  it('budget shards whose rooms hold more than the budget has left: budget_shards_hold_the_budget, the budget', async () => {
    const l = await ledger();
    await damage((trx) => sql`update budget_shards set room = room + 1 where tenant_id = ${l.t} and scope = ${`rule:${l.ruleId}`} and shard = 5`.execute(trx));
    const check = await failed(l.t, "a budget shard's room +1");
    expect(check.name).toBe('budget_shards_hold_the_budget');
    expect(check.failures).toEqual([expect.objectContaining({ scope: `rule:${l.ruleId}`, shards: 16 })]);
  });

  it("a member's purchases of a month +1: purchase_months_follow_events, the member and month", async () => {
    const l = await ledger();
    await damage((trx) => sql`update member_purchase_months set purchases = purchases + 1 where tenant_id = ${l.t} and member_id = ${l.a}`.execute(trx));
    const check = await failed(l.t, "a member's purchases of a month +1");
    expect(check.name).toBe('purchase_months_follow_events');
    expect(check.failures).toEqual([expect.objectContaining({ member_id: l.a, purchases: 2, events: 1, spend: 5000, events_spend: 5000 })]);
  });

  it('without the bypass, the journal refuses the damage: append-only', async () => {
    const l = await ledger();
    for (const statement of [
      sql`update postings set amount = amount + 1 where tenant_id = ${l.t} and entry_id = ${l.earnEntry}`,
      sql`delete from journal_entries where tenant_id = ${l.t} and entry_id = ${l.earnEntry}`,
      sql`update lot_movements set delta = delta + 1 where tenant_id = ${l.t} and lot_id = ${l.lot}`,
      sql`update rule_awards set points = points + 1 where tenant_id = ${l.t}`,
    ]) {
      await expect(statement.execute(laurel.db)).rejects.toThrow(/append-only/);
    }
    await expectVerified(laurel, l.t);
  });

  it('`laurel verify` exits 1 and prints every difference; on an undamaged tenant it exits 0', async () => {
    const clean = await ledger();
    await laurel.close();
    closed = true;
    const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'verify', ...args], {
      env: { ...process.env, ...env, LAUREL_JOBS: 'off' }, encoding: 'utf8', timeout: 120_000,
    });
    const all = run();
    expect(all.status, all.stderr).toBe(1);
    for (const name of ['double_entry', 'balances_follow_postings', 'lots_follow_movements', 'holds_back_their_points', 'counters_follow_entries',
      'debts_repaid_first', 'events_follow_journal', 'awards_follow_journal', 'budgets_follow_awards']) {
      expect(all.stdout).toMatch(new RegExp(`^FAIL ${name}:`, 'm'));
    }
    expect(all.stdout).toMatch(/"journal_available":100,"available":101|"available":101.*"journal_available":100/);
    expect(all.stdout).toContain('LEDGER INCONSISTENT');
    const one = run('--tenant', clean.t);
    expect(one.status, one.stdout + one.stderr).toBe(0);
    expect(one.stdout).toContain('ledger verified: every invariant holds');
  });
});
