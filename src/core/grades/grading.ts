// Customer grades (A, B, C…): how a brand sorts its members by what they bring, distinct from tiers,
// which members see and climb. A scheme is either RFM, each member scored against the others on
// recency, frequency and monetary value over a window, or a list of CEL conditions over the
// member's own stats. This module holds the shapes and checks a scheme before it is saved.
import { invalid } from '../errors.js';
import { storableText } from '../events/event.js';
import { integerIn } from '../events/rate.js';
import { isObject, only, type Input } from '../input.js';
import { checkGradeCondition } from './expression.js';

/** The same codes a member's grade takes through the API (member.grade in rule conditions). */
export const GRADE_CODE = /^[a-z][a-z0-9_]{0,31}$/;
export const MAX_GRADES = 10;
export const MAX_WEIGHT = 100;
export const MIN_QUANTILES = 2;
export const MAX_QUANTILES = 10;
export const MAX_WINDOW_MONTHS = 120;
const MAX_CONDITION = 4000;

/** How much each of R, F and M counts in the weighted score; small integers, at least one above 0. */
export interface RfmWeights {
  recency: number;
  frequency: number;
  monetary: number;
}

export interface RfmGrade {
  code: string;
  /** the lowest weighted score that earns the grade, with two decimals: "4.00" */
  minScore: string;
}

export interface RfmScheme {
  kind: 'rfm';
  /** purchases in the last windowMonths months count */
  windowMonths: number;
  /** q: each of R, F and M is a score from 1 to q */
  quantiles: number;
  weights: RfmWeights;
  /** best first, minScore strictly decreasing, the last one 0: every member has a grade */
  grades: RfmGrade[];
}

export interface ExpressionGrade {
  code: string;
  /** a CEL bool over `stats` (see expression.ts) */
  condition: string;
}

export interface ExpressionScheme {
  kind: 'expression';
  /** the first whose condition holds is the member's grade; none: no grade */
  grades: ExpressionGrade[];
}

export type GradingScheme = RfmScheme | ExpressionScheme;

const SCORE = /^(\d{1,2})(?:\.(\d{1,2}))?$/;

/** A score with at most two decimals ("2.5", 4, "3.75") in hundredths (250, 400, 375): scores are compared as integers. */
export function scoreHundredths(value: unknown, field: string): number {
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : typeof value === 'string' ? value : '';
  const m = SCORE.exec(text);
  if (!m) throw invalid(field, `${field} must be a decimal number with at most 2 decimals, such as "2.5"`);
  return Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
}

/** Hundredths as the score's canonical text: 250 → "2.50". */
export const showScore = (hundredths: number): string => `${Math.floor(hundredths / 100)}.${String(hundredths % 100).padStart(2, '0')}`;

function gradeList(value: unknown, fields: readonly string[]): Input[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_GRADES) throw invalid('grades', `grades must be a list of 1 to ${MAX_GRADES} grades, best first`);
  return value.map((g, i) => {
    if (!isObject(g)) throw invalid(`grades[${i}]`, `grades[${i}] must be an object with ${fields.join(' and ')}`);
    only(g, fields, `grades[${i}].`);
    return g;
  });
}

function codes(grades: Input[]): string[] {
  const seen = new Set<string>();
  return grades.map((g, i) => {
    const field = `grades[${i}].code`;
    if (typeof g.code !== 'string' || !GRADE_CODE.test(g.code)) throw invalid(field, `${field} must be 1 to 32 lower-case letters, digits or _, starting with a letter`);
    if (seen.has(g.code)) throw invalid(field, `there is already a grade ${g.code}`);
    seen.add(g.code);
    return g.code;
  });
}

function validateRfm(input: Input): RfmScheme {
  only(input, ['kind', 'windowMonths', 'quantiles', 'weights', 'grades'], '');
  const windowMonths = Number(integerIn(input.windowMonths, 1n, BigInt(MAX_WINDOW_MONTHS), 'windowMonths'));
  const quantiles = Number(integerIn(input.quantiles, BigInt(MIN_QUANTILES), BigInt(MAX_QUANTILES), 'quantiles'));
  if (!isObject(input.weights)) throw invalid('weights', 'weights must be an object with recency, frequency and monetary');
  only(input.weights, ['recency', 'frequency', 'monetary'], 'weights.');
  const weight = (name: keyof RfmWeights) => Number(integerIn((input.weights as Input)[name], 0n, BigInt(MAX_WEIGHT), `weights.${name}`));
  const weights = { recency: weight('recency'), frequency: weight('frequency'), monetary: weight('monetary') };
  if (weights.recency + weights.frequency + weights.monetary === 0) throw invalid('weights', 'at least one weight must be above 0');
  const list = gradeList(input.grades, ['code', 'minScore']);
  const code = codes(list);
  let previous = Infinity;
  const grades = list.map((g, i) => {
    const field = `grades[${i}].minScore`;
    const min = scoreHundredths(g.minScore, field);
    if (min > quantiles * 100) throw invalid(field, `${field} must be at most ${quantiles}: no weighted score is higher`);
    if (min >= previous) throw invalid(field, `${field} must be below the grade before it (${showScore(previous)})`);
    previous = min;
    return { code: code[i]!, minScore: showScore(min) };
  });
  if (previous !== 0) throw invalid(`grades[${list.length - 1}].minScore`, `grades[${list.length - 1}].minScore must be 0: the last grade is every member the others leave`);
  return { kind: 'rfm', windowMonths, quantiles, weights, grades };
}

// Only a literal `true` is known to hold for everyone without evaluating anything; a grade after it could never be given.
const ALWAYS = /^\s*true\s*$/;

function validateExpression(input: Input): ExpressionScheme {
  only(input, ['kind', 'grades'], '');
  const list = gradeList(input.grades, ['code', 'condition']);
  const code = codes(list);
  const grades = list.map((g, i) => {
    const field = `grades[${i}].condition`;
    const condition = g.condition;
    if (typeof condition !== 'string' || condition.trim() === '' || condition.length > MAX_CONDITION) {
      throw invalid(field, `${field} must be a CEL condition of 1 to ${MAX_CONDITION} characters`);
    }
    storableText(condition, field);
    checkGradeCondition(condition, field);
    if (ALWAYS.test(condition) && i < list.length - 1) throw invalid(field, `${field} is always true: only the last grade may be, the grades after it could never be given`);
    return { code: code[i]!, condition };
  });
  return { kind: 'expression', grades };
}

/** Checks a grading scheme as a client wrote it and returns it normalised; every problem names its field. */
export function validateGrading(input: unknown): GradingScheme {
  if (!isObject(input)) throw invalid('grading', 'a grading scheme is an object');
  if (input.kind === 'rfm') return validateRfm(input);
  if (input.kind === 'expression') return validateExpression(input);
  throw invalid('kind', 'kind must be rfm or expression');
}
