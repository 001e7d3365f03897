import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page, type Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_GATEWAY_KEY } from '../../src/config/config.js';
import { startChildGateway, type ChildGateway } from '../helpers/child-gateway.js';

/**
 * Swagger UI at /docs in a real headless Chromium, against a gateway process that runs with no
 * provider credentials (built-in emulators): every tag renders, Authorize + "Try it out" create a
 * task, and the page never talks to anything but this machine.
 */

const CHROMIUM = '/usr/bin/chromium';
const IN_CI = process.env.CI === 'true';
const SKIP = !existsSync(CHROMIUM) && !IN_CI;
const SCREENSHOT = fileURLToPath(new URL('../../reports/docs-screenshot.png', import.meta.url));
const STEP_TIMEOUT = 60_000;
const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

if (SKIP) {
  console.warn(
    `test/browser/docs.test.ts skipped: ${CHROMIUM} is missing (apt-get install chromium). ` +
      'With CI=true it runs and fails instead.',
  );
}

/** Only loopback, and URLs that never touch the network. */
function isLocal(raw: string): boolean {
  const url = new URL(raw);
  if (url.protocol === 'data:' || url.protocol === 'blob:') return true;
  return ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
}

type OpenApiPaths = { paths?: Record<string, Record<string, unknown>> };
type OpenApiOperation =
  { requestBody?: { content?: Record<string, { example?: unknown }> } } | undefined;

/** Tag name -> number of operations carrying it, as Swagger UI groups them. */
function operationsPerTag(doc: OpenApiPaths) {
  const tags = new Map<string, number>();
  for (const item of Object.values(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(item)) {
      if (!HTTP_METHODS.has(method)) continue;
      const opTags = (op as { tags?: string[] }).tags;
      // Swagger UI lists untagged operations under "default".
      for (const tag of opTags?.length ? opTags : ['default']) {
        tags.set(tag, (tags.get(tag) ?? 0) + 1);
      }
    }
  }
  return tags;
}

describe.skipIf(SKIP)(
  `Swagger UI /docs in headless Chromium${SKIP ? ` (skipped: ${CHROMIUM} missing and CI is not 'true')` : ''}`,
  () => {
    let gw: ChildGateway | undefined;
    let browser: Browser | undefined;
    let page: Page;
    let screenshotTaken = false;
    let doc: OpenApiPaths = {};
    const requests: string[] = [];
    const blocked: string[] = [];

    beforeAll(async () => {
      expect(existsSync(CHROMIUM), `CI=true but ${CHROMIUM} is missing`).toBe(true);
      gw = await startChildGateway({}, 45_000);
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      page = await context.newPage();
      page.setDefaultTimeout(20_000);
      page.on('request', (req: Request) => requests.push(req.url()));
      await page.route('**/*', async (route) => {
        const url = route.request().url();
        if (isLocal(url)) return route.continue();
        blocked.push(url);
        return route.abort('blockedbyclient');
      });
    }, STEP_TIMEOUT);

    afterAll(async () => {
      try {
        // A failed run still leaves a picture of what the page showed.
        if (page && !screenshotTaken && !page.isClosed()) {
          mkdirSync(dirname(SCREENSHOT), { recursive: true });
          await page.screenshot({ path: SCREENSHOT, fullPage: true }).catch(() => undefined);
        }
      } finally {
        await browser?.close().catch(() => undefined);
        await gw?.stop();
      }
    }, STEP_TIMEOUT);

    it(
      'renders a section for every tag used by an operation in /openapi.json',
      async () => {
        doc = (await (await fetch(`${gw!.url}/openapi.json`)).json()) as OpenApiPaths;
        const tags = operationsPerTag(doc);
        expect(tags.size).toBeGreaterThan(0);

        await page.goto(`${gw!.url}/docs`);
        await page.locator('.swagger-ui .info .title').waitFor();
        for (const [tag, count] of tags) {
          const heading = page.locator(`h3.opblock-tag[data-tag=${JSON.stringify(tag)}]`);
          await heading.waitFor({ state: 'visible' });
          const section = page.locator('.opblock-tag-section', { has: heading });
          expect(await section.locator('.opblock').count(), `operations under "${tag}"`).toBe(
            count,
          );
        }
      },
      STEP_TIMEOUT,
    );

    it(
      'accepts the development gateway key in the Authorize dialog',
      async () => {
        await page.locator('.auth-wrapper button.authorize').click();
        const dialog = page.locator('.dialog-ux .modal-ux');
        await dialog.waitFor({ state: 'visible' });
        // The gateway key's form (the dialog also offers the admin API's token).
        const form = dialog.locator('form').filter({ hasText: 'gatewayKey' });
        await form.locator('#auth-bearer-value').fill(DEV_GATEWAY_KEY);
        await form.locator('button[aria-label="Apply credentials"]').click();
        // Applied: the form now offers Logout instead of the input.
        await form
          .locator('button[aria-label="Remove authorization"]')
          .waitFor({ state: 'visible' });
        await form.locator('button.btn-done').click();
        await dialog.waitFor({ state: 'detached' });
        await page.locator('.auth-wrapper button.authorize.locked').waitFor({ state: 'visible' });
      },
      STEP_TIMEOUT,
    );

    it(
      'runs POST /v1/text-to-image with its example body and shows the created task (201)',
      async () => {
        const op = page.locator('.opblock.opblock-post', {
          has: page.locator('.opblock-summary-path[data-path="/v1/text-to-image"]'),
        });
        await op.locator('.opblock-summary-control').click();
        await op.locator('button.try-out__btn').click();

        // The body stays as pre-filled: the example the document carries for it.
        const documented = (doc.paths?.['/v1/text-to-image']?.post as OpenApiOperation)?.requestBody
          ?.content?.['application/json']?.example;
        expect(documented).toMatchObject({ model: expect.any(String), prompt: expect.any(String) });
        const body = op.locator('textarea.body-param__text');
        await body.waitFor({ state: 'visible' });
        expect(JSON.parse(await body.inputValue())).toEqual(documented);

        await op.locator('button.execute').click();
        const live = op.locator('.live-responses-table tbody tr.response');
        await live.waitFor({ state: 'visible', timeout: 30_000 });
        expect((await live.locator('.response-col_status').textContent())?.trim()).toBe('201');
        const shown = await live.locator('.response-col_description pre').first().textContent();
        expect(shown).toMatch(/"id":\s*"task_[0-9A-Za-z]+"/);
      },
      STEP_TIMEOUT,
    );

    it(
      'saves a full-page screenshot to reports/docs-screenshot.png',
      async () => {
        mkdirSync(dirname(SCREENSHOT), { recursive: true });
        await page.screenshot({ path: SCREENSHOT, fullPage: true });
        screenshotTaken = true;
        expect(existsSync(SCREENSHOT)).toBe(true);
      },
      STEP_TIMEOUT,
    );

    it('made no request outside this machine', () => {
      expect(requests.length).toBeGreaterThan(0);
      // The spec and the "Execute" call went out from the page itself (and were recorded).
      expect(requests.some((u) => u.endsWith('/openapi.json') || u.includes('/docs/json'))).toBe(
        true,
      );
      expect(requests.some((u) => new URL(u).pathname === '/v1/text-to-image')).toBe(true);
      expect(requests.filter((u) => !isLocal(u))).toEqual([]);
      expect(blocked).toEqual([]);
    });
  },
);
