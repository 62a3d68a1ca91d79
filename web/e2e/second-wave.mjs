// The second wave's browser steps (clinics, trash, access log, overview, two-step sign-in, sessions, export and
// import, chat reattach and Stop, the forced set-up), run by e2e/run.mjs after the first wave's desktop steps.
//
// Each feature is detected from the api's own description (`GET /api/v1/openapi.json`): its steps run when the
// api has the feature's routes, and otherwise print `SKIP <feature>: api has no <route> yet` (counted as skipped,
// never as passed). The stand-in (E2E_MOCK=1) has every route, so `npm run e2e:mock` runs them all.
import { readFile } from 'node:fs/promises';
import { Secret, TOTP } from 'otpauth';

/** The api's routes, with path parameters written `{}` so `{id}` and `{patientId}` compare equal. */
export async function apiRoutes(baseUrl) {
  try {
    const res = await fetch(`${baseUrl}/api/v1/openapi.json`);
    if (!res.ok) return new Set();
    const doc = await res.json();
    return new Set(Object.keys(doc.paths ?? {}).map((p) => p.replace(/\{[^}]+\}/g, '{}')));
  } catch {
    return new Set();
  }
}

/** A TOTP code for `secret` (as the page shows it, spaces allowed), `steps` periods from now. */
export function totpCode(secret, steps = 0) {
  const totp = new TOTP({ secret: Secret.fromBase32(secret.replace(/\s+/g, '')), digits: 6, period: 30, algorithm: 'SHA1' });
  return totp.generate({ timestamp: Date.now() + steps * 30_000 });
}

/** Thrown by a step that cannot show what it checks on this stack (timing): reported as SKIP with the reason. */
export class SkipStep extends Error {
  constructor(reason) {
    super(reason);
    this.skip = reason;
  }
}

export async function secondWave(t) {
  const { browser, baseUrl, mock, run, password, log, step, check, skip, expect, axe, heading, screenshot, newPage, expectNoSideScroll, apiCall, focused, CHAT_TIMEOUT, existing } = t;
  const routes = await apiRoutes(baseUrl);
  // E2E_SLOW_MODEL=1: the real stack's model streams a message that says "slowly" for several seconds (xtask's paced
  // fake), so reattaching and Stop must be shown, not skipped.
  const slowModel = process.env.E2E_SLOW_MODEL === '1';
  const has = (...paths) => paths.filter((p) => !routes.has(p.replace(/\{[^}]+\}/g, '{}')));
  /** Runs `fn` when the api has every route, else a SKIP line naming the first missing one. */
  async function feature(name, paths, fn) {
    const missing = has(...paths);
    if (missing.length) {
      skip(name, `api has no ${missing[0]} yet`);
      return false;
    }
    await check(name, fn);
    return true;
  }

  const owner = { email: `e2e-owner-${run}@example.com`, name: `Olga Owner ${run}`, password, clinic: `Molar Street ${run}` };
  const recep = { email: `e2e-recep-${run}@example.com`, name: `Rita Reception ${run}`, password };
  const notedName = `Noted ${run} Patient`;
  let ownerSecret = null;
  let inviteLink = null;
  const clinicsOn = has('/clinic/invitations', '/invitations/{token}/accept', '/clinic/members').length === 0;

  /** Walks the set-up a clinic's policy forces on a member (password, code, recovery codes); returns the secret. */
  async function completeForcedMfaSetup(page, accountPassword) {
    await page.locator('#mfa-password').fill(accountPassword);
    await page.getByRole('button', { name: 'Continue' }).click();
    const secret = (await page.locator('#mfa-secret').innerText()).replace(/\s+/g, '');
    await page.getByLabel('Code from the app').fill(totpCode(secret));
    await page.getByRole('button', { name: 'Turn on two-step sign-in' }).click();
    await page.getByLabel('I have saved my recovery codes').check();
    await page.getByRole('button', { name: 'Done' }).click();
    return secret;
  }

  /** The owner's api calls, with one session kept and refreshed (not a sign-in each time: auth is rate-limited). */
  let ownerSession = null;
  async function ownerApi(method, path, body) {
    if (!ownerSession) ownerSession = await apiCall('POST', '/auth/login', { email: owner.email, password: owner.password });
    try {
      return await apiCall(method, path, body, ownerSession.accessToken);
    } catch (e) {
      if (!/: 401 /.test(String(e))) throw e;
      ownerSession = await apiCall('POST', '/auth/refresh', { refreshToken: ownerSession.refreshToken });
      return apiCall(method, path, body, ownerSession.accessToken);
    }
  }
  /** Screens of the owner to check on a phone at the end (one sign-in for all). */
  const ownerPhoneVisits = [];

  async function login(p, u, { secret = null, steps = 1, recovery = null } = {}) {
    await p.goto(`${baseUrl}/login`);
    await heading(p, 'Sign in');
    await p.getByLabel('Email').fill(u.email);
    await p.getByLabel('Password').fill(u.password);
    await p.getByRole('button', { name: 'Sign in' }).click();
    if (recovery) {
      await heading(p, 'Enter your sign-in code');
      await p.getByRole('button', { name: 'Use a recovery code instead' }).click();
      await p.getByLabel('Recovery code').fill(recovery);
      await p.getByRole('button', { name: 'Sign in' }).click();
    } else if (secret) {
      await heading(p, 'Enter your sign-in code');
      await p.getByLabel('Authentication code').fill(totpCode(secret, steps));
      await p.getByRole('button', { name: 'Sign in' }).click();
    }
  }

  /** The same screens on a 390 px phone: no sideways scrolling, axe-clean. */
  async function onPhone(u, label, visits, opts = {}) {
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    const p = await newPage(ctx, `${label} (phone)`);
    try {
      await login(p, u, opts);
      await p.waitForURL((url) => !url.pathname.startsWith('/login'));
      for (const v of visits) {
        await p.goto(`${baseUrl}${v.path}`);
        await heading(p, v.heading);
        if (v.ready) await v.ready(p);
        await expectNoSideScroll(p, `${v.path} (phone)`);
        await axe(p, `${v.path} (phone)`);
        await screenshot(p, `phone-${label}-${v.path.replace(/[^a-z0-9]+/gi, '-')}`);
      }
    } finally {
      await ctx.close();
    }
  }

  // ---- The owner of a new clinic (registration with its name).
  const ctxO = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  await ctxO.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: baseUrl }).catch(() => undefined);
  // The export streams into the file the user picks (File System Access API); the stand-in for the picker keeps
  // what was written, so the test can read it.
  await ctxO.addInitScript(() => {
    window.__saved = [];
    window.showSaveFilePicker = async (options) => ({
      createWritable: async () => {
        const chunks = [];
        return new WritableStream({
          write(chunk) {
            chunks.push(chunk);
          },
          close() {
            const size = chunks.reduce((n, c) => n + c.byteLength, 0);
            const all = new Uint8Array(size);
            let at = 0;
            for (const c of chunks) {
              all.set(c, at);
              at += c.byteLength;
            }
            window.__saved.push({ name: options.suggestedName, text: new TextDecoder().decode(all), chunks: chunks.length });
          },
        });
      },
    });
  });
  const op = await newPage(ctxO, 'owner');

  await step('an owner registers a clinic by name', async () => {
    await op.goto(`${baseUrl}/register`);
    await heading(op, 'Create an account');
    await op.getByLabel('Email').fill(owner.email);
    await op.getByLabel('Full name').fill(owner.name);
    await op.getByLabel('Password').fill(owner.password);
    await op.getByLabel('Clinic name').fill(owner.clinic);
    await axe(op, 'register with a clinic name');
    await op.getByRole('button', { name: 'Create account' }).click();
    await heading(op, 'Patients');
    if (clinicsOn) {
      await op.getByRole('banner').getByText(owner.clinic).waitFor();
      await op.getByRole('banner').getByText('Owner', { exact: true }).waitFor();
    }
    await ownerApi('POST', '/patients', { name: notedName, email: `noted-${run}@example.com`, dateOfBirth: '1979-03-02', medicalNotes: 'Allergic to latex.' });
  });

  await feature('clinic page: members, and an invitation link shown once', ['/clinic', '/clinic/members', '/clinic/invitations'], async () => {
    await op.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Clinic' }).click();
    await heading(op, owner.clinic);
    await op.getByRole('row').filter({ hasText: owner.email }).getByRole('cell', { name: 'Owner', exact: true }).waitFor();
    await op.getByLabel('Email').fill(recep.email);
    await op.getByLabel('Role', { exact: true }).selectOption('reception');
    await op.getByRole('button', { name: 'Create invitation link' }).click();
    const title = op.getByRole('heading', { name: `Invitation link for ${recep.email}` });
    await title.waitFor();
    const f = await focused(op);
    expect(f?.tag === 'h3', `focus did not move to the new link: ${JSON.stringify(f)}`);
    inviteLink = await op.getByRole('textbox', { name: 'Invitation link' }).inputValue();
    expect(/\/invite\/[^/]+$/.test(inviteLink), `not an invitation link: ${inviteLink}`);
    await op.getByRole('button', { name: 'Copy link' }).click();
    await op.getByRole('status').filter({ hasText: /Copied|Selected/ }).waitFor();
    await op.getByRole('row').filter({ hasText: recep.email }).getByRole('cell', { name: 'Reception', exact: true }).waitFor();
    await axe(op, 'clinic page with a new invitation');
    await screenshot(op, 'clinic-invitation');
    // Shown once: after a reload the list has no link.
    await op.reload();
    await heading(op, owner.clinic);
    await op.getByRole('row').filter({ hasText: recep.email }).waitFor();
    expect((await op.getByRole('textbox', { name: 'Invitation link' }).count()) === 0, 'the invitation link is shown again');
  });

  await feature('a receptionist registers from the link and sees patients without notes or chat', ['/invitations/{token}/accept'], async () => {
    expect(inviteLink, 'no invitation link from the previous step');
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const rp = await newPage(ctx, 'reception');
    try {
      await rp.goto(inviteLink);
      await heading(rp, 'Join a clinic');
      await axe(rp, 'invitation (signed out)');
      await screenshot(rp, 'invite-register');
      await rp.getByLabel('Email').fill(recep.email);
      await rp.getByLabel('Full name').fill(recep.name);
      await rp.getByLabel('Password').fill(recep.password);
      await rp.getByRole('button', { name: 'Create account and join' }).click();
      await heading(rp, 'Patients');
      await rp.getByRole('banner').getByText(owner.clinic).waitFor();
      await rp.getByRole('banner').getByText('Reception', { exact: true }).waitFor();
      const nav = rp.getByRole('navigation', { name: 'Main' });
      expect((await nav.getByRole('link', { name: 'Clinic' }).count()) === 0, 'reception is offered the clinic page');
      expect((await rp.getByRole('link', { name: 'Import patients' }).count()) === 0, 'reception is offered import');
      expect((await rp.getByRole('button', { name: /^Export/ }).count()) === 0, 'reception is offered export');
      await rp.getByRole('link', { name: notedName }).first().click();
      await heading(rp, notedName);
      expect((await rp.getByText('Medical notes').count()) === 0, 'reception sees the medical notes field');
      expect((await rp.getByText('Allergic to latex').count()) === 0, 'reception sees the notes');
      expect((await rp.locator('.chat').count()) === 0, 'reception sees the assistant');
      expect((await rp.getByRole('link', { name: /Go to the assistant/ }).count()) === 0, 'reception is offered the assistant');
      await axe(rp, 'patient (reception)');
      await screenshot(rp, 'reception-patient');
      await rp.getByRole('link', { name: `Edit ${notedName}` }).click();
      await heading(rp, 'Edit patient');
      expect((await rp.getByLabel('Medical notes').count()) === 0, 'reception can edit the notes');
      await rp.getByLabel('Phone').fill('(555) 010-3000');
      await rp.getByRole('button', { name: 'Save changes' }).click();
      await heading(rp, notedName);
      // An owner's page is an unknown page to reception.
      await rp.goto(`${baseUrl}/clinic`);
      await heading(rp, 'Page not found');
      // The owner's patient keeps its notes.
      const p = (await ownerApi('GET', `/patients?q=${encodeURIComponent(notedName)}`)).items[0];
      expect(p.medicalNotes === 'Allergic to latex.', `the notes changed: ${p.medicalNotes}`);
    } finally {
      await ctx.close();
    }
    await onPhone(recep, 'reception', [
      { path: '/patients', heading: 'Patients' },
    ]);
  });

  await feature('roles change only after a confirmation; the last owner stays', ['/clinic/members/{userId}'], async () => {
    await op.goto(`${baseUrl}/clinic`);
    await heading(op, owner.clinic);
    const row = op.getByRole('row').filter({ hasText: recep.email });
    await row.getByRole('cell', { name: 'Reception', exact: true }).waitFor();
    await row.getByRole('button', { name: `Change role of ${recep.name}` }).click();
    const dialog = op.getByRole('dialog', { name: `Change the role of ${recep.name}?` });
    await dialog.waitFor();
    // Arrow keys move between the roles without applying any.
    await dialog.getByLabel(/^Reception/).focus();
    await op.keyboard.press('ArrowUp');
    await axe(op, 'role dialog');
    await screenshot(op, 'role-dialog');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const still = (await ownerApi('GET', '/clinic/members')).items.find((m) => m.email === recep.email);
    expect(still?.role === 'reception', `the role changed without confirming: ${still?.role}`);
    // Confirmed: clinician.
    await row.getByRole('button', { name: `Change role of ${recep.name}` }).click();
    await dialog.getByLabel(/^Clinician/).check();
    await dialog.getByRole('button', { name: 'Make clinician' }).click();
    await op.getByText(`${recep.name} is now clinician.`).waitFor();
    await row.getByRole('cell', { name: 'Clinician', exact: true }).waitFor();
    // Back to reception for the steps after this one.
    await row.getByRole('button', { name: `Change role of ${recep.name}` }).click();
    await dialog.getByLabel(/^Reception/).check();
    await dialog.getByRole('button', { name: 'Make reception' }).click();
    await op.getByText(`${recep.name} is now reception.`).waitFor();
    // The only owner cannot demote themselves.
    const me = op.getByRole('row').filter({ hasText: owner.email });
    await me.getByRole('button', { name: /^Change role of/ }).click();
    const mine = op.getByRole('dialog', { name: `Change the role of ${owner.name}?` });
    await mine.getByLabel(/^Clinician/).check();
    await mine.getByRole('button', { name: 'Make clinician' }).click();
    await mine.getByRole('alert').filter({ hasText: /at least one owner/ }).waitFor();
    await mine.getByRole('button', { name: 'Cancel' }).click();
  });

  await feature('an invitation can be revoked, and its link stops working', ['/clinic/invitations/{id}'], async () => {
    const email = `e2e-late-${run}@example.com`;
    await op.getByLabel('Email').fill(email);
    await op.getByLabel('Role', { exact: true }).selectOption('clinician');
    await op.getByRole('button', { name: 'Create invitation link' }).click();
    const link = await op.getByRole('textbox', { name: 'Invitation link' }).inputValue();
    const row = op.getByRole('row').filter({ hasText: email });
    await row.getByRole('button', { name: /^Revoke/ }).click();
    const dialog = op.getByRole('dialog', { name: `Revoke the invitation for ${email}?` });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Revoke invitation' }).click();
    await op.getByText(`The invitation for ${email} was revoked`).first().waitFor();
    expect((await row.count()) === 0, 'the revoked invitation is still listed');
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const p = await newPage(ctx, 'revoked link');
    try {
      await p.goto(link);
      await heading(p, 'Join a clinic');
      await p.getByLabel('Email').fill(email);
      await p.getByLabel('Full name').fill(`Late ${run}`);
      await p.getByLabel('Password').fill(password);
      await p.getByRole('button', { name: 'Create account and join' }).click();
      await p.getByRole('alert').filter({ hasText: /not valid|does not work/ }).waitFor();
      await expectNoSideScroll(p, 'invitation (phone)');
      await axe(p, 'revoked invitation (phone)');
    } finally {
      await ctx.close();
    }
  });

  await feature('a member of two clinics accepts an invitation and switches clinic', ['/invitations/{token}/accept', '/auth/switch-clinic'], async () => {
    const other = existing.userB;
    await op.goto(`${baseUrl}/clinic`);
    await heading(op, owner.clinic);
    await op.getByLabel('Email').fill(other.email);
    await op.getByLabel('Role', { exact: true }).selectOption('clinician');
    await op.getByRole('button', { name: 'Create invitation link' }).click();
    const link = await op.getByRole('textbox', { name: 'Invitation link' }).inputValue();
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const p = await newPage(ctx, 'two clinics');
    try {
      await login(p, other);
      await heading(p, 'Patients');
      await p.goto(link);
      await heading(p, 'Join a clinic');
      await axe(p, 'invitation (signed in)');
      await p.getByRole('button', { name: 'Accept the invitation' }).click();
      await heading(p, 'Patients');
      await p.getByText(`You joined ${owner.clinic}.`).waitFor();
      await p.getByRole('link', { name: notedName }).first().waitFor();
      await p.getByRole('banner').getByText('Switch clinic').click();
      const back = p.getByRole('banner').locator('.clinic-switch-list').getByRole('button').first();
      await axe(p, 'clinic switcher open');
      await back.click();
      await p.getByText(/You are now working in/).waitFor();
      await p.getByLabel('Search patients').fill(notedName);
      await p.getByText(/No patients match/).waitFor();
    } finally {
      await ctx.close();
    }
  });

  await feature('the owner deletes a patient and restores it from the trash', ['/patients/trash', '/patients/{id}/restore'], async () => {
    const name = `Trashed ${run} Patient`;
    await ownerApi('POST', '/patients', { name });
    await op.goto(`${baseUrl}/patients`);
    await heading(op, 'Patients');
    await op.getByRole('link', { name }).first().click();
    await heading(op, name);
    await op.getByRole('button', { name: `Delete ${name}` }).click();
    const dialog = op.getByRole('dialog', { name: `Delete ${name}?` });
    await dialog.getByText(/trash/).first().waitFor();
    await dialog.getByRole('button', { name: 'Move to the trash' }).click();
    await heading(op, 'Patients');
    await op.getByText(`${name} was moved to the trash.`).waitFor();
    await op.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Trash' }).click();
    await heading(op, 'Trash');
    const row = op.getByRole('row').filter({ hasText: name });
    await row.waitFor();
    await axe(op, 'trash');
    await screenshot(op, 'trash');
    await row.getByRole('button', { name: `Restore ${name}` }).click();
    await op.getByText(`${name} was restored.`).waitFor();
    await op.getByRole('link', { name: `Open ${name}` }).click();
    await heading(op, name);
    ownerPhoneVisits.push({ path: '/trash', heading: 'Trash' });
  });

  await feature("a patient's access log", ['/patients/{id}/access-log'], async () => {
    await op.goto(`${baseUrl}/patients`);
    await heading(op, 'Patients');
    await op.getByRole('link', { name: notedName }).first().click();
    await heading(op, notedName);
    await op.getByRole('link', { name: `Access log of ${notedName}` }).click();
    await heading(op, `Access log: ${notedName}`);
    const table = op.getByRole('table');
    await table.getByText('Opened the record').first().waitFor();
    if (clinicsOn) await table.getByText(recep.name).first().waitFor();
    await axe(op, 'access log');
    await screenshot(op, 'access-log');
    const id = new URL(op.url()).pathname.split('/')[2];
    ownerPhoneVisits.push({ path: `/patients/${id}/access-log`, heading: `Access log: ${notedName}` });
  });

  await feature('the owner’s overview: messages, emergencies and tokens as charts with tables', ['/clinic/stats'], async () => {
    const p = (await ownerApi('GET', `/patients?q=${encodeURIComponent(notedName)}`)).items[0];
    await ownerApi('POST', `/patients/${p.id}/messages`, { content: 'my tooth got knocked out playing hockey' });
    await ownerApi('POST', `/patients/${p.id}/messages`, { content: 'How often should she floss?' });
    await op.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Overview' }).click();
    await heading(op, 'Overview');
    for (const name of ['Messages to the assistant per day', 'Emergencies flagged per week, by category', 'Model tokens per month']) {
      await op.getByRole('img', { name: new RegExp(`^${name}`) }).waitFor();
    }
    const messages = op.getByRole('figure').filter({ hasText: 'Messages to the assistant per day' });
    expect(/[1-9]\d* messages in 30 days/.test(await messages.innerText()), 'the summary does not count the messages');
    await messages.getByText('Show the figures as a table').click();
    await messages.getByRole('table').getByRole('row').nth(1).waitFor();
    await op.getByRole('figure').filter({ hasText: 'Emergencies flagged' }).getByText(/knocked-out tooth/i).first().waitFor();
    await axe(op, 'overview');
    await screenshot(op, 'overview');
    await op.getByLabel('Last 90 days').check();
    await op.locator('.chart-summary', { hasText: /messages? in 90 days/ }).waitFor();
    ownerPhoneVisits.push({ path: '/clinic/overview', heading: 'Overview', ready: (p2) => p2.getByRole('img', { name: /^Model tokens/ }).waitFor() });
  });

  // Export and import (owner, clinician).
  await feature('export (FHIR NDJSON streamed to a file, CSV downloaded) and import with a dry run', ['/export/patients', '/import/patients'], async () => {
    await op.goto(`${baseUrl}/patients`);
    await heading(op, 'Patients');
    await op.getByRole('button', { name: 'Export FHIR (NDJSON)' }).click();
    await op.getByRole('status').filter({ hasText: /Exported/ }).waitFor();
    const saved = await op.evaluate(() => window.__saved);
    expect(saved.length === 1 && saved[0].name.endsWith('.ndjson'), `nothing saved: ${JSON.stringify(saved).slice(0, 200)}`);
    const lines = saved[0].text.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.some((r) => r.resourceType === 'Patient' && JSON.stringify(r.name).includes(notedName)), 'the FHIR export lacks the patient');
    // Without the File System Access API: a download.
    await op.evaluate(() => {
      delete window.showSaveFilePicker;
    });
    const [download] = await Promise.all([op.waitForEvent('download'), op.getByRole('button', { name: 'Export CSV' }).click()]);
    expect(download.suggestedFilename().endsWith('.csv'), `download named ${download.suggestedFilename()}`);
    const csv = await readFile(await download.path(), 'utf8');
    expect(csv.split(/\r?\n/)[0].includes('name') && csv.includes(notedName), `the CSV lacks the header or the patient: ${csv.slice(0, 200)}`);
    await op.getByRole('status').filter({ hasText: /Exported .* CSV/ }).waitFor();
    await axe(op, 'patients with export');

    // Import: a file with a problem, then a clean one, confirmed.
    await op.getByRole('link', { name: 'Import patients' }).click();
    await heading(op, 'Import patients');
    await axe(op, 'import page');
    const bad = `name,email,dateOfBirth\r\nImported ${run} One,one-${run}@example.com,1980-01-02\r\nImported ${run} Two,not-an-email,1981-02-03\r\n`;
    await op.setInputFiles('#import-file', { name: 'patients.csv', mimeType: 'text/csv', buffer: Buffer.from(bad) });
    await op.getByRole('button', { name: 'Check the file' }).click();
    await heading2(op, 'Check result');
    const report = op.getByRole('table', { name: /Problems found/ });
    await report.getByRole('row').filter({ hasText: 'Email' }).filter({ hasText: '2' }).waitFor();
    expect((await op.getByRole('button', { name: /^Import \d+ patient/ }).count()) === 0, 'import offered although a row has a problem');
    await axe(op, 'import dry run with problems');
    await screenshot(op, 'import-dry-run');
    const dup = `dup-${run}@example.com`;
    const good = `name,email,dateOfBirth\r\nImported ${run} One,one-${run}@example.com,1980-01-02\r\nImported ${run} Dup,${dup},1982-03-04\r\n`;
    await op.setInputFiles('#import-file', { name: 'patients.csv', mimeType: 'text/csv', buffer: Buffer.from(good) });
    await op.getByRole('button', { name: 'Check the file' }).click();
    await op.getByText('All 2 rows can be imported.').waitFor();
    // Meanwhile someone adds one of them by hand: the import is refused whole (422) and says why.
    await ownerApi('POST', '/patients', { name: `By hand ${run}`, email: dup });
    await op.getByRole('button', { name: 'Import 2 patients' }).click();
    const dialog = op.getByRole('dialog', { name: /^Import 2 patients/ });
    await dialog.getByRole('button', { name: 'Import' }).click();
    await heading2(op, 'Nothing was imported');
    await op.getByRole('table', { name: /Problems found/ }).getByRole('row').filter({ hasText: '2' }).first().waitFor();
    await axe(op, 'import refused');
    // The clean file imports.
    const clean = `name,email,dateOfBirth\r\nImported ${run} One,one-${run}@example.com,1980-01-02\r\n`;
    await op.setInputFiles('#import-file', { name: 'one.csv', mimeType: 'text/csv', buffer: Buffer.from(clean) });
    await op.getByRole('button', { name: 'Check the file' }).click();
    await op.getByText('All 1 row can be imported.').waitFor();
    await op.getByRole('button', { name: 'Import 1 patient' }).click();
    await op.getByRole('dialog', { name: /^Import 1 patient\b/ }).getByRole('button', { name: 'Import' }).click();
    await heading2(op, 'Import complete');
    await op.getByText('Imported 1 patient.').waitFor();
    ownerPhoneVisits.push({ path: '/patients/import', heading: 'Import patients' });
  });

  async function heading2(p, name) {
    await p.getByRole('heading', { level: 2, name }).waitFor();
  }

  // ---- Chat: a reload mid-reply reattaches; Stop leaves a marked partial reply.
  let chatUrl = null;
  const openChat = async () => {
    const p = (await ownerApi('GET', `/patients?q=${encodeURIComponent(notedName)}`)).items[0];
    chatUrl = `${baseUrl}/patients/${p.id}`;
    await op.goto(chatUrl);
    await heading(op, notedName);
    await op.getByRole('log', { name: 'Conversation' }).waitFor();
  };
  await feature('a reload during a streamed reply reattaches and the reply completes on screen', ['/patients/{id}/messages/{messageId}/stream'], async () => {
    await openChat();
    const reattached = [];
    op.on('request', (r) => {
      if (r.method() === 'GET' && /\/messages\/[^/]+\/stream$/.test(new URL(r.url()).pathname)) reattached.push(r.url());
    });
    // Not a message triage flags (those are answered at once with first aid, without the model).
    const question = 'Explain slowly how she should floss around her new crown.';
    await op.getByLabel('Message', { exact: true }).fill(question);
    await op.getByRole('button', { name: 'Send' }).click();
    await op.locator('.chat-log .msg-streaming').waitFor({ timeout: CHAT_TIMEOUT }).catch(() => undefined);
    await op.reload();
    await heading(op, notedName);
    // The reply right after this question (the conversation has older ones).
    const reply = op.locator(`.chat-log li.msg-user:has-text("${question}") + li.msg-assistant:not(.msg-streaming)`);
    await reply.waitFor({ timeout: CHAT_TIMEOUT });
    const text = await reply.locator('.msg-body').innerText();
    expect(text.trim().length > 40, `the reply is cut short: ${text}`);
    if (mock) expect(reattached.length > 0 && text.includes('emergency services'), `no reattach or an incomplete reply: ${reattached.length}, ${text.slice(-60)}`);
    else if (slowModel) expect(reattached.length > 0 && text.trim().endsWith('spreads.'), `no reattach or an incomplete reply: ${reattached.length}, ${text.slice(-60)}`);
    else if (!reattached.length) log('     note: the reply was complete before the reload (the ai service answered at once), so no reattach was needed');
    expect((await op.locator('.chat-log .msg-user', { hasText: question }).count()) === 1, 'the message is shown twice');
    await axe(op, 'chat after a reattach');
  });

  await feature('Stop leaves a reply marked as stopped', ['/patients/{id}/messages/{messageId}/stop'], async () => {
    if (!chatUrl) await openChat();
    await op.getByLabel('Message', { exact: true }).fill('Explain slowly how often she should replace her toothbrush.');
    await op.getByRole('button', { name: 'Send' }).click();
    const stop = op.getByRole('button', { name: 'Stop the reply' });
    const tooFast = 'the reply was complete before Stop reached the api (the ai service answers at once; a provider that streams slowly is needed to stop one on this stack)';
    // With a model that streams slowly (the stand-in, or the e2e stack's paced fake) the step must work; with
    // another model (AI_PROVIDER set) a reply may be complete before Stop lands, which is then reported as SKIP.
    const strict = mock || slowModel;
    const appeared = await stop.waitFor({ timeout: strict ? CHAT_TIMEOUT : 5_000 }).then(() => true, () => false);
    expect(appeared || !strict, 'no Stop button while the reply streams, although the model streams slowly (did triage answer it?)');
    if (!appeared) throw new SkipStep(tooFast);
    await axe(op, 'chat while a reply streams (Stop shown)');
    // Stop once some of the reply is on screen, so what is kept is a real part of it.
    const streaming = op.locator('.chat-log .msg-streaming .msg-body');
    if (strict) await op.waitForFunction(() => (document.querySelector('.chat-log .msg-streaming .msg-body')?.textContent ?? '').trim().length > 10, undefined, { timeout: CHAT_TIMEOUT });
    const seen = strict ? (await streaming.innerText()).trim() : '';
    const clicked = await stop.click({ timeout: 2_000 }).then(() => true, () => false);
    expect(clicked || !strict, 'the reply ended before Stop could be pressed, although the model streams slowly');
    if (!clicked) throw new SkipStep(tooFast);
    const last = op.locator('.chat-log .msg-assistant:not(.msg-streaming)').last();
    await op.getByRole('button', { name: 'Send' }).waitFor({ timeout: CHAT_TIMEOUT });
    if (!strict && !(await last.getByText('Stopped', { exact: true }).count())) throw new SkipStep(tooFast);
    await last.getByText('Stopped', { exact: true }).waitFor({ timeout: CHAT_TIMEOUT });
    await last.getByText('Stopped before the end').waitFor();
    if (strict) {
      // A partial reply: what had arrived is kept, the rest never came.
      const kept = (await last.locator('.msg-body').innerText()).trim();
      expect(kept.length >= seen.length && kept.startsWith(seen.slice(0, 10)), `the stopped reply lost what was shown: "${seen}" -> "${kept}"`);
      expect(!kept.endsWith(mock ? 'emergency services.' : 'spreads.') && !kept.includes('spreads.'), `the stopped reply is complete: ${kept.slice(-80)}`);
      expect((await op.locator('.chat-log .msg-streaming').count()) === 0, 'a reply still streams after Stop');
    }
    await op.getByRole('button', { name: 'Send' }).waitFor();
    await axe(op, 'stopped reply');
    await screenshot(op, 'chat-stopped');
    // After a reload it is still marked.
    await op.reload();
    await heading(op, notedName);
    await op.locator('.chat-log .msg-assistant').last().getByText('Stopped', { exact: true }).waitFor();
  });

  if (mock) {
    await check('mock only: an emergency flagged by the model is worded as the assistant’s', async () => {
      if (!chatUrl) await openChat();
      await op.getByLabel('Message', { exact: true }).fill('Her cheek is swollen and it is getting hard to swallow.');
      await op.getByRole('button', { name: 'Send' }).click();
      const banner = op.getByRole('region', { name: /^Dental emergency/ });
      await banner.waitFor({ timeout: CHAT_TIMEOUT });
      await banner.getByText('The assistant flagged this as urgent.').waitFor();
      expect((await op.getByRole('region', { name: /^(Dental emergency|Urgent dental problem)/ }).count()) === 1, 'two banners for one answer');
      await axe(op, 'model-flagged emergency');
    });
  }

  // ---- Accounts: two-step sign-in, sessions, the forced set-up.
  const mfaOn = await feature('two-step sign-in: set up with a code computed from the key the page shows', ['/auth/mfa/setup', '/auth/mfa/enable', '/auth/login/mfa'], async () => {
    await op.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Security' }).click();
    await heading(op, 'Security');
    await axe(op, 'security page');
    await op.getByRole('button', { name: 'Set up two-step sign-in' }).click();
    await op.locator('#mfa-password').fill(owner.password);
    await op.getByRole('button', { name: 'Continue' }).click();
    await op.getByRole('heading', { name: 'Scan the code with your authenticator app' }).waitFor();
    await op.getByRole('img', { name: 'QR code for your authenticator app' }).waitFor();
    expect((await op.locator('.qr script, .qr foreignObject, .qr a, .qr [onload]').count()) === 0, 'the QR code kept active content');
    ownerSecret = (await op.locator('#mfa-secret').innerText()).replace(/\s+/g, '');
    expect(/^[A-Z2-7]{16,}$/.test(ownerSecret), `not a base32 key: ${ownerSecret}`);
    await axe(op, 'two-step set-up: QR code');
    await screenshot(op, 'mfa-scan');
    await op.getByLabel('Code from the app').fill(totpCode(ownerSecret));
    await op.getByRole('button', { name: 'Turn on two-step sign-in' }).click();
    await op.getByRole('heading', { name: /Save your recovery codes/ }).waitFor();
    const codes = await op.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem').allInnerTexts();
    expect(codes.length === 10, `expected 10 recovery codes, got ${codes.length}`);
    owner.recovery = codes.map((c) => c.trim());
    const [file] = await Promise.all([op.waitForEvent('download'), op.getByRole('button', { name: 'Download the codes' }).click()]);
    expect((await readFile(await file.path(), 'utf8')).includes(owner.recovery[0]), 'the download lacks the codes');
    await axe(op, 'recovery codes');
    await screenshot(op, 'mfa-codes');
    const done = op.getByRole('button', { name: 'Done' });
    expect(await done.isDisabled(), 'Done before saying the codes are saved');
    await op.getByLabel('I have saved my recovery codes').check();
    await done.click();
    await op.getByText(/Two-step sign-in is on\./).first().waitFor();
    const stored = await op.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
    expect(!stored.includes(ownerSecret) && !stored.includes(owner.recovery[0]), 'the key or a recovery code is in web storage');
    // Sign out, sign in with a code (the next period's: a code is accepted once), then with a recovery code.
    await op.getByRole('button', { name: 'Log out' }).click();
    await heading(op, 'Sign in');
    await op.getByLabel('Email').fill(owner.email);
    await op.getByLabel('Password').fill(owner.password);
    await op.getByRole('button', { name: 'Sign in' }).click();
    await heading(op, 'Enter your sign-in code');
    await axe(op, 'sign-in code');
    await screenshot(op, 'mfa-code-step');
    await op.getByLabel('Authentication code').fill('000000');
    await op.getByRole('button', { name: 'Sign in' }).click();
    await op.locator('#login-code-error').waitFor();
    await op.getByLabel('Authentication code').fill(totpCode(ownerSecret, 1));
    await op.getByRole('button', { name: 'Sign in' }).click();
    await heading(op, 'Patients');
    await op.getByRole('button', { name: 'Log out' }).click();
    await heading(op, 'Sign in');
    await op.getByLabel('Email').fill(owner.email);
    await op.getByLabel('Password').fill(owner.password);
    await op.getByRole('button', { name: 'Sign in' }).click();
    await heading(op, 'Enter your sign-in code');
    await op.getByRole('button', { name: 'Use a recovery code instead' }).click();
    await op.getByLabel('Recovery code').fill(owner.recovery[0]);
    await op.getByRole('button', { name: 'Sign in' }).click();
    await heading(op, 'Patients');
  });

  await feature('sessions: listed with this device marked; another one signed out', ['/auth/sessions', '/auth/sessions/{id}'], async () => {
    // A session from a script with its own user agent, to find it in the list.
    const res = await fetch(`${baseUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': `e2e-script-${run}/1.0` },
      body: JSON.stringify({ email: owner.email, password: owner.password }),
    });
    let session = await res.json();
    if (session.mfaRequired) {
      const r2 = await fetch(`${baseUrl}/api/v1/auth/login/mfa`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': `e2e-script-${run}/1.0` },
        body: JSON.stringify({ mfaToken: session.mfaToken, code: owner.recovery?.[1] ?? totpCode(ownerSecret, 2) }),
      });
      session = await r2.json();
    }
    expect(session.refreshToken, `no session for the script: ${JSON.stringify(session).slice(0, 200)}`);
    await op.goto(`${baseUrl}/security`);
    await heading(op, 'Security');
    const list = op.locator('.session-list');
    await list.locator('.session-current').getByText('This device').waitFor();
    const script = list.locator('.session', { hasText: `e2e-script-${run}` });
    await script.waitFor();
    await axe(op, 'sessions');
    await screenshot(op, 'sessions');
    await script.getByRole('button', { name: /^Sign out/ }).click();
    await script.waitFor({ state: 'detached' });
    const again = await fetch(`${baseUrl}/api/v1/auth/refresh`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken: session.refreshToken }) });
    expect(again.status === 401, `the signed-out session still refreshes (${again.status})`);
    const others = await list.locator('.session:not(.session-current)').count();
    if (others > 1) {
      await op.getByRole('button', { name: 'Sign out all other sessions' }).click();
      await op.getByRole('dialog').getByRole('button', { name: 'Sign out the others' }).click();
      await op.getByText('Every other session was signed out.').waitFor();
      expect((await list.locator('.session:not(.session-current)').count()) === 0, 'other sessions remain');
    }
  });

  await feature('a clinic that requires two-step sign-in sends a member without it to the set-up, and nowhere else', ['/auth/mfa/setup', '/clinic'], async () => {
    expect(mfaOn, 'the owner has no two-step sign-in (the set-up step did not run)');
    await op.goto(`${baseUrl}/clinic`);
    await heading(op, owner.clinic);
    await op.getByRole('switch', { name: 'Require two-step sign-in for every member' }).check();
    await op.getByRole('button', { name: 'Save settings' }).click();
    await op.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    const rp = await newPage(ctx, 'reception (forced set-up)');
    try {
      await login(rp, recep);
      await heading(rp, 'Set up two-step sign-in');
      await rp.goto(`${baseUrl}/patients`);
      await heading(rp, 'Set up two-step sign-in');
      const nav = rp.getByRole('navigation', { name: 'Main' });
      expect((await nav.getByRole('link', { name: 'Patients' }).count()) === 0, 'the forced set-up offers other pages');
      await expectNoSideScroll(rp, 'forced set-up');
      await axe(rp, 'forced set-up (phone)');
      await screenshot(rp, 'phone-forced-mfa');
      await completeForcedMfaSetup(rp, recep.password);
      await heading(rp, 'Patients');
      await rp.getByRole('link', { name: notedName }).first().waitFor();
    } finally {
      await ctx.close();
    }
  });

  // The owner's screens on a phone, with one sign-in (a recovery code once two-step sign-in is on).
  ownerPhoneVisits.push({ path: '/security', heading: 'Security' });
  if (clinicsOn) ownerPhoneVisits.unshift({ path: '/clinic', heading: owner.clinic });
  await check('the owner’s screens at 390 px: no sideways scrolling, axe-clean', async () => {
    await onPhone(owner, 'owner', ownerPhoneVisits, owner.recovery ? { recovery: owner.recovery[2] } : {});
  });

  // ---- A server that creates accounts by invitation only (REGISTRATION=invite), and the sign-in lock-out. The real
  // stack runs them on a second api of the same database (E2E_INVITE_ONLY_URL, started by xtask): its sign-in
  // counters are its own, so locking it does not hold back the rest of the run. The stand-in switches itself.
  const closedUrl = mock ? baseUrl : (process.env.E2E_INVITE_ONLY_URL ?? '').replace(/\/+$/, '');
  const invitee = { email: `e2e-invited-${run}@example.com`, name: `Ivo Invited ${run}`, password };
  if (!closedUrl) skip('an invite-only server: registration refused, the invitation link works; sign-in lock-out', 'set E2E_INVITE_ONLY_URL (an api with REGISTRATION=invite)');
  else {
    await feature('an invite-only server: registration refused without an invitation, the invitation link works', ['/clinic/invitations', '/invitations/{token}/accept'], async () => {
      if (mock) process.env.MOCK_REGISTRATION = 'invite';
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const p = await newPage(ctx, 'invite-only');
      try {
        await p.goto(`${closedUrl}/register`);
        await heading(p, 'Create an account');
        await p.getByLabel('Email').fill(`e2e-closed-${run}@example.com`);
        await p.getByLabel('Full name').fill('Closed Registration');
        await p.getByLabel('Password').fill(password);
        await p.getByRole('button', { name: 'Create account' }).click();
        await p.getByRole('alert').filter({ hasText: /by invitation only/ }).waitFor();
        await axe(p, 'registration closed');
        await screenshot(p, 'registration-closed');
        // Nobody was created.
        const tried = await fetch(`${closedUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: `e2e-closed-${run}@example.com`, password }) });
        expect(tried.status === 401, `the refused registration can sign in (${tried.status})`);
      } finally {
        await ctx.close();
      }
      // The owner invites; the link, opened on this server on a phone, creates the account in the clinic.
      const invitation = await ownerApi('POST', '/clinic/invitations', { email: invitee.email, role: 'clinician' });
      expect(invitation.token, 'the invitation has no token');
      const phoneCtx = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
      const rp = await newPage(phoneCtx, 'invited (phone)');
      try {
        await rp.goto(`${closedUrl}/invite/${encodeURIComponent(invitation.token)}`);
        await heading(rp, 'Join a clinic');
        await rp.getByLabel('Email').fill(invitee.email);
        await rp.getByLabel('Full name').fill(invitee.name);
        await rp.getByLabel('Password').fill(invitee.password);
        await rp.getByRole('button', { name: 'Create account and join' }).click();
        // The clinic requires two-step sign-in by now (an earlier step): the new member sets it up first.
        if ((await ownerApi('GET', '/clinic')).requireMfa) {
          await heading(rp, 'Set up two-step sign-in');
          invitee.secret = await completeForcedMfaSetup(rp, invitee.password);
        }
        await heading(rp, 'Patients').catch(async (e) => {
          await screenshot(rp, 'FAILED-invite-only-join');
          throw e;
        });
        await rp.getByRole('banner').getByText(owner.clinic).waitFor();
        await rp.getByRole('link', { name: notedName }).first().waitFor();
        await expectNoSideScroll(rp, 'invite-only: patients (phone)');
        await axe(rp, 'joined by invitation on an invite-only server (phone)');
      } finally {
        await phoneCtx.close();
      }
      const members = (await ownerApi('GET', '/clinic/members')).items;
      expect(members.some((m) => m.email === invitee.email && m.role === 'clinician'), 'the invited user is not a clinician of the clinic');
    }).finally(() => {
      if (mock) delete process.env.MOCK_REGISTRATION;
    });

    await check('sign-in warns before the last attempt, then says when to retry and that the owner can help', async () => {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const p = await newPage(ctx, 'lock');
      // The invited account when that step ran, else the receptionist (the stand-in counts per account).
      const who = (await fetch(`${closedUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: invitee.email, password: invitee.password }) })).ok ? invitee : recep;
      try {
        await p.goto(`${closedUrl}/login`);
        await heading(p, 'Sign in');
        await p.getByLabel('Email').fill(who.email);
        const attempt = async (pw) => {
          await p.getByLabel('Password').fill(pw);
          await Promise.all([p.waitForResponse((r) => r.url().endsWith('/auth/login')), p.getByRole('button', { name: 'Sign in' }).click()]);
          await p.getByRole('button', { name: 'Sign in' }).waitFor();
        };
        // Wrong passwords until the screen warns that one attempt is left (the api says so once three or fewer).
        let warned = false;
        for (let i = 0; i < 12 && !warned; i++) {
          await attempt(`wrong password ${i}`);
          await p.getByRole('alert').filter({ hasText: 'not correct' }).waitFor();
          warned = (await p.getByText(/One attempt left/).count()) > 0;
          if (i === 0) await axe(p, 'sign-in after a wrong password');
        }
        expect(warned, 'no "One attempt left" warning before the pause');
        await axe(p, 'sign-in with one attempt left');
        await screenshot(p, 'sign-in-one-left');
        await attempt('wrong password again');
        // Even the right password now waits, and the screen says until when.
        await attempt(who.password);
        await p.getByRole('alert').filter({ hasText: /paused .* try again .* owner can help/i }).waitFor();
        expect(new URL(p.url()).pathname === '/login', 'signed in while paused');
        await axe(p, 'sign-in paused');
        await screenshot(p, 'sign-in-paused');
      } finally {
        await ctx.close();
      }
    });
  }
  await ctxO.close();
}
