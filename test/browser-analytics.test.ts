// The Analytics and ROI page and the dashboard's analytics charts in a real browser, on the demo
// tenant: an owner reads the figures and sets the holdout, finance reads without the form, and the
// page works on a phone. Every page visited is checked (no console error, axe-core, a screenshot).
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMember } from '../src/services/members.js';
import { createPlan, recordPayment } from '../src/services/memberships.js';
import { memberReferral, putReferralSettings } from '../src/services/referrals.js';
import { check, hasChromium, laptop, openBrowserLaurel, phone, signIn, tab, type BrowserLaurel } from './support/browser.js';

let t: BrowserLaurel;
let browser: Browser;
let base: string;

beforeAll(async () => {
  if (!hasChromium) return;
  t = await openBrowserLaurel();
  ({ browser, base } = t);
});
afterAll(async () => { await t?.close(); });

describe.skipIf(!hasChromium)('analytics in the console', () => {
  it('an owner sees the dashboard charts, opens Analytics, reads the figures and sets a 10% holdout with a 40% margin', async () => {
    // A friend Alice referred, and Bob's club fee: the demo has neither, the page shows both.
    const { laurel, tenantId, programId } = t;
    await putReferralSettings(laurel, tenantId, programId, {
      enabled: true, linkBaseUrl: 'https://demo.example/join', condition: 'event.type == "purchase"', withinDays: 30, referrer: { points: 100 }, referee: { points: 100 },
    }, { actor: 'test' });
    const code = (await memberReferral(laurel, tenantId, t.member('Alice'))).code!;
    await createMember(laurel, tenantId, { programId, email: 'friend@example.com', referralCode: code });
    const plan = await createPlan(laurel, tenantId, { programId, code: 'analytics-club', name: 'Club', fee: 1000, currency: 'EUR', period: 'monthly', benefits: { flags: [] } });
    await recordPayment(laurel, tenantId, {
      programId, provider: 'till', eventId: 'analytics-fee-1', type: 'paid', externalId: 'bob-club', memberId: t.member('Bob'), planId: plan.planId,
      amount: 1000, currency: 'EUR', occurredAt: laurel.clock.now().toISOString(),
    });
    laurel.clock.set(new Date(laurel.clock.now().getTime() + 60_000));
    const context = await browser.newContext(laptop);
    const page = await tab(context);
    await signIn(page, base, 'owner');
    await page.getByRole('heading', { name: /Dashboard/ }).waitFor();
    // points over time, tiers, members vs control
    await expect.poll(() => page.locator('.chart canvas').count()).toBeGreaterThanOrEqual(3);
    await check(page, 'console-dashboard-analytics');

    await page.getByRole('navigation').getByRole('link', { name: 'Analytics' }).click();
    await page.getByRole('heading', { name: /Analytics and ROI/ }).waitFor();
    const kpis = page.getByTestId('analytics-kpis');
    await kpis.waitFor();
    // the demo's three members and the friend, as the API counts them
    const overview = await t.api('GET', `/v1/programs/${t.programId}/analytics/overview?from=${encodeURIComponent(new Date(Date.now() - 366 * 86_400_000).toISOString())}`);
    expect(overview.json.members).toBe(4);
    expect(await kpis.locator('dd').first().textContent()).toBe('4');
    await expect.poll(() => page.locator('.chart canvas').count()).toBeGreaterThanOrEqual(4);
    await page.getByTestId('roi').waitFor();
    await page.getByTestId('cohorts').locator('tbody tr').first().waitFor();
    expect(await page.getByTestId('program-cost').locator('dd').textContent()).toMatch(/€/);
    // the referral funnel, the NPS and the membership fees, as the API counts them (no member answered a survey)
    const figures = async (testId: string) => page.getByTestId(testId).locator('dd').allTextContents();
    const { referrals, nps, membershipFees } = overview.json as { referrals: { codesShared: number; joined: number }; nps: { score: number | null }; membershipFees: { paid: number } };
    expect(referrals.joined).toBeGreaterThan(0);
    expect((await figures('referral-funnel')).slice(0, 2)).toEqual([String(referrals.codesShared), String(referrals.joined)]);
    expect(nps.score).toBeNull();
    expect((await figures('nps'))[0]).toBe('—');
    expect(membershipFees.paid).toBeGreaterThan(0);
    expect((await figures('membership-fees'))[0]).toBe(`€${(membershipFees.paid / 100).toFixed(2)}`);
    await check(page, 'console-analytics');

    await page.getByLabel('Control group (% of customers)').fill('10');
    await page.getByLabel('Gross margin (%)').fill('40');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').getByText('Saved.').waitFor();
    const settings = await t.api('GET', `/v1/programs/${t.programId}/analytics/settings`);
    expect(settings.json).toMatchObject({ controlShareBp: 1000, grossMarginBp: 4000 });
    // the change is audited under the owner's name
    const audit = await t.api('GET', '/v1/audit-log?path=analytics');
    expect((audit.json.data as { actorName: string }[])[0]!.actorName).toBe('owner@demo.test');
    await context.close();
  });

  it('finance reads the page but has no settings form; on a phone the page is usable', async () => {
    const context = await browser.newContext(phone);
    const page = await tab(context);
    await signIn(page, base, 'finance');
    await page.goto(`${base}/console/analytics`);
    await page.getByTestId('analytics-kpis').waitFor();
    await page.getByTestId('roi').waitFor();
    expect(await page.getByRole('form', { name: 'Holdout and margin' }).count()).toBe(0);
    // nothing wider than the screen but the tables, which scroll inside their own box
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await check(page, 'console-analytics-phone');

    await page.getByRole('combobox', { name: 'Language' }).selectOption('tr');
    await page.getByRole('heading', { name: /Analitik ve yatırım getirisi/ }).waitFor();
    await check(page, 'console-analytics-tr');
    await context.close();
  });
});
