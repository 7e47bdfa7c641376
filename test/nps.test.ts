// Surveys and NPS: survey_response events are validated, stored and earn by rules like any custom
// action; the NPS per period (on the tenant's calendar), channel and segment matches a table
// computed by hand; comments come lowest score first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { categoryOf, npsOf } from '../src/core/engagement/nps.js';
import { createMember } from '../src/services/members.js';
import { ingestEvent } from '../src/services/events.js';
import { getBalance } from '../src/services/ledger.js';
import { npsCommentList, npsReport } from '../src/services/nps.js';
import { createRule } from '../src/services/rules.js';
import { expectVerified, newProgram, openTestLaurel } from './support/laurel.js';

let laurel: Awaited<ReturnType<typeof openTestLaurel>>;
beforeAll(async () => { laurel = await openTestLaurel('2026-03-15T10:00:00Z'); });
afterAll(async () => { await laurel.close(); });

describe('the NPS formula', () => {
  it('is promoters minus detractors over responses, in points, one decimal, half away from zero', () => {
    expect(npsOf({ responses: 0, promoters: 0, passives: 0, detractors: 0 })).toBeNull();
    expect(npsOf({ responses: 3, promoters: 2, passives: 0, detractors: 1 })).toBe(33.3);
    expect(npsOf({ responses: 3, promoters: 1, passives: 0, detractors: 2 })).toBe(-33.3);
    expect(npsOf({ responses: 8, promoters: 1, passives: 6, detractors: 0 })).toBe(12.5);
    expect(npsOf({ responses: 8, promoters: 0, passives: 7, detractors: 1 })).toBe(-12.5);
    expect(npsOf({ responses: 4, promoters: 4, passives: 0, detractors: 0 })).toBe(100);
    expect([0, 6, 7, 8, 9, 10].map(categoryOf)).toEqual(['detractor', 'detractor', 'passive', 'passive', 'promoter', 'promoter']);
  });
});

let serial = 0;

describe('survey responses', () => {
  it('are refused without a whole 0–10 score, and earn by rules when valid', async () => {
    const p = await newProgram(laurel);
    const m = (await createMember(laurel, p.tenantId, { programId: p.programId, externalId: `s-${++serial}` })).memberId;
    await createRule(laurel, p.tenantId, p.programId, { name: 'Thanks for answering', trigger: 'survey_response', effect: { type: 'fixed_points', points: 25 } }, { actor: 'test' });
    const send = (attributes: Record<string, unknown>) => ingestEvent(laurel, p.tenantId, {
      programId: p.programId, memberId: m, type: 'survey_response', externalId: `r-${++serial}`, attributes,
    });
    for (const [attributes, field] of [
      [{}, 'attributes.score'], [{ score: 11 }, 'attributes.score'], [{ score: -1 }, 'attributes.score'], [{ score: 7.5 }, 'attributes.score'],
      [{ score: '9' }, 'attributes.score'], [{ score: 9, comment: 42 }, 'attributes.comment'], [{ score: 9, comment: 'x'.repeat(2001) }, 'attributes.comment'],
    ] as const) {
      await expect(send(attributes)).rejects.toMatchObject({ code: 'validation', field });
    }
    const r = await send({ score: 10, comment: 'Lovely staff' });
    expect(r.event.points).toBe(25n);
    expect(r.event.attributes).toEqual({ score: 10, comment: 'Lovely staff' });
    expect((await getBalance(laurel, p.tenantId, m)).available).toBe(25n);
    await expectVerified(laurel, p.tenantId);
  });
});

describe('the NPS report', () => {
  it('matches a table computed by hand, per month in the tenant\'s zone, channel and segment', async () => {
    const p = await newProgram(laurel, {}, 'America/New_York');
    const member = async (region: string | null) =>
      (await createMember(laurel, p.tenantId, { programId: p.programId, externalId: `n-${++serial}`, attributes: region ? { region } : {} })).memberId;
    const [east, west, none] = [await member('east'), await member('west'), await member(null)];
    // occurredAt in UTC; 2026-02-01T03:00Z is still 31 January in New York.
    const responses: [string, number, string, string, string?][] = [
      [east, 10, 'app', '2026-01-10T15:00:00Z', 'Great app'],
      [east, 9, 'store', '2026-01-20T15:00:00Z'],
      [west, 6, 'app', '2026-01-25T15:00:00Z', 'Slow checkout'],
      [west, 7, 'store', '2026-02-01T03:00:00Z', 'Fine'],
      [none, 3, 'app', '2026-02-10T15:00:00Z', 'Lost my points'],
      [east, 8, 'app', '2026-02-11T15:00:00Z'],
      [west, 10, 'store', '2026-02-12T15:00:00Z', 'Friendly'],
      [none, 0, 'store', '2026-02-13T15:00:00Z', 'Never again'],
    ];
    for (const [m, score, channel, at, comment] of responses) {
      await ingestEvent(laurel, p.tenantId, {
        programId: p.programId, memberId: m, type: 'survey_response', externalId: `q-${++serial}`, channel, occurredAt: at,
        attributes: comment ? { score, comment } : { score },
      });
    }
    const range = { from: new Date('2026-01-01T00:00:00Z'), to: new Date('2026-03-01T00:00:00Z') };
    // By hand. January (NY): 10, 9, 6, 7 → P2 Pa1 D1 → (2−1)/4 = 25. February: 3, 8, 10, 0 → P1 Pa1 D2 → (1−2)/4 = −25.
    // All: P3 Pa2 D3 of 8 → 0.
    const byMonth = await npsReport(laurel, p.tenantId, p.programId, { ...range, period: 'month' });
    expect(byMonth.total).toMatchObject({ responses: 8, promoters: 3, passives: 2, detractors: 3, nps: 0 });
    expect(byMonth.groups.map((g) => [g.period!.toISOString(), g.responses, g.promoters, g.passives, g.detractors, g.nps])).toEqual([
      ['2026-01-01T05:00:00.000Z', 4, 2, 1, 1, 25],
      ['2026-02-01T05:00:00.000Z', 4, 1, 1, 2, -25],
    ]);
    // Channel. app: 10, 6, 3, 8 → P1 Pa1 D2 → −25. store: 9, 7, 10, 0 → P2 Pa1 D1 → 25.
    const byChannel = await npsReport(laurel, p.tenantId, p.programId, { ...range, groupBy: ['channel'] });
    expect(byChannel.groups.map((g) => [g.channel, g.responses, g.nps])).toEqual([['app', 4, -25], ['store', 4, 25]]);
    // Segment (region). east: 10, 9, 8 → P2 Pa1 → 66.7. west: 6, 7, 10 → P1 Pa1 D1 → 0. none: 3, 0 → D2 → −100.
    const bySegment = await npsReport(laurel, p.tenantId, p.programId, { ...range, groupBy: ['segment'], segment: 'region' });
    expect(bySegment.groups.map((g) => [g.segment, g.responses, g.promoters, g.detractors, g.nps])).toEqual([
      ['east', 3, 2, 0, 66.7], ['west', 3, 1, 1, 0], [null, 2, 0, 2, -100],
    ]);
    // Month × channel, the store only (its 7, at 03:00 UTC on 1 February, is 31 January in New York). January: 9, 7 → P1 Pa1 → 50. February: 10, 0 → 0.
    const storeByMonth = await npsReport(laurel, p.tenantId, p.programId, { ...range, channel: 'store', groupBy: ['period', 'channel'] });
    expect(storeByMonth.groups.map((g) => [g.period!.toISOString().slice(0, 10), g.channel, g.responses, g.nps])).toEqual([
      ['2026-01-01', 'store', 2, 50], ['2026-02-01', 'store', 2, 0],
    ]);
    const comments = await npsCommentList(laurel, p.tenantId, p.programId, range);
    expect(comments.map((c) => [c.score, c.comment])).toEqual([
      [0, 'Never again'], [3, 'Lost my points'], [6, 'Slow checkout'], [7, 'Fine'], [10, 'Friendly'], [10, 'Great app'],
    ]);
    expect((await npsCommentList(laurel, p.tenantId, p.programId, { ...range, maxScore: 6 })).map((c) => c.score)).toEqual([0, 3, 6]);
  });

  it('refuses bad parameters naming them', async () => {
    const p = await newProgram(laurel);
    await expect(npsReport(laurel, p.tenantId, p.programId, { period: 'decade' })).rejects.toMatchObject({ field: 'period' });
    await expect(npsReport(laurel, p.tenantId, p.programId, { groupBy: ['segment'] })).rejects.toMatchObject({ field: 'segment' });
    await expect(npsReport(laurel, p.tenantId, p.programId, { groupBy: ['planet'] })).rejects.toMatchObject({ field: 'groupBy[0]' });
    await expect(npsReport(laurel, p.tenantId, p.programId, { from: new Date('2026-02-01'), to: new Date('2026-01-01') })).rejects.toMatchObject({ field: 'to' });
    await expect(npsCommentList(laurel, p.tenantId, p.programId, { minScore: 8, maxScore: 2 })).rejects.toMatchObject({ field: 'maxScore' });
  });
});
