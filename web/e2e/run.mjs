// End-to-end check of the web app against a running api that serves the built app (`npm run build`).
//
//   BASE_URL=http://127.0.0.1:8080 npm run e2e          # the real api (serves web/dist and /api/v1)
//   E2E_MOCK=1 npm run e2e                              # against e2e/mock-api.mjs, to check the script itself
//
// Env: BASE_URL, CHROMIUM_PATH (default /usr/bin/chromium), E2E_TIMEOUT_MS (default 15000),
//      E2E_CHAT_TIMEOUT_MS (default 60000: a real model may be slow), HEADFUL=1 to watch.
// Screenshots of every screen go to ../target/e2e-screenshots/. Axe runs on every screen; a serious or critical
// violation fails the step. The last line is `E2E: N passed, M failed`; the exit code is non-zero on any failure.
import { mkdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const SHOTS = resolve(here, '../../target/e2e-screenshots');
const TIMEOUT = Number(process.env.E2E_TIMEOUT_MS ?? 15_000);
const CHAT_TIMEOUT = Number(process.env.E2E_CHAT_TIMEOUT_MS ?? 60_000);
const AXE_PATH = require.resolve('axe-core/axe.min.js');

let baseUrl = (process.env.BASE_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
let mock = null;
if (process.env.E2E_MOCK === '1') {
  const { startMockApi } = await import('./mock-api.mjs');
  mock = await startMockApi({ port: 0 });
  baseUrl = mock.url;
}

const results = [];
let stopRest = false;

function log(line) {
  process.stdout.write(`${line}\n`);
}

async function step(name, fn) {
  if (stopRest) {
    results.push({ name, ok: false, skipped: true });
    log(`SKIP ${name} (an earlier step failed)`);
    return;
  }
  const started = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    log(`PASS ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    results.push({ name, ok: false });
    log(`FAIL ${name} (${Date.now() - started} ms)\n     ${String(e?.stack ?? e).split('\n').slice(0, 6).join('\n     ')}`);
    stopRest = true;
    for (const page of openPages) {
      await page
        .screenshot({ path: resolve(SHOTS, `FAILED-${slug(name)}-${openPages.indexOf(page)}.png`), fullPage: true })
        .catch(() => undefined);
    }
  }
}

/** Like step, but later steps still run when it fails (they do not depend on it). */
async function check(name, fn) {
  const before = stopRest;
  await step(name, fn);
  if (!before) stopRest = false;
}

function slug(s) {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

function expect(cond, message) {
  if (!cond) throw new Error(message);
}

let shotNo = 0;
async function screenshot(page, name) {
  shotNo += 1;
  const file = resolve(SHOTS, `${String(shotNo).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
}

let axeSource = null;
let axeViaEvaluate = false;
/** Inline-script refusals caused by our own axe injection (not by the app), to leave out of the CSP check. */
let ownInlineRefusals = 0;
/** Runs axe-core on the page; fails on serious or critical violations. */
async function axe(page, screen) {
  // page.addScriptTag first; under the app's strict CSP (no inline scripts) the injected tag is refused, so from
  // then on evaluate the same file through the DevTools protocol, which CSP does not govern. The CSP stays on, so
  // the run also proves the app itself needs no inline script or style.
  if (!axeViaEvaluate) await page.addScriptTag({ path: AXE_PATH }).catch(() => undefined);
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) {
    if (!axeViaEvaluate) ownInlineRefusals += 1;
    axeViaEvaluate = true;
    axeSource ??= await readFile(AXE_PATH, 'utf8');
    await page.evaluate(axeSource);
  }
  const violations = await page.evaluate(async () => {
    const res = await window.axe.run(document, { resultTypes: ['violations'] });
    return res.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.slice(0, 3).map((n) => n.target.join(' ')),
    }));
  });
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  for (const v of violations.filter((x) => !bad.includes(x))) log(`     axe (${screen}) ${v.impact}: ${v.id} – ${v.help}`);
  expect(
    bad.length === 0,
    `axe on ${screen}: ${bad.map((v) => `${v.impact} ${v.id} (${v.help}) at ${v.targets.join(', ')}`).join('; ')}`,
  );
}

async function heading(page, name, timeout = TIMEOUT) {
  await page.getByRole('heading', { level: 1, name }).waitFor({ state: 'visible', timeout });
}

const openPages = [];
const cspViolations = [];
const pageErrors = [];

async function newPage(context, label) {
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  openPages.push(page);
  page.on('pageerror', (e) => pageErrors.push(`${label}: ${e.message}`));
  page.on('console', (msg) => {
    const text = msg.text();
    if (/Content Security Policy|Refused to (load|execute|apply)/i.test(text)) cspViolations.push(`${label}: ${text}`);
  });
  return page;
}

const run = Date.now().toString(36) + Math.random().toString(36).slice(2, 6);
const password = `Molar-Lantern-Orbit-${run}!`;
const userA = { email: `e2e-a-${run}@example.com`, name: `Dr Ada ${run}`, password };
const userB = { email: `e2e-b-${run}@example.com`, name: `Dr Bob ${run}`, password };
const patientName = `Patient ${run} Testwell`;
let patientUrl = null;

await rm(SHOTS, { recursive: true, force: true });
await mkdir(SHOTS, { recursive: true });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: process.env.HEADFUL !== '1',
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

try {
  log(`E2E against ${baseUrl}; screenshots in ${SHOTS}`);
  const ctxA = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await newPage(ctxA, 'user A');

  async function register(p, u) {
    await p.goto(`${baseUrl}/register`);
    await heading(p, 'Create an account');
    await p.getByLabel('Email').fill(u.email);
    await p.getByLabel('Full name').fill(u.name);
    await p.getByLabel('Password').fill(u.password);
    await p.getByRole('button', { name: 'Create account' }).click();
    await heading(p, 'Patients');
    await p.getByRole('banner').getByText(u.name).waitFor();
  }

  await step('register screen', async () => {
    await page.goto(`${baseUrl}/register`);
    await heading(page, 'Create an account');
    await axe(page, 'register');
    await screenshot(page, 'register');
  });

  await step('register shows the weak-password rule next to the field', async () => {
    await page.getByLabel('Email').fill(userA.email);
    await page.getByLabel('Full name').fill(userA.name);
    await page.getByLabel('Password').fill('short');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.locator('#register-password-error').waitFor();
    expect((await page.getByLabel('Password').getAttribute('aria-invalid')) === 'true', 'password not marked invalid');
    await screenshot(page, 'register-errors');
  });

  await step('register a new user', async () => {
    await register(page, userA);
    await page.getByText('No patients yet.').waitFor();
    await axe(page, 'patients (empty)');
    await screenshot(page, 'patients-empty');
  });

  await step('add a patient (client-side rules first)', async () => {
    await page.getByRole('link', { name: 'Add patient' }).first().click();
    await heading(page, 'Add patient');
    await axe(page, 'patient form');
    await screenshot(page, 'patient-form');
    await page.getByLabel('Phone').fill('12345');
    await page.getByLabel('Date of birth').fill('2999-01-01');
    await page.getByRole('button', { name: 'Add patient' }).click();
    await page.locator('#patient-name-error').waitFor();
    await page.locator('#patient-phone-error').waitFor();
    await page.locator('#patient-dateOfBirth-error').waitFor();
    await axe(page, 'patient form with errors');
    await screenshot(page, 'patient-form-errors');
    await page.getByLabel('Full name').fill(patientName);
    await page.getByLabel('Email').fill(`patient-${run}@example.com`);
    await page.getByLabel('Phone').fill('+44 20 7946 0958');
    await page.getByLabel('Date of birth').fill('1985-04-12');
    await page.getByLabel('Medical notes').fill('Allergic to penicillin.');
    await page.getByRole('button', { name: 'Add patient' }).click();
    await heading(page, patientName);
    patientUrl = page.url();
    expect(/\/patients\/[^/]+$/.test(new URL(patientUrl).pathname), `unexpected patient URL ${patientUrl}`);
  });

  await step('search finds the patient', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Patients' }).click();
    await heading(page, 'Patients');
    const search = page.getByLabel('Search patients');
    await search.fill(`zz-no-such-${run}`);
    await page.getByText(/No patients match/).waitFor();
    await search.fill(run);
    await page.getByRole('link', { name: patientName }).waitFor();
    expect(new URL(page.url()).searchParams.get('q') === run, 'search not reflected in the URL');
    await axe(page, 'patient list');
    await screenshot(page, 'patient-search');
  });

  await step('open the patient and chat: the reply streams in', async () => {
    await page.getByRole('link', { name: patientName }).click();
    await heading(page, patientName);
    await page.getByRole('heading', { name: 'Assistant' }).waitFor();
    await page.getByText(/No messages yet/).waitFor();
    await axe(page, 'patient detail');
    await screenshot(page, 'patient-detail');
    const question = 'What can help with sensitive teeth when drinking cold water?';
    await page.getByLabel('Message', { exact: true }).fill(question);
    await page.getByRole('button', { name: 'Send' }).click();
    // The user's message shows at once; then the reply arrives and is saved.
    await page.locator('.chat-log .msg-user', { hasText: question }).waitFor();
    const reply = page.locator('.chat-log .msg-assistant:not(.msg-streaming)').last();
    await reply.waitFor({ timeout: CHAT_TIMEOUT });
    const text = (await reply.locator('.msg-body').innerText()).trim();
    expect(text.length > 0, 'empty assistant reply');
    await page.getByRole('button', { name: 'Send' }).waitFor();
    await axe(page, 'chat with a reply');
    await screenshot(page, 'chat-reply');
  });

  await step('an emergency message shows the emergency banner', async () => {
    await page.getByLabel('Message', { exact: true }).fill('my tooth got knocked out playing football');
    await page.getByRole('button', { name: 'Send' }).click();
    const banner = page.getByRole('alert').filter({ hasText: 'Contact the clinic now' });
    await banner.waitFor({ timeout: CHAT_TIMEOUT });
    const bannerText = await banner.innerText();
    expect(/emergency|urgent/i.test(bannerText), `banner lacks a heading: ${bannerText}`);
    expect(bannerText.length > 60, 'banner lacks the first-aid text');
    await page.locator('.chat-log .msg-user', { hasText: 'knocked out playing football' }).waitFor();
    await axe(page, 'emergency banner');
    await screenshot(page, 'chat-emergency');
  });

  await step('reload keeps the session and the conversation', async () => {
    await page.reload();
    await heading(page, patientName);
    await page.locator('.chat-log .msg-user', { hasText: 'knocked out playing football' }).waitFor();
    await page.getByRole('alert').filter({ hasText: 'Contact the clinic now' }).waitFor();
    await screenshot(page, 'after-reload');
  });

  await check('delete a patient after confirming', async () => {
    const tempName = `Temp ${run} Deleteme`;
    await page.goto(`${baseUrl}/patients/new`);
    await heading(page, 'Add patient');
    await page.getByLabel('Full name').fill(tempName);
    await page.getByRole('button', { name: 'Add patient' }).click();
    await heading(page, tempName);
    await page.getByRole('button', { name: `Delete ${tempName}` }).click();
    const dialog = page.getByRole('dialog', { name: `Delete ${tempName}?` });
    await dialog.waitFor();
    await axe(page, 'delete confirmation');
    await screenshot(page, 'delete-confirm');
    // Cancel first: nothing happens.
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await page.getByRole('button', { name: `Delete ${tempName}` }).click();
    await dialog.getByRole('button', { name: 'Delete patient' }).click();
    await heading(page, 'Patients');
    await page.getByText(`${tempName} was deleted.`).waitFor();
    await page.getByLabel('Search patients').fill(`Temp ${run}`);
    await page.getByText(/No patients match/).waitFor();
  });

  if (mock) {
    // Only the mock can make the assistant fail on demand (a message starting with "fail").
    await check('mock only: a failed reply keeps the message and retry gets the answer', async () => {
      await page.goto(patientUrl);
      await heading(page, patientName);
      await page.getByLabel('Message', { exact: true }).fill('fail: is this swelling normal?');
      await page.getByRole('button', { name: 'Send' }).click();
      const failure = page.getByRole('alert').filter({ hasText: /unavailable/i });
      await failure.waitFor();
      await page.locator('.chat-log .msg-user', { hasText: 'is this swelling normal' }).waitFor();
      await screenshot(page, 'chat-failed');
      await page.getByRole('button', { name: 'Retry' }).click();
      await failure.waitFor({ state: 'hidden' });
      await page.locator('.chat-log .msg-assistant').last().waitFor();
      expect((await page.locator('.chat-log .msg-user', { hasText: 'is this swelling normal' }).count()) === 1, 'user message duplicated');
    });
  }

  await step('log out', async () => {
    await page.goto(patientUrl);
    await heading(page, patientName);
    await page.getByRole('button', { name: 'Log out' }).click();
    await heading(page, 'Sign in');
    await axe(page, 'sign in');
    await screenshot(page, 'signed-out');
    // The session is gone for good: a reload stays signed out and a protected URL asks to sign in.
    await page.goto(patientUrl);
    await heading(page, 'Sign in');
  });

  await step('sign in again goes back to the requested patient', async () => {
    await page.getByLabel('Email').fill(userA.email);
    await page.getByLabel('Password').fill('not the password at all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: /not correct|invalid|incorrect/i }).waitFor();
    await page.getByLabel('Password').fill(userA.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await heading(page, patientName);
    await page.getByRole('button', { name: 'Log out' }).click();
    await heading(page, 'Sign in');
  });

  await step("a second user cannot open the first user's patient", async () => {
    const ctxB = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const pageB = await newPage(ctxB, 'user B');
    await register(pageB, userB);
    await pageB.getByLabel('Search patients').fill(run);
    await pageB.getByText(/No patients match/).waitFor();
    await pageB.goto(patientUrl);
    await heading(pageB, 'Patient not found');
    expect(!(await pageB.getByText(patientName).count()), "the other user's patient name is visible");
    await axe(pageB, 'not found');
    await screenshot(pageB, 'other-users-patient-not-found');
    await ctxB.close();
  });

  if (mock) {
    await check('mock only: an admin manages users', async () => {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const p = await newPage(ctx, 'admin');
      await register(p, { email: `admin-${run}@example.com`, name: `Admin ${run}`, password });
      await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
      await heading(p, 'Users');
      const row = p.getByRole('row').filter({ hasText: userB.email });
      await row.getByRole('button', { name: /Deactivate/ }).click();
      await p.getByText(`${userB.name} was deactivated.`).waitFor();
      await row.getByRole('combobox').selectOption('admin');
      await p.getByText(`${userB.name} is now an admin.`).waitFor();
      await axe(p, 'users');
      await screenshot(p, 'admin-users');
      await ctx.close();
    });
  }

  await check('no CSP violations or uncaught errors', async () => {
    let own = ownInlineRefusals;
    const appViolations = cspViolations.filter((v) => !(/inline script/i.test(v) && own-- > 0));
    expect(appViolations.length === 0, `CSP violations:\n${appViolations.join('\n')}`);
    expect(pageErrors.length === 0, `page errors:\n${pageErrors.join('\n')}`);
  });
} catch (e) {
  results.push({ name: 'harness', ok: false });
  log(`FAIL harness: ${e?.stack ?? e}`);
} finally {
  await browser.close().catch(() => undefined);
  if (mock) await mock.close();
}

const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
log(`E2E: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
