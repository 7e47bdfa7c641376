// The console, the portal and the widget in a real browser (Debian's chromium driven by
// playwright-core), on the demo tenant: the flows of a program manager, support, a member and a
// shop page. Every page visited must log no console error and pass axe-core with no serious or
// critical violation; a screenshot of each lands in test-artifacts/screenshots/.
import { createServer } from 'node:http';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { check, hasChromium, laptop, openBrowserLaurel, phone, signIn as signInAs, tab, type BrowserLaurel } from './support/browser.js';
import type { Page } from 'playwright-core';
import type { Role } from '../src/services/users.js';

let t: BrowserLaurel;
let browser: Browser;
let base: string;
let programId: string;
let alice: string;
let api: BrowserLaurel['api'];

beforeAll(async () => {
  if (!hasChromium) return;
  t = await openBrowserLaurel();
  ({ browser, base, programId, api } = t);
  alice = t.member('Alice');
});

afterAll(async () => { await t?.close(); });

const signIn = (page: Page, role: Role) => signInAs(page, base, role);

describe.skipIf(!hasChromium)('the console in a browser', () => {
  it('an owner signs in, sees the dashboard with its charts, finds Alice by her card, gives her 100 points with a reason, and sees the journal and the audit log', async () => {
    const context = await browser.newContext(laptop);
    const page = await tab(context);
    await page.goto(`${base}/console`);
    await page.getByRole('heading', { name: 'Sign in to Laurel' }).waitFor();
    await check(page, 'console-sign-in');
    await signIn(page, 'owner');

    await page.getByRole('heading', { name: /Dashboard/ }).waitFor();
    await page.locator('.chart canvas').first().waitFor();
    expect(await page.locator('.chart canvas').count()).toBeGreaterThanOrEqual(2);
    await expect.poll(() => page.locator('.kpi dd').first().textContent()).toBe('3');
    await check(page, 'console-dashboard');

    await page.getByRole('link', { name: 'Members', exact: true }).click();
    await page.getByRole('searchbox').fill('CARD-0001');
    await page.getByRole('button', { name: 'Find' }).click();
    await page.getByRole('heading', { name: 'alice' }).waitFor();
    const before = Number((await page.getByTestId('available').textContent())!.replace(/\D/g, ''));
    await page.getByLabel('Points (negative to remove)').fill('100');
    await page.getByLabel('Reason').fill('goodwill: cold latte');
    await page.getByRole('button', { name: 'Adjust', exact: true }).click();
    await page.getByText('Points adjusted.').waitFor();
    await expect.poll(async () => Number((await page.getByTestId('available').textContent())!.replace(/\D/g, ''))).toBe(before + 100);
    await expect.poll(() => page.locator('tbody tr').first().textContent()).toContain('goodwill: cold latte');
    await check(page, 'console-member');

    await page.getByRole('link', { name: 'Audit log' }).click();
    const row = page.locator('tbody tr', { hasText: `/v1/members/${alice}/adjustments` });
    await row.waitFor();
    expect(await row.textContent()).toContain('owner@demo.test');
    await check(page, 'console-audit-log');

    await page.getByRole('link', { name: 'Rewards' }).click();
    await page.getByRole('cell', { name: 'A free large latte' }).waitFor();
    await check(page, 'console-rewards');
    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByRole('cell', { name: 'viewer@demo.test' }).waitFor();
    await check(page, 'console-users');
    expect(await page.getByRole('navigation').getByRole('link').allTextContents())
      .toEqual(['Dashboard', 'Analytics', 'Members', 'Program', 'Rules', 'Campaigns', 'Tiers', 'Grades', 'Rewards', 'Referrals', 'Achievements', 'Memberships', 'Engagement', 'Audit log', 'Users', 'Webhooks', 'Jobs', 'API keys', 'Accounting']);

    await page.getByRole('link', { name: 'Program' }).click();
    await page.getByRole('cell', { name: 'Gold', exact: true }).waitFor();
    await check(page, 'console-program');
    await page.getByRole('link', { name: 'Webhooks' }).click();
    await page.getByText('No webhook endpoints yet.').waitFor();
    await check(page, 'console-webhooks');
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByLabel('Name').fill('store 12 till 3');
    await page.getByRole('button', { name: 'Create key' }).click();
    const secret = (await page.getByTestId('new-key').textContent())!;
    expect((await fetch(`${base}/v1/tenant`, { headers: { authorization: `Bearer ${secret}` } })).status).toBe(200);
    await page.getByRole('cell', { name: 'store 12 till 3' }).waitFor();
    await check(page, 'console-api-keys');
    await context.close();
  });

  it('a marketer writes a rule with a CEL error, sees where it is, fixes it, creates the rule and dry-runs it as a chart', async () => {
    const context = await browser.newContext(laptop);
    const page = await tab(context);
    await signIn(page, 'marketer');
    await page.getByRole('link', { name: 'Rules' }).click();
    await page.getByLabel('Name').fill('Gold weekend bonus');
    await page.getByLabel('Condition (CEL)').fill('member.tierr == "gold"');
    const error = page.getByTestId('cel-error');
    await error.waitFor();
    expect(await error.textContent()).toContain('Line 1, column 8: No such key: tierr');
    expect(await page.getByRole('button', { name: 'Create rule' }).isDisabled()).toBe(true);
    await page.getByLabel('Condition (CEL)').fill('member.tier == "gold"');
    await page.getByTestId('cel-ok').waitFor();
    await page.getByRole('button', { name: 'Create rule' }).click();
    const dryRun = page.getByTestId('dry-run');
    await dryRun.locator('canvas').waitFor();
    expect(await dryRun.textContent()).toMatch(/“Gold weekend bonus”.*\d+ events, the rule fires on \d+: \d+ points/);
    await page.getByRole('cell', { name: 'Gold weekend bonus', exact: true }).waitFor();
    await check(page, 'console-rules');
    await context.close();
  });

  it('each role sees only what it may do, and the API refuses the rest', async () => {
    const expected: Record<Exclude<Role, 'owner'>, { nav: string[]; adjust: boolean; newRule: boolean }> = {
      marketer: { nav: ['Dashboard', 'Analytics', 'Members', 'Program', 'Rules', 'Campaigns', 'Tiers', 'Grades', 'Rewards', 'Referrals', 'Achievements', 'Memberships', 'Engagement'], adjust: false, newRule: true },
      support: { nav: ['Dashboard', 'Analytics', 'Members', 'Program', 'Rules', 'Campaigns', 'Tiers', 'Grades', 'Rewards', 'Referrals', 'Achievements', 'Memberships', 'Engagement'], adjust: true, newRule: false },
      finance: { nav: ['Dashboard', 'Analytics', 'Members', 'Program', 'Rules', 'Campaigns', 'Tiers', 'Grades', 'Rewards', 'Referrals', 'Achievements', 'Memberships', 'Engagement', 'Audit log', 'Accounting'], adjust: false, newRule: false },
      viewer: { nav: ['Dashboard', 'Analytics', 'Members', 'Program', 'Rules', 'Campaigns', 'Tiers', 'Grades', 'Rewards', 'Referrals', 'Achievements', 'Memberships', 'Engagement', 'Accounting'], adjust: false, newRule: false },
    };
    for (const [role, want] of Object.entries(expected) as [Exclude<Role, 'owner'>, typeof expected.viewer][]) {
      const context = await browser.newContext(laptop);
      const page = await tab(context);
      await signIn(page, role);
      expect(await page.getByRole('navigation').getByRole('link').allTextContents(), role).toEqual(want.nav);
      await page.goto(`${base}/console/members/${alice}`);
      await page.getByRole('heading', { name: 'alice' }).waitFor();
      await page.getByRole('heading', { name: 'Journal' }).waitFor();
      expect(await page.getByRole('heading', { name: 'Adjust points' }).count(), role).toBe(want.adjust ? 1 : 0);
      await check(page, `console-member-as-${role}`);
      await page.getByRole('link', { name: 'Rules' }).click();
      await page.getByRole('cell', { name: '1 point per euro', exact: true }).waitFor();
      expect(await page.getByRole('heading', { name: 'New purchase rule' }).count(), role).toBe(want.newRule ? 1 : 0);
      // what the console hides, the API refuses: an adjustment straight from the page, with the session's cookie and CSRF token
      const status = await page.evaluate(async ({ memberId }) => {
        const session = await (await fetch('/v1/session')).json() as { csrfToken: string };
        const r = await fetch(`/v1/members/${memberId}/adjustments`, {
          method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrfToken, 'idempotency-key': crypto.randomUUID() },
          body: JSON.stringify({ amount: 1, reason: `tried by a ${document.querySelector('[data-testid=role]')?.textContent}` }),
        });
        return r.status;
      }, { memberId: alice });
      expect(status, role).toBe(want.adjust ? 201 : 403);
      await context.close();
    }
  });

  it('switches to Turkish, and the choice stays', async () => {
    const context = await browser.newContext(laptop);
    const page = await tab(context);
    await signIn(page, 'owner');
    await page.getByRole('combobox', { name: 'Language' }).selectOption('tr');
    await page.getByRole('link', { name: 'Üyeler' }).waitFor();
    await page.getByRole('heading', { name: /Gösterge paneli/ }).waitFor();
    // the figures come with the analytics report, after the heading
    await expect.poll(() => page.getByText('Aktif üyeler').count()).toBe(1);
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('tr');
    await page.reload();
    await page.getByRole('link', { name: 'Kullanıcılar' }).waitFor();
    await page.locator('.chart canvas').first().waitFor();
    await check(page, 'console-dashboard-tr');
    await context.close();
  });
});

describe.skipIf(!hasChromium)('the member portal and the widget in a browser', () => {
  it('a new reward is redeemed in the portal on a phone, and its code validates over the API', async () => {
    const reward = await api('POST', `/v1/programs/${programId}/rewards`, { code: 'laurel-mug', name: 'A Laurel mug', value: { type: 'free_product', sku: 'MUG' }, cost: 50 });
    expect(reward.status, JSON.stringify(reward.json)).toBe(201);
    const { json: token } = await api('POST', `/v1/members/${alice}/tokens`, { ttlSeconds: 3600 });
    const { json: balances } = await api('GET', `/v1/members/${alice}/balances`);
    const available = (balances.data as { wallet: string; available: number }[]).find((b) => b.wallet === 'points')!.available;

    const context = await browser.newContext(phone);
    const page = await tab(context);
    await page.goto(`${base}/portal`);
    await page.getByRole('heading', { name: 'Open your rewards' }).waitFor();
    await check(page, 'portal-sign-in');
    await page.close();
    // the link the brand's site gives its member: the token in the fragment
    const portal = await tab(context);
    await portal.goto(`${base}/portal#token=${token.token as string}`);
    await expect.poll(() => portal.getByTestId('portal-available').textContent()).toBe(new Intl.NumberFormat('en-GB').format(available));
    await portal.getByRole('heading', { name: /Your tier/ }).waitFor();
    await portal.getByRole('heading', { name: 'A Laurel mug' }).waitFor();
    await check(portal, 'portal-home');

    await portal.getByRole('listitem').filter({ hasText: 'A Laurel mug' }).getByRole('button', { name: 'Redeem' }).click();
    const code = (await portal.getByTestId('voucher-code').textContent())!;
    expect(code).toMatch(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);
    await portal.locator('.qr svg').waitFor();
    await expect.poll(() => portal.getByTestId('portal-available').textContent()).toBe(new Intl.NumberFormat('en-GB').format(available - 50));
    await check(portal, 'portal-redeemed');

    const validation = await api('POST', '/v1/reward-instances/validate', { code });
    expect(validation.status).toBe(200);
    expect(validation.json).toMatchObject({ usable: true, reward: { name: 'A Laurel mug' }, instance: { memberId: alice, status: 'issued' } });
    await context.close();
  });

  it('the widget shows the balance on a plain shop page from one script tag, in the shop\'s colours', async () => {
    const { json: token } = await api('POST', `/v1/members/${alice}/tokens`, { ttlSeconds: 3600 });
    const { json: balances } = await api('GET', `/v1/members/${alice}/balances`);
    const available = (balances.data as { wallet: string; available: number }[]).find((b) => b.wallet === 'points')!.available;
    const context = await browser.newContext(laptop);
    // a shop on another origin (its own server): the widget calls Laurel across origins with the member token
    const html = `<!doctype html><html lang="en"><head><title>A shop</title><link rel="icon" href="data:,"><style>laurel-widget { --laurel-accent: #7b2cbf; }</style></head>
        <body><main><h1>Checkout</h1><laurel-widget token="${token.token as string}"></laurel-widget></main>
        <script src="${base}/widget.js" async></script></body></html>`;
    const shop = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(html));
    await new Promise<void>((done) => shop.listen(0, '127.0.0.1', done));
    const shopUrl = `http://localhost:${(shop.address() as { port: number }).port}/`;
    const page = await tab(context);
    const balanceReads: string[] = [];
    page.on('request', (request) => { if (request.method() === 'GET' && request.url().endsWith(`/v1/members/${alice}/balances`)) balanceReads.push(request.url()); });
    await page.goto(shopUrl);
    const shown = `${new Intl.NumberFormat('en-GB').format(available)} points`;
    const points = page.locator('laurel-widget .points');
    // the widget renders, then fills in the balance it fetched: wait for the figure, then read it
    await page.locator('laurel-widget .points', { hasText: shown }).waitFor().catch(() => {});
    expect(await points.textContent()).toBe(shown);
    expect(await points.evaluate((el) => getComputedStyle(el).color)).toBe('rgb(123, 44, 191)');
    expect(await page.locator('laurel-widget').textContent()).toBe('');
    // the element's upgrade reports its attributes and its connection: one view drawn, from one read
    expect(balanceReads).toHaveLength(1);
    await check(page, 'widget-shop-page');
    await context.close();
    shop.close();
  });
});
