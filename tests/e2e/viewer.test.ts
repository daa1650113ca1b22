import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendEntry } from '../../src/chatlog/index.js';
import { startGatewaySimulator } from '../../src/simulator/index.js';
import { runOis, tempDir } from '../helpers/cli.js';
import { ROOT } from '../helpers/spec-blocks.js';
import { APPEND_WORKER, runNode, type ViewerFixture, viewerFixture } from './viewer-fixture.js';

const CHROMIUM = '/usr/bin/chromium';

describe.skipIf(!existsSync(CHROMIUM))('viewer - in headless Chromium', () => {
  let fx: ViewerFixture;
  let context: BrowserContext;
  let profile: string;

  beforeAll(async () => {
    fx = await viewerFixture({}, true);
    profile = await tempDir('ois-chromium-');
    // A fresh profile per run; launchPersistentContext is how Playwright takes a --user-data-dir.
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      acceptDownloads: true,
      viewport: { width: 1280, height: 800 },
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 20_000);

  afterAll(async () => {
    await context?.close();
    await fx?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it('viewer - live entries, search, upload and download, no console errors', async () => {
    const now = new Date();
    await appendEntry(fx.store, {
      id: '01JE2EFIRST000000000000000',
      at: now.toISOString(),
      from: 'alpha',
      to: ['beta'],
      kind: 'message',
      body: 'Hello **beta**, see [the plan](https://example.com/plan) and `ois send`.\n\n<script>alert(1)</script>',
      deliveries: [{ to: 'beta', outcome: 'delivered', seconds: 0.3 }],
    });
    const { port } = fx.app.server.address() as { port: number };
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(msg.text());
    });
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('dialog', (dialog) => {
      errors.push(`dialog: ${dialog.message()}`);
      void dialog.dismiss();
    });

    await page.goto(`http://127.0.0.1:${port}/`);
    await page.locator('#entries .entry').first().waitFor({ timeout: 5000 });
    expect(await page.locator('#entries .entry strong').first().textContent()).toBe('beta');
    expect(await page.locator('#entries .entry a').first().getAttribute('rel')).toContain('noopener');
    expect(await page.locator('#entries .entry').first().textContent()).toContain(
      '<script>alert(1)</script>',
    );
    await page.locator('#live.on').waitFor({ timeout: 5000 });

    // Another OS process appends: the entry shows up without a reload.
    const worker = await runNode([APPEND_WORKER, fx.dir, 'gamma', '1', now.toISOString().slice(0, 10)]);
    expect(worker.code).toBe(0);
    await page.locator('#entries .entry', { hasText: 'gamma #0000' }).waitFor({ timeout: 5000 });
    expect(await page.locator('#entries .entry').count()).toBe(2);

    // A real `ois send` from another instance (its own process and home) to beta's gateway simulator.
    const token = 'e2e-gateway-token-0123456789';
    const sim = await startGatewaySimulator({ token });
    try {
      const agentsFile = join(fx.dir, 'AGENTS.md');
      await writeFile(
        agentsFile,
        (await readFile(agentsFile, 'utf8')).replace('http://127.0.0.1:18790', sim.url),
      );
      const home = await tempDir('ois-e2e-alpha-');
      expect((await runOis(['--home', home, 'init', '--name', 'alpha', '--team', fx.dir])).code).toBe(0);
      const sent = await runOis(['--home', home, 'send', 'beta', '--no-queue', 'Sent live by ois send'], {
        env: { OIS_TOKEN_BETA: token },
      });
      expect(sent.code, sent.stderr).toBe(0);
      await page.locator('#entries .entry', { hasText: 'Sent live by ois send' }).waitFor({ timeout: 5000 });
    } finally {
      await sim.close();
    }

    // Search.
    await page.fill('#search-q', 'the plan');
    await page.click('#search-go');
    await page.locator('#chat-title', { hasText: 'Search: the plan (1)' }).waitFor({ timeout: 5000 });
    expect(await page.locator('#entries .entry').count()).toBe(1);
    await page.click('#search-clear');
    await page.locator('#entries .entry', { hasText: 'gamma #0000' }).waitFor({ timeout: 5000 });

    // Upload and download a shared file.
    await page.click('nav button[data-tab="shared"]');
    await page.setInputFiles('#upload-file', {
      name: 'notes.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from('shared from the browser\n'),
    });
    await page.click('#upload-go');
    const link = page.locator('#shared a.download', { hasText: 'notes.txt' });
    await link.waitFor({ timeout: 5000 });
    expect(await readFile(join(fx.dir, 'shared', 'notes.txt'), 'utf8')).toBe('shared from the browser\n');
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 5000 }), link.click()]);
    expect(download.suggestedFilename()).toBe('notes.txt');
    expect(await readFile((await download.path())!, 'utf8')).toBe('shared from the browser\n');

    // Agents and outbox render.
    await page.click('nav button[data-tab="agents"]');
    await page.locator('#agents tr', { hasText: 'beta' }).waitFor({ timeout: 5000 });
    await page.click('nav button[data-tab="outbox"]');
    await page
      .locator('#outbox-dead tr', { hasText: '01JDEAD00000000000000000B' })
      .waitFor({ timeout: 5000 });

    // Notices: a join request logged by another instance shows up as an unread count, live; opening the
    // panel lists it and marks it read.
    await appendEntry(fx.store, {
      id: '01JE2ENOTICE00000000000000',
      at: new Date().toISOString(),
      from: 'gamma',
      to: ['alpha'],
      kind: 'notice',
      notice: { type: 'join_request', subject: 'gamma' },
      body: 'gamma asks to join the team. An admin approves with: ois members approve gamma',
      deliveries: [{ to: 'alpha', outcome: 'delivered' }],
    });
    await page.locator('#notices-unread:not([hidden])', { hasText: '1' }).waitFor({ timeout: 5000 });
    await page.click('nav button[data-tab="notices"]');
    await page
      .locator('#notices li.notice', { hasText: 'gamma asks to join the team' })
      .waitFor({ timeout: 5000 });
    await page.locator('#notices-unread[hidden]').waitFor({ state: 'attached', timeout: 5000 });
    expect(JSON.parse(await readFile(join(fx.home, 'notices-read.json'), 'utf8')).until).toBeDefined();

    await page.click('nav button[data-tab="chat"]');
    await page.locator('#entries .entry', { hasText: 'gamma #0000' }).waitFor({ timeout: 5000 });
    // docs/viewer.png is refreshed only when asked, so a test run leaves the work tree as it was.
    const shot = await page.screenshot({
      path: process.env.OIS_UPDATE_SCREENSHOT
        ? join(ROOT, 'docs', 'viewer.png')
        : join(tmpdir(), `ois-viewer-${process.pid}.png`),
    });
    expect(shot.length).toBeGreaterThan(1000);
    await page.close();
    expect(errors).toEqual([]);
  }, 30_000);
});
