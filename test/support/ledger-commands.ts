// The random histories the ledger property tests replay: one program policy, one time zone, a
// start instant, a number of members (2, or 5 to 7) and a sequence of commands over them. Amounts
// are mostly relative to what the state offers, so that both successes and refusals are common,
// and now and then anything up to the input limit. LAUREL_PROPERTY_SCALE (default 1) multiplies
// the runs and the history lengths: the nightly size.
import fc from 'fast-check';
import type { ModelPolicy } from './ledger-model.js';

/** a member's index, below the scenario's `members` */
export type Member = number;
/** An amount: absolute, or a percentage of what the state offers (available points, what is left to reverse or held). */
export type Size = { abs: number } | { pct: number };
export type Cmd =
  | { op: 'earn'; m: Member; amount: number }
  | { op: 'redeem'; m: Member; size: Size }
  | { op: 'adjust'; m: Member; credit: boolean; size: Size }
  | { op: 'hold'; m: Member; size: Size; ttl: number }
  | { op: 'capture'; recent: number; part: Size | null }
  | { op: 'void'; recent: number }
  /** `to` is `from` when `self` (to be refused) */
  | { op: 'transfer'; from: Member; to: Member; self: boolean; size: Size }
  /** `kind` picks a recent entry of that kind; hold and reverse entries are there to be refused */
  | { op: 'reverse'; kind: string; back: number; part: Size | null }
  | { op: 'travel'; ms: number }
  /** lands on (or a millisecond either side of) one of the next maturities, expiries or hold deadlines, and may settle there */
  | { op: 'edge'; holds: boolean; pick: number; offset: number; settle: boolean }
  | { op: 'settle' }
  | { op: 'replay'; pick: number; tamper: boolean };

export interface Scenario {
  policy: ModelPolicy;
  members: number;
  zone: string;
  start: number;
  cmds: Cmd[];
}

export const MINUTE = 60_000;
const DAY = 86_400_000;
export const MAX_HOLD_SECONDS = 30 * 86_400;
/** the API's limit on an amount (core/points.ts MAX_POINTS) */
const MAX_POINTS = 1_000_000_000_000;
export const SCALE = Math.max(1, Number(process.env.LAUREL_PROPERTY_SCALE ?? 1));

// Any index: scenarioArb folds it below the number of members.
const member = fc.nat({ max: 6 });
const earned = fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 1, max: 200 }) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: MAX_POINTS }) });
const size: fc.Arbitrary<Size> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ pct: fc.integer({ min: 5, max: 110 }) }) },
  { weight: 2, arbitrary: fc.record({ abs: fc.integer({ min: 1, max: 150 }) }) },
  { weight: 1, arbitrary: fc.record({ abs: fc.integer({ min: 1, max: MAX_POINTS }) }) },
);
/** spending (nearly) everything, so that claw-backs fall short */
const spendMost: fc.Arbitrary<Size> = fc.oneof({ weight: 3, arbitrary: fc.record({ pct: fc.integer({ min: 70, max: 100 }) }) }, { weight: 1, arbitrary: size });
const part = fc.option(size, { nil: null, freq: 2 });
const recent = fc.nat({ max: 3 });

type Weights = Record<Exclude<Cmd['op'], 'replay'>, number>;
const MIXED: Weights = { earn: 5, redeem: 3, adjust: 2, hold: 4, capture: 4, void: 2, transfer: 2, reverse: 3, travel: 3, edge: 3, settle: 2 };
// Claw-backs of spent points, then new points from several lots at once (transfers, restores,
// maturities): the histories in which debts are made and repaid lot by lot.
const DEBTS: Weights = { earn: 6, redeem: 4, adjust: 1, hold: 2, capture: 2, void: 1, transfer: 4, reverse: 6, travel: 3, edge: 1, settle: 2 };

function commandArb(options: { replay: boolean; badTtl: boolean }, w: Weights, reverseKinds: string[], spend: fc.Arbitrary<Size>): fc.Arbitrary<Cmd> {
  const ttl = options.badTtl
    ? fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 1, max: 3 * 86_400 }) }, { weight: 1, arbitrary: fc.constantFrom(0, MAX_HOLD_SECONDS + 1) })
    : fc.integer({ min: 1, max: 3 * 86_400 });
  const commands: fc.WeightedArbitrary<Cmd>[] = [
    { weight: w.earn, arbitrary: fc.record({ op: fc.constant('earn' as const), m: member, amount: earned }) },
    { weight: w.redeem, arbitrary: fc.record({ op: fc.constant('redeem' as const), m: member, size: spend }) },
    { weight: w.adjust, arbitrary: fc.record({ op: fc.constant('adjust' as const), m: member, credit: fc.boolean(), size }) },
    { weight: w.hold, arbitrary: fc.record({ op: fc.constant('hold' as const), m: member, size: spend, ttl }) },
    { weight: w.capture, arbitrary: fc.record({ op: fc.constant('capture' as const), recent, part }) },
    { weight: w.void, arbitrary: fc.record({ op: fc.constant('void' as const), recent }) },
    { weight: w.transfer, arbitrary: fc.record({ op: fc.constant('transfer' as const), from: member, to: member, self: fc.nat({ max: 15 }).map((x) => x === 0), size }) },
    { weight: w.reverse, arbitrary: fc.record({ op: fc.constant('reverse' as const), kind: fc.constantFrom(...reverseKinds), back: recent, part }) },
    { weight: w.travel, arbitrary: fc.record({ op: fc.constant('travel' as const), ms: fc.oneof(
      fc.integer({ min: 1, max: 180 }).map((x) => x * MINUTE),
      fc.integer({ min: 1, max: 40 }).map((x) => x * DAY),
      fc.integer({ min: 1, max: 4 }).map((x) => x * 30 * DAY)) }) },
    { weight: w.edge, arbitrary: fc.record({ op: fc.constant('edge' as const), holds: fc.boolean(), pick: recent, offset: fc.constantFrom(-1, 0, 0, 1), settle: fc.boolean() }) },
    { weight: w.settle, arbitrary: fc.constant({ op: 'settle' as const }) },
  ];
  if (options.replay) commands.push({ weight: 2, arbitrary: fc.record({ op: fc.constant('replay' as const), pick: fc.nat({ max: 1000 }), tamper: fc.boolean() }) });
  return fc.oneof(...commands);
}

export const policyArb: fc.Arbitrary<ModelPolicy> = fc.record({
  returnWindowDays: fc.constantFrom(0, 7),
  expiry: fc.oneof(
    fc.constant({ kind: 'none' as const }),
    fc.record({ kind: fc.constant('rolling' as const), months: fc.integer({ min: 1, max: 3 }) }),
    // 31 March, same year: points earned later in the year are born past their expiry
    fc.record({ kind: fc.constant('fixed_date' as const), month: fc.constantFrom(3, 12), day: fc.constant(31), yearsAfter: fc.constantFrom(0, 1) }),
    fc.record({ kind: fc.constant('inactivity' as const), months: fc.integer({ min: 1, max: 2 }) }),
  ),
  negativeBalance: fc.constantFrom('debt' as const, 'write_off' as const),
});

/**
 * A debt, then its repayment from several lots at once, then anything: member 0 earns at
 * different times, spends nearly all and has its last earn clawed back; member 1 earns at
 * different times and transfers part of it over, lots of different expiries.
 */
function repaymentArb(options: { replay: boolean; badTtl: boolean }): fc.Arbitrary<{ policy: ModelPolicy; script: Cmd[] }> {
  const earns = (m: Member, min: number) => fc.array(fc.record({ amount: fc.integer({ min: 1, max: 200 }), days: fc.integer({ min: 1, max: 40 }) }), { minLength: min, maxLength: min + 2 })
    .map((xs) => xs.flatMap(({ amount, days }): Cmd[] => [{ op: 'earn', m, amount }, { op: 'travel', ms: days * DAY }]));
  return fc.record({
    policy: fc.record({
      returnWindowDays: fc.constant(0),
      expiry: fc.record({ kind: fc.constant('rolling' as const), months: fc.integer({ min: 2, max: 4 }) }),
      negativeBalance: fc.constant('debt' as const),
    }),
    debtor: earns(0, 1),
    spend: fc.integer({ min: 90, max: 100 }),
    payer: earns(1, 2),
    pay: fc.integer({ min: 20, max: 100 }),
    rest: fc.array(commandArb(options, DEBTS, ['earn', 'earn', 'transfer', 'redeem'], spendMost), { maxLength: 10 }),
  }).map(({ policy, debtor, spend, payer, pay, rest }) => ({
    policy,
    script: [
      ...debtor,
      { op: 'redeem', m: 0, size: { pct: spend } },
      { op: 'reverse', kind: 'earn', back: 0, part: null },
      ...payer,
      { op: 'transfer', from: 1, to: 0, self: false, size: { pct: pay } },
      ...rest,
    ],
  }));
}

/**
 * Claw-backs of points an active hold keeps aside: member 0 earns, holds most or all of it (once
 * or twice), the earn is reversed (all or part), and then the holds are voided, captured or left
 * to expire. No such sequence may give back points the claw-back took.
 */
function heldClawbackArb(options: { replay: boolean; badTtl: boolean }): fc.Arbitrary<{ policy: ModelPolicy; script: Cmd[] }> {
  const hold = fc.record({ op: fc.constant('hold' as const), m: fc.constant<Member>(0), size: spendMost, ttl: fc.integer({ min: 60, max: 86_400 }) });
  const resolve = fc.oneof(
    fc.record({ op: fc.constant('void' as const), recent }),
    fc.record({ op: fc.constant('capture' as const), recent, part }),
    fc.record({ op: fc.constant('edge' as const), holds: fc.constant(true), pick: recent, offset: fc.constantFrom(0, 1), settle: fc.boolean() }),
  );
  return fc.record({
    policy: policyArb,
    earns: fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 3 }),
    holds: fc.array(hold, { minLength: 1, maxLength: 2 }),
    spend: fc.option(fc.record({ op: fc.constant('redeem' as const), m: fc.constant<Member>(0), size: spendMost }), { nil: null }),
    back: recent,
    reversePart: part,
    after: fc.array(resolve, { minLength: 1, maxLength: 3 }),
    rest: fc.array(commandArb(options, MIXED, ['earn', 'transfer', 'redeem'], size), { maxLength: 6 }),
  }).map(({ policy, earns, holds, spend, back, reversePart, after, rest }) => ({
    policy: { ...policy, returnWindowDays: 0 },
    script: [
      ...earns.map((amount): Cmd => ({ op: 'earn', m: 0, amount })),
      ...holds,
      ...(spend ? [spend] : []),
      { op: 'reverse', kind: 'earn', back, part: reversePart },
      ...after,
      ...rest,
    ],
  }));
}

/** Histories mixing everything, one in five about making and repaying debts, one in five clawing back held points. */
export function scenarioArb(options: { replay: boolean; badTtl: boolean; maxLength: number }): fc.Arbitrary<Scenario> {
  const mixed = fc.record({
    policy: policyArb,
    script: fc.array(commandArb(options, MIXED, ['earn', 'redeem', 'redeem', 'adjust', 'transfer', 'transfer', 'hold', 'reverse'], size),
      { minLength: 3, maxLength: options.maxLength - 2 }),
  });
  return fc.record({
    body: fc.oneof({ weight: 3, arbitrary: mixed }, { weight: 1, arbitrary: repaymentArb(options) }, { weight: 1, arbitrary: heldClawbackArb(options) }),
    members: fc.oneof({ weight: 2, arbitrary: fc.constant(2) }, { weight: 1, arbitrary: fc.integer({ min: 5, max: 7 }) }),
    zone: fc.constantFrom('Europe/Paris', 'America/New_York', 'Pacific/Auckland'),
    start: fc.integer({ min: Date.UTC(2026, 0, 1) / MINUTE, max: Date.UTC(2029, 11, 31) / MINUTE }).map((x) => x * MINUTE),
    // Every member starts with some points, so that spending is not mostly refused for want of any.
    opening: fc.array(fc.integer({ min: 20, max: 300 }), { minLength: 7, maxLength: 7 }),
  }).map(({ body, members, zone, start, opening }) => ({
    policy: body.policy, members, zone, start,
    cmds: [
      ...opening.slice(0, members).map((a, m): Cmd => ({ op: 'adjust', m, credit: true, size: { abs: a } })),
      ...body.script.map((c) => within(c, members)),
    ],
  }));
}

/** A command with its member indexes folded below `n`; a transfer goes to another member unless `self`. */
function within(c: Cmd, n: number): Cmd {
  if (c.op === 'transfer') {
    const from = c.from % n;
    return { ...c, from, to: c.self ? from : (from + 1 + (c.to % (n - 1))) % n };
  }
  return 'm' in c ? { ...c, m: c.m % n } : c;
}

/** The amount a Size stands for, given what the state offers. */
export const sized = (s: Size, base: bigint): number =>
  Math.min(MAX_POINTS, 'abs' in s ? s.abs : base > 0n ? Math.max(1, Math.ceil((Number(base) * s.pct) / 100)) : s.pct);

/**
 * fast-check options; LAUREL_PROPERTY_SEED replays a reported run. No time limit: a property runs
 * all its histories or fails, never passes early on a slow machine, so `runs` is sized to fit.
 * `historyMs`, for asynchronous properties, fails a history that hangs (a settlement that never finishes).
 */
export const runOptions = (runs: number, historyMs?: number): fc.Parameters<unknown> => {
  const seed = process.env.LAUREL_PROPERTY_SEED;
  return { numRuns: runs * SCALE, ...(historyMs ? { plugins: [fc.timeout(historyMs)] } : {}), ...(seed === undefined ? {} : { seed: Number(seed) }) };
};
