// Rule conditions are CEL (Common Expression Language): side-effect free, no loops beyond its
// macros, no access to anything but the facts below. Each condition is type-checked against
// these declarations when the rule is saved, and compiled once per process.
import { Environment } from '@marcbachmann/cel-js';
import { invalid } from '../errors.js';
import type { MembershipFacts } from '../memberships/lifecycle.js';

/** Everything a condition can read. Integers are bigint (CEL's int); absent text is "". */
export interface Facts {
  event: { type: string; externalId: string; channel: string; location: string; orderId: string; attributes: Record<string, unknown> };
  order: {
    /** money paid (minor units): what earns */
    total: bigint;
    /** value of the goods, however paid */
    goods: bigint;
    paidWithPoints: bigint;
    currency: string;
    quantity: bigint;
    lines: { sku: string; category: string; quantity: bigint; unitPrice: bigint; discount: bigint; net: bigint }[];
    skus: string[];
    categories: string[];
  };
  member: {
    id: string;
    tier: string;
    /** the earn multiplier the program's tier ladder gives the member's tier ("2", "1.5"); "" when none */
    tierMultiplier: string;
    grade: string;
    attributes: Record<string, unknown>;
    daysSinceEnrolment: bigint;
    birthdayToday: boolean;
    birthdayThisMonth: boolean;
    /** the member's paid membership (plan code, status, since, whether its benefits apply now); "" / false without one */
    membership: MembershipFacts;
    /** before this event */
    stats: { purchases: bigint; purchasesThisYear: bigint; purchasesThisMonth: bigint; spend: bigint; spendThisYear: bigint };
  };
  /** when the event occurred, in the tenant's time zone */
  time: { year: bigint; month: bigint; day: bigint; weekday: bigint; hour: bigint; minute: bigint; date: string; weekend: boolean };
}

/** What the CEL checker is told, field by field: an unknown field or a wrong type fails the save. */
const environment = new Environment({ limits: { maxAstNodes: 500, maxDepth: 24, maxListElements: 200, maxMapEntries: 50, maxCallArguments: 8 } })
  .registerType({ name: 'Line', schema: { sku: 'string', category: 'string', quantity: 'int', unitPrice: 'int', discount: 'int', net: 'int' } })
  .registerVariable({
    name: 'event',
    schema: { type: 'string', externalId: 'string', channel: 'string', location: 'string', orderId: 'string', attributes: 'map<string, dyn>' },
  })
  .registerVariable({
    name: 'order',
    schema: {
      total: 'int', goods: 'int', paidWithPoints: 'int', currency: 'string', quantity: 'int',
      lines: 'list<Line>', skus: 'list<string>', categories: 'list<string>',
    },
  })
  .registerVariable({
    name: 'member',
    schema: {
      id: 'string', tier: 'string', tierMultiplier: 'string', grade: 'string', attributes: 'map<string, dyn>', daysSinceEnrolment: 'int',
      birthdayToday: 'bool', birthdayThisMonth: 'bool',
      membership: { plan: 'string', status: 'string', since: 'string', active: 'bool', multiplier: 'string', percentBack: 'string', flags: 'list<string>' },
      stats: { purchases: 'int', purchasesThisYear: 'int', purchasesThisMonth: 'int', spend: 'int', spendThisYear: 'int' },
    },
  })
  .registerVariable({
    name: 'time',
    schema: { year: 'int', month: 'int', day: 'int', weekday: 'int', hour: 'int', minute: 'int', date: 'string', weekend: 'bool' },
  });

export type Condition = (facts: Facts) => boolean;

// CEL's matches() runs a JavaScript RegExp here, not RE2: a pattern that backtracks could hold an
// event for seconds. Conditions use startsWith, endsWith, contains and `in` instead.
const REGEX_CALL = /\bmatches\s*\(/;

export interface ConditionProblem {
  message: string;
  /** 1-based line and column of the fault, when the checker points at one */
  line: number | null;
  column: number | null;
}

/**
 * What is wrong with a condition, with its position, or null when it is valid: the console's
 * editor underlines it while the marketer types.
 */
export function conditionProblem(source: string): ConditionProblem | null {
  try {
    checkCondition(source, 'condition');
    return null;
  } catch (e) {
    const text = (e as Error).message.replace(/^condition (is not a valid CEL condition: )?/, '');
    const lines = text.split('\n');
    const at = lines.findIndex((l) => /^>\s+\d+ \| /.test(l));
    const caret = at >= 0 ? lines[at + 1]?.indexOf('^') ?? -1 : -1;
    if (at < 0 || caret < 0) return { message: lines[0]!, line: null, column: null };
    const prefix = /^>\s+(\d+) \| /.exec(lines[at]!)!;
    return { message: lines[0]!, line: Number(prefix[1]), column: caret - prefix[0].length + 1 };
  }
}

/** Refuses a condition that does not parse, reads a fact that does not exist, or is not a bool. */
export function checkCondition(source: string, field: string): void {
  if (REGEX_CALL.test(source)) throw invalid(field, `${field} may not use matches(): use startsWith, endsWith, contains or in`);
  const result = environment.check(source);
  if (!result.valid) throw invalid(field, `${field} is not a valid CEL condition: ${result.error?.message ?? 'unknown error'}`);
  if (result.type !== 'bool') throw invalid(field, `${field} must be a bool expression, not ${result.type}`);
}

const MAX_CACHED = 10_000;
const compiled = new Map<string, Condition>();

/**
 * The compiled condition, parsed once per process and kept. A condition that fails at run time
 * (a missing attribute key, a division by zero) is false: the rule does not fire.
 */
export function compileCondition(source: string): Condition {
  let condition = compiled.get(source);
  if (!condition) {
    const program = environment.parse(source);
    condition = (facts) => {
      try {
        return program(facts as unknown as Record<string, unknown>) === true;
      } catch {
        return false;
      }
    };
    if (compiled.size >= MAX_CACHED) compiled.clear();
    compiled.set(source, condition);
  }
  return condition;
}

/** Whether a condition reads the member's stats, which cost a query to compute. */
export const readsStats = (source: string | null): boolean => source !== null && /\bstats\b/.test(source);

/** Whether a rule reads the member's paid membership (its condition, or a membership_* effect), which costs a query. */
export const readsMembership = (source: string | null, effectType: string): boolean =>
  effectType.startsWith('membership_') || (source !== null && /\bmembership\b/.test(source));
