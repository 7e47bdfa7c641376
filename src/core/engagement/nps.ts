// Surveys and the Net Promoter Score. A `survey_response` event carries a 0–10 score and an
// optional comment in its attributes; it is stored and earns like any custom action. The NPS of a
// group of responses is the share of promoters (9–10) minus the share of detractors (0–6), in
// percentage points, from −100 to 100.
import { invalid } from '../errors.js';

export const SURVEY_RESPONSE = 'survey_response';
export const MAX_COMMENT = 2000;
export const NPS_PERIODS = ['day', 'week', 'month', 'quarter', 'year'] as const;
export type NpsPeriod = (typeof NPS_PERIODS)[number];
export const NPS_DIMENSIONS = ['period', 'channel', 'segment'] as const;
export type NpsDimension = (typeof NPS_DIMENSIONS)[number];

/** Refuses a survey response without a whole 0–10 score, or with a comment that is not text. */
export function checkSurveyResponse(event: { type: string; attributes: Record<string, unknown> }): void {
  if (event.type !== SURVEY_RESPONSE) return;
  const { score, comment } = event.attributes;
  if (typeof score !== 'number' || !Number.isInteger(score) || score < 0 || score > 10) {
    throw invalid('attributes.score', 'a survey_response needs attributes.score, a whole number from 0 to 10');
  }
  if (comment !== undefined && comment !== null && (typeof comment !== 'string' || comment.length > MAX_COMMENT)) {
    throw invalid('attributes.comment', `attributes.comment must be text of at most ${MAX_COMMENT} characters`);
  }
}

export type Category = 'promoter' | 'passive' | 'detractor';

export const categoryOf = (score: number): Category => (score >= 9 ? 'promoter' : score >= 7 ? 'passive' : 'detractor');

export interface NpsCounts {
  responses: number;
  promoters: number;
  passives: number;
  detractors: number;
}

/** (promoters − detractors) / responses × 100, rounded to one decimal (half away from zero); null with no responses. */
export function npsOf(c: NpsCounts): number | null {
  if (c.responses === 0) return null;
  const tenths = (1000 * (c.promoters - c.detractors)) / c.responses;
  return (Math.sign(tenths) * Math.round(Math.abs(tenths))) / 10;
}
