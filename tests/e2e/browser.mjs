// Drives Debian's Chromium (headless, through playwright-core) through Hearth's pages for the
// end-to-end tests. Reads one JSON job from argv[2] and prints one JSON result line.
//
// Jobs:
//   {"do": "authorize", "url", "email", "password", "approve": true, "optional": [rule names],
//    "record": "record id" (optional), "callback": "http://127.0.0.1:PORT/", "shots": dir}
//     → {"url": final URL at the callback, "consent": text of the consent page}
//   {"do": "sign-up", "base", "email", "name", "password", "shots"} → {"text": page text}
//   {"do": "visit-and-sign-in", "url", "email", "password", "shots"} → {"text", "url"}
//   {"do": "revoke-app", "base", "email", "password", "record", "client_id", "shots"} → {"text"}

import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const job = JSON.parse(process.argv[2]);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
const context = await browser.newContext();
const page = await context.newPage();
let shot = 0;
async function snap(name) {
  if (!job.shots) return;
  fs.mkdirSync(job.shots, { recursive: true });
  shot += 1;
  await page.screenshot({ path: path.join(job.shots, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true });
}

async function signIn() {
  await page.waitForSelector('input[name=email]');
  await page.fill('input[name=email]', job.email);
  await page.fill('input[name=password]', job.password);
  await snap('sign-in');
  await Promise.all([page.waitForLoadState('load'), page.click('form button[type=submit], form input[type=submit]')]);
}

function done(result) {
  process.stdout.write(JSON.stringify(result) + '\n');
}

try {
  if (job.do === 'authorize') {
    await page.goto(job.url);
    if (await page.$('input[name=password]')) {
      await signIn();
    }
    if (job.record) {
      const radio = await page.$(`input[name=record][value="${job.record}"]`);
      if (radio) {
        await radio.check();
        // A page that reloads the offer for the chosen record.
        const choose = await page.$('button[name=choose], button[value=choose]');
        if (choose) {
          await Promise.all([page.waitForLoadState('load'), choose.click()]);
        }
      }
    }
    await page.waitForSelector('button[name=decision][value=approve]');
    const consent = await page.innerText('main');
    for (const rule of job.optional || []) {
      await page.check(`input[name=optional][value="${rule}"]`);
    }
    await snap('consent');
    const button = job.approve ? 'approve' : 'deny';
    await Promise.all([
      page.waitForURL((u) => u.toString().startsWith(job.callback), { timeout: 15000 }),
      page.click(`button[name=decision][value=${button}]`),
    ]);
    done({ url: page.url(), consent });
  } else if (job.do === 'sign-up') {
    await page.goto(job.base + '/sign-up');
    await page.fill('input[name=email]', job.email);
    await page.fill('input[name=name]', job.name);
    await page.fill('input[name=password]', job.password);
    await snap('sign-up');
    await Promise.all([page.waitForLoadState('load'), page.click('form button[type=submit]')]);
    await snap('sign-up-done');
    done({ text: await page.innerText('body') });
  } else if (job.do === 'visit-and-sign-in') {
    await page.goto(job.url);
    await snap('visit');
    const text1 = await page.innerText('body');
    await page.goto(new URL('/sign-in', job.url).toString());
    await signIn();
    await snap('signed-in');
    done({ first: text1, text: await page.innerText('body'), url: page.url() });
  } else if (job.do === 'revoke-app') {
    await page.goto(`${job.base}/records/${job.record}/settings`);
    if (await page.$('input[name=password]')) {
      await signIn();
      await page.goto(`${job.base}/records/${job.record}/settings`);
    }
    await snap('record-apps');
    const form = page.locator('form', { has: page.locator(`input[name=client_id][value="${job.client_id}"]`) });
    await Promise.all([page.waitForLoadState('load'), form.locator('button[type=submit]').click()]);
    await snap('revoked');
    done({ text: await page.innerText('body') });
  } else {
    throw new Error(`unknown job ${job.do}`);
  }
} catch (e) {
  await snap('failure').catch(() => {});
  const body = await page.innerText('body').catch(() => '');
  process.stdout.write(JSON.stringify({ error: String(e), url: page.url(), body }) + '\n');
  process.exitCode = 1;
} finally {
  await browser.close();
}
