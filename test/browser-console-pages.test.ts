// The console's rules, campaigns, tiers, grades, webhooks and jobs pages in a real browser, on the
// demo tenant: a marketer edits a rule into version 2 and reads the diff, creates a campaign with a
// budget and sees its use after a purchase, and sees Bob's tier movement; an owner replays a webhook
// delivery, grades the program and reads the jobs. Every page visited is check()ed (no console
// error, axe-core with no serious or critical violation, a screenshot), on a laptop and a phone.
import { createServer, type Server } from 'node:http';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installSchedules, runJobNow } from '../src/jobs/runner.js';
import type { Role } from '../src/services/users.js';
import { check, hasChromium, laptop, openBrowserLaurel, phone, signIn as signInAs, tab, type BrowserLaurel } from './support/browser.js';

let t: BrowserLaurel;
let browser: Browser;
let base: string;
let programId: string;

beforeAll(async () => {
  if (!hasChromium) return;
  t = await openBrowserLaurel();
  ({ browser, base, programId } = t);
});

afterAll(async () => { await t?.close(); });

const signIn = (page: Page, role: Role) => signInAs(page, base, role);

describe.skipIf(!hasChromium)('the console pages of rules, campaigns, tiers, grades, webhooks and jobs', () => {
  it('a marketer edits a rule into version 2 and reads the diff, creates a campaign with a budget, puts a rule in it, and after a purchase by Bob sees the budget used and his tier movement', async () => {
    const context = await browser.newContext(laptop);
    const page = await tab(context);
    await signIn(page, 'marketer');
    expect(await page.getByRole('navigation').getByRole('link').allTextContents())
      .toEqual(['Dashboard', 'Analytics', 'Members', 'Program', 'Rules', 'Campaigns', 'Tiers', 'Grades', 'Rewards', 'Referrals', 'Achievements', 'Memberships', 'Engagement']);

    // a new version of a rule, and what changed
    await page.getByRole('link', { name: 'Rules' }).click();
    await page.getByRole('button', { name: 'Edit: Pastries 3x at weekends' }).click();
    const editor = page.getByTestId('rule-editor');
    await editor.getByLabel('Condition (CEL)').fill('time.weekend && order.totl >= 500');
    await editor.getByTestId('cel-error').waitFor();
    expect(await editor.getByRole('button', { name: 'Save as a new version' }).isDisabled()).toBe(true);
    await editor.getByLabel('Condition (CEL)').fill('time.weekend && order.total >= 500');
    await editor.getByTestId('cel-ok').waitFor();
    // what the draft would have paid last month, before it is saved
    await editor.getByRole('button', { name: 'Dry-run this draft' }).click();
    await editor.getByTestId('dry-run').locator('canvas').waitFor();
    expect(await editor.getByTestId('dry-run').textContent()).toMatch(/\d+ events, the rule fires on \d+: \d+ points/);
    await check(page, 'console-rule-editor');
    await editor.getByRole('button', { name: 'Save as a new version' }).click();
    const versions = page.getByTestId('rule-versions');
    await versions.getByRole('cell', { name: '2', exact: true }).waitFor();
    expect(await versions.getByRole('row').nth(1).textContent()).toMatch(/^2Pastries 3x at weekendsuser:/);
    const diff = page.getByTestId('rule-diff');
    await diff.waitFor();
    expect(await diff.locator('dt').allTextContents()).toEqual(['condition']);
    expect(await diff.locator('.diff-del').allTextContents()).toEqual(['− time.weekend\n']);
    expect(await diff.locator('.diff-add').allTextContents()).toEqual(['+ time.weekend && order.total >= 500\n']);
    const row = page.getByRole('row', { name: /Pastries 3x at weekends/ });
    await expect.poll(() => row.getByRole('cell').nth(3).textContent()).toBe('2');
    await check(page, 'console-rule-versions');
    // the API kept version 1 as it was
    const v1 = await t.api('GET', `/v1/rules/${(await ruleId('Pastries 3x at weekends'))}?version=1`);
    expect(v1.json.condition).toBe('time.weekend');

    // a campaign with a budget, and a rule in it
    await page.getByRole('link', { name: 'Campaigns' }).click();
    await page.getByRole('cell', { name: 'Bonuses', exact: true }).waitFor();
    await page.getByLabel('Name').fill('Spring boost');
    await page.getByLabel('Budget (points, empty: none)').fill('100000');
    await page.getByRole('button', { name: 'Create campaign' }).click();
    const spring = page.getByTestId('campaign-row').filter({ hasText: 'Spring boost' });
    await spring.waitFor();
    expect(await spring.getByTestId('budget-used').textContent()).toBe('0 of 100,000 points');
    await check(page, 'console-campaigns');
    await page.getByRole('link', { name: 'Rules' }).click();
    await page.getByRole('button', { name: 'Edit: 1 point per euro' }).click();
    await page.getByTestId('rule-editor').getByLabel('Campaign').selectOption({ label: 'Spring boost' });
    await page.getByTestId('rule-editor').getByRole('button', { name: 'Save as a new version' }).click();
    await page.getByTestId('rule-diff').getByText('campaignId').waitFor();

    // Bob buys €2,500 of beans: 2,500 points from the campaign's rule, and gold
    const bought = await t.api('POST', '/v1/events', {
      programId, member: { cardCode: 'CARD-0002' }, externalId: 'browser-pages-bob-1', type: 'purchase',
      lines: [{ sku: 'BEANS-1KG', category: 'coffee', quantity: 1, unitPrice: 250_000 }],
    });
    expect(bought.status, JSON.stringify(bought.json)).toBe(201);
    expect(bought.json.tier).toMatchObject({ to: 'gold' });
    await page.getByRole('link', { name: 'Campaigns' }).click();
    await expect.poll(() => page.getByTestId('campaign-row').filter({ hasText: 'Spring boost' }).getByTestId('budget-used').textContent())
      .toBe('2,500 of 100,000 points');
    expect(await page.getByTestId('campaign-row').filter({ hasText: 'Spring boost' }).textContent()).toContain('1 point per euro');

    await page.getByRole('link', { name: 'Tiers' }).click();
    await page.getByRole('heading', { name: 'Tier movements' }).waitFor();
    await page.getByLabel('Change').selectOption('up');
    const bob = page.getByTestId('tier-movement').filter({ hasText: 'CARD-0002' });
    await bob.first().waitFor();
    expect(await bob.first().textContent()).toMatch(/Upgrade.*→ gold/);
    expect(await page.getByTestId('tier-row').count()).toBe(3);
    await check(page, 'console-tiers');
    await context.close();
  });

  it('an owner replays a webhook delivery: the same message is sent once more', async () => {
    const received: string[] = [];
    const receiver: Server = createServer((req, res) => {
      received.push(String(req.headers['webhook-id']));
      req.resume();
      req.on('end', () => res.writeHead(204).end());
    });
    await new Promise<void>((done) => receiver.listen(0, '127.0.0.1', done));
    // the receiver is on this machine: the operator allows private addresses here
    (t.laurel.settings as { allowPrivateWebhooks: boolean }).allowPrivateWebhooks = true;
    try {
      const url = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/laurel`;
      const endpoint = await t.api('POST', '/v1/webhook-endpoints', { url, eventTypes: ['webhook.test'] });
      expect(endpoint.status, JSON.stringify(endpoint.json)).toBe(201);
      expect((await t.api('POST', `/v1/webhook-endpoints/${endpoint.json.endpointId}/test`)).status).toBe(202);
      await runJobNow(t.laurel, 'webhooks');
      expect(received).toHaveLength(1);

      const context = await browser.newContext(laptop);
      const page = await tab(context);
      await signIn(page, 'owner');
      await page.getByRole('link', { name: 'Webhooks' }).click();
      await page.getByRole('button', { name: `Deliveries: ${url}` }).click();
      const delivery = page.getByTestId('delivery').first();
      await delivery.getByText('delivered').waitFor();
      await check(page, 'console-webhooks');
      await delivery.getByRole('button', { name: /^Replay/ }).click();
      await page.getByRole('status').getByText('Queued again').waitFor();
      await delivery.getByText('pending').waitFor();
      await runJobNow(t.laurel, 'webhooks');
      await page.getByRole('button', { name: 'Refresh' }).click();
      await delivery.getByText('delivered').waitFor();
      expect(received).toHaveLength(2);
      expect(received[1]).toBe(received[0]);
      expect(await page.getByTestId('delivery').count()).toBe(1);
      await check(page, 'console-webhook-replayed');

      await page.getByRole('link', { name: 'Audit log' }).click();
      await page.getByRole('row', { name: /\/replay/ }).first().waitFor();
      await context.close();
    } finally {
      (t.laurel.settings as { allowPrivateWebhooks: boolean }).allowPrivateWebhooks = false;
      await new Promise((done) => receiver.close(done));
    }
  });

  it('an owner sets a grading, grades everyone and reads the report and the movements; then reads the jobs', async () => {
    await installSchedules(t.laurel);
    await runJobNow(t.laurel, 'settle');
    const context = await browser.newContext(laptop);
    const page = await tab(context);
    await signIn(page, 'owner');
    // an owner reads who saved each version by e-mail
    await page.getByRole('link', { name: 'Rules' }).click();
    await page.getByRole('button', { name: 'Versions: Pastries 3x at weekends' }).click();
    await page.getByTestId('rule-versions').getByRole('cell', { name: 'marketer@demo.test' }).waitFor();
    await page.getByRole('link', { name: 'Grades' }).click();
    await page.getByText('No grading yet: members have no grade.').waitFor();
    // a program without a scheme: the page never asks for one it would be told does not exist
    await check(page, 'console-grades-none');
    await page.getByRole('button', { name: 'Save the grading' }).click();
    await page.getByText('Grading saved.').waitFor();
    await page.getByRole('button', { name: 'Grade everyone now' }).click();
    await page.getByText(/\d+ members graded, \d+ changed\./).waitFor();
    const buyers = page.getByTestId('grade-count').filter({ hasText: 'buyer' });
    await expect.poll(async () => Number((await buyers.locator('td').nth(1).textContent()) ?? 0)).toBeGreaterThanOrEqual(2);
    await page.getByTestId('grade-movement').first().waitFor();
    // a program without a grading scheme is answered 404 by GET …/grading, which the browser logs as
    // a console error: the page is checked again, fresh, now that the program has one
    await page.close();
    const graded = await tab(context);
    await graded.goto(`${base}/console/grades`);
    await graded.getByTestId('grade-movement').first().waitFor();
    await graded.getByLabel('Moved from or to').selectOption('buyer');
    await expect.poll(async () => (await graded.getByTestId('grade-movement').allTextContents()).every((r) => r.includes('buyer'))).toBe(true);
    await check(graded, 'console-grades');

    await graded.getByRole('link', { name: 'Jobs' }).click();
    const settle = graded.getByTestId('job').filter({ hasText: 'settle' });
    await settle.getByText(/succeeded/).first().waitFor();
    await check(graded, 'console-jobs');
    expect(await graded.getByRole('navigation').getByRole('link').allTextContents())
      .toEqual(['Dashboard', 'Analytics', 'Members', 'Program', 'Rules', 'Campaigns', 'Tiers', 'Grades', 'Rewards', 'Referrals', 'Achievements', 'Memberships', 'Engagement', 'Audit log', 'Users', 'Webhooks', 'Jobs', 'API keys', 'Accounting']);
    await context.close();
  });

  it('the pages work on a phone, and a viewer reads them without the editors', async () => {
    const context = await browser.newContext(phone);
    const page = await tab(context);
    await signIn(page, 'viewer');
    for (const [path, name, ready] of [
      ['rules', 'rules', 'cell:1 point per euro'], ['campaigns', 'campaigns', 'cell:Bonuses'], ['tiers', 'tiers', 'heading:Tier movements'], ['grades', 'grades', 'heading:Grade movements'],
    ] as const) {
      await page.goto(`${base}/console/${path}`);
      const [role, text] = ready.split(':') as ['cell' | 'heading', string];
      await page.getByRole(role, { name: text, exact: true }).first().waitFor();
      await check(page, `console-${name}-phone`);
    }
    await page.goto(`${base}/console/rules`);
    await page.getByRole('cell', { name: '1 point per euro', exact: true }).waitFor();
    expect(await page.getByRole('button', { name: /^Edit/ }).count()).toBe(0);
    await page.getByRole('button', { name: 'Versions: 1 point per euro' }).click();
    await page.getByTestId('rule-diff').waitFor();
    await page.goto(`${base}/console/campaigns`);
    await page.getByRole('cell', { name: 'Bonuses', exact: true }).waitFor();
    expect(await page.getByRole('button', { name: 'Create campaign' }).count()).toBe(0);
    // the jobs and webhooks pages are the owner's
    expect(await page.getByRole('navigation').getByRole('link', { name: 'Jobs' }).count()).toBe(0);
    await context.close();
  });
});

async function ruleId(name: string): Promise<string> {
  const rules = await t.api('GET', `/v1/programs/${programId}/rules`);
  return (rules.json.data as { ruleId: string; name: string }[]).find((r) => r.name === name)!.ruleId;
}
