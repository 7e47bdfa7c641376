// Command-line options of `npm run bench`.
import { parseArgs } from 'node:util';

export interface BenchOptions {
  databaseUrl: string;
  json: boolean;
  quick: boolean;
  /** drop and recreate the bench database first */
  fresh: boolean;
  profile: boolean;
  /** run the HTTP benchmark (the real app under autocannon) */
  http: boolean;
  /** run the rule-evaluation benchmark (purchases against 20 rules, next to earn) */
  rules: boolean;
  levels: number[];
  rounds: number;
  /** seconds measured per run of each side at each level */
  seconds: number;
  warmupSeconds: number;
  readSeconds: number;
  smallHistory: number;
  largeHistory: number;
  /** run the expiry benchmark (the settle job over members × 10 due lots, against a raw-SQL UPDATE) */
  expiry: boolean;
  expiryMembers: number;
  /** rounds of the expiry benchmark: each builds its own fixture (a run consumes it) */
  expiryRounds: number;
  /** run the tier-review benchmark (the tier_reviews job over members on a ladder, against a raw-SQL UPDATE) */
  tiers: boolean;
  tierMembers: number;
  /** rounds of the tier benchmark: each builds its own fixture (a run consumes it) */
  tierRounds: number;
  /** run the referrals benchmark (purchases at c=32 with referrals on against off) */
  referrals: boolean;
  /** run the achievements benchmark (purchases at c=32 with 10 achievements against none) */
  achievements: boolean;
  /** run the engagement benchmark (purchases at c=32 with 10 achievements and referrals on against neither: the bar) */
  engagement: boolean;
  /** run the accounting benchmark (bench/accounting.ts: the monthly roll-forward against raw SQL, the accounting write on the event path) */
  accounting: boolean;
  /** run the analytics benchmark (the overview over members' events, against raw-SQL aggregates of the same rows) */
  analytics: boolean;
  analyticsMembers: number;
  analyticsEvents: number;
  analyticsRounds: number;
  /** run the verify-scaling benchmark (verifyLedger over N members and over 10 × N) */
  verify: boolean;
  verifyMembers: number;
  verifyRounds: number;
  /** run only this part of the bench */
  only: BenchPart | null;
}

export const BENCH_PARTS = ['expiry', 'tiers', 'referrals', 'achievements', 'engagement', 'accounting', 'analytics', 'verify'] as const;
export type BenchPart = typeof BENCH_PARTS[number];

export const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/laurel_bench';

const USAGE = `usage: npm run bench -- [--json] [--quick] [--fresh] [--no-profile] [--no-http] [--no-rules]
  [--rounds N] [--seconds S] [--warmup S] [--read-seconds S] [--levels 1,8,32] [--large N]
  [--no-expiry] [--expiry-members N] [--expiry-rounds N] [--no-tiers] [--tier-members N] [--tier-rounds N] [--no-referrals]
  [--no-achievements] [--no-engagement] [--no-accounting] [--no-analytics] [--analytics-members N] [--analytics-events N] [--analytics-rounds N]
  [--no-verify] [--verify-members N] [--verify-rounds N]
  [--only expiry|tiers|referrals|achievements|engagement|accounting|analytics|verify]
DATABASE_URL (default ${DEFAULT_URL}) names the bench database; it is created when missing.`;

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      fresh: { type: 'boolean', default: false },
      'no-profile': { type: 'boolean', default: false },
      'no-http': { type: 'boolean', default: false },
      'no-rules': { type: 'boolean', default: false },
      rounds: { type: 'string' },
      seconds: { type: 'string' },
      warmup: { type: 'string' },
      'read-seconds': { type: 'string' },
      levels: { type: 'string' },
      large: { type: 'string' },
      'no-expiry': { type: 'boolean', default: false },
      'expiry-members': { type: 'string' },
      'expiry-rounds': { type: 'string' },
      'no-tiers': { type: 'boolean', default: false },
      'tier-members': { type: 'string' },
      'tier-rounds': { type: 'string' },
      'no-referrals': { type: 'boolean', default: false },
      'no-achievements': { type: 'boolean', default: false },
      'no-engagement': { type: 'boolean', default: false },
      'no-accounting': { type: 'boolean', default: false },
      'no-analytics': { type: 'boolean', default: false },
      'analytics-members': { type: 'string' },
      'analytics-events': { type: 'string' },
      'analytics-rounds': { type: 'string' },
      'no-verify': { type: 'boolean', default: false },
      'verify-members': { type: 'string' },
      'verify-rounds': { type: 'string' },
      only: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const num = (v: string | undefined, fallback: number, name: string): number => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number\n${USAGE}`);
    return n;
  };
  const quick = values.quick;
  const only = values.only === undefined ? null : (BENCH_PARTS as readonly string[]).includes(values.only) ? values.only as BenchPart : null;
  if (values.only !== undefined && only === null) throw new Error(`--only takes: ${BENCH_PARTS.join(', ')}\n${USAGE}`);
  if (only === 'analytics' && values['no-analytics']) throw new Error(`--only analytics and --no-analytics contradict each other\n${USAGE}`);
  if (only === 'expiry' && values['no-expiry']) throw new Error(`--only expiry and --no-expiry contradict each other\n${USAGE}`);
  if (only === 'verify' && values['no-verify']) throw new Error(`--only verify and --no-verify contradict each other\n${USAGE}`);
  if (only === 'tiers' && values['no-tiers']) throw new Error(`--only tiers and --no-tiers contradict each other\n${USAGE}`);
  const levels = values.levels
    ? values.levels.split(',').map((s) => num(s.trim(), 1, 'levels')).map(Math.round)
    : [1, 8, 32];
  return {
    databaseUrl: env.DATABASE_URL || DEFAULT_URL,
    json: values.json,
    quick,
    fresh: values.fresh,
    profile: !values['no-profile'],
    http: !values['no-http'],
    rules: !values['no-rules'],
    levels,
    rounds: Math.round(num(values.rounds, quick ? 1 : 5, 'rounds')),
    seconds: num(values.seconds, quick ? 2 : 5, 'seconds'),
    warmupSeconds: num(values.warmup, quick ? 0.5 : 1, 'warmup'),
    readSeconds: num(values['read-seconds'], quick ? 2 : 3, 'read-seconds'),
    smallHistory: 10,
    largeHistory: Math.round(num(values.large, 100_000, 'large')),
    expiry: !values['no-expiry'],
    expiryMembers: Math.round(num(values['expiry-members'], quick ? 10_000 : 100_000, 'expiry-members')),
    expiryRounds: Math.round(num(values['expiry-rounds'], quick ? 1 : 2, 'expiry-rounds')),
    tiers: !values['no-tiers'],
    tierMembers: Math.round(num(values['tier-members'], quick ? 10_000 : 100_000, 'tier-members')),
    tierRounds: Math.round(num(values['tier-rounds'], quick ? 1 : 3, 'tier-rounds')),
    referrals: !values['no-referrals'],
    achievements: !values['no-achievements'],
    engagement: !values['no-engagement'],
    accounting: !values['no-accounting'],
    analytics: !values['no-analytics'],
    analyticsMembers: Math.round(num(values['analytics-members'], quick ? 10_000 : 100_000, 'analytics-members')),
    analyticsEvents: Math.round(num(values['analytics-events'], quick ? 100_000 : 1_000_000, 'analytics-events')),
    analyticsRounds: Math.round(num(values['analytics-rounds'], quick ? 2 : 5, 'analytics-rounds')),
    verify: !values['no-verify'],
    // verify's time per member at 10 × this many members ÷ at this many (the bar: 100,000 ÷ 10,000)
    verifyMembers: Math.round(num(values['verify-members'], quick ? 2_000 : 10_000, 'verify-members')),
    verifyRounds: Math.round(num(values['verify-rounds'], quick ? 1 : 3, 'verify-rounds')),
    only,
  };
}
