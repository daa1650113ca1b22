import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/cli.js';
import { serve, stopDaemons } from '../helpers/daemon.js';
import { makeTeam, type TestTeam } from '../helpers/team.js';

const CHROMIUM = '/usr/bin/chromium';

/** The tasks board, memory and skills panels of a real daemon's viewer, in headless Chromium. */
describe.skipIf(!existsSync(CHROMIUM))('viewer - tasks, memory and skills in headless Chromium', () => {
  let team: TestTeam;
  let context: BrowserContext;
  let profile: string;

  beforeAll(async () => {
    team = await makeTeam(['alpha', 'beta']);
    profile = await tempDir('ois-chromium-team-');
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-sync',
      ],
    });
  }, 30_000);

  afterAll(async () => {
    await context?.close();
    stopDaemons();
    await team?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it('viewer - a task moves on the board live; memory search and a key’s history; a skill and its publisher', async () => {
    const { alpha, beta } = team.agents;
    const daemon = await serve(alpha!);
    await serve(beta!);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(msg.text());
    });
    await page.goto(`${daemon.url}/`);
    await page.locator('#live.on').waitFor({ timeout: 5000 });

    const sent = JSON.parse(
      (await alpha!.ois(['task', 'send', 'beta', 'Check the UPS battery', '--json'])).stdout,
    );
    await page.click('nav button[data-tab="tasks"]');
    await page
      .locator('.column[data-status="submitted"] .card', { hasText: 'Check the UPS battery' })
      .waitFor({ timeout: 5000 });
    // beta completes it: the card moves without a reload.
    await beta!.ois(['task', 'update', sent.task.id, '--status', 'completed', '--result', 'battery at 98%']);
    await page
      .locator('.column[data-status="completed"] .card', { hasText: 'Check the UPS battery' })
      .waitFor({ timeout: 10_000 });
    await page.click('.column[data-status="completed"] .card');
    await page.locator('#task-thread li', { hasText: 'battery at 98%' }).waitFor({ timeout: 5000 });

    await alpha!.ois(['memory', 'put', 'power/ups', 'UPS battery replaced in November', '--tags', 'power']);
    await alpha!.ois(['memory', 'put', 'power/ups', 'UPS battery at 98% in December']);
    await page.click('nav button[data-tab="memory"]');
    await page.fill('#memory-q', 'ups battery');
    await page.click('#memory-go');
    await page.locator('#memory a.key', { hasText: 'power/ups' }).waitFor({ timeout: 5000 });
    await page.click('#memory a.key');
    await page.locator('#memory-history li', { hasText: 'replaced in November' }).waitFor({ timeout: 5000 });
    expect(await page.locator('#memory-history li').count()).toBe(2);

    const skill = join(await tempDir('ois-skill-'), 'ups-check');
    await mkdir(skill, { recursive: true });
    await writeFile(
      join(skill, 'SKILL.md'),
      '---\nname: ups-check\ndescription: Reads the UPS status.\n---\n\nRun `upsc ups@localhost`.\n',
    );
    expect((await beta!.ois(['skills', 'publish', skill])).code).toBe(0);
    await page.click('nav button[data-tab="skills"]');
    await page.locator('#skills tr', { hasText: 'ups-check' }).waitFor({ timeout: 5000 });
    expect(await page.locator('#skills tr', { hasText: 'ups-check' }).textContent()).toContain('beta');
    await page.click('#skills a.key');
    await page.locator('#skill-show', { hasText: 'published by beta (verified)' }).waitFor({ timeout: 5000 });
    await page.close();
    expect(errors).toEqual([]);
  }, 90_000);
});
