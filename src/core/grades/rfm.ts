// RFM grading: each member who purchased in the window is scored 1..q on recency, frequency and
// monetary value by where they rank among the others, the three scores are weighted, and the
// weighted score falls into a grade. The service gathers the figures; this is arithmetic only.
//
// The rules, chosen so that a grade can be explained to the brand with a pencil:
//
// - Who is ranked: the members with at least one purchase in the window (n of them). A member
//   without one is scored R = F = M = 1 and is not ranked: counting them would push every buyer up
//   (with 90 % dormant members, a single purchase would already be in the top quintile).
// - Rank: 0-based, worst first; a member's rank is the number of ranked members strictly worse on
//   that dimension, which is the rank of the first of a run of equal values. Recency: more days
//   since the last purchase is worse. Frequency (purchases) and monetary (spend): less is worse.
// - Score: floor(rank × q / n) + 1, from 1 to q. Equal values get the same score, the lower one:
//   a tie never lifts anyone, and the value after a run of ties takes the rank it would have
//   anyway. A sole buyer (n = 1), and a population where everyone is equal, score 1.
// - Weighted score: (wR·R + wF·F + wM·M) / (wR + wF + wM), truncated to hundredths. A grade's
//   minScore has two decimals, so for an integer m, floor(100·s) ≥ m exactly when 100·s ≥ m: the
//   truncated score decides as the exact rational would, and the score shown agrees with the grade
//   (a 3.999… shows as 3.99 and is not an A at 4.00). No float takes part.
// - Grade: the first, best first, whose minScore the score reaches; the last is 0, so there is one.
//
// Everything depends on the values only: the result is sorted by memberId and does not change with
// the order of the population.
import { invalid } from '../errors.js';
import { scoreHundredths, showScore, type RfmScheme } from './grading.js';

/** One member's figures over the scheme's window. */
export interface RfmMember {
  memberId: string;
  /** days since the last purchase in the window; null: no purchase in the window */
  daysSinceLastPurchase: number | null;
  /** purchases in the window */
  purchases: bigint;
  /** money spent in the window (minor units), net of returns as the service counts it */
  spend: bigint;
}

export interface RfmResult {
  memberId: string;
  /** each 1..q */
  recency: number;
  frequency: number;
  monetary: number;
  /** the weighted score truncated to two decimals: "3.66" */
  score: string;
  grade: string;
}

/** The score of rank 0..n-1 among n: floor(rank × q / n) + 1, in integers. */
export function quantileScore(rank: number, n: number, q: number): number {
  const scaled = rank * q;
  return (scaled - (scaled % n)) / n + 1;
}

const compareBig = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * For each item, the number of items strictly before it in the order `worse` (negative: a is
 * worse than b): the rank of the first of equal values.
 */
function ranks<T>(items: readonly T[], worse: (a: T, b: T) => number): Map<T, number> {
  const sorted = [...items].sort(worse);
  const rank = new Map<T, number>();
  sorted.forEach((item, i) => {
    const previous = sorted[i - 1];
    rank.set(item, previous !== undefined && worse(previous, item) === 0 ? rank.get(previous)! : i);
  });
  return rank;
}

function check(population: readonly RfmMember[]): void {
  const seen = new Set<string>();
  population.forEach((m, i) => {
    const f = `population[${i}]`;
    if (typeof m.memberId !== 'string' || m.memberId === '') throw invalid(`${f}.memberId`, `${f}.memberId must be an id`);
    if (seen.has(m.memberId)) throw invalid(`${f}.memberId`, `member ${m.memberId} is in the population twice`);
    seen.add(m.memberId);
    if (typeof m.purchases !== 'bigint' || m.purchases < 0n) throw invalid(`${f}.purchases`, `${f}.purchases must be a count`);
    if (typeof m.spend !== 'bigint') throw invalid(`${f}.spend`, `${f}.spend must be an amount in minor units`);
    const days = m.daysSinceLastPurchase;
    if (days !== null && (!Number.isSafeInteger(days) || days < 0)) throw invalid(`${f}.daysSinceLastPurchase`, `${f}.daysSinceLastPurchase must be a number of days or null`);
    if ((days === null) !== (m.purchases === 0n)) {
      throw invalid(`${f}.daysSinceLastPurchase`, `${f}.daysSinceLastPurchase must be null exactly when there is no purchase in the window`);
    }
  });
}

/** Scores and grades a population under an RFM scheme (as validateGrading returns it). */
export function gradeByRfm(scheme: RfmScheme, population: readonly RfmMember[]): RfmResult[] {
  check(population);
  const q = scheme.quantiles;
  const { recency: wR, frequency: wF, monetary: wM } = scheme.weights;
  const totalWeight = wR + wF + wM;
  const thresholds = scheme.grades.map((g) => ({ code: g.code, min: scoreHundredths(g.minScore, 'minScore') }));

  const buyers = population.filter((m) => m.daysSinceLastPurchase !== null);
  const n = buyers.length;
  const r = ranks(buyers, (a, b) => b.daysSinceLastPurchase! - a.daysSinceLastPurchase!);
  const f = ranks(buyers, (a, b) => compareBig(a.purchases, b.purchases));
  const m = ranks(buyers, (a, b) => compareBig(a.spend, b.spend));
  const score = (rank: Map<RfmMember, number>, member: RfmMember) => {
    const at = rank.get(member);
    return at === undefined ? 1 : quantileScore(at, n, q);
  };

  return population
    .map((member) => {
      const recency = score(r, member);
      const frequency = score(f, member);
      const monetary = score(m, member);
      const weighted = 100 * (wR * recency + wF * frequency + wM * monetary);
      const hundredths = (weighted - (weighted % totalWeight)) / totalWeight;
      const grade = thresholds.find((t) => hundredths >= t.min);
      if (!grade) throw new Error(`no grade for the score ${showScore(hundredths)}: the last grade's minScore must be 0`);
      return { memberId: member.memberId, recency, frequency, monetary, score: showScore(hundredths), grade: grade.code };
    })
    .sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0));
}
