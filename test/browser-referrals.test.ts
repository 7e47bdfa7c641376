// The Referrals page and the portal's referral link in a real browser, on the demo tenant: a
// marketer turns referrals on from the console, friends join with Alice's code (one qualifies, one
// is her own plus-address), the page shows the funnel and the referrals with their states and
// reasons; a viewer reads it on a phone without the means to change it; Alice sees her link in
// the portal. Every page: no console error, axe-core clean, a screenshot.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { check, hasChromium, laptop, openBrowserLaurel, phone, signIn, tab, type BrowserLaurel } from './support/browser.js';

let t: BrowserLaurel;
let browser: Browser;

beforeAll(async () => {
  if (!hasChromium) return;
  t = await openBrowserLaurel();
  ({ browser } = t);
});
afterAll(async () => { await t?.close(); });

describe.skipIf(!hasChromium)('referrals in the console and the portal', () => {
  it('a marketer turns referrals on, and the page shows the funnel, states and reasons', async () => {
    const context = await browser.newContext(laptop);
    const page = await tab(context);
    await signIn(page, t.base, 'marketer');
    await page.getByRole('link', { name: 'Referrals' }).click();
    await page.getByRole('heading', { name: 'Settings' }).waitFor();
    await page.getByText('Referrals are not set up for this program yet.').waitFor();
    await check(page, 'console-referrals-empty');

    await page.getByLabel('Link base URL').fill('https://coffee.example/join');
    await page.getByLabel(/Qualifying condition/).fill('event.type == "purchase" && order.total >= 2000');
    await page.getByLabel('Points for the referrer').fill('500');
    await page.getByLabel('Points for the friend').fill('250');
    await page.getByLabel('Cap per period').fill('10');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved.').waitFor();
    const saved = await t.api('GET', `/v1/programs/${t.programId}/referral-settings`);
    expect(saved.json).toMatchObject({ enabled: true, linkBaseUrl: 'https://coffee.example/join', referrer: { points: 500 }, referee: { points: 250 }, caps: { perPeriod: { count: 10, period: 'month' } } });

    // a bad condition is refused, naming the field
    await page.getByLabel(/Qualifying condition/).fill('order.total >=');
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('condition');
    // the browser logs the refused request; that 400 is the one expected here, nothing else
    expect(page.errors.splice(0)).toEqual([expect.stringContaining('status of 400')]);

    const alice = t.member('Alice');
    const code = (await t.api('GET', `/v1/members/${alice}/referral`)).json.code as string;
    const frank = (await t.api('POST', '/v1/members', { programId: t.programId, email: 'frank@example.com', referralCode: code })).json.memberId as string;
    await t.api('POST', '/v1/events', { programId: t.programId, memberId: frank, type: 'purchase', externalId: 'frank-1', lines: [{ sku: 'BEANS', quantity: 1, unitPrice: 2400 }] });
    await t.api('POST', '/v1/members', { programId: t.programId, email: 'alice+again@example.com', referralCode: code });

    await page.reload();
    await expect.poll(() => page.getByTestId('referrals.joined').textContent()).toBe('2');
    expect(await page.getByTestId('referrals.qualified').textContent()).toBe('1');
    expect(await page.getByTestId('referrals.pointsPaid').textContent()).toBe('750');
    await expect.poll(() => page.getByTestId('referral-row').count()).toBe(2);
    await page.getByLabel('State').selectOption('rejected');
    await expect.poll(() => page.getByTestId('referral-row').count()).toBe(1);
    expect(await page.getByTestId('referral-row').textContent()).toContain('Self-referral');
    await check(page, 'console-referrals');
    await context.close();
  });

  it('a viewer reads the page on a phone and cannot change the settings', async () => {
    const context = await browser.newContext(phone);
    const page = await tab(context);
    await signIn(page, t.base, 'viewer');
    await page.goto(`${t.base}/console/referrals`);
    await page.getByRole('heading', { name: 'Settings' }).waitFor();
    await expect.poll(() => page.getByRole('button', { name: 'Save' }).isDisabled()).toBe(true);
    await check(page, 'console-referrals-phone');
    await context.close();
  });

  it("Alice sees her referral link in the portal", async () => {
    const alice = t.member('Alice');
    const { json: token } = await t.api('POST', `/v1/members/${alice}/tokens`, { ttlSeconds: 600 });
    const code = (await t.api('GET', `/v1/members/${alice}/referral`)).json.code as string;
    const context = await browser.newContext(phone);
    const portal = await tab(context);
    await portal.goto(`${t.base}/portal#token=${token.token as string}`);
    await portal.getByRole('heading', { name: 'Invite a friend' }).waitFor();
    expect(await portal.getByTestId('portal-referral-link').textContent()).toBe(`https://coffee.example/join?ref=${code}`);
    expect(await portal.getByTestId('portal-referral-code').textContent()).toBe(code);
    await check(portal, 'portal-referral');
    await context.close();
  });
});
