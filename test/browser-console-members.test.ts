// The console's rewards and member pages, the member portal and the widget in a real browser
// (Debian's chromium driven by playwright-core) on the demo tenant: a marketer makes a partner
// voucher with a picture and imports its codes, a member redeems it in the portal on a phone and
// gets a partner code, the redemption shows in the redemptions list; support opens Alice's
// profile (events with their explanations, grade history), issues her a reward and erases a test
// member. Every page visited logs no console error and passes axe-core (no serious or critical
// violation); screenshots land in test-artifacts/screenshots/.
import { createServer } from 'node:http';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { check, hasChromium, laptop, openBrowserLaurel, phone, signIn, tab, type BrowserLaurel } from './support/browser.js';

let t: BrowserLaurel;
let browser: Browser;
let base: string;
let programId: string;
let api: BrowserLaurel['api'];

// a picture served by the test itself, so the page loads it without the network
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
const pictures = createServer((_req, res) => res.writeHead(200, { 'content-type': 'image/png', 'access-control-allow-origin': '*' }).end(PNG));
let pictureUrl: string;

beforeAll(async () => {
  if (!hasChromium) return;
  t = await openBrowserLaurel();
  ({ browser, base, programId, api } = t);
  await new Promise<void>((done) => pictures.listen(0, '127.0.0.1', done));
  pictureUrl = `http://127.0.0.1:${(pictures.address() as { port: number }).port}/cinema.png`;
});

afterAll(async () => {
  pictures.close();
  await t?.close();
});

const points = async (memberId: string) =>
  ((await api('GET', `/v1/members/${memberId}/balances`)).json.data as { wallet: string; available: number }[]).find((b) => b.wallet === 'points')!.available;
const shown = (n: number) => new Intl.NumberFormat('en-GB').format(n);

describe.skipIf(!hasChromium)('rewards in the console and the portal', () => {
  it('a marketer creates a partner voucher with a picture and imports 3 codes; Alice redeems it in the portal and sees her partner code; it is in the redemptions list', async () => {
    const alice = t.member('Alice');
    const context = await browser.newContext(laptop);
    const page = await tab(context);
    await signIn(page, base, 'marketer');
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Rewards' }).click();
    await page.getByRole('cell', { name: /A free large latte/ }).waitFor();

    const form = page.getByRole('form', { name: 'New reward' });
    await form.getByLabel('Code').fill('cinema-ticket');
    await form.getByLabel('Name').fill('A cinema ticket');
    await form.getByLabel('Type').selectOption('partner_voucher');
    await form.getByLabel('Partner', { exact: true }).fill('Le Grand Rex');
    await form.getByLabel('Cost (points)').fill('40');
    await form.getByLabel('Picture URL (http or https)').fill(pictureUrl);
    await form.getByRole('button', { name: 'Create reward' }).click();
    await page.getByText('“A cinema ticket” is in the catalog.').waitFor();
    const picture = page.getByRole('img', { name: 'A cinema ticket' });
    await picture.waitFor();
    await expect.poll(() => picture.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(1);

    // the partner's file: a header and three codes, as a CSV upload
    const codes = page.getByRole('form', { name: 'Import partner codes' });
    await codes.getByLabel('Partner voucher').selectOption({ label: 'A cinema ticket' });
    await codes.getByLabel('CSV or text file').setInputFiles({ name: 'rex.csv', mimeType: 'text/csv', buffer: Buffer.from('code\nREX-8HD2-KQ\nREX-2MF9-PL\n"REX-7XA4-WT"\n') });
    await codes.getByText('3 codes to import.').waitFor();
    await codes.getByRole('button', { name: 'Import codes' }).click();
    expect(await page.getByTestId('codes-imported').textContent()).toBe('3 new codes imported; 3 not yet given out.');
    await page.getByRole('row', { name: /A cinema ticket/ }).getByText('3 codes left').waitFor();
    await check(page, 'console-rewards-catalog');

    // Alice's portal, on a phone
    const before = await points(alice);
    const { json: token } = await api('POST', `/v1/members/${alice}/tokens`, { ttlSeconds: 3600 });
    const phoneContext = await browser.newContext(phone);
    const portal = await tab(phoneContext);
    await portal.goto(`${base}/portal#token=${token.token as string}`);
    const card = portal.getByRole('listitem').filter({ has: portal.getByRole('heading', { name: 'A cinema ticket' }) });
    await card.getByRole('button', { name: 'Redeem' }).click();
    const partnerCode = (await portal.getByTestId('voucher-partner').textContent())!.replace('Partner code: ', '');
    expect(['REX-8HD2-KQ', 'REX-2MF9-PL', 'REX-7XA4-WT']).toContain(partnerCode);
    const code = (await portal.getByTestId('voucher-code').textContent())!;
    await portal.locator('.voucher .qr svg').first().waitFor();
    await expect.poll(() => portal.getByTestId('portal-available').textContent()).toBe(shown(before - 40));
    // and it waits among her rewards to use, its code one tap away
    const owned = portal.getByRole('region', { name: 'Your rewards to use' }).getByRole('listitem').filter({ hasText: 'A cinema ticket' });
    await owned.getByRole('button', { name: 'Show code' }).click();
    expect(await owned.getByTestId('owned-voucher-code').textContent()).toBe(code);
    expect(await owned.getByTestId('owned-voucher-partner').textContent()).toBe(`Partner code: ${partnerCode}`);
    await check(portal, 'portal-partner-voucher');
    await phoneContext.close();

    // the redemption, in the console's list, found by its status and reward
    await page.getByRole('link', { name: 'Redemptions' }).click();
    await page.getByLabel('Status').selectOption('issued');
    await page.getByLabel('Reward', { exact: true }).selectOption({ label: 'A cinema ticket' });
    const row = page.locator('tbody tr', { hasText: code });
    await row.waitFor();
    // Each filter reloads the list: its one row is this redemption once the last load has answered.
    await expect.poll(() => page.locator('tbody tr').count()).toBe(1);
    expect(await row.textContent()).toContain(partnerCode);
    await check(page, 'console-redemptions');
    await page.getByLabel('Status').selectOption('consumed');
    await page.getByText('No redemptions match.').waitFor();
    await context.close();
  });
});

describe.skipIf(!hasChromium)('a member\'s profile', () => {
  it('support opens Alice\'s profile: events with the rules that paid them, tier progress, lots, grade history, and issues her a reward', async () => {
    const alice = t.member('Alice');
    // the demo has no grading scheme: grade the program once, so Alice has a grade history
    expect((await api('PUT', `/v1/programs/${programId}/grading`, {
      kind: 'expression', grades: [{ code: 'regular', condition: 'stats.purchases >= 1' }],
    })).status).toBe(200);
    expect((await api('POST', `/v1/programs/${programId}/grading/recompute`, {})).status).toBe(200);

    const context = await browser.newContext(laptop);
    const page = await tab(context);
    await signIn(page, base, 'support');
    await page.goto(`${base}/console/members/${alice}`);
    await page.getByRole('heading', { name: /alice/ }).waitFor();
    const events = page.getByTestId('events');
    const order = events.locator('tr', { hasText: 'order-1004' });
    await order.waitFor();
    expect(await order.textContent()).toMatch(/1 point per euro: \d+ \(points\)/);
    expect(await order.textContent()).toMatch(/Tier multiplier: \d+ \(points\)/);
    await page.getByTestId('grade-history').getByText(/— → regular/).waitFor();

    // the journal newest first, by date
    const dates = await page.locator('table').first().locator('tbody tr td:first-child').allTextContents();
    expect(dates.length).toBeGreaterThan(3);
    const journal = (await api('GET', `/v1/members/${alice}/journal?limit=20`)).json.data as { createdAt: string }[];
    const times = journal.map((e) => Date.parse(e.createdAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    await check(page, 'console-member-profile');

    const before = await points(alice);
    const issue = page.getByRole('form', { name: 'Issue a reward' });
    await issue.getByLabel('Reward').selectOption({ label: 'A free large latte · 150 points' });
    await issue.getByRole('button', { name: 'Issue' }).click();
    const issued = (await page.getByTestId('issued-code').textContent())!;
    const code = /code (\S+)/.exec(issued)![1]!;
    await page.getByTestId('member-rewards').getByText(code).waitFor();
    expect(await points(alice)).toBe(before - 150);
    const validation = await api('POST', '/v1/reward-instances/validate', { code });
    expect(validation.json).toMatchObject({ usable: true, reward: { name: 'A free large latte' }, instance: { memberId: alice, channel: 'console' } });
    await check(page, 'console-member-issued');
    await context.close();
  });

  it('support erases a test member after confirming, and sees them erased', async () => {
    const created = await api('POST', '/v1/members', { programId, externalId: 'test-member-erase', email: 'erase.me@example.com', cardCode: 'CARD-ERASE' });
    expect(created.status).toBe(201);
    const memberId = created.json.memberId as string;
    const context = await browser.newContext(phone);
    const page = await tab(context);
    await signIn(page, base, 'support');
    await page.goto(`${base}/console/members?q=CARD-ERASE`);
    await page.getByRole('heading', { name: /test-member-erase/ }).waitFor();
    await page.getByRole('button', { name: 'Erase personal data' }).click();
    const dialog = page.getByRole('alertdialog', { name: 'Erase this member\'s personal data?' });
    await dialog.waitFor();
    await check(page, 'console-member-erase-dialog');
    // cancelling changes nothing
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect((await api('GET', `/v1/members/${memberId}`)).json.status).toBe('active');
    await page.getByRole('button', { name: 'Erase personal data' }).click();
    await dialog.getByRole('button', { name: 'Erase for good' }).click();
    await expect.poll(() => page.getByTestId('member-status').textContent()).toBe('Erased');
    await page.getByRole('heading', { name: /Erased member/ }).waitFor();
    expect(await page.getByText('erase.me@example.com').count()).toBe(0);
    expect((await api('GET', `/v1/members/${memberId}`)).json).toMatchObject({ status: 'erased', email: null, cardCode: null, externalId: null });
    await check(page, 'console-member-erased');
    await context.close();
  });
});

describe.skipIf(!hasChromium)('on a phone, in Turkish', () => {
  it('the rewards pages and Alice\'s profile fit a phone and speak Turkish', async () => {
    const context = await browser.newContext(phone);
    const page = await tab(context);
    await signIn(page, base, 'owner');
    await page.getByRole('combobox', { name: 'Language' }).selectOption('tr');
    await page.goto(`${base}/console/rewards`);
    await page.getByRole('heading', { name: 'Yeni ödül' }).waitFor();
    await check(page, 'console-rewards-catalog-phone-tr');
    await page.getByRole('link', { name: 'Kullanımlar' }).click();
    await page.getByRole('combobox', { name: 'Ödül' }).waitFor();
    await check(page, 'console-redemptions-phone-tr');
    await page.goto(`${base}/console/members/${t.member('Alice')}`);
    await page.getByRole('heading', { name: 'Olaylar' }).waitFor();
    await page.getByRole('heading', { name: 'Sınıf geçmişi' }).waitFor();
    await page.getByRole('heading', { name: 'Ödül ver' }).waitFor();
    await check(page, 'console-member-profile-phone-tr');
    await context.close();
  });
});

describe.skipIf(!hasChromium)('the portal and the widget show the same views', () => {
  it('the portal on a phone: each earning once (not once per wallet), expiring soon, tier progress, rewards with pictures', async () => {
    const alice = t.member('Alice');
    const { json: token } = await api('POST', `/v1/members/${alice}/tokens`, { ttlSeconds: 3600 });
    const context = await browser.newContext(phone);
    const portal = await tab(context);
    await portal.goto(`${base}/portal#token=${token.token as string}`);
    await expect.poll(() => portal.getByTestId('portal-available').textContent()).toBe(shown(await points(alice)));
    await portal.getByTestId('portal-expiring').waitFor();
    const history = portal.getByRole('region', { name: 'History' }).getByRole('listitem');
    await history.first().waitFor();
    // order-1001 earned into the points wallet and the status wallet: the history shows the points once
    const pointsEntries = (await api('GET', `/v1/members/${alice}/journal?limit=20&wallet=points`)).json.data!;
    expect(await history.count()).toBe(pointsEntries.length);
    const region = portal.getByRole('region', { name: /Your tier/ });
    await region.waitFor();
    expect(await portal.getByRole('heading', { name: 'A cinema ticket' }).count()).toBe(1);
    await check(portal, 'portal-home-phone');
    await context.close();
  });

  it('the widget on a shop page: balance, tier, rewards to redeem, redeeming shows the code and QR, history', async () => {
    const bob = t.member('Bob');
    await api('POST', `/v1/members/${bob}/adjustments`, { amount: 200, reason: 'widget test' });
    const { json: token } = await api('POST', `/v1/members/${bob}/tokens`, { ttlSeconds: 3600 });
    const available = await points(bob);
    const html = `<!doctype html><html lang="en"><head><title>A shop</title><link rel="icon" href="data:,"></head>
        <body><main><h1>Your account</h1><laurel-widget token="${token.token as string}"></laurel-widget></main>
        <script src="${base}/widget.js" async></script></body></html>`;
    const shop = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(html));
    await new Promise<void>((done) => shop.listen(0, '127.0.0.1', done));
    const context = await browser.newContext(laptop);
    const page = await tab(context);
    await page.goto(`http://localhost:${(shop.address() as { port: number }).port}/`);
    await page.locator('laurel-widget .points', { hasText: `${shown(available)} points` }).waitFor();
    await page.locator('laurel-widget [part=history] li').first().waitFor();
    expect(await page.locator('laurel-widget [part=tier]').textContent()).toContain('Tier:');
    const latte = page.locator('laurel-widget [part=rewards] li', { hasText: 'A free large latte' });
    await latte.getByRole('button', { name: 'Redeem' }).click();
    const code = page.locator('laurel-widget .voucher .code').first();
    await code.waitFor();
    expect(await code.textContent()).toMatch(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);
    await page.locator('laurel-widget .voucher svg').waitFor();
    await page.locator('laurel-widget .points', { hasText: `${shown(available - 150)} points` }).waitFor();
    await page.locator('laurel-widget [part=owned] li', { hasText: 'A free large latte' }).waitFor();
    await check(page, 'widget-all-views');
    await context.close();
    shop.close();
  });
});
