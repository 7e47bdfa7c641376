// The Memberships page in a real browser, on the demo tenant: a marketer creates a plan with the
// form; Bob's co-op membership (paid through the payment-event API) shows with its state; support
// opens its history and fees and cancels it at once; on a phone the page still reads and passes
// the same checks (no console error, axe-core, a screenshot). Bob's Gold pass shows in his portal
// with the tier it holds him on.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { check, hasChromium, laptop, openBrowserLaurel, phone, signIn, tab, type BrowserLaurel } from './support/browser.js';

let t: BrowserLaurel;
let browser: Browser;
let base: string;

beforeAll(async () => {
  if (!hasChromium) return;
  t = await openBrowserLaurel();
  ({ browser, base } = t);
  const plan = await t.api('POST', '/v1/membership-plans', {
    programId: t.programId, code: 'co-op', name: 'Co-op lifetime membership', fee: 2000, currency: 'EUR', period: 'lifetime', benefits: { percentBack: '10', flags: ['member_prices'] },
  });
  expect(plan.status).toBe(201);
  const paid = await t.api('POST', '/v1/membership-payments', {
    programId: t.programId, provider: 'till', eventId: 'till-7-311', type: 'paid', memberId: t.member('Bob'), planId: plan.json.planId,
    externalId: 'coop-bob', amount: 2000, currency: 'EUR', occurredAt: t.laurel.clock.now().toISOString(),
  });
  expect(paid.status).toBe(200);
});

afterAll(async () => { await t?.close(); });

describe.skipIf(!hasChromium)('the Memberships page', () => {
  it('a marketer creates a plan; support sees the co-op membership, its history and fee, and cancels it', async () => {
    const context = await browser.newContext(laptop);
    const page = await tab(context);
    await page.goto(`${base}/console`);
    await signIn(page, base, 'marketer');
    await page.getByRole('link', { name: 'Memberships' }).click();
    await page.getByRole('heading', { name: 'Memberships', level: 1 }).waitFor();
    await page.getByRole('cell', { name: 'co-op', exact: true }).first().waitFor();
    await page.getByLabel('Code').fill('delivery-pass');
    await page.getByLabel('Name').fill('Delivery pass');
    await page.getByLabel('Fee (minor units, e.g. cents)').fill('499');
    await page.getByLabel('Trial days').fill('14');
    await page.getByLabel('Earn multiplier').fill('2');
    await page.getByLabel('Flags (comma-separated)').fill('free_shipping');
    await page.getByRole('button', { name: 'Create plan' }).click();
    await page.getByRole('cell', { name: 'delivery-pass', exact: true }).waitFor();
    expect(await page.locator('tr', { hasText: 'delivery-pass' }).textContent()).toContain('×2, free_shipping');
    const plans = await t.api('GET', `/v1/membership-plans?programId=${t.programId}`);
    expect((plans.json.data as { code: string; trialDays: number }[]).find((p) => p.code === 'delivery-pass')).toMatchObject({ trialDays: 14 });
    await check(page, 'console-memberships');
    await context.close();

    const support = await browser.newContext(laptop);
    const p2 = await tab(support);
    await p2.goto(`${base}/console`);
    await signIn(p2, base, 'support');
    await p2.getByRole('link', { name: 'Memberships' }).click();
    await p2.getByRole('button', { name: 'Active: show history' }).click();
    await p2.getByTestId('membership-status').waitFor();
    expect(await p2.getByTestId('membership-status').textContent()).toBe('Active — benefits apply');
    await p2.getByRole('cell', { name: 'till:paid' }).waitFor();
    expect(await p2.locator('.card tbody tr', { hasText: 'for life' }).first().textContent()).toContain('20');
    await check(p2, 'console-membership-history');
    await p2.getByRole('button', { name: 'Cancel now' }).click();
    await expect.poll(() => p2.getByTestId('membership-status').textContent()).toBe('Cancelled — no benefits');
    await p2.getByRole('cell', { name: 'cancel at once' }).waitFor();
    const list = await t.api('GET', `/v1/memberships?programId=${t.programId}`);
    expect((list.json.data as { status: string }[])[0]).toMatchObject({ status: 'cancelled', entitled: false });
    await support.close();
  });

  it("a member sees their membership and the tier it holds in the portal; the plan's tier and included rewards show in the console", async () => {
    const coffee = await t.api('POST', `/v1/programs/${t.programId}/rewards`, { code: 'pass-coffee', name: 'Pass coffee', cost: 100, value: { type: 'free_product', sku: 'LATTE' } });
    expect(coffee.status, JSON.stringify(coffee.json)).toBe(201);
    const plan = await t.api('POST', '/v1/membership-plans', {
      programId: t.programId, code: 'gold-pass', name: 'Gold pass', fee: 999, currency: 'EUR', period: 'monthly',
      benefits: { tier: 'gold', flags: ['free_shipping'], includedRewards: [{ rewardId: coffee.json.rewardId, quantity: 2 }] },
    });
    expect(plan.status).toBe(201);
    const bob = t.member('Bob');
    const paid = await t.api('POST', '/v1/membership-payments', {
      programId: t.programId, provider: 'till', eventId: 'till-7-312', type: 'paid', memberId: bob, planId: plan.json.planId,
      externalId: 'gold-bob', amount: 999, currency: 'EUR', occurredAt: t.laurel.clock.now().toISOString(),
    });
    expect(paid.status).toBe(200);
    const { json: token } = await t.api('POST', `/v1/members/${bob}/tokens`, { ttlSeconds: 600 });
    const context = await browser.newContext(phone);
    const portal = await tab(context);
    await portal.goto(`${base}/portal#token=${token.token as string}`);
    await portal.getByRole('heading', { name: 'Your membership: Gold pass' }).waitFor();
    expect(await portal.getByTestId('portal-membership-status').textContent()).toMatch(/^Active — benefits until /);
    await portal.getByRole('heading', { name: 'Your tier: Gold' }).waitFor();
    expect(await portal.getByTestId('portal-tier-held').textContent()).toBe('Your membership gives you Gold while it lasts.');
    await check(portal, 'portal-membership');
    await context.close();

    const owner = await browser.newContext(laptop);
    const page = await tab(owner);
    await page.goto(`${base}/console`);
    await signIn(page, base, 'owner');
    await page.goto(`${base}/console/memberships`);
    await page.getByRole('cell', { name: 'Gold pass', exact: true }).waitFor();
    expect(await page.locator('tr', { hasText: 'Gold pass' }).textContent()).toContain('at least gold, 2 rewards each period, free_shipping');
    await owner.close();
  });

  it('reads on a phone, in Turkish too', async () => {
    const context = await browser.newContext(phone);
    const page = await tab(context);
    await page.goto(`${base}/console`);
    await signIn(page, base, 'owner');
    await page.goto(`${base}/console/memberships`);
    await page.getByRole('heading', { name: 'Memberships', level: 1 }).waitFor();
    await page.getByRole('cell', { name: 'co-op', exact: true }).first().waitFor();
    await check(page, 'console-memberships-phone');
    await page.getByLabel('Language').selectOption('tr');
    await page.getByRole('heading', { name: 'Üyelikler', level: 1 }).waitFor();
    await check(page, 'console-memberships-tr');
    await context.close();
  });
});
