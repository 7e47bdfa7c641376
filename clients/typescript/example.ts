// How a shop's backend uses the client: find a member by card, hold points at checkout, capture
// them with the order. It is compiled by test/openapi-client.test.ts, so a change of the API that
// breaks a caller like this one fails the suite.
import { createLaurelClient, type Problem } from './index.js';

export async function payWithPoints(cardCode: string, points: number, orderId: string): Promise<number | Problem> {
  const laurel = createLaurelClient({ baseUrl: 'http://127.0.0.1:3000', apiKey: process.env.LAUREL_KEY ?? '' });
  const programs = await laurel.GET('/v1/programs');
  if (programs.error) return programs.error;
  const programId = programs.data.data[0]!.programId;

  const member = await laurel.GET('/v1/members/lookup', { params: { query: { programId, cardCode } } });
  if (member.error) return member.error;

  const hold = await laurel.POST('/v1/members/{memberId}/holds', {
    params: { path: { memberId: member.data.memberId }, header: { 'idempotency-key': `${orderId}-hold` } },
    body: { amount: points, ttlSeconds: 900, ref: orderId },
  });
  if (hold.error) return hold.error;

  const captured = await laurel.POST('/v1/holds/{holdId}/capture', {
    params: { path: { holdId: hold.data.hold!.holdId }, header: { 'idempotency-key': `${orderId}-capture` } },
    body: { ref: orderId },
  });
  if (captured.error) return captured.error;
  return captured.data.balances[0]!.available;
}

export async function mistakesTheCompilerCatches(memberId: string): Promise<void> {
  const laurel = createLaurelClient({ baseUrl: 'http://127.0.0.1:3000', apiKey: 'lk_…' });
  // @ts-expect-error points are integers, not strings
  await laurel.POST('/v1/members/{memberId}/redemptions', { params: { path: { memberId }, header: { 'idempotency-key': 'k' } }, body: { amount: '100' } });
  // @ts-expect-error a redemption needs its Idempotency-Key
  await laurel.POST('/v1/members/{memberId}/redemptions', { params: { path: { memberId } }, body: { amount: 100 } });
  // @ts-expect-error no such operation
  await laurel.GET('/v1/members/{memberId}/wallets', { params: { path: { memberId } } });
}
