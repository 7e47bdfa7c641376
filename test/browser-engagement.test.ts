// The Engagement page in a real browser, on the demo tenant with a recognition program beside the
// coffee program: an owner approves a gift waiting for a manager and sees the leaderboard follow,
// reads the NPS of the month and the comments, opens a household's journal (a return taken back
// from the pool among its rows); the page on a phone; an employee's portal lists the recognition
// they received, a customer's shows none.
// Every view passes check(): no console error, no serious or critical axe violation, a screenshot.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { check, hasChromium, laptop, openBrowserLaurel, phone, signIn, tab, type BrowserLaurel } from './support/browser.js';

let t: BrowserLaurel;
let browser: Browser;
let base: string;
let staff: string[] = [];

async function ok(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const r = await t.api(method, path, body);
  expect(r.status, JSON.stringify(r.json)).toBeLessThan(300);
  return r.json;
}

beforeAll(async () => {
  if (!hasChromium) return;
  t = await openBrowserLaurel();
  ({ browser, base } = t);
  // a recognition program with three employees, a month's allowance, a gift given and one waiting
  const kudos = (await ok('POST', '/v1/programs', {
    name: 'Kudos', enrollmentMode: 'opt_in', returnWindowDays: 0, expiry: { kind: 'none' }, negativeBalance: 'write_off',
    wallets: [{ code: 'points', kind: 'redeemable' }, { code: 'giving', kind: 'qualifying' }],
  })).programId as string;
  await ok('PUT', `/v1/programs/${kudos}/recognition`, { allowance: 500, period: 'month', maxGift: 300, approvalThreshold: 200, values: ['teamwork', 'ownership'] });
  staff = [];
  for (const name of ['ines', 'omar', 'lea']) staff.push((await ok('POST', '/v1/members', { programId: kudos, externalId: name })).memberId as string);
  await ok('POST', `/v1/programs/${kudos}/recognition/allowances`);
  await ok('POST', `/v1/members/${staff[0]}/gifts`, { receiverId: staff[1], amount: 120, message: 'Thanks for the Saturday shift', value: 'teamwork' });
  await ok('POST', `/v1/members/${staff[2]}/gifts`, { receiverId: staff[0], amount: 250, message: 'Fixed the till outage', value: 'ownership' });
  // survey answers from the coffee program's members
  const scores: [string, number, string][] = [['Alice', 10, 'The app is quick'], ['Bob', 4, 'Queue too long at noon'], ['Carol', 8, '']];
  for (const [name, score, comment] of scores) {
    await ok('POST', '/v1/events', { programId: t.programId, memberId: t.member(name), externalId: `survey-${name}`, type: 'survey_response', channel: 'app', attributes: comment ? { score, comment } : { score } });
  }
  // a household
  const household = (await ok('POST', '/v1/households', { programId: t.programId, name: 'The Martins' })).householdId as string;
  await ok('PUT', `/v1/households/${household}/members/${t.member('Bob')}`, { canSpend: true });
  await ok('PUT', `/v1/households/${household}/members/${t.member('Carol')}`, { canSpend: false });
  await ok('POST', `/v1/households/${household}/redemptions`, { memberId: t.member('Bob'), amount: 20, ref: 'order-1' });
  // Carol buys into the pool, then brings it back: the pool gives the points back
  await ok('POST', '/v1/events', { programId: t.programId, memberId: t.member('Carol'), externalId: 'order-hh-1', type: 'purchase', currency: 'EUR',
    lines: [{ sku: 'BEANS-1KG', category: 'coffee', quantity: 1, unitPrice: 2000 }] });
  await ok('POST', '/v1/events', { programId: t.programId, externalId: 'return-hh-1', type: 'return', purchaseExternalId: 'order-hh-1', lines: [{ sku: 'BEANS-1KG', quantity: 1 }] });
});

afterAll(async () => { await t?.close(); });

describe.skipIf(!hasChromium)('the Engagement page', () => {
  it('an owner approves a waiting gift, reads the NPS and its comments, and opens a household\'s journal', async () => {
    const context = await browser.newContext(laptop);
    const page = await tab(context);
    await signIn(page, base, 'owner');
    await page.getByRole('link', { name: 'Engagement' }).click();
    await page.getByRole('heading', { name: 'Engagement' }).waitFor();
    // the coffee program is no recognition program
    await page.getByText('This program is not a recognition program.', { exact: false }).waitFor();
    await check(page, 'console-engagement-not-recognition');

    await page.getByLabel('Program').selectOption({ label: 'Kudos' });
    await page.getByRole('heading', { name: 'Gifts waiting for approval' }).waitFor();
    const waiting = page.locator('tbody tr', { hasText: 'Fixed the till outage' });
    await waiting.waitFor();
    await expect.poll(() => page.locator('table').last().locator('tbody tr').allTextContents()).toEqual(['1omar1201']);
    await check(page, 'console-engagement-recognition');
    await waiting.getByRole('button', { name: 'Approve' }).click();
    await page.getByText('No gift is waiting.').waitFor();
    await expect.poll(() => page.locator('table').last().locator('tbody tr').allTextContents()).toEqual(['1ines2501', '2omar1201']);
    // what the page showed, the API holds
    const kudos = ((await t.api('GET', '/v1/recognition-programs')).json.data![0] as { programId: string }).programId;
    expect((await t.api('GET', `/v1/programs/${kudos}/gifts?status=pending`)).json.data).toEqual([]);

    await page.getByLabel('Program').selectOption({ label: 'Demo Rewards' });
    await page.getByRole('tab', { name: 'NPS' }).click();
    await expect.poll(() => page.getByTestId('nps').textContent()).toBe('0');
    await page.getByText('Queue too long at noon').waitFor();
    expect(await page.locator('.comments li').allTextContents()).toEqual([
      expect.stringContaining('4 detractor Queue too long at noon'), expect.stringContaining('10 promoter The app is quick'),
    ]);
    await check(page, 'console-engagement-nps');

    await page.getByRole('tab', { name: 'Households' }).click();
    const row = page.locator('tbody tr', { hasText: 'The Martins' });
    await row.waitFor();
    await row.getByRole('button', { name: 'Journal' }).click();
    await page.getByRole('cell', { name: 'spent' }).waitFor();
    expect(await page.getByRole('cell', { name: 'brought' }).count()).toBe(2);
    // Carol's return, taken back from the pool, beside what she earned
    const returned = page.locator('tbody tr', { has: page.getByRole('cell', { name: 'returned', exact: true }) });
    expect(await returned.count()).toBe(1);
    const earned = page.locator('tbody tr', { has: page.getByRole('cell', { name: 'earned', exact: true }) });
    const digits = async (row: typeof earned) => (await row.locator('td').last().textContent())!.replace(/\D/g, '');
    expect(Number(await digits(earned))).toBeGreaterThan(0);
    expect(await digits(returned)).toBe(await digits(earned));
    await check(page, 'console-engagement-households');
    await context.close();
  });

  it("an employee's portal lists the recognition they received; a customer's portal shows none", async () => {
    const context = await browser.newContext(phone);
    const omar = await tab(context);
    const token = (await ok('POST', `/v1/members/${staff[1]}/tokens`, { ttlSeconds: 3600 })).token as string;
    await omar.goto(`${base}/portal#token=${token}`);
    const received = omar.getByRole('region', { name: 'Recognition from your colleagues' });
    await received.waitFor();
    expect(await received.getByRole('listitem').allTextContents()).toEqual([expect.stringContaining('Thanks for the Saturday shift · teamwork+120')]);
    await check(omar, 'portal-recognition');
    const alice = await tab(context);
    const aliceToken = (await ok('POST', `/v1/members/${t.member('Alice')}/tokens`, { ttlSeconds: 3600 })).token as string;
    await alice.goto(`${base}/portal#token=${aliceToken}`);
    await alice.getByTestId('portal-available').waitFor();
    await alice.waitForLoadState('networkidle');
    expect(await alice.getByRole('region', { name: 'Recognition from your colleagues' }).count()).toBe(0);
    await context.close();
  });

  it('works on a phone', async () => {
    const context = await browser.newContext(phone);
    const page = await tab(context);
    await signIn(page, base, 'viewer');
    await page.goto(`${base}/console/engagement`);
    await page.getByRole('tab', { name: 'NPS' }).click();
    await page.getByTestId('nps').waitFor();
    await check(page, 'phone-console-engagement');
    await context.close();
  });
});
