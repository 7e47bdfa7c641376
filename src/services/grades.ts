// Customer grades: a program's grading scheme (RFM or CEL conditions, core/grades), grading on
// demand and by the daily job, a member's grade history, and the count of members per grade.
//
// A grading run writes only the grades that change, each with a history row, so running it twice
// changes nothing, and two workers grading one program take turns on the scheme's row lock. RFM
// ranks members against each other, so a program is graded in one statement; an expression
// scheme grades each member on their own stats, a chunk of members per transaction.
import { DomainError, notFound } from '../core/errors.js';
import { gradeByExpression } from '../core/grades/expression.js';
import { validateGrading, type ExpressionScheme, type GradingScheme } from '../core/grades/grading.js';
import {
  deleteSchemeRow, gradeCounts, gradeHistoryRows, gradeProgramByRfm, loadScheme, lockScheme, programsWithScheme, saveScheme, statsChunk,
  writeGrades, type GradeChange, type GradingCounts,
} from '../db/grades.js';
import type { Trx } from '../db/ledger.js';
import type { Laurel } from './context.js';
import { writeOnce } from './idempotency.js';
import { getMember } from './members.js';
import { getProgram } from './tenants.js';

/** Members per transaction under an expression scheme. */
export const GRADING_CHUNK = 2000;
/** How much of a condition a history row quotes. */
const QUOTED = 200;

export interface Grading {
  programId: string;
  scheme: GradingScheme;
  updatedBy: string;
  updatedAt: Date;
}

export interface GradingRun extends GradingCounts {
  programId: string;
  at: Date;
}

export interface GradeChangeRecord {
  historyId: string;
  memberId: string;
  at: Date;
  fromGrade: string | null;
  toGrade: string | null;
  reason: string;
}

export interface GradeReport {
  programId: string;
  /** whether the program has a grading scheme */
  graded: boolean;
  /** the scheme's grades best first (with 0 members), then any other grade members hold, then null */
  grades: { grade: string | null; members: number }[];
}

export async function getGrading(laurel: Laurel, tenantId: string, programId: string): Promise<Grading> {
  const program = await getProgram(laurel, tenantId, programId);
  const row = await loadScheme(laurel.db, tenantId, program.programId);
  if (!row) throw notFound('grading scheme', 'programId');
  return { programId: program.programId, scheme: row.scheme, updatedBy: row.actor, updatedAt: row.updatedAt };
}

/**
 * Replaces the program's scheme. Grades are not touched until the next run (the daily job, or
 * recompute): a scheme over a large program is saved at once, and graded in the background.
 */
export async function putGrading(laurel: Laurel, tenantId: string, programId: string, input: unknown,
  options: { actor: string; idempotencyKey?: string }): Promise<Grading> {
  const program = await getProgram(laurel, tenantId, programId);
  const scheme = validateGrading(input);
  return writeOnce(laurel, tenantId, options.idempotencyKey, 'put_grading', { programId: program.programId, scheme }, async (trx, now) => {
    await saveScheme(trx, tenantId, program.programId, scheme, options.actor, now);
    return { programId: program.programId, scheme, updatedBy: options.actor, updatedAt: now };
  });
}

/**
 * Removes the scheme: nothing grades the program any more, and members keep the grade they have
 * (rules may still read it; an admin may change it) with their history. A new scheme regrades them.
 */
export async function deleteGrading(laurel: Laurel, tenantId: string, programId: string): Promise<Grading> {
  const current = await getGrading(laurel, tenantId, programId);
  await laurel.db.transaction().execute(async (trx) => {
    // the row lock waits for a grading run in progress, which then finishes with the scheme it began with
    if (await lockScheme(trx, tenantId, current.programId)) await deleteSchemeRow(trx, tenantId, current.programId);
  });
  return current;
}

function expressionChange(scheme: ExpressionScheme, memberId: string, grade: string | null): GradeChange {
  const i = scheme.grades.findIndex((g) => g.code === grade);
  if (i < 0) return { memberId, grade, reason: 'expression: no condition holds' };
  const condition = scheme.grades[i]!.condition;
  const quoted = condition.length > QUOTED ? `${condition.slice(0, QUOTED)}…` : condition;
  return { memberId, grade, reason: `expression: grades[${i}] ${grade} (${quoted})` };
}

/** One chunk of an expression scheme: stats in SQL, conditions here, changes back in one statement. */
async function gradeChunk(trx: Trx, tenantId: string, programId: string, scheme: ExpressionScheme, timeZone: string, after: string | null,
  now: Date): Promise<GradingCounts & { next: string | null }> {
  const members = await statsChunk(trx, tenantId, programId, after, GRADING_CHUNK, now, timeZone);
  const wanted: GradeChange[] = [];
  for (const m of members) {
    const grade = gradeByExpression(scheme, m.stats);
    if (grade !== m.grade) wanted.push(expressionChange(scheme, m.memberId, grade));
  }
  const changed = await writeGrades(trx, tenantId, wanted, now);
  const next = members.length < GRADING_CHUNK ? null : members[members.length - 1]!.memberId;
  return { members: members.length, changed, next };
}

/**
 * Grades the program as of `now`; null when it has no scheme. Each transaction locks the scheme's
 * row first: a second worker waits, then finds the grades written and changes nothing.
 */
async function gradeProgram(laurel: Laurel, tenantId: string, programId: string, now: Date,
  onChunk: (done: GradingCounts) => void = () => {}): Promise<GradingCounts | null> {
  const total: GradingCounts = { members: 0, changed: 0 };
  let after: string | null = null;
  for (let first = true; ; first = false) {
    const step: (GradingCounts & { next: string | null }) | null = await laurel.db.transaction().execute(async (trx) => {
      const found = await lockScheme(trx, tenantId, programId);
      if (!found) return null;
      if (found.scheme.kind === 'rfm') return { ...(await gradeProgramByRfm(trx, tenantId, programId, found.scheme, now, found.timeZone)), next: null };
      return gradeChunk(trx, tenantId, programId, found.scheme, found.timeZone, after, now);
    });
    // the scheme was deleted: before the first chunk, there is nothing to grade; after, the chunks done stay done
    if (!step) return first ? null : total;
    total.members += step.members;
    total.changed += step.changed;
    onChunk(total);
    if (step.next === null) return total;
    after = step.next;
  }
}

/** Grades one program now (POST …/grading/recompute). */
export async function recomputeProgram(laurel: Laurel, tenantId: string, programId: string, now: Date = laurel.clock.now()): Promise<GradingRun> {
  const program = await getProgram(laurel, tenantId, programId);
  const counts = await gradeProgram(laurel, tenantId, program.programId, now);
  if (!counts) throw new DomainError('conflict', 'the program has no grading scheme: PUT one first', 'programId');
  return { programId: program.programId, at: now, ...counts };
}

/** The `grades` job: every program with a scheme, one after the other. */
export async function recomputeAll(laurel: Laurel, now: Date, progress: (membersDone: number) => void = () => {}): Promise<GradingCounts & { programs: number }> {
  const total = { programs: 0, members: 0, changed: 0 };
  for (const p of await programsWithScheme(laurel.db)) {
    const before = total.members;
    const counts = await gradeProgram(laurel, p.tenantId, p.programId, now, (done) => progress(before + done.members));
    if (!counts) continue;
    total.programs++;
    total.members += counts.members;
    total.changed += counts.changed;
  }
  return total;
}

/** A member's grade changes, newest first; limit+1 rows so the caller knows if more follow. */
export async function gradeHistory(laurel: Laurel, tenantId: string, memberId: string, page: { before: string | null; limit: number }): Promise<GradeChangeRecord[]> {
  const member = await getMember(laurel, tenantId, memberId);
  const rows = await gradeHistoryRows(laurel.db, tenantId, member.memberId, page.before, page.limit);
  return rows.map((r) => ({ historyId: r.history_id, memberId: r.member_id, at: r.at, fromGrade: r.from_grade, toGrade: r.to_grade, reason: r.reason }));
}

/** How many active members hold each grade: the report a brand reads, and the check after a new scheme. */
export async function gradeReport(laurel: Laurel, tenantId: string, programId: string): Promise<GradeReport> {
  const program = await getProgram(laurel, tenantId, programId);
  const counts = await gradeCounts(laurel.db, tenantId, program.programId);
  const scheme = await loadScheme(laurel.db, tenantId, program.programId);
  const order = scheme?.scheme.grades.map((g) => g.code) ?? [];
  const held = new Map<string | null, number>(counts.map((c) => [c.grade, c.members]));
  const others = counts.map((c) => c.grade).filter((g): g is string => g !== null && !order.includes(g)).sort();
  const grades: GradeReport['grades'] = [...order, ...others].map((grade) => ({ grade, members: held.get(grade) ?? 0 }));
  if (held.has(null)) grades.push({ grade: null, members: held.get(null)! });
  return { programId: program.programId, graded: scheme !== null, grades };
}
