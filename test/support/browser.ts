// A real browser on the demo tenant, for the browser test files: Laurel serving the built console,
// portal and widget on a free port, Debian's chromium driven by playwright-core, one console user
// per role, and the page checks every browser test makes (no console error, axe-core with no serious
// or critical violation, a screenshot in test-artifacts/screenshots/).
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { buildWeb } from '../../web/scripts/build.js';
import { buildApp } from '../../src/http/app.js';
import { createApiKey } from '../../src/services/api-keys.js';
import { seedDemo } from '../../src/services/demo.js';
import { createUser, type Role } from '../../src/services/users.js';
import { openTestLaurel } from './laurel.js';
import type { Laurel } from '../../src/services/context.js';
import type { ManualClock } from '../../src/core/clock.js';

const CHROMIUM = process.env.LAUREL_CHROMIUM ?? '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`browser tests skipped: no chromium at ${CHROMIUM} (apt-get install -y chromium)`);

export const SHOTS = resolve(import.meta.dirname, '../../test-artifacts/screenshots');
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
export const PASSWORD = 'browser test password';

export const laptop = { viewport: { width: 1366, height: 850 } };
export const phone = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };

export type CheckedPage = Page & { errors: string[] };

export interface BrowserLaurel {
  laurel: Laurel & { clock: ManualClock };
  app: FastifyInstance;
  browser: Browser;
  /** http://127.0.0.1:PORT */
  base: string;
  adminKey: string;
  tenantId: string;
  programId: string;
  demo: Awaited<ReturnType<typeof seedDemo>>;
  /** A demo member's id by first name (Alice, Bob, …). */
  member(name: string): string;
  /** The API with the demo tenant's admin key. */
  api(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> & { data?: unknown[] } }>;
  close(): Promise<void>;
}

/** Builds the web app, seeds the demo tenant with a console user per role (`<role>@demo.test`), serves it and opens chromium. */
export async function openBrowserLaurel(): Promise<BrowserLaurel> {
  await buildWeb();
  const laurel = await openTestLaurel(new Date().toISOString());
  const demo = await seedDemo(laurel);
  const tenantId = demo.tenant.tenantId;
  const adminKey = (await createApiKey(laurel, tenantId, { name: 'test admin', scopes: ['admin'] })).secret;
  for (const role of ['owner', 'marketer', 'support', 'finance', 'viewer'] as const) {
    await createUser(laurel, tenantId, { email: `${role}@demo.test`, name: role, role, password: PASSWORD });
  }
  const app = await buildApp(laurel, { logger: false, rateLimitPerMinute: 1_000_000 });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  mkdirSync(SHOTS, { recursive: true });
  return {
    laurel, app, browser, base, adminKey, tenantId, programId: demo.program.programId, demo,
    member: (name) => demo.members.find((m) => m.name === name)!.memberId,
    api: async (method, path, body) => {
      const r = await fetch(`${base}${path}`, {
        method, headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json', 'idempotency-key': `${Math.random()}` },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      return { status: r.status, json: await r.json() as Record<string, unknown> & { data?: unknown[] } };
    },
    close: async () => {
      await browser.close();
      await app.close();
      await laurel.close();
    },
  };
}

/** A browser tab that fails the test on any console error it logs. */
export async function tab(context: BrowserContext): Promise<CheckedPage> {
  const page = (await context.newPage()) as CheckedPage;
  page.errors = [];
  page.on('console', (m) => {
    // the sign-in page asks for the session first and is told 401: that is how it knows to show itself
    if (m.type() === 'error' && !/status of 401/.test(m.text())) page.errors.push(m.text());
  });
  page.on('pageerror', (e) => page.errors.push(e.message));
  return page;
}

/** The page as it stands: no console error, no serious or critical axe violation, a screenshot named `name`. */
export async function check(page: CheckedPage, name: string): Promise<void> {
  await page.waitForLoadState('networkidle');
  await page.addScriptTag({ path: AXE });
  const violations = await page.evaluate(async () => {
    const result = await (window as unknown as { axe: { run(): Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } }).axe.run();
    return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
  expect(violations, `${name}: accessibility`).toEqual([]);
  expect(page.errors, `${name}: console errors`).toEqual([]);
  await page.screenshot({ path: resolve(SHOTS, `${name}.png`), fullPage: true });
}

/** Signs in to the console as the demo tenant's user of `role`. */
export async function signIn(page: Page, base: string, role: Role): Promise<void> {
  await page.goto(`${base}/console`);
  await page.getByLabel('E-mail').fill(`${role}@demo.test`);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('role').waitFor();
}
