// A family's story in Hearth's web app, driven in Debian's Chromium (playwright-core, headless):
// sign up; a child's record; weight in kg and lb and blood pressure, seen on the charts; a PDF
// uploaded and downloaded intact; a viewer invited for chosen types with an expiry, who sees
// only those, cannot edit, share or read the history, until the access expires (the server's
// clock is moved through its offset file); a custodian invited; the record handed over; the
// history of changes; an emergency code, its wallet card and the emergency page.
//
// Reads one JSON job from argv[2]:
//   {base, outbox, clock, pdf, shots, password, ann, bo, dee, cleo: emails}
// and prints one JSON line of what it saw, for test_web_family.py to check.

import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const job = JSON.parse(process.argv[2]);
const seen = {};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

let shot = 0;
async function snap(page, name) {
  fs.mkdirSync(job.shots, { recursive: true });
  shot += 1;
  await page.screenshot({ path: path.join(job.shots, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true });
}

/** The newest mail to `to` whose body matches `re`, waiting for it to arrive. */
async function mail(to, re) {
  for (let i = 0; i < 100; i++) {
    const files = fs.existsSync(job.outbox) ? fs.readdirSync(job.outbox).sort().reverse() : [];
    for (const f of files) {
      const text = fs.readFileSync(path.join(job.outbox, f), 'utf8');
      if (text.includes(`To: ${to}\r\n`) && re.test(text)) return text;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no mail to ${to} matching ${re}`);
}

async function submit(page, form) {
  await Promise.all([page.waitForLoadState('load'), form.locator('button[type=submit]').first().click()]);
}

async function signIn(page, email) {
  await page.waitForSelector('input[name=password]');
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', job.password);
  await Promise.all([page.waitForLoadState('load'), page.click('form button[type=submit]')]);
}

/** Opens `url` as the page's person, signing in again when the session has ended (moving the
 *  server's clock ends sessions too). Returns the final response's status. */
async function visit(who, url) {
  let res = await who.page.goto(url);
  if (await who.page.locator('input[name=password]').count()) {
    await signIn(who.page, who.email);
    res = await who.page.goto(url);
  }
  return res.status();
}

async function person(email) {
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  return { context, page, email };
}

async function moveClockDays(days) {
  fs.writeFileSync(job.clock, String(days * 86400));
  await new Promise((r) => setTimeout(r, 400));
}

function day(offsetDays) {
  return new Date(Date.now() + offsetDays * 86400e3).toISOString().slice(0, 10);
}

try {
  // --- Ann signs up and makes her daughter's record --------------------------------------------
  const ann = await person(job.ann);
  let p = ann.page;
  await p.goto(job.base + '/sign-up');
  await p.fill('input[name=email]', job.ann);
  await p.fill('input[name=name]', 'Ann Example');
  await p.fill('input[name=password]', job.password);
  await snap(p, 'sign-up');
  await Promise.all([p.waitForLoadState('load'), p.click('form button[type=submit]')]);
  const verify = (await mail(job.ann, /verify-email/)).match(/(http\S+verify-email\?token=[\w-]+)/)[1];
  await p.goto(verify);
  await p.goto(job.base + '/sign-in');
  await signIn(p, job.ann);
  seen.afterSignIn = p.url();

  await p.fill('#name', 'Cleo Example');
  await p.selectOption('#relationship', 'child');
  await submit(p, p.locator('form[action="/records"]'));
  const record = p.url().match(/\/records\/([0-9a-f-]{36})/)[1];
  seen.record = record;
  await snap(p, 'child-record');

  // --- Measurements: weight in kg and lb, blood pressure ----------------------------------------
  const addReading = async (type, fields, unit) => {
    await p.goto(`${job.base}/records/${record}/data/${type}/new`);
    for (const [name, value] of Object.entries(fields)) {
      await p.fill(`[name="${name}"]`, value);
    }
    if (unit) await p.selectOption('select[name=unit]', unit);
    await snap(p, `new-${type}`);
    await submit(p, p.locator('main form').first());
  };
  await addReading('weight', { value: '20.5', effective: day(-10) + 'T08:00' }, 'kg');
  await addReading('weight', { value: '46.3', effective: day(-3) + 'T08:00' }, '[lb_av]');
  await addReading('blood-pressure', { systolic: '104', diastolic: '66', effective: day(-2) + 'T09:30' }, null);
  // An allergy, and on the profile a blood type and an emergency contact.
  await p.goto(`${job.base}/records/${record}/data/allergy/new`);
  await p.fill('[name="substance"]', 'Peanuts');
  await p.fill('[name="reaction"]', 'Hives');
  await submit(p, p.locator('main form').first());
  await p.goto(`${job.base}/records/${record}/profile`);
  await p.selectOption('#blood_type', '278149003');
  await p.fill('#contact0_name', 'Ann Example');
  await p.fill('#contact0_relationship', 'Mother');
  await p.fill('#contact0_phone', '+1 555 0100');
  await submit(p, p.locator('form[action$="/profile"]').last());
  await snap(p, 'profile');
  await p.goto(`${job.base}/records/${record}/data/weight?range=1y`);
  await snap(p, 'weight-chart');
  seen.weightPage = await p.innerText('main');
  seen.weightPoints = await p.locator('svg circle').count();
  await p.goto(`${job.base}/records/${record}/data/blood-pressure?range=1y`);
  await snap(p, 'blood-pressure-chart');
  seen.bpPage = await p.innerText('main');
  await p.goto(`${job.base}/records/${record}`);
  await snap(p, 'record-home');
  seen.home = await p.innerText('main');

  // --- A PDF, uploaded and downloaded --------------------------------------------------------
  await p.goto(`${job.base}/records/${record}/files`);
  await p.setInputFiles('input[type=file]', job.pdf);
  const titleField = p.locator('input[name=title]');
  if (await titleField.count()) await titleField.fill('School report');
  await submit(p, p.locator('main form[enctype="multipart/form-data"]').first());
  await snap(p, 'files');
  const [download] = await Promise.all([
    p.waitForEvent('download'),
    p.locator('a[href$="/download"]').first().click(),
  ]);
  const saved = path.join(job.shots, 'downloaded.pdf');
  await download.saveAs(saved);
  seen.downloaded = saved;

  // --- Bo is invited to view weights only, until a date, with a PIN ----------------------------
  await p.goto(`${job.base}/records/${record}/sharing`);
  const invite = p.locator('#invite');
  await invite.locator('#email').fill(job.bo);
  await invite.locator('#invitee-name').fill('Bo Example');
  await invite.locator('#relationship').selectOption('guardian');
  await invite.locator('input[name=level][value=view]').check();
  await invite.locator('input[name=scope][value=chosen]').check();
  await invite.locator('input[name=types][value=weight]').check();
  await invite.locator('#access_expires').fill(day(5));
  await invite.locator('#note').fill('For the school trip');
  await invite.locator('#pin').fill('4321');
  await snap(p, 'invite');
  await submit(p, invite);
  seen.sharingAfterInvite = await p.innerText('main');
  await snap(p, 'sharing');

  const bo = await person(job.bo);
  const link = (await mail(job.bo, /invitations\//)).match(/(http\S+\/invitations\/[\w-]+)/)[1];
  await bo.page.goto(link);
  await snap(bo.page, 'invitation');
  seen.invitationPage = await bo.page.innerText('main');
  await bo.page.click('a.button');
  await signIn(bo.page, job.bo);
  await bo.page.fill('#pin', '1234');
  await submit(bo.page, bo.page.locator('form[action$="/accept"]'));
  seen.wrongPin = await bo.page.innerText('main');
  await bo.page.fill('#pin', '4321');
  await submit(bo.page, bo.page.locator('form[action$="/accept"]'));
  seen.boLanding = bo.page.url();
  await bo.page.goto(`${job.base}/records/${record}/data`);
  await snap(bo.page, 'viewer-data');
  seen.boData = await bo.page.innerText('main');
  await bo.page.goto(`${job.base}/records/${record}/data/weight?range=1y`);
  await snap(bo.page, 'viewer-weight');
  seen.boWeight = await bo.page.innerText('main');
  seen.boEditLinks = await bo.page.locator('a[href$="/edit"], a[href$="/new"]').count();
  seen.boAllergy = (await bo.page.goto(`${job.base}/records/${record}/data/allergy`)).status();
  seen.boNewWeight = (await bo.page.goto(`${job.base}/records/${record}/data/weight/new`)).status();
  seen.boSharing = (await bo.page.goto(`${job.base}/records/${record}/sharing`)).status();
  seen.boHistory = (await bo.page.goto(`${job.base}/records/${record}/history`)).status();
  await snap(bo.page, 'viewer-refused');
  // A form posted anyway (with Bo's own CSRF token) is refused by the same decision.
  await bo.page.goto(`${job.base}/records/${record}/data/weight?range=1y`);
  const csrf = await bo.page.locator('input[name=csrf]').first().inputValue();
  const posted = await bo.page.request.post(`${job.base}/records/${record}/data/weight/new`, {
    form: { csrf, value: '99', unit: 'kg', effective: day(0) + 'T10:00' },
    maxRedirects: 0,
  });
  seen.boPostWeight = posted.status();

  // --- Time passes: the access ends on the dot ------------------------------------------------
  await moveClockDays(6);
  seen.boAfterExpiry = await visit(bo, `${job.base}/records/${record}/data/weight`);
  await visit(bo, `${job.base}/records`);
  seen.boRecordsAfterExpiry = await bo.page.innerText('main');
  await snap(bo.page, 'viewer-expired');
  await mail(job.bo, /Subject: Access expired/);

  // --- Dee is invited as a custodian; then the record is handed over to Cleo ------------------
  p = ann.page;
  await visit(ann, `${job.base}/records/${record}/sharing`);
  const inv2 = p.locator('#invite');
  await inv2.locator('#email').fill(job.dee);
  await inv2.locator('#invitee-name').fill('Dee Example');
  await inv2.locator('#relationship').selectOption('parent');
  await inv2.locator('input[name=level][value=custodian]').check();
  await submit(p, inv2);
  const dee = await person(job.dee);
  const deeLink = (await mail(job.dee, /invitations\//)).match(/(http\S+\/invitations\/[\w-]+)/)[1];
  await dee.page.goto(deeLink);
  await dee.page.click('a.button');
  await signIn(dee.page, job.dee);
  await submit(dee.page, dee.page.locator('form[action$="/accept"]'));

  await p.goto(`${job.base}/records/${record}/sharing`);
  const ho = p.locator('#hand-over');
  await ho.locator('#ho-email').fill(job.cleo);
  await ho.locator('#ho-name').fill('Cleo Example');
  await submit(p, ho);
  await snap(p, 'hand-over-sent');
  const cleo = await person(job.cleo);
  const cleoLink = (await mail(job.cleo, /invitations\//)).match(/(http\S+\/invitations\/[\w-]+)/)[1];
  await cleo.page.goto(cleoLink);
  seen.handOverPage = await cleo.page.innerText('main');
  await cleo.page.click('a.button');
  await signIn(cleo.page, job.cleo);
  await submit(cleo.page, cleo.page.locator('form[action$="/accept"]'));
  await cleo.page.goto(`${job.base}/records/${record}/sharing`);
  await snap(cleo.page, 'sharing-after-hand-over');
  seen.sharingAfterHandOver = await cleo.page.innerText('main');
  seen.annAfterHandOver = await visit(ann, `${job.base}/records/${record}`);

  // --- The emergency code, its wallet card and the emergency page ------------------------------
  await cleo.page.goto(`${job.base}/records/${record}/emergency`);
  await submit(cleo.page, cleo.page.locator('form[action$="/emergency/codes"]'));
  const code = (await cleo.page.locator('#new-code').innerText()).trim();
  seen.code = code;
  await snap(cleo.page, 'emergency-code');
  const [card] = await Promise.all([
    cleo.page.waitForEvent('download'),
    cleo.page.locator('form[action$="/emergency/card"] button').click(),
  ]);
  const cardPath = path.join(job.shots, 'wallet-card.pdf');
  await card.saveAs(cardPath);
  seen.card = cardPath;

  const medic = await person('');
  await medic.page.goto(`${job.base}/emergency`);
  await medic.page.fill('#code', 'AAAA-BBBB-CCCC-DDDD');
  await submit(medic.page, medic.page.locator('main form'));
  seen.wrongCode = await medic.page.innerText('main');
  await medic.page.fill('#code', code.toLowerCase());
  await submit(medic.page, medic.page.locator('main form'));
  await snap(medic.page, 'emergency-profile');
  seen.emergency = await medic.page.innerText('main');
  await mail(job.cleo, /Subject: Emergency access used/);

  // --- The history lists all of it --------------------------------------------------------------
  await visit(dee, `${job.base}/records/${record}/history`);
  await snap(dee.page, 'history');
  seen.history = await dee.page.innerText('main');
  await dee.page.goto(`${job.base}/records/${record}/history?type=weight`);
  seen.historyWeight = await dee.page.innerText('main');

  seen.links = [link, deeLink, cleoLink];
  process.stdout.write(JSON.stringify(seen) + '\n');
} catch (e) {
  process.stdout.write(JSON.stringify({ error: String(e), seen }) + '\n');
  process.exitCode = 1;
} finally {
  await browser.close();
}
