// The Accounting page in a real browser, on the demo tenant: finance reads the liability
// roll-forward of the month, downloads its CSV and the journal export, sets the expected redemption
// rate of a coming period and closes the program's first month; a viewer reads it on a phone
// without the controls that would be refused.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { monthOf } from '../src/core/accounting/periods.js';
import { check, hasChromium, laptop, openBrowserLaurel, phone, signIn, tab, type BrowserLaurel } from './support/browser.js';

let t: BrowserLaurel;
let browser: Browser;
let base: string;

beforeAll(async () => {
  if (!hasChromium) return;
  t = await openBrowserLaurel();
  ({ browser, base } = t);
  const books = await t.api('PUT', `/v1/programs/${t.programId}/accounting`, { pointValue: { points: 100, minor: 100 }, expectedRedemptionRate: '0.8' });
  expect(books.status).toBe(200);
  const sale = await t.api('POST', '/v1/events', {
    programId: t.programId, externalId: 'books-sale-1', type: 'purchase', memberId: t.member('Alice'), lines: [{ sku: 'BEANS-1KG', quantity: 2, unitPrice: 2000 }],
  });
  expect(sale.status).toBe(201);
});

afterAll(async () => { await t?.close(); });

const zone = 'Europe/Paris';

describe.skipIf(!hasChromium)('the Accounting page', () => {
  it('finance reads the roll-forward, downloads the CSVs, sets next month\'s rate and closes the first month', async () => {
    const context = await browser.newContext(laptop);
    const page = await tab(context);
    await signIn(page, base, 'finance');
    await page.getByRole('link', { name: 'Accounting' }).click();
    await page.getByRole('heading', { name: 'Accounting (IFRS 15)' }).waitFor();
    const table = page.getByTestId('roll-forward');
    await table.waitFor();
    // this month's sale allocated part of its price to the points: the issued line is not empty
    const issued = table.locator('tr', { hasText: 'Issued' });
    await expect.poll(async () => Number((await issued.locator('td').nth(2).textContent())!.replace(/[^\d-]/g, ''))).toBeGreaterThan(0);
    await check(page, 'console-accounting');

    const now = t.laurel.clock.now();
    const month = monthOf(now, zone).label;
    const csvHref = await page.getByRole('link', { name: 'Download roll-forward (CSV)' }).getAttribute('href');
    expect(csvHref).toBe(`/v1/programs/${t.programId}/accounting/reports/${month}/csv`);
    const csv = await context.request.get(`${base}${csvHref}`);
    expect(csv.status()).toBe(200);
    expect(await csv.text()).toMatch(/^period,line,points,liability_eur_minor\r\n/);
    const journal = await context.request.get(`${base}${await page.getByRole('link', { name: 'Download journal export (CSV)' }).getAttribute('href')}`);
    expect(await journal.text()).toMatch(/^period,date,account,movement,debit,credit,currency\r\n/);

    const next = monthOf(monthOf(now, zone).end, zone).label;
    await page.getByLabel('From period').fill(next);
    await page.getByLabel('Expected redemption rate', { exact: true }).fill('0.75');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved.').waitFor();
    await page.getByText(`${next}: 0.75 (manual)`).waitFor();

    // months close in order from the program's first
    const program = await t.api('GET', `/v1/programs/${t.programId}`);
    const first = monthOf(new Date(program.json.createdAt as string), zone).label;
    await page.getByLabel('Period (2027-03, 2027-Q1, 2027)').fill(first);
    await page.getByRole('button', { name: 'Show' }).click();
    await page.getByRole('heading', { name: `Liability roll-forward, ${first}` }).waitFor();
    await page.getByRole('button', { name: `Close ${first}` }).click();
    await expect.poll(() => page.getByTestId('period-status').textContent()).toBe('closed');
    await page.getByText(first, { exact: true }).waitFor();
    await check(page, 'console-accounting-closed');
    await context.close();
  });

  it('a viewer reads the books on a phone, without the controls only finance and owners may use', async () => {
    const context = await browser.newContext(phone);
    const page = await tab(context);
    await signIn(page, base, 'viewer');
    await page.goto(`${base}/console/accounting`);
    await page.getByTestId('roll-forward').waitFor();
    expect(await page.getByRole('button', { name: /^Close / }).count()).toBe(0);
    expect(await page.getByRole('heading', { name: 'New expected redemption rate' }).count()).toBe(0);
    await check(page, 'console-accounting-phone');
    await context.close();
  });

  it('a marketer has no Accounting page', async () => {
    const context = await browser.newContext(laptop);
    const page = await tab(context);
    await signIn(page, base, 'marketer');
    await page.getByRole('link', { name: 'Members', exact: true }).waitFor();
    expect(await page.getByRole('link', { name: 'Accounting' }).count()).toBe(0);
    await context.close();
  });
});
