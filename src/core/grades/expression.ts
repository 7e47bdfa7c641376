// Grades by expression: a brand writes one CEL condition per grade over the member's stats, and the
// first that holds is the member's grade. Conditions are type-checked against these declarations
// when the scheme is saved, and compiled once per process, as rule conditions are.
import { Environment } from '@marcbachmann/cel-js';
import { invalid } from '../errors.js';
import type { ExpressionScheme } from './grading.js';

/** What the service computes for each member when it grades; integers are bigint (CEL's int). */
export interface GradeStats {
  /**
   * Lifetime, from the member's activity: purchases net of full returns, money paid net of refunds
   * (a rule condition's member.stats count purchase events and gross totals instead).
   */
  purchases: bigint;
  spend: bigint;
  /** the same since 1 January, in the tenant's time zone */
  purchasesThisYear: bigint;
  spendThisYear: bigint;
  /** over the last 12 months, so that a grade does not fall every 1 January */
  purchasesLast12Months: bigint;
  spendLast12Months: bigint;
  /** null: never purchased (a condition sees NEVER_PURCHASED_DAYS) */
  daysSinceLastPurchase: bigint | null;
  daysSinceEnrolment: bigint;
  /** the points balance */
  points: bigint;
}

/**
 * What a condition reads for a member who never purchased: CEL has no null int, and a sentinel of
 * zero or -1 would make `stats.daysSinceLastPurchase <= 30` true for them. Long ago is the honest
 * reading: `<= 30` is false and `> 365` is true. `stats.purchases == 0` tells them apart.
 */
export const NEVER_PURCHASED_DAYS = 1_000_000n;

const environment = new Environment({ limits: { maxAstNodes: 500, maxDepth: 24, maxListElements: 200, maxMapEntries: 50, maxCallArguments: 8 } })
  .registerVariable({
    name: 'stats',
    schema: {
      purchases: 'int', spend: 'int', purchasesThisYear: 'int', spendThisYear: 'int', purchasesLast12Months: 'int', spendLast12Months: 'int',
      daysSinceLastPurchase: 'int', daysSinceEnrolment: 'int', points: 'int',
    },
  });

// As in rule conditions: matches() runs a JavaScript RegExp, not RE2, and a backtracking pattern
// would hold a whole grading run. There is no text among the stats to match anyway.
const REGEX_CALL = /\bmatches\s*\(/;

/** Refuses a condition that does not parse, reads a stat that does not exist, or is not a bool. */
export function checkGradeCondition(source: string, field: string): void {
  if (REGEX_CALL.test(source)) throw invalid(field, `${field} may not use matches()`);
  const result = environment.check(source);
  if (!result.valid) throw invalid(field, `${field} is not a valid CEL condition: ${result.error?.message ?? 'unknown error'}`);
  if (result.type !== 'bool') throw invalid(field, `${field} must be a bool expression, not ${result.type}`);
}

export type GradeCondition = (stats: GradeStats) => boolean;

const MAX_CACHED = 10_000;
const compiled = new Map<string, GradeCondition>();

/**
 * The compiled condition, parsed once per process and kept. A condition that fails at run time
 * (a division by zero) is false: the member falls through to the next grade.
 */
export function compileGradeCondition(source: string): GradeCondition {
  let condition = compiled.get(source);
  if (!condition) {
    const program = environment.parse(source);
    condition = (stats) => {
      const context = { stats: { ...stats, daysSinceLastPurchase: stats.daysSinceLastPurchase ?? NEVER_PURCHASED_DAYS } };
      try {
        return program(context) === true;
      } catch {
        return false;
      }
    };
    if (compiled.size >= MAX_CACHED) compiled.clear();
    compiled.set(source, condition);
  }
  return condition;
}

/** The code of the first grade whose condition holds; null when none does (a scheme need not end with `true`). */
export function gradeByExpression(scheme: ExpressionScheme, stats: GradeStats): string | null {
  for (const grade of scheme.grades) if (compileGradeCondition(grade.condition)(stats)) return grade.code;
  return null;
}
