// The human-readable report and the one-line JSON summary.
import type { AnalyticsSummary } from './analytics.js';
import { SETTLE_STEPS, type ExpiryResults } from './expiry.js';
import type { HttpResults, HttpRun } from './http.js';
import type { LoadResult } from './load.js';
import type { PgbenchResult } from './pgbench.js';
import type { Earned, EvaluateResult, RuleRun, RulesFixture } from './rules.js';
import { TIER_STEPS, type TiersResults } from './tiers.js';
import type { VerifyResults } from './verify.js';
import { median, round } from './stats.js';

export interface EarnLevel {
  concurrency: number;
  earn: LoadResult[];
  baseline: PgbenchResult[];
}

export interface ReadSide {
  entries: number;
  runs: LoadResult[];
}

/** The rule runs of one concurrency, one per round, each next to that round's earn run. */
export interface RulesLevel {
  concurrency: number;
  runs: RuleRun[];
}

export interface RulesFigure {
  concurrency: number;
  events_per_s: number;
  p50_ms: number;
  p99_ms: number;
  /** the plain earn of the same run and level (median) */
  earn_events_per_s: number;
  /** events_per_s ÷ earn_events_per_s (of the medians) */
  ratio: number;
  /** the median over rounds of (rule run ÷ the earn run of the same round) */
  ratio_paired: number;
  baseline_tps: number;
  ratio_to_pgbench: number;
}

export interface RulesSummary {
  rules: number;
  lines: number;
  levels: RulesFigure[];
  /** means over every event of the rule runs */
  per_event: { rules_fired: number; awards: number; points: number; credit_minor: number };
  cel: {
    conditions: number;
    /** parses when the rules were first loaded in this process, and when loaded again (fresh strategy map) */
    parses_cold_load: number;
    parses_warm_load: number;
    /** parses during the rule runs through the database (warm-ups included), over that many events */
    parses_in_runs: number;
    events_in_runs: number;
    /** parses during the timed evaluate() loops */
    parses_in_evaluate: number;
    /** compileCondition returns the very function each loaded rule holds */
    same_function: boolean;
  };
  evaluate: {
    evaluations_per_s: number;
    evaluations_per_cpu_s: number;
    us_per_evaluation: number;
    /** basketOf + factsOf + evaluate twice, as evaluateEarning does */
    decisions_per_s: number;
    first_evaluation_us: number;
    later_evaluation_us: number;
  };
}

export interface HttpFigure {
  connections: number;
  requests_per_s: number;
  p50_ms: number;
  p99_ms: number;
  /** ÷ the service-level figure at the same concurrency, same run (null when not measured) */
  ratio_to_service: number | null;
  /** ÷ the pgbench baseline at concurrency 32, same run (null when not measured) */
  ratio_to_pgbench: number | null;
}

export interface Summary {
  earn: { concurrency: number; events_per_s: number; baseline_tps: number; ratio: number }[];
  balance_read: {
    small_history_entries: number; large_history_entries: number;
    small_reads_per_s: number; large_reads_per_s: number; ratio: number;
  };
  http?: {
    earn: HttpFigure; balance_read: HttpFigure; rules: HttpFigure | null;
    /** the one-rule purchase on PGlite in memory, and its rate ÷ the PostgreSQL purchase's */
    pglite: HttpFigure | null; pglite_ratio: number | null;
    rss_mb: number;
  };
  /** issue 11's bars, each a same-run ratio or figure against its target (barsOf) */
  bars?: Record<string, Bar>;
  rules?: RulesSummary;
  /** sequential earn and redeem latency for the short and the long history */
  history_latency?: { earn_small_ms: number; earn_large_ms: number; redeem_small_ms: number; redeem_large_ms: number };
  expiry?: ExpirySummary;
  tiers?: TiersSummary;
  analytics?: AnalyticsSummary;
  verify?: VerifySummary;
}

/** The settle job expiring members × 10 due lots against the raw-SQL UPDATEs over a copy of the rows (medians over rounds). */
export interface ExpirySummary {
  members: number;
  lots: number;
  rounds: number;
  /** wallets per settle transaction */
  chunk_wallets: number;
  /** members, balances and the earns' rows, written set-based (not the copy nor the vacuum) */
  fixture_build_s: number;
  laurel_s: number;
  lots_per_s: number;
  baseline_s: number;
  baseline_lots_per_s: number;
  /** laurel_s ÷ baseline_s (of the medians); the target is ≤ 3 */
  ratio: number;
  /** the median over rounds of (Laurel ÷ the baseline of the same round) */
  ratio_paired: number;
  /** this process's RSS before the job, its peak during it (sampled every 100 ms) and the difference (the largest over rounds) */
  rss_before_mb: number;
  rss_peak_mb: number;
  rss_growth_mb: number;
  heap_growth_mb: number;
  chunks: number;
  /** the first and the last chunk's time: a chunk's cost that grows with what is left to do shows here */
  chunk_first_ms: number;
  chunk_last_ms: number;
  /** the job's statements by step (src/db/settlement.ts): count and seconds of round trips, means over rounds */
  steps: Record<string, { count: number; s: number }>;
  verify_s: number;
}

export function summarizeExpiry(e: ExpiryResults, chunkWallets: number): ExpirySummary {
  const laurel = median(e.rounds.map((r) => r.laurel.ms)) / 1000;
  const baseline = median(e.rounds.map((r) => r.baseline.ms)) / 1000;
  const worst = e.rounds.reduce((w, r) => (r.laurel.rssPeakMb - r.laurel.rssBeforeMb > w.laurel.rssPeakMb - w.laurel.rssBeforeMb ? r : w));
  return {
    members: e.members, lots: e.lots, rounds: e.rounds.length, chunk_wallets: chunkWallets,
    fixture_build_s: round(median(e.rounds.map((r) => r.buildMs)) / 1000, 1),
    laurel_s: round(laurel, 2), lots_per_s: round(e.lots / laurel, 0),
    baseline_s: round(baseline, 2), baseline_lots_per_s: round(e.lots / baseline, 0),
    ratio: round(laurel / baseline, 2), ratio_paired: round(median(e.rounds.map((r) => r.laurel.ms / r.baseline.ms)), 2),
    rss_before_mb: round(worst.laurel.rssBeforeMb, 1), rss_peak_mb: round(worst.laurel.rssPeakMb, 1),
    rss_growth_mb: round(worst.laurel.rssPeakMb - worst.laurel.rssBeforeMb, 1),
    heap_growth_mb: round(Math.max(...e.rounds.map((r) => r.laurel.heapPeakMb - r.laurel.heapBeforeMb)), 1),
    chunks: worst.laurel.chunkMs.length,
    chunk_first_ms: round(median(e.rounds.map((r) => r.laurel.chunkMs[0] ?? Number.NaN)), 0),
    chunk_last_ms: round(median(e.rounds.map((r) => r.laurel.chunkMs.at(-1) ?? Number.NaN)), 0),
    steps: Object.fromEntries(SETTLE_STEPS.map((k) => {
      const n = e.rounds.length;
      return [k, {
        count: round(e.rounds.reduce((a, r) => a + r.laurel.steps[k].count, 0) / n, 0),
        s: round(e.rounds.reduce((a, r) => a + r.laurel.steps[k].ms, 0) / n / 1000, 2),
      }];
    })),
    verify_s: round(median(e.rounds.map((r) => r.verifyMs)) / 1000, 1),
  };
}

/** Where the settle job's time went: its statements by step, seconds and count (means over rounds), and the share of the job. */
export function expirySteps(s: ExpirySummary): string {
  return Object.entries(s.steps).filter(([, v]) => v.count > 0)
    .map(([k, v]) => `${k} ${f(v.s, 2)} s ×${v.count} (${f((100 * v.s) / s.laurel_s, 0)}%)`).join(', ');
}

export function expiryTable(e: ExpiryResults): string {
  const s = (ms: number) => f(ms / 1000, 2);
  return table(
    ['round', 'first', 'fixture s', 'copy+vacuum s', 'laurel s', 'lots/s', 'chunks (first…last ms)', 'rss before/peak MB', 'baseline s', 'baseline lots/s', 'ratio'],
    e.rounds.map((r, i) => [
      String(i + 1), r.first, f(r.buildMs / 1000), f((r.copyMs + r.vacuumMs) / 1000), s(r.laurel.ms), f(r.laurel.lots / (r.laurel.ms / 1000), 0),
      `${r.laurel.chunkMs.length} (${f(r.laurel.chunkMs[0] ?? Number.NaN, 0)}…${f(r.laurel.chunkMs.at(-1) ?? Number.NaN, 0)})`,
      `${f(r.laurel.rssBeforeMb, 0)}/${f(r.laurel.rssPeakMb, 0)}`, s(r.baseline.ms), f(r.baseline.lots / (r.baseline.ms / 1000), 0),
      f(r.laurel.ms / r.baseline.ms, 2),
    ]),
  );
}

/** The tier_reviews job over the members against the raw-SQL UPDATE over a copy of them (medians over rounds). */
export interface TiersSummary {
  members: number;
  activity_rows: number;
  rounds: number;
  /** members per review transaction */
  chunk_members: number;
  /** members (with balance rows) and their activity, written set-based (not the copy nor the vacuum) */
  fixture_build_s: number;
  laurel_s: number;
  members_per_s: number;
  baseline_s: number;
  baseline_members_per_s: number;
  /** laurel_s ÷ baseline_s (of the medians); the target is ≤ 3 */
  ratio: number;
  /** the median over rounds of (Laurel ÷ the baseline of the same round) */
  ratio_paired: number;
  /** each round's own ratio, in order */
  ratios: number[];
  kept: number;
  down: number;
  up: number;
  /** this process's RSS before the job, its peak during it (sampled every 100 ms) and the difference (the largest over rounds) */
  rss_before_mb: number;
  rss_peak_mb: number;
  rss_growth_mb: number;
  heap_growth_mb: number;
  chunks: number;
  chunk_first_ms: number;
  chunk_last_ms: number;
  /** the job's statements by step: count and seconds of round trips, means over rounds; `node` is the rest of the job's time */
  steps: Record<string, { count: number; s: number }>;
}

export function summarizeTiers(e: TiersResults, chunkMembers: number): TiersSummary {
  const laurel = median(e.rounds.map((r) => r.laurel.ms)) / 1000;
  const baseline = median(e.rounds.map((r) => r.baseline.ms)) / 1000;
  const worst = e.rounds.reduce((w, r) => (r.laurel.rssPeakMb - r.laurel.rssBeforeMb > w.laurel.rssPeakMb - w.laurel.rssBeforeMb ? r : w));
  const n = e.rounds.length;
  const steps: Record<string, { count: number; s: number }> = Object.fromEntries(TIER_STEPS.map((k) => [k, {
    count: round(e.rounds.reduce((a, r) => a + r.laurel.steps[k].count, 0) / n, 0),
    s: round(e.rounds.reduce((a, r) => a + r.laurel.steps[k].ms, 0) / n / 1000, 2),
  }]));
  const inStatements = e.rounds.reduce((a, r) => a + Object.values(r.laurel.steps).reduce((b, x) => b + x.ms, 0), 0) / n;
  const meanJob = e.rounds.reduce((a, r) => a + r.laurel.ms, 0) / n;
  steps.node = { count: 0, s: round((meanJob - inStatements) / 1000, 2) };
  const last = e.rounds.at(-1)!.laurel;
  return {
    members: e.members, activity_rows: e.activityRows, rounds: n, chunk_members: chunkMembers,
    fixture_build_s: round(median(e.rounds.map((r) => r.buildMs)) / 1000, 1),
    laurel_s: round(laurel, 2), members_per_s: round(e.members / laurel, 0),
    baseline_s: round(baseline, 2), baseline_members_per_s: round(e.members / baseline, 0),
    ratio: round(laurel / baseline, 2), ratio_paired: round(median(e.rounds.map((r) => r.laurel.ms / r.baseline.ms)), 2),
    ratios: e.rounds.map((r) => round(r.laurel.ms / r.baseline.ms, 2)),
    kept: last.kept, down: last.down, up: last.up,
    rss_before_mb: round(worst.laurel.rssBeforeMb, 1), rss_peak_mb: round(worst.laurel.rssPeakMb, 1),
    rss_growth_mb: round(worst.laurel.rssPeakMb - worst.laurel.rssBeforeMb, 1),
    heap_growth_mb: round(Math.max(...e.rounds.map((r) => r.laurel.heapPeakMb - r.laurel.heapBeforeMb)), 1),
    chunks: worst.laurel.chunkMs.length,
    chunk_first_ms: round(median(e.rounds.map((r) => r.laurel.chunkMs[0] ?? Number.NaN)), 0),
    chunk_last_ms: round(median(e.rounds.map((r) => r.laurel.chunkMs.at(-1) ?? Number.NaN)), 0),
    steps,
  };
}

/** Where the review job's time went: its statements by step and the rest (node), seconds and count (means over rounds), and the share of the job. */
export function tierSteps(s: TiersSummary): string {
  return Object.entries(s.steps).filter(([k, v]) => v.count > 0 || k === 'node')
    .map(([k, v]) => `${k} ${f(v.s, 2)} s${v.count > 0 ? ` ×${v.count}` : ''} (${f((100 * v.s) / s.laurel_s, 0)}%)`).join(', ');
}

export function tiersTable(e: TiersResults): string {
  const s = (ms: number) => f(ms / 1000, 2);
  return table(
    ['round', 'first', 'fixture s', 'copy+vacuum s', 'laurel s', 'members/s', 'chunks (first…last ms)', 'rss before/peak MB', 'baseline s', 'baseline members/s', 'ratio'],
    e.rounds.map((r, i) => [
      String(i + 1), r.first, f(r.buildMs / 1000), f((r.copyMs + r.vacuumMs) / 1000), s(r.laurel.ms), f(r.laurel.members / (r.laurel.ms / 1000), 0),
      `${r.laurel.chunkMs.length} (${f(r.laurel.chunkMs[0] ?? Number.NaN, 0)}…${f(r.laurel.chunkMs.at(-1) ?? Number.NaN, 0)})`,
      `${f(r.laurel.rssBeforeMb, 0)}/${f(r.laurel.rssPeakMb, 0)}`, s(r.baseline.ms), f(r.baseline.members / (r.baseline.ms / 1000), 0),
      f(r.laurel.ms / r.baseline.ms, 2),
    ]),
  );
}

/** The HTTP figures next to the service-level and pgbench ones of the same run. */
export function summarizeHttp(summary: Summary, http: HttpResults): NonNullable<Summary['http']> {
  const level = summary.earn.find((e) => e.concurrency === http.connections);
  const serviceReads = median(http.serviceReads.map((r) => r.perSecond));
  const figure = (runs: HttpRun[], service: number | undefined): HttpFigure => {
    const rate = median(runs.map((r) => r.requestsPerSecond));
    return {
      connections: http.connections, requests_per_s: round(rate, 1),
      p50_ms: round(median(runs.map((r) => r.p50Ms)), 2), p99_ms: round(median(runs.map((r) => r.p99Ms)), 2),
      ratio_to_service: service ? round(rate / service, 3) : null,
      ratio_to_pgbench: level ? round(rate / level.baseline_tps, 3) : null,
    };
  };
  const rules = summary.rules?.levels.find((l) => l.concurrency === http.connections);
  const earn = figure(http.earn, level?.events_per_s);
  const pglite = http.pglite.length ? { ...figure(http.pglite, undefined), ratio_to_pgbench: null } : null;
  return {
    earn, balance_read: figure(http.balance, serviceReads),
    rules: http.rules.length ? figure(http.rules, rules?.events_per_s) : null,
    pglite, pglite_ratio: pglite && earn.requests_per_s > 0 ? round(pglite.requests_per_s / earn.requests_per_s, 3) : null,
    rss_mb: http.rssMb,
  };
}

/** Rule events/s next to the earn and pgbench medians of the same levels. */
export function summarizeRules(rf: RulesFixture, levels: RulesLevel[], earn: EarnLevel[], summary: Summary, evaluated: EvaluateResult,
  earned: Earned, lines: number): RulesSummary {
  const n = Math.max(1, earned.events);
  return {
    rules: rf.rules.length, lines,
    levels: levels.map((l) => {
      const e = earn.find((x) => x.concurrency === l.concurrency)!;
      const s = summary.earn.find((x) => x.concurrency === l.concurrency)!;
      const events = median(l.runs.map((r) => r.perSecond));
      return {
        concurrency: l.concurrency, events_per_s: round(events, 1),
        p50_ms: round(median(l.runs.map((r) => r.p50Ms)), 2), p99_ms: round(median(l.runs.map((r) => r.p99Ms)), 2),
        earn_events_per_s: s.events_per_s, ratio: round(events / s.events_per_s, 3),
        ratio_paired: round(median(pairedRatios(l, e)), 3),
        baseline_tps: s.baseline_tps, ratio_to_pgbench: round(events / s.baseline_tps, 3),
      };
    }),
    per_event: {
      rules_fired: round(earned.fired / n, 2), awards: round(earned.awarded / n, 2),
      points: round(Number(earned.points) / n, 1), credit_minor: round(Number(earned.credit) / n, 1),
    },
    cel: {
      conditions: rf.conditions, parses_cold_load: evaluated.coldParses, parses_warm_load: evaluated.warmParses,
      parses_in_runs: levels.reduce((a, l) => a + l.runs.reduce((b, r) => b + r.parses, 0), 0), events_in_runs: earned.events,
      parses_in_evaluate: evaluated.loopParses, same_function: evaluated.sameFunction,
    },
    evaluate: {
      evaluations_per_s: round(median(evaluated.perSecond), 0), evaluations_per_cpu_s: round(median(evaluated.perCpuSecond), 0),
      us_per_evaluation: round(1e6 / median(evaluated.perSecond), 1), decisions_per_s: round(median(evaluated.decisionsPerSecond), 0),
      first_evaluation_us: round(evaluated.firstUs, 0), later_evaluation_us: round(evaluated.laterUs, 1),
    },
  };
}

/** Per round: the rule run ÷ the earn run of the same round and level. */
const pairedRatios = (rules: RulesLevel, earn: EarnLevel): number[] =>
  rules.runs.map((r, i) => r.perSecond / (earn.earn[i]?.perSecond ?? Number.NaN));

export function summarize(levels: EarnLevel[], small: ReadSide, large: ReadSide): Summary {
  return {
    earn: levels.map((l) => {
      const events = median(l.earn.map((r) => r.perSecond));
      const tps = median(l.baseline.map((r) => r.tps));
      return { concurrency: l.concurrency, events_per_s: round(events, 1), baseline_tps: round(tps, 1), ratio: round(events / tps, 3) };
    }),
    balance_read: (() => {
      const s = median(small.runs.map((r) => r.perSecond));
      const g = median(large.runs.map((r) => r.perSecond));
      return {
        small_history_entries: small.entries, large_history_entries: large.entries,
        small_reads_per_s: round(s, 1), large_reads_per_s: round(g, 1), ratio: round(g / s, 3),
      };
    })(),
  };
}

/** A plain text table: right-aligned columns, a rule under the header. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

const f = (x: number, digits = 1): string => (Number.isFinite(x) ? x.toFixed(digits) : '-');

export function earnTable(levels: EarnLevel[], summary: Summary): string {
  return table(
    ['concurrency', 'earn/s', 'p50 ms', 'p99 ms', 'node cpu ms/earn', 'baseline tps', 'baseline lat ms', 'ratio', 'paired: median (per round)'],
    levels.map((l, i) => {
      const s = summary.earn[i]!;
      const ratios = l.earn.map((e, r) => e.perSecond / (l.baseline[r]?.tps ?? Number.NaN));
      const perRound = `${f(median(ratios), 3)} (${ratios.map((x) => f(x, 2)).join(' ')})`;
      return [
        String(l.concurrency), f(s.events_per_s), f(median(l.earn.map((r) => r.p50Ms)), 2), f(median(l.earn.map((r) => r.p99Ms)), 2),
        f(median(l.earn.map((r) => r.nodeCpuMsPerOp)), 3), f(s.baseline_tps), f(median(l.baseline.map((r) => r.latencyMs)), 2),
        f(s.ratio, 3), perRound,
      ];
    }),
  );
}

export function readTable(small: ReadSide, large: ReadSide, summary: Summary): string {
  const row = (side: ReadSide, rate: number) => [
    String(side.entries), f(rate), f(median(side.runs.map((r) => r.p50Ms)), 3), f(median(side.runs.map((r) => r.p99Ms)), 3),
    side.runs.map((r) => f(r.perSecond, 0)).join(' '),
  ];
  return table(['history entries', 'reads/s', 'p50 ms', 'p99 ms', 'per-round reads/s'],
    [row(small, summary.balance_read.small_reads_per_s), row(large, summary.balance_read.large_reads_per_s)]);
}

export function httpTable(http: HttpResults, figures: NonNullable<Summary['http']>, summary: Summary): string {
  const level = summary.earn.find((e) => e.concurrency === http.connections);
  const serviceReads = median(http.serviceReads.map((r) => r.perSecond));
  const row = (label: string, runs: HttpRun[], fig: HttpFigure, service: number | undefined) => [
    label, f(fig.requests_per_s), f(fig.p50_ms, 2), f(fig.p99_ms, 2), runs.map((r) => f(r.requestsPerSecond, 0)).join(' '),
    service === undefined ? '-' : f(service), fig.ratio_to_service === null ? '-' : f(fig.ratio_to_service, 3),
    level ? f(level.baseline_tps) : '-', fig.ratio_to_pgbench === null ? '-' : f(fig.ratio_to_pgbench, 3),
  ];
  const cpu = (label: string, runs: HttpRun[]) => [
    label, f(median(runs.map((r) => r.serverNodeCpuMs)), 3), f(median(runs.map((r) => r.backendCpuMs)), 3),
    f(median(runs.map((r) => r.clientCpuMs)), 3), `${f(median(runs.map((r) => r.machineBusy * 100)), 0)}%`,
  ];
  return [
    table(['request', 'req/s', 'p50 ms', 'p99 ms', 'per-round req/s', `service c=${http.connections}/s`, 'ratio to service', `pgbench c=${http.connections} tps`, 'ratio to pgbench'], [
      row('POST /v1/events (purchase)', http.earn, figures.earn, level?.events_per_s),
      ...(figures.rules ? [row('POST /v1/events (20 rules)', http.rules, figures.rules, summary.rules?.levels.find((l) => l.concurrency === http.connections)?.events_per_s)] : []),
      row('GET /v1/members/{id}/balances', http.balance, figures.balance_read, serviceReads),
      ...(figures.pglite ? [row('POST /v1/events (purchase), PGlite', http.pglite, figures.pglite, undefined)] : []),
    ]),
    '',
    'CPU per 2xx response (ms; warm-up and measured run), and how busy the machine was',
    table(['request', 'server node', 'server backends', 'autocannon', 'machine busy'], [
      cpu('POST /v1/events', http.earn), ...(http.rules.length ? [cpu('POST /v1/events (20 rules)', http.rules)] : []), cpu('GET balances', http.balance)]),
  ].join('\n');
}

export function rulesTable(levels: RulesLevel[], earn: EarnLevel[], figures: RulesSummary): string {
  return table(
    ['concurrency', 'events/s', 'p50 ms', 'p99 ms', 'node cpu ms/event', 'earn/s', 'ratio to earn', 'paired: median (per round)', 'pgbench tps', 'ratio to pgbench'],
    levels.map((l, i) => {
      const s = figures.levels[i]!;
      const paired = pairedRatios(l, earn.find((e) => e.concurrency === l.concurrency)!);
      return [
        String(l.concurrency), f(s.events_per_s), f(s.p50_ms, 2), f(s.p99_ms, 2), f(median(l.runs.map((r) => r.nodeCpuMsPerOp)), 3),
        f(s.earn_events_per_s), f(s.ratio, 3), `${f(s.ratio_paired, 3)} (${paired.map((x) => f(x, 2)).join(' ')})`,
        f(s.baseline_tps), f(s.ratio_to_pgbench, 3),
      ];
    }),
  );
}

/** Each rule, in priority order: how often it fired (applied) and how often it gave more than 0 (caps can trim to 0). */
export function firedTable(rf: RulesFixture, earned: Earned): string {
  const pct = (x: number) => `${f((100 * x) / Math.max(1, earned.events), 0)}%`;
  const lines = table(['rule', 'effect', 'fired', 'gave > 0'], rf.rules.map((r) => {
    const t = earned.byRule.get(r.name) ?? { fired: 0, awarded: 0 };
    return [r.name, r.effect, pct(t.fired), pct(t.awarded)];
  })).split('\n');
  // The conditions go last, left-aligned: they are text, not figures.
  const width = Math.max(...lines.map((l) => l.length));
  const conditions = ['condition', '---------', ...rf.rules.map((r) => r.condition ?? '-')];
  return lines.map((l, i) => `${l.padEnd(width)}  ${conditions[i]}`).join('\n');
}

export interface VerifySummary {
  small_members: number;
  large_members: number;
  small_ms: number;
  large_ms: number;
  small_us_per_member: number;
  large_us_per_member: number;
  /** time per member at the large size ÷ at the small size: 1 is linear */
  ratio: number;
}

export function summarizeVerify(v: VerifyResults): VerifySummary {
  const [small, large] = v.sizes;
  return {
    small_members: small.members, large_members: large.members, small_ms: round(small.medianMs, 0), large_ms: round(large.medianMs, 0),
    small_us_per_member: round(small.perMemberUs, 1), large_us_per_member: round(large.perMemberUs, 1), ratio: round(v.ratio, 2),
  };
}

/** A bar of issue 11: the figure measured in this run (null when this run did not measure it), its target, and whether it holds. */
export interface Bar {
  value: number | null;
  target: string;
  met: boolean | null;
}

const atLeast = (value: number | null | undefined, target: number): Bar =>
  ({ value: value ?? null, target: `>= ${target}`, met: value === null || value === undefined ? null : value >= target });
const atMost = (value: number | null | undefined, target: number): Bar =>
  ({ value: value ?? null, target: `<= ${target}`, met: value === null || value === undefined ? null : value <= target });

/** The bars from what this run measured: each against the same run's baseline (pgbench, or the job's raw SQL). */
export function barsOf(summary: Summary): Record<string, Bar> {
  // A run that completed no request measured nothing: its zeros are not figures.
  const answered = (fig: HttpFigure | null | undefined) => (fig && fig.requests_per_s > 0 ? fig : null);
  const purchase = answered(summary.http?.earn);
  return {
    earn_c32: atLeast(summary.earn.find((e) => e.concurrency === 32)?.ratio, 1),
    http_purchase_c32: atLeast(purchase?.ratio_to_pgbench, 0.5),
    http_purchase_rules_c32: atLeast(answered(summary.http?.rules)?.ratio_to_pgbench, 0.25),
    http_purchase_p99_ms: atMost(purchase?.p99_ms, 50),
    expiry: atMost(summary.expiry?.ratio, 3),
    tiers: atMost(summary.tiers?.ratio, 3),
    analytics_overview: atMost(summary.analytics?.ratio, 3),
    verify_scaling: atMost(summary.verify?.ratio, 1.5),
    pglite_http_purchase: { value: summary.http?.pglite_ratio ?? null, target: 'reported', met: null },
    server_rss_mb: atMost(summary.http?.rss_mb, 512),
  };
}

/** The bars as a table: figure, target, held or not. */
export function barsTable(bars: Record<string, Bar>): string {
  return table(['bar', 'value', 'target', 'met'], Object.entries(bars).map(([key, b]) =>
    [key, b.value === null ? 'not measured' : String(b.value), b.target, b.met === null ? '-' : b.met ? 'yes' : 'NO']));
}
