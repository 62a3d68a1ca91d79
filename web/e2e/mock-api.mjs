// A small in-memory stand-in for the api (CONTRACT.md, the first wave and "Clinics, roles and records"), only to
// check the web app and e2e/run.mjs before the real api has every route: `E2E_MOCK=1 npm run e2e`, or
// `node e2e/mock-api.mjs [port]` and `npm run dev` with API_URL=http://127.0.0.1:<port>. Serves web/dist with the SPA
// fallback and the same strict CSP the api sends, and `GET /api/v1/openapi.json` with the paths it implements (the
// e2e run detects features from it, as it does on the real api).
//
// Faithful where the screens depend on it: access tokens live 5 s (MOCK_ACCESS_TTL_MS) so the refresh path is
// exercised; refresh tokens rotate and reuse revokes the family (a family is a session: GET/DELETE /auth/sessions);
// clinics with owner / clinician / reception (reception never gets medicalNotes, 403 `forbidden_field` on writing
// them, 403 on chat); invitations with one-time tokens; the trash; access logs (keyset pages); stats; TOTP
// (RFC 6238 via otpauth, one-step skew, a code accepted once) with recovery codes; 403 `mfa_setup_required` while a
// clinic requires MFA and the member has none; sign-in paused (429 + Retry-After) after 5 failures, with
// `remainingAttempts` on each 401; 403 `account_inactive`; `REGISTRATION=invite` as MOCK_REGISTRATION=invite;
// resumable streams (event ids `<messageId>:<n>`, GET .../stream with Last-Event-ID) and stop (202, the partial
// reply saved with metadata.status = "stopped"); export (FHIR NDJSON, CSV, streamed) and import (dry run, all or
// nothing, 422 with the report).
// Emails starting with "admin" register as platform admins. A message starting with "fail" fails; one containing
// "slowly" streams slowly (about 6 s), so a reload or Stop can land mid-reply.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Secret, TOTP } from 'otpauth';

const here = dirname(fileURLToPath(import.meta.url));
const DIST = resolve(here, '../dist');
const ACCESS_TTL_MS = Number(process.env.MOCK_ACCESS_TTL_MS ?? 5_000);
const RETENTION_DAYS = 30;
const CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png' };
const FIRST_AID =
  'Find the tooth and hold it by the crown (the white part), not the root. If it is dirty, rinse it briefly ' +
  'in milk or saline. Try to put it back in its socket and bite gently on a clean cloth; if you cannot, keep it ' +
  'in milk. Time matters: the chance of saving the tooth is best within 60 minutes.';
const SLOW_REPLY =
  'Swelling that is worse at night is common with a dental infection, because lying down raises the pressure in ' +
  'the swollen area. Keep the head raised on an extra pillow, rinse gently with warm salt water, and take the ' +
  'usual pain relief if it suits her. If the swelling spreads, she has a fever, or it becomes hard to swallow or ' +
  'breathe, she needs to be seen the same day or go to emergency services.';
const LOGIN_FAILURES = 5;
const LOCK_SECONDS = 900;

/** The routes this stand-in implements, for GET /openapi.json (feature detection in e2e/run.mjs). */
const PATHS = [
  '/health', '/auth/register', '/auth/login', '/auth/login/mfa', '/auth/refresh', '/auth/logout', '/auth/me',
  '/auth/switch-clinic', '/auth/sessions', '/auth/sessions/{id}', '/auth/password', '/auth/mfa/setup',
  '/auth/mfa/enable', '/auth/mfa/disable', '/admin/users', '/admin/users/{id}', '/clinic', '/clinic/members',
  '/clinic/members/{userId}', '/clinic/invitations', '/clinic/invitations/{id}', '/invitations/{token}/accept',
  '/clinic/stats', '/patients', '/patients/trash', '/patients/{id}', '/patients/{id}/restore',
  '/patients/{id}/access-log', '/patients/{id}/messages', '/patients/{id}/messages/stream',
  '/patients/{id}/messages/{messageId}/reply', '/patients/{id}/messages/{messageId}/stream',
  '/patients/{id}/messages/{messageId}/stop', '/export/patients', '/import/patients',
];

const sha = (s) => createHash('sha256').update(s).digest('hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function base32(bytes) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

/**
 * A QR-like picture for the stand-in (a pattern from the URI's hash, not a scannable code), with a script, an
 * event handler and a link inside: the page must render it without any of them (account/qrSvg.ts).
 */
function fakeQrSvg(uri) {
  const h = createHash('sha256').update(uri).digest();
  const n = 21;
  let rects = '';
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      const bit = (h[(y * n + x) % h.length] >> ((x + y) % 8)) & 1;
      const finder = (x < 7 && y < 7) || (x >= n - 7 && y < 7) || (x < 7 && y >= n - 7);
      const on = finder ? x % 6 === 0 || y % 6 === 0 || (x % 7 >= 2 && x % 7 <= 4 && y % 7 >= 2 && y % 7 <= 4) : bit;
      if (on) rects += `<rect x="${x}" y="${y}" width="1" height="1"/>`;
    }
  }
  return (
    `<?xml version="1.0" encoding="UTF-8"?><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${n} ${n}" onload="alert(1)">` +
    `<script>alert('not me')</script><rect width="${n}" height="${n}" style="fill:#ffffff"/>` +
    `<g fill="#000000">${rects}</g><a href="https://example.com"><text>link</text></a>` +
    `<foreignObject><div xmlns="http://www.w3.org/1999/xhtml">html</div></foreignObject></svg>`
  );
}

/** RFC 4180 CSV: the rows, quotes doubled; a leading = + - @ is escaped with a quote (formula injection). */
function csvCell(v) {
  let s = v == null ? '' : String(v);
  if (/^[=+\-@]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  if (cell || row.length) {
    row.push(cell);
    rows.push(row);
  }
  return rows.filter((r) => r.some((c) => c.trim() !== ''));
}

export async function startMockApi({ port = 0 } = {}) {
  const users = new Map(); // id -> user (+ password, mfa, failures)
  const clinics = new Map(); // id -> clinic
  const members = []; // { clinicId, userId, role, joinedAt }
  const invitations = new Map(); // id -> { ..., tokenHash, usedAt, revokedAt }
  const access = new Map(); // token -> { userId, clinicId, family, exp }
  const refresh = new Map(); // token -> { userId, clinicId, family, used }
  const sessions = new Map(); // family -> { id, userId, createdAt, lastUsedAt, userAgent, ip, revoked }
  const mfaTokens = new Map(); // token -> { userId, exp }
  const patients = new Map(); // id -> patient (+ clinicId, seq)
  const messages = []; // { ...message, patientId }
  const audit = []; // { id, at, userId, clinicId, patientId, action, requestId }
  const jobs = new Map(); // user message id -> stream job
  let patientSeq = 0;
  let auditSeq = 0;

  const now = () => new Date().toISOString();
  const clinicRef = (clinicId, userId) => {
    const c = clinics.get(clinicId);
    const m = members.find((x) => x.clinicId === clinicId && x.userId === userId);
    return c && m ? { id: c.id, name: c.name, role: m.role } : null;
  };
  const publicUser = (u, clinicId) => ({
    id: u.id,
    email: u.email,
    fullName: u.fullName,
    role: u.role,
    isActive: u.isActive,
    createdAt: u.createdAt,
    clinic: clinicId ? clinicRef(clinicId, u.id) : null,
    clinics: members.filter((m) => m.userId === u.id).map((m) => clinicRef(m.clinicId, u.id)),
  });
  const publicPatient = (p, role) => {
    const { clinicId: _c, seq: _s, ...rest } = p;
    if (!rest.deletedAt) delete rest.deletedAt;
    if (role === 'reception') delete rest.medicalNotes;
    return rest;
  };
  const publicMessage = ({ patientId: _p, ...m }) => m;
  const publicClinic = (c, role) => ({ id: c.id, name: c.name, requireMfa: c.requireMfa, country: c.country, createdAt: c.createdAt, myRole: role });
  const publicMember = (m) => {
    const u = users.get(m.userId);
    return { userId: u.id, email: u.email, fullName: u.fullName, role: m.role, joinedAt: m.joinedAt, mfaEnabled: !!u.mfa?.enabled };
  };
  const publicInvitation = ({ tokenHash: _h, usedAt: _u, revokedAt: _r, clinicId: _c, ...i }) => i;

  function send(res, status, body, headers = {}) {
    const problem = status >= 400;
    res.writeHead(status, {
      'content-type': problem ? 'application/problem+json' : 'application/json',
      'x-request-id': res.requestId,
      ...headers,
    });
    res.end(body === undefined ? undefined : JSON.stringify(body));
  }

  function problem(res, status, code, detail, extra = {}, headers) {
    send(res, status, { type: `https://dental-assistant.local/problems/${code}`, title: code, status, detail, code, requestId: res.requestId, ...extra }, headers);
  }

  function record(ctx, patientId, action) {
    auditSeq += 1;
    audit.push({ id: auditSeq, at: now(), userId: ctx.user?.id ?? null, clinicId: ctx.clinicId, patientId, action, requestId: ctx.res.requestId });
  }

  function issue(res, user, clinicId, status, req) {
    const family = randomUUID();
    sessions.set(family, {
      id: randomUUID(),
      userId: user.id,
      createdAt: now(),
      lastUsedAt: now(),
      userAgent: req.headers['user-agent'] ?? null,
      ip: req.socket.remoteAddress?.replace(/^::ffff:/, '') ?? null,
      revoked: false,
    });
    return sessionWith(res, user, clinicId, family, status);
  }

  function sessionWith(res, user, clinicId, family, status) {
    const token = randomUUID();
    access.set(token, { userId: user.id, clinicId, family, exp: Date.now() + ACCESS_TTL_MS });
    const rt = randomUUID();
    refresh.set(rt, { userId: user.id, clinicId, family, used: false });
    const u = publicUser(user, clinicId);
    send(
      res,
      status,
      { accessToken: token, tokenType: 'Bearer', expiresIn: Math.round(ACCESS_TTL_MS / 1000), refreshToken: rt, user: u, clinic: u.clinic },
      { 'set-cookie': `refresh_token=${rt}; HttpOnly; Secure; SameSite=Strict; Path=/api/v1/auth; Max-Age=2592000` },
    );
  }

  function revokeFamily(family) {
    for (const e of refresh.values()) if (e.family === family) e.used = true;
    for (const [t, e] of access) if (e.family === family) access.delete(t);
    const s = sessions.get(family);
    if (s) s.revoked = true;
  }

  function cookie(req, name) {
    const m = new RegExp(`(?:^|; )${name}=([^;]+)`).exec(req.headers.cookie ?? '');
    return m ? m[1] : null;
  }

  function authed(req) {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    const entry = m ? access.get(m[1]) : null;
    if (!entry || entry.exp < Date.now()) return null;
    const user = users.get(entry.userId);
    if (!user || !user.isActive) return null;
    const session = sessions.get(entry.family);
    if (!session || session.revoked) return null;
    session.lastUsedAt = now();
    // Removed from the clinic: access ends on the next request.
    const role = members.find((x) => x.clinicId === entry.clinicId && x.userId === user.id)?.role ?? null;
    return { user, clinicId: role ? entry.clinicId : null, role, family: entry.family };
  }

  async function rawBody(req) {
    const chunks = [];
    let size = 0;
    for await (const c of req) {
      size += c.length;
      if (size > 10 * 1024 * 1024) throw Object.assign(new Error('too large'), { tooLarge: true });
      chunks.push(c);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  async function body(req) {
    const text = await rawBody(req);
    return text ? JSON.parse(text) : {};
  }

  function validatePatient(input, partial) {
    const errors = [];
    const known = ['name', 'email', 'phone', 'dateOfBirth', 'medicalNotes'];
    for (const k of Object.keys(input)) if (!known.includes(k)) errors.push({ field: k, code: 'unknown_field', message: 'Unknown field.' });
    const out = {};
    if (!partial || 'name' in input) {
      const name = typeof input.name === 'string' ? input.name.trim() : '';
      if (!name || [...name].length > 200) errors.push({ field: 'name', code: name ? 'length' : 'required', message: name ? 'Name must be 1-200 characters.' : 'Name is required.' });
      out.name = name;
    }
    for (const k of ['email', 'phone', 'dateOfBirth', 'medicalNotes']) {
      if (!(k in input)) continue;
      let v = input[k] === null ? null : String(input[k]).trim() || null;
      if (v && k === 'email' && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v)) errors.push({ field: k, code: 'invalid_email', message: 'Not a valid email address.' });
      if (v && k === 'phone') {
        v = v.replace(/[\s\-.()]/g, '');
        if (!/^\+\d{8,15}$/.test(v)) errors.push({ field: k, code: 'invalid_phone', message: 'Phone must be in E.164 format.' });
      }
      if (v && k === 'dateOfBirth' && (!/^\d{4}-\d{2}-\d{2}$/.test(v) || v > now().slice(0, 10) || v < '1900-01-01'))
        errors.push({ field: k, code: 'invalid_date', message: 'Date of birth must be a past date after 1900-01-01.' });
      if (v && k === 'medicalNotes' && [...v].length > 10000) errors.push({ field: k, code: 'too_long', message: 'At most 10,000 characters.' });
      out[k] = v;
    }
    return { errors, out };
  }

  function reply(content) {
    const emergency = /knocked out|avulsed/i.test(content)
      ? { detected: true, category: 'avulsion', severity: 'urgent', source: 'triage', language: 'en' }
      : /swallow|breath/i.test(content)
        ? { detected: true, category: 'spreading_infection', severity: 'emergency', source: 'model', language: 'en' }
        : { detected: false, category: null, severity: null, source: null, language: 'en' };
    const text = emergency.detected && emergency.source === 'triage'
      ? FIRST_AID
      : /slowly/i.test(content)
        ? SLOW_REPLY
        : 'Sensitive teeth often improve with a desensitising toothpaste and a soft brush. Avoid very acidic drinks, ' +
          'and book a check-up if it lasts more than two weeks — ça va mieux bientôt 🦷.';
    return { text, emergency };
  }

  function saveAssistant(patientId, text, emergency, extra = {}) {
    if (emergency.detected && patients.has(patientId)) patients.get(patientId).lastEmergencyAt = now();
    const m = {
      id: randomUUID(),
      role: 'assistant',
      content: text,
      metadata: { provider: 'offline', model: 'mock', usage: { inputTokens: 120, outputTokens: Math.ceil(text.length / 4) }, latencyMs: 5, emergency, finishReason: 'stop', ...extra },
      createdAt: now(),
      patientId,
    };
    messages.push(m);
    return { message: m, emergency: emergency.detected ? emergency : null };
  }

  /** A reply being generated, independent of any connection: deltas kept for reattaching, listeners live. */
  function startJob(userMsg, patientId) {
    const { text, emergency } = reply(userMsg.content);
    const slow = /slowly/i.test(userMsg.content);
    const job = { id: userMsg.id, events: [], listeners: new Set(), finished: false, stopped: false, text: '' };
    jobs.set(userMsg.id, job);
    const emit = (event, data) => {
      const e = { id: `${userMsg.id}:${job.events.length + 1}`, event, data };
      job.events.push(e);
      for (const l of job.listeners) l(e);
    };
    job.finish = (stopped) => {
      if (job.finished) return;
      job.finished = true;
      const saved = saveAssistant(patientId, stopped ? job.text : text, stopped ? { detected: false, category: null, severity: null, source: null, language: 'en' } : emergency, stopped ? { status: 'stopped', finishReason: 'stopped' } : {});
      emit('done', { assistantMessage: publicMessage(saved.message), emergency: stopped ? null : saved.emergency });
      setTimeout(() => jobs.delete(userMsg.id), 60_000);
    };
    void (async () => {
      if (/^fail/i.test(userMsg.content)) {
        emit('delta', { text: 'Hal' });
        job.finished = true;
        emit('error', { code: 'ai_unavailable', detail: 'The assistant is unavailable.' });
        jobs.delete(userMsg.id);
        return;
      }
      const size = slow ? 8 : 12;
      for (let i = 0; i < text.length && !job.stopped; i += size) {
        await sleep(slow ? 180 : 15);
        if (job.stopped) break;
        const piece = text.slice(i, i + size);
        job.text += piece;
        emit('delta', { text: piece });
      }
      job.finish(job.stopped);
    })();
    return job;
  }

  /** Writes a job's events after `lastSeq` to an SSE response, then follows it live to its end. */
  function pipeJob(job, res, lastSeq, first) {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-request-id': res.requestId });
    let ended = false;
    const write = (e) => {
      if (ended) return;
      const n = Number(e.id.split(':').pop());
      if (n <= lastSeq) return;
      // Split the bytes at awkward places, inside multi-byte characters too.
      const wire = Buffer.from(`id: ${e.id}\r\nevent: ${e.event}\r\ndata: ${JSON.stringify(e.data)}\r\n\r\n`, 'utf8');
      const cut = Math.floor(wire.length / 2);
      res.write(wire.subarray(0, cut));
      res.write(wire.subarray(cut));
      if (e.event === 'done' || e.event === 'error') {
        ended = true;
        job.listeners.delete(write);
        res.end();
      }
    };
    if (first) write(first);
    for (const e of job.events) write(e);
    if (!ended) {
      job.listeners.add(write);
      res.on('close', () => job.listeners.delete(write));
    }
  }

  function weekStats(clinicId, from, to) {
    const days = [];
    const byDay = new Map();
    for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += 86_400_000) {
      const date = new Date(t).toISOString().slice(0, 10);
      const d = { date, messages: 0, emergencies: {} };
      days.push(d);
      byDay.set(date, d);
    }
    const months = new Map();
    for (const m of messages) {
      const p = patients.get(m.patientId);
      if (!p || p.clinicId !== clinicId) continue;
      const d = byDay.get(m.createdAt.slice(0, 10));
      if (!d) continue;
      if (m.role === 'user') d.messages += 1;
      else {
        const e = m.metadata.emergency;
        if (e?.detected) d.emergencies[e.category] = (d.emergencies[e.category] ?? 0) + 1;
        const key = m.createdAt.slice(0, 7);
        const t = months.get(key) ?? { month: key, inputTokens: 0, outputTokens: 0 };
        t.inputTokens += m.metadata.usage?.inputTokens ?? 0;
        t.outputTokens += m.metadata.usage?.outputTokens ?? 0;
        months.set(key, t);
      }
    }
    return { days, months: [...months.values()].sort((a, b) => a.month.localeCompare(b.month)) };
  }

  function importRows(text, type) {
    const rows = [];
    const errors = [];
    if (type.includes('csv')) {
      const table = parseCsv(text);
      const header = (table.shift() ?? []).map((h) => h.trim());
      const known = ['name', 'email', 'phone', 'dateOfBirth', 'medicalNotes'];
      for (const h of header) if (!known.includes(h)) errors.push({ row: 0, field: h, code: 'unknown_column', message: `Unknown column “${h}”: it would be ignored.` });
      table.forEach((cells, i) => {
        const input = {};
        header.forEach((h, j) => {
          if (known.includes(h) && (cells[j] ?? '').trim() !== '') input[h] = cells[j].replace(/^'([=+\-@])/, '$1');
        });
        rows.push({ row: i + 1, input });
      });
    } else {
      text.split(/\r?\n/).filter((l) => l.trim()).forEach((line, i) => {
        try {
          const r = JSON.parse(line);
          if (r.resourceType !== 'Patient') {
            errors.push({ row: i + 1, field: 'resourceType', code: 'invalid', message: 'Only Patient resources are imported.' });
            return;
          }
          const input = { name: r.name?.[0]?.text ?? [...(r.name?.[0]?.given ?? []), r.name?.[0]?.family].filter(Boolean).join(' ') };
          for (const t of r.telecom ?? []) if (t.system === 'email') input.email = t.value; else if (t.system === 'phone') input.phone = t.value;
          if (r.birthDate) input.dateOfBirth = r.birthDate;
          rows.push({ row: i + 1, input });
        } catch {
          errors.push({ row: i + 1, field: null, code: 'invalid_json', message: 'The line is not valid JSON.' });
        }
      });
    }
    return { rows, errors };
  }

  async function api(req, res, path, url) {
    const method = req.method;
    if (path === '/openapi.json') {
      return send(res, 200, { openapi: '3.1.0', info: { title: 'mock', version: '0' }, paths: Object.fromEntries(PATHS.map((p) => [p, {}])) });
    }
    if (path === '/health') return send(res, 200, { status: 'ok', checks: { database: 'ok', ai: 'ok' } });

    if (method === 'POST' && path === '/auth/register') {
      const b = await body(req);
      const errors = [];
      if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(b.email ?? '')) errors.push({ field: 'email', code: 'invalid_email', message: 'Not a valid email address.' });
      if (!b.fullName?.trim()) errors.push({ field: 'fullName', code: 'required', message: 'Full name is required.' });
      if ((b.password ?? '').length < 12) errors.push({ field: 'password', code: 'weak_password', message: 'Password is too weak: use at least 12 characters.' });
      if (errors.length) return problem(res, 422, 'validation_failed', 'Some fields are invalid.', { errors });
      const email = b.email.toLowerCase();
      let inv = null;
      if (b.invitationToken) {
        inv = [...invitations.values()].find((i) => i.tokenHash === sha(b.invitationToken));
        if (!inv || inv.usedAt || inv.revokedAt || Date.parse(inv.expiresAt) < Date.now() || inv.email !== email) {
          // As the api: 403 when sign-up is by invitation only, else 422 on the `invitationToken` field.
          if (process.env.MOCK_REGISTRATION === 'invite') return problem(res, 403, 'registration_closed', 'Registration needs an invitation.');
          return problem(res, 422, 'validation_failed', 'Some fields are invalid.', {
            errors: [{ field: 'invitationToken', code: 'invalid_invitation', message: 'This invitation is unknown, expired, already used, or for another email.' }],
          });
        }
      } else if (process.env.MOCK_REGISTRATION === 'invite') {
        return problem(res, 403, 'registration_closed', 'Registration needs an invitation.');
      }
      if ([...users.values()].some((u) => u.email === email)) return problem(res, 409, 'email_taken', 'An account with this email already exists.');
      const user = { id: randomUUID(), email, fullName: b.fullName.trim(), role: email.startsWith('admin') ? 'admin' : 'user', isActive: true, createdAt: now(), password: b.password, failures: 0 };
      users.set(user.id, user);
      let clinicId;
      if (inv) {
        inv.usedAt = now();
        clinicId = inv.clinicId;
        members.push({ clinicId, userId: user.id, role: inv.role, joinedAt: now() });
      } else {
        const clinic = { id: randomUUID(), name: b.clinicName?.trim() || `${user.fullName}'s clinic`, requireMfa: false, country: 'US', createdAt: now() };
        clinics.set(clinic.id, clinic);
        clinicId = clinic.id;
        members.push({ clinicId, userId: user.id, role: 'owner', joinedAt: now() });
      }
      return issue(res, user, clinicId, 201, req);
    }
    if (method === 'POST' && path === '/auth/login') {
      const b = await body(req);
      const user = [...users.values()].find((u) => u.email === String(b.email ?? '').toLowerCase());
      if (user?.lockedUntil && user.lockedUntil > Date.now()) {
        const wait = Math.ceil((user.lockedUntil - Date.now()) / 1000);
        return problem(res, 429, 'rate_limited', `Too many failed sign-in attempts. Try again in ${Math.ceil(wait / 60)} minutes.`, {}, { 'retry-after': String(wait) });
      }
      if (!user || user.password !== b.password) {
        if (user) {
          user.failures = (user.failures ?? 0) + 1;
          if (user.failures >= LOGIN_FAILURES) {
            user.failures = 0;
            user.lockedUntil = Date.now() + LOCK_SECONDS * 1000;
          }
        }
        return problem(res, 401, 'invalid_credentials', 'Invalid email or password.', user ? { remainingAttempts: LOGIN_FAILURES - user.failures } : {});
      }
      user.failures = 0;
      if (!user.isActive) return problem(res, 403, 'account_inactive', 'This account has been deactivated, so it cannot sign in. Ask your clinic’s owner to reactivate it.');
      const clinicId = members.find((m) => m.userId === user.id)?.clinicId ?? null;
      if (user.mfa?.enabled) {
        const mfaToken = randomUUID();
        mfaTokens.set(mfaToken, { userId: user.id, clinicId, exp: Date.now() + 300_000 });
        return send(res, 200, { mfaRequired: true, mfaToken, expiresIn: 300 });
      }
      return issue(res, user, clinicId, 200, req);
    }
    if (method === 'POST' && path === '/auth/login/mfa') {
      const b = await body(req);
      const pending = mfaTokens.get(b.mfaToken);
      if (!pending || pending.exp < Date.now()) return problem(res, 401, 'mfa_token_expired', 'The sign-in took too long or this step was already completed. Enter your password again.');
      const user = users.get(pending.userId);
      if (!checkCode(user, String(b.code ?? ''))) return problem(res, 401, 'invalid_code', 'The code is not correct.');
      mfaTokens.delete(b.mfaToken);
      return issue(res, user, pending.clinicId, 200, req);
    }
    if (method === 'POST' && path === '/auth/refresh') {
      const b = await body(req);
      const rt = b.refreshToken ?? cookie(req, 'refresh_token');
      const entry = rt ? refresh.get(rt) : null;
      if (!entry) return problem(res, 401, 'invalid_refresh_token', 'Sign in again.');
      if (entry.used) {
        revokeFamily(entry.family);
        return problem(res, 401, 'invalid_refresh_token', 'Sign in again.');
      }
      entry.used = true;
      const user = users.get(entry.userId);
      const session = sessions.get(entry.family);
      if (!user.isActive || !session || session.revoked) return problem(res, 401, 'invalid_refresh_token', 'Sign in again.');
      session.lastUsedAt = now();
      return sessionWith(res, user, entry.clinicId, entry.family, 200);
    }
    if (method === 'POST' && path === '/auth/logout') {
      const rt = cookie(req, 'refresh_token');
      const entry = rt ? refresh.get(rt) : null;
      if (entry) revokeFamily(entry.family);
      res.writeHead(204, { 'set-cookie': 'refresh_token=; HttpOnly; Secure; SameSite=Strict; Path=/api/v1/auth; Max-Age=0' });
      return res.end();
    }

    const ctx = authed(req);
    if (!ctx) return problem(res, 401, 'invalid_token', 'Missing or invalid access token.');
    ctx.res = res;
    const { user } = ctx;
    if (method === 'GET' && path === '/auth/me') return send(res, 200, publicUser(user, ctx.clinicId));

    // ---- accounts
    if (path === '/auth/sessions' && method === 'GET') {
      const items = [...sessions.entries()]
        .filter(([, s]) => s.userId === user.id && !s.revoked)
        .map(([family, s]) => ({ id: s.id, createdAt: s.createdAt, lastUsedAt: s.lastUsedAt, userAgent: s.userAgent, ip: s.ip, current: family === ctx.family }))
        .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
      return send(res, 200, { items });
    }
    const sm = /^\/auth\/sessions\/([^/]+)$/.exec(path);
    if (sm && method === 'DELETE') {
      const found = [...sessions.entries()].find(([, s]) => s.id === sm[1] && s.userId === user.id && !s.revoked);
      if (!found) return problem(res, 404, 'not_found', 'Session not found.');
      revokeFamily(found[0]);
      res.writeHead(204);
      return res.end();
    }
    if (path === '/auth/password' && method === 'POST') {
      const b = await body(req);
      if (b.currentPassword !== user.password) return problem(res, 401, 'invalid_credentials', 'The current password is not correct.');
      if (String(b.newPassword ?? '').length < 12) return problem(res, 422, 'validation_failed', 'Some fields are invalid.', { errors: [{ field: 'newPassword', code: 'weak_password', message: 'Password is too weak: use at least 12 characters.' }] });
      user.password = b.newPassword;
      for (const [family, s] of sessions) if (s.userId === user.id && family !== ctx.family) revokeFamily(family);
      res.writeHead(204);
      return res.end();
    }
    if (path === '/auth/mfa/setup' && method === 'POST') {
      const b = await body(req);
      if (b.password !== user.password) return problem(res, 401, 'invalid_credentials', 'The password is not correct.');
      if (user.mfa?.enabled) return problem(res, 409, 'mfa_already_enabled', 'Two-step sign-in is already on.');
      const secret = base32(randomBytes(20));
      const otpauthUri = `otpauth://totp/Dental%20Assistant:${encodeURIComponent(user.email)}?secret=${secret}&issuer=Dental%20Assistant&digits=6&period=30`;
      user.mfa = { enabled: false, secret, lastStep: -1, recovery: [] };
      return send(res, 200, { secret, otpauthUri, qrSvg: fakeQrSvg(otpauthUri) });
    }
    if (path === '/auth/mfa/enable' && method === 'POST') {
      const b = await body(req);
      if (!user.mfa || user.mfa.enabled) return problem(res, 409, 'mfa_setup_missing', 'Start the set-up first.');
      if (!checkTotp(user, String(b.code ?? ''))) return problem(res, 401, 'invalid_code', 'The code is not correct.');
      const codes = Array.from({ length: 10 }, () => randomBytes(5).toString('hex').replace(/(.{5})/, '$1-'));
      user.mfa.recovery = codes.map((c) => ({ hash: sha(c), used: false }));
      user.mfa.enabled = true;
      return send(res, 200, { recoveryCodes: codes });
    }
    if (path === '/auth/mfa/disable' && method === 'POST') {
      const b = await body(req);
      if (b.password !== user.password || !user.mfa?.enabled || !checkCode(user, String(b.code ?? ''))) return problem(res, 401, 'invalid_credentials', 'The password or the code is not correct.');
      user.mfa = null;
      res.writeHead(204);
      return res.end();
    }
    if (method === 'POST' && path === '/auth/switch-clinic') {
      const b = await body(req);
      if (!members.some((m) => m.clinicId === b.clinicId && m.userId === user.id)) return problem(res, 403, 'forbidden', 'Not a member of that clinic.');
      const rt = cookie(req, 'refresh_token');
      const entry = rt ? refresh.get(rt) : null;
      if (entry) entry.used = true;
      return sessionWith(res, user, b.clinicId, ctx.family, 200);
    }
    if (path.startsWith('/admin/')) {
      if (user.role !== 'admin') return problem(res, 403, 'forbidden', 'Admins only.');
      if (method === 'GET' && path === '/admin/users') {
        const page = Number(url.searchParams.get('page') ?? 1);
        const limit = Number(url.searchParams.get('limit') ?? 20);
        const all = [...users.values()].reverse();
        return send(res, 200, { items: all.slice((page - 1) * limit, page * limit).map((u) => publicUser(u, null)), page, limit, total: all.length });
      }
      const m = /^\/admin\/users\/([^/]+)$/.exec(path);
      if (method === 'PATCH' && m && users.has(m[1])) {
        const b = await body(req);
        const target = users.get(m[1]);
        if (b.role) target.role = b.role;
        if (typeof b.isActive === 'boolean') target.isActive = b.isActive;
        if (!target.isActive) for (const [family, s] of sessions) if (s.userId === target.id) revokeFamily(family);
        return send(res, 200, publicUser(target, null));
      }
      return problem(res, 404, 'not_found', 'Not found.');
    }

    // ---- everything below acts inside the active clinic
    if (!ctx.clinicId) return problem(res, 403, 'no_clinic', 'You are not a member of any clinic. Ask a clinic owner for an invitation.');
    const clinic = clinics.get(ctx.clinicId);
    const role = ctx.role;
    if (clinic.requireMfa && !user.mfa?.enabled) return problem(res, 403, 'mfa_setup_required', 'This clinic requires two-step sign-in: set it up first.');
    const owner = role === 'owner';
    const ownerOnly = () => problem(res, 403, 'forbidden', 'Only the clinic’s owners may do that.');

    const im = /^\/invitations\/([^/]+)\/accept$/.exec(path);
    if (im && method === 'POST') {
      const inv = [...invitations.values()].find((i) => i.tokenHash === sha(decodeURIComponent(im[1])));
      if (!inv || inv.usedAt || inv.revokedAt || Date.parse(inv.expiresAt) < Date.now() || inv.email !== user.email) return problem(res, 404, 'not_found', 'Invitation not found.');
      inv.usedAt = now();
      if (!members.some((m) => m.clinicId === inv.clinicId && m.userId === user.id)) members.push({ clinicId: inv.clinicId, userId: user.id, role: inv.role, joinedAt: now() });
      return sessionWith(res, user, inv.clinicId, ctx.family, 200);
    }
    if (path === '/clinic' && method === 'GET') return send(res, 200, publicClinic(clinic, role));
    if (path === '/clinic' && method === 'PATCH') {
      if (!owner) return ownerOnly();
      const b = await body(req);
      if (typeof b.name === 'string' && b.name.trim()) clinic.name = b.name.trim();
      if (typeof b.requireMfa === 'boolean') clinic.requireMfa = b.requireMfa;
      if (typeof b.country === 'string' && /^[A-Z]{2}$/.test(b.country)) clinic.country = b.country;
      return send(res, 200, publicClinic(clinic, role));
    }
    if (path === '/clinic/members' && method === 'GET') return send(res, 200, { items: members.filter((m) => m.clinicId === clinic.id).map(publicMember) });
    const mm = /^\/clinic\/members\/([^/]+)$/.exec(path);
    if (mm) {
      if (!owner) return ownerOnly();
      const m = members.find((x) => x.clinicId === clinic.id && x.userId === mm[1]);
      if (!m) return problem(res, 404, 'not_found', 'Not a member.');
      const owners = members.filter((x) => x.clinicId === clinic.id && x.role === 'owner').length;
      if (method === 'PATCH') {
        const b = await body(req);
        if (m.role === 'owner' && b.role !== 'owner' && owners <= 1) return problem(res, 409, 'last_owner', 'The clinic needs an owner.');
        m.role = b.role;
        return send(res, 200, publicMember(m));
      }
      if (method === 'DELETE') {
        if (m.role === 'owner' && owners <= 1) return problem(res, 409, 'last_owner', 'The clinic needs an owner.');
        members.splice(members.indexOf(m), 1);
        res.writeHead(204);
        return res.end();
      }
    }
    if (path === '/clinic/invitations') {
      if (!owner) return ownerOnly();
      if (method === 'GET') {
        const items = [...invitations.values()].filter((i) => i.clinicId === clinic.id && !i.usedAt && !i.revokedAt).map(publicInvitation).reverse();
        return send(res, 200, { items });
      }
      if (method === 'POST') {
        const b = await body(req);
        const email = String(b.email ?? '').trim().toLowerCase();
        if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) return problem(res, 422, 'validation_failed', 'Some fields are invalid.', { errors: [{ field: 'email', code: 'invalid_email', message: 'Not a valid email address.' }] });
        if (members.some((m) => m.clinicId === clinic.id && users.get(m.userId)?.email === email)) return problem(res, 409, 'already_member', 'Already a member.');
        const token = randomBytes(32).toString('base64url');
        const inv = { id: randomUUID(), email, role: b.role, createdAt: now(), expiresAt: new Date(Date.now() + 7 * 86_400_000).toISOString(), tokenHash: sha(token), clinicId: clinic.id };
        invitations.set(inv.id, inv);
        return send(res, 201, { ...publicInvitation(inv), token });
      }
    }
    const ivm = /^\/clinic\/invitations\/([^/]+)$/.exec(path);
    if (ivm && method === 'DELETE') {
      if (!owner) return ownerOnly();
      const inv = invitations.get(ivm[1]);
      if (!inv || inv.clinicId !== clinic.id) return problem(res, 404, 'not_found', 'Invitation not found.');
      inv.revokedAt = now();
      res.writeHead(204);
      return res.end();
    }
    if (path === '/clinic/stats' && method === 'GET') {
      if (!owner) return ownerOnly();
      const from = url.searchParams.get('from');
      const to = url.searchParams.get('to');
      if (!/^\d{4}-\d{2}-\d{2}$/.test(from ?? '') || !/^\d{4}-\d{2}-\d{2}$/.test(to ?? '') || Date.parse(to) - Date.parse(from) > 366 * 86_400_000)
        return problem(res, 400, 'invalid_query', 'from and to must be dates at most 366 days apart.');
      return send(res, 200, weekStats(clinic.id, from, to));
    }

    // ---- export / import (owner, clinician)
    if (path === '/export/patients' && method === 'GET') {
      if (role === 'reception') return problem(res, 403, 'forbidden', 'Your role cannot export.');
      const format = url.searchParams.get('format');
      const list = [...patients.values()].filter((p) => p.clinicId === clinic.id && !p.deletedAt).sort((a, b) => a.seq - b.seq);
      if (format !== 'fhir' && format !== 'csv') return problem(res, 400, 'invalid_query', 'format must be fhir or csv.');
      res.writeHead(200, { 'content-type': format === 'fhir' ? 'application/fhir+ndjson' : 'text/csv; charset=utf-8', 'x-request-id': res.requestId });
      // As the api: notes only with includeNotes (a CSV column; in FHIR the medical-notes extension).
      const notes = url.searchParams.get('includeNotes') === 'true';
      if (format === 'csv') res.write(`id,name,email,phone,dateOfBirth,${notes ? 'medicalNotes,' : ''}createdAt,updatedAt\r\n`);
      for (const p of list) {
        record(ctx, p.id, 'patient.export');
        if (format === 'csv') res.write(`${[p.id, p.name, p.email, p.phone, p.dateOfBirth, ...(notes ? [p.medicalNotes] : []), p.createdAt, p.updatedAt].map(csvCell).join(',')}\r\n`);
        else {
          const telecom = [p.phone && { system: 'phone', value: p.phone }, p.email && { system: 'email', value: p.email }].filter(Boolean);
          const extension = notes && p.medicalNotes ? [{ url: 'urn:dental-assistant:fhir:StructureDefinition:medical-notes', valueString: p.medicalNotes }] : undefined;
          res.write(`${JSON.stringify({ resourceType: 'Patient', id: p.id, meta: { lastUpdated: p.updatedAt }, identifier: [{ system: 'urn:ietf:rfc:3986', value: `urn:uuid:${p.id}` }], name: [{ text: p.name }], telecom, birthDate: p.dateOfBirth ?? undefined, extension })}\n`);
        }
        await sleep(2);
      }
      return res.end();
    }
    if (path === '/import/patients' && method === 'POST') {
      if (role === 'reception') return problem(res, 403, 'forbidden', 'Your role cannot import.');
      const type = req.headers['content-type'] ?? '';
      if (!/csv|ndjson/.test(type)) return problem(res, 415, 'unsupported_media_type', 'Send text/csv or application/fhir+ndjson.');
      const { rows, errors } = importRows(await rawBody(req), type);
      const seen = new Set([...patients.values()].filter((p) => p.clinicId === clinic.id && !p.deletedAt).flatMap((p) => [p.email && `e:${p.email}`, p.dateOfBirth && `n:${p.name.toLowerCase()}|${p.dateOfBirth}`].filter(Boolean)));
      const valid = [];
      for (const r of rows) {
        const v = validatePatient(r.input, false);
        const rowErrors = v.errors.map((e) => ({ row: r.row, ...e }));
        const keys = [v.out.email && `e:${v.out.email.toLowerCase()}`, v.out.dateOfBirth && `n:${v.out.name.toLowerCase()}|${v.out.dateOfBirth}`].filter(Boolean);
        if (!rowErrors.length && keys.some((k) => seen.has(k))) rowErrors.push({ row: r.row, field: keys[0].startsWith('e:') ? 'email' : 'name', code: 'possible_duplicate', message: 'A patient with the same email, or the same name and date of birth, is already in the clinic or earlier in the file.' });
        for (const k of keys) seen.add(k);
        errors.push(...rowErrors);
        if (!rowErrors.length) valid.push(v.out);
      }
      const invalidRows = new Set(errors.filter((e) => e.row > 0).map((e) => e.row)).size;
      const report = { rows: rows.length + errors.filter((e) => e.code === 'invalid_json' || e.field === 'resourceType').length, valid: valid.length, invalid: invalidRows, errors, created: 0 };
      if (url.searchParams.get('dryRun') === 'true') return send(res, 200, report);
      if (invalidRows > 0) return send(res, 422, { type: 'https://dental-assistant.local/problems/import_invalid', title: 'import_invalid', status: 422, detail: 'Nothing was imported: some rows are invalid.', code: 'import_invalid', requestId: res.requestId, report });
      for (const out of valid) {
        patientSeq += 1;
        const p = { id: randomUUID(), email: null, phone: null, dateOfBirth: null, medicalNotes: null, lastEmergencyAt: null, ...out, createdAt: now(), updatedAt: now(), createdBy: user.id, clinicId: clinic.id, seq: patientSeq };
        patients.set(p.id, p);
      }
      return send(res, 200, { ...report, created: valid.length });
    }

    // ---- patients
    if (path === '/patients' && method === 'GET') {
      const page = Math.max(1, Number(url.searchParams.get('page') ?? 1));
      const limit = Math.min(100, Math.max(1, Number(url.searchParams.get('limit') ?? 20)));
      const q = (url.searchParams.get('q') ?? '').toLowerCase();
      const sort = url.searchParams.get('sort') ?? '-createdAt';
      const orders = {
        '-createdAt': (a, b) => b.seq - a.seq,
        name: (a, b) => a.name.localeCompare(b.name),
        '-name': (a, b) => b.name.localeCompare(a.name),
        dateOfBirth: (a, b) => (a.dateOfBirth ?? '9999').localeCompare(b.dateOfBirth ?? '9999'),
        '-updatedAt': (a, b) => b.updatedAt.localeCompare(a.updatedAt) || b.seq - a.seq,
      };
      if (!orders[sort]) return problem(res, 400, 'invalid_query', `Invalid query string: sort: unknown value \`${sort}\``);
      const mine = [...patients.values()]
        .filter((p) => p.clinicId === clinic.id && !p.deletedAt)
        // As the api: names and emails without regard to case or accents, phone numbers by their digits.
        .filter((p) => {
          if (!q) return true;
          const fold = (v) => v.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
          const digits = q.replace(/\D/g, '');
          return [p.name, p.email].some((v) => v && fold(v).includes(fold(q))) || (/^[\d\s()+.-]+$/.test(q) && digits.length >= 3 && (p.phone ?? '').replace(/\D/g, '').includes(digits));
        })
        .sort(orders[sort]);
      return send(res, 200, { items: mine.slice((page - 1) * limit, page * limit).map((p) => publicPatient(p, role)), page, limit, total: mine.length });
    }
    if (path === '/patients' && method === 'POST') {
      const input = await body(req);
      if (role === 'reception' && 'medicalNotes' in input) return problem(res, 403, 'forbidden_field', 'Your role cannot write medical notes.');
      const { errors, out } = validatePatient(input, false);
      if (errors.length) return problem(res, 422, 'validation_failed', 'Some fields are invalid.', { errors });
      // As the api: the same email, or the same name and date of birth, in the clinic is a likely duplicate.
      if (url.searchParams.get('confirmDuplicate') !== 'true') {
        const fold = (v) => v.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().trim();
        const duplicates = [...patients.values()]
          .filter((p) => p.clinicId === clinic.id && !p.deletedAt)
          .filter((p) => (out.email && p.email && p.email.toLowerCase() === out.email.toLowerCase()) || (out.dateOfBirth && p.dateOfBirth === out.dateOfBirth && fold(p.name) === fold(out.name)))
          .map((p) => p.id);
        if (duplicates.length) return problem(res, 409, 'possible_duplicate', 'A patient with the same email, or the same name and date of birth, is already in this clinic.', { duplicates });
      }
      patientSeq += 1;
      const p = { id: randomUUID(), email: null, phone: null, dateOfBirth: null, medicalNotes: null, lastEmergencyAt: null, ...out, createdAt: now(), updatedAt: now(), createdBy: user.id, clinicId: clinic.id, seq: patientSeq };
      patients.set(p.id, p);
      return send(res, 201, publicPatient(p, role));
    }
    if (path === '/patients/trash' && method === 'GET') {
      if (!owner) return ownerOnly();
      const page = Math.max(1, Number(url.searchParams.get('page') ?? 1));
      const limit = Math.min(100, Math.max(1, Number(url.searchParams.get('limit') ?? 20)));
      const trash = [...patients.values()].filter((p) => p.clinicId === clinic.id && p.deletedAt).sort((a, b) => b.deletedAt.localeCompare(a.deletedAt));
      return send(res, 200, { items: trash.slice((page - 1) * limit, page * limit).map((p) => publicPatient(p, role)), page, limit, total: trash.length, retentionDays: RETENTION_DAYS });
    }
    const pm = /^\/patients\/([^/]+)(\/.*)?$/.exec(path);
    const patient = pm ? patients.get(pm[1]) : null;
    const rest = pm?.[2] ?? '';
    const inClinic = patient && patient.clinicId === clinic.id;
    if (!inClinic) {
      if (patient) record(ctx, patient.id, 'access.denied');
      return problem(res, 404, 'not_found', 'Patient not found.');
    }
    if (rest === '/restore' && method === 'POST') {
      if (!owner) return ownerOnly();
      if (!patient.deletedAt) return problem(res, 404, 'not_found', 'Not in the trash.');
      delete patient.deletedAt;
      record(ctx, patient.id, 'patient.restore');
      return send(res, 200, publicPatient(patient, role));
    }
    if (rest === '/access-log' && method === 'GET') {
      if (!owner) {
        record(ctx, patient.id, 'access.denied');
        return ownerOnly();
      }
      record(ctx, patient.id, 'patient.read');
      const limit = Math.min(100, Math.max(1, Number(url.searchParams.get('limit') ?? 25)));
      const page = Math.max(1, Number(url.searchParams.get('page') ?? 1));
      const cursor = url.searchParams.get('cursor');
      const all = audit.filter((a) => a.clinicId === clinic.id && a.patientId === patient.id).sort((a, b) => b.id - a.id);
      const start = cursor ? all.findIndex((a) => a.id < Number(cursor)) : (page - 1) * limit;
      const items = start < 0 ? [] : all.slice(start, start + limit);
      const more = start >= 0 && start + limit < all.length;
      return send(res, 200, {
        items: items.map((a) => ({ at: a.at, userId: a.userId, userName: users.get(a.userId)?.fullName ?? null, action: a.action, requestId: a.requestId })),
        page,
        limit,
        hasMore: more,
        nextCursor: more ? String(items[items.length - 1].id) : null,
      });
    }
    if (patient.deletedAt) return problem(res, 404, 'not_found', 'Patient not found.');
    if (rest === '' && method === 'GET') {
      record(ctx, patient.id, 'patient.read');
      return send(res, 200, publicPatient(patient, role));
    }
    if (rest === '' && method === 'PATCH') {
      const input = await body(req);
      if (role === 'reception' && 'medicalNotes' in input) {
        record(ctx, patient.id, 'access.denied');
        return problem(res, 403, 'forbidden_field', 'Your role cannot write medical notes.');
      }
      const { errors, out } = validatePatient(input, true);
      if (errors.length) return problem(res, 422, 'validation_failed', 'Some fields are invalid.', { errors });
      Object.assign(patient, out, { updatedAt: now() });
      record(ctx, patient.id, 'patient.update');
      return send(res, 200, publicPatient(patient, role));
    }
    if (rest === '' && method === 'DELETE') {
      patient.deletedAt = now();
      record(ctx, patient.id, 'patient.delete');
      res.writeHead(204);
      return res.end();
    }
    // Chat: not for reception.
    if (rest.startsWith('/messages') && role === 'reception') {
      record(ctx, patient.id, 'access.denied');
      return problem(res, 403, 'forbidden', 'Your role has no access to the assistant.');
    }
    const mine = messages.filter((m) => m.patientId === patient.id);
    if (rest === '/messages' && method === 'GET') {
      record(ctx, patient.id, 'message.list');
      const limit = Number(url.searchParams.get('limit') ?? 30);
      const before = url.searchParams.get('before');
      const end = before ? mine.findIndex((m) => m.id === before) : mine.length;
      const start = Math.max(0, end - limit);
      const items = mine.slice(start, end < 0 ? 0 : end);
      return send(res, 200, { items: items.map(publicMessage), nextBefore: start > 0 ? (items[0]?.id ?? null) : null });
    }
    const saveUser = (content) => {
      const userMsg = { id: randomUUID(), role: 'user', content, metadata: {}, createdAt: now(), patientId: patient.id };
      messages.push(userMsg);
      record(ctx, patient.id, 'message.send');
      return userMsg;
    };
    const readContent = async () => {
      const b = await body(req);
      const content = String(b.content ?? '').trim();
      if (!content || [...content].length > 4000) {
        problem(res, 422, 'validation_failed', 'Invalid message.', { errors: [{ field: 'content', code: 'length', message: 'Message must be 1-4,000 characters.' }] });
        return null;
      }
      return content;
    };
    if (rest === '/messages' && method === 'POST') {
      const content = await readContent();
      if (content === null) return undefined;
      const userMsg = saveUser(content);
      const { text, emergency } = reply(content);
      const { message, emergency: e } = saveAssistant(patient.id, text, emergency);
      return send(res, 201, { userMessage: publicMessage(userMsg), assistantMessage: publicMessage(message), emergency: e });
    }
    if (rest === '/messages/stream' && method === 'POST') {
      const content = await readContent();
      if (content === null) return undefined;
      const userMsg = saveUser(content);
      const job = startJob(userMsg, patient.id);
      return pipeJob(job, res, -1, { id: `${userMsg.id}:0`, event: 'user', data: publicMessage(userMsg) });
    }
    const mr = /^\/messages\/([^/]+)\/(reply|stream|stop)$/.exec(rest);
    if (mr) {
      const idx = mine.findIndex((m) => m.id === mr[1] && m.role === 'user');
      if (idx < 0) return problem(res, 404, 'not_found', 'Message not found.');
      const answered = mine[idx + 1]?.role === 'assistant' ? mine[idx + 1] : null;
      const job = jobs.get(mr[1]);
      if (mr[2] === 'reply' && method === 'POST') {
        if (answered || (job && !job.finished)) return problem(res, 409, 'already_answered', 'This message already has a reply.');
        const { text, emergency } = reply(mine[idx].content.replace(/^fail/i, ''));
        const { message, emergency: e } = saveAssistant(patient.id, text, emergency);
        return send(res, 201, { assistantMessage: publicMessage(message), emergency: e });
      }
      if (mr[2] === 'stream' && method === 'GET') {
        const last = Number(String(req.headers['last-event-id'] ?? '').split(':').pop());
        if (job) return pipeJob(job, res, Number.isFinite(last) ? last : -1);
        if (answered) {
          res.writeHead(200, { 'content-type': 'text/event-stream', 'x-request-id': res.requestId });
          res.write(`id: ${mr[1]}:999999\r\nevent: done\r\ndata: ${JSON.stringify({ assistantMessage: publicMessage(answered), emergency: answered.metadata.emergency?.detected ? answered.metadata.emergency : null })}\r\n\r\n`);
          return res.end();
        }
        return problem(res, 404, 'not_found', 'No reply is being generated for this message.');
      }
      if (mr[2] === 'stop' && method === 'POST') {
        if (!job || job.finished) return problem(res, 409, 'not_generating', 'No reply is being generated.');
        job.stopped = true;
        setTimeout(() => job.finish(true), 20);
        res.writeHead(202, { 'x-request-id': res.requestId });
        return res.end();
      }
    }
    return problem(res, 404, 'not_found', 'Not found.');
  }

  function checkTotp(user, code) {
    if (!user.mfa?.secret || !/^\d{6}$/.test(code)) return false;
    const totp = new TOTP({ secret: Secret.fromBase32(user.mfa.secret), digits: 6, period: 30, algorithm: 'SHA1' });
    const delta = totp.validate({ token: code, window: 1 });
    if (delta === null) return false;
    const step = Math.floor(Date.now() / 30_000) + delta;
    if (step <= user.mfa.lastStep) return false; // a code is accepted once
    user.mfa.lastStep = step;
    return true;
  }

  function checkCode(user, code) {
    if (checkTotp(user, code)) return true;
    const r = user.mfa?.recovery?.find((x) => !x.used && x.hash === sha(code.trim()));
    if (!r) return false;
    r.used = true;
    return true;
  }

  async function staticFile(res, path) {
    const safe = normalize(path).replace(/^(\.\.[/\\])+/, '');
    let file = join(DIST, safe);
    let data;
    try {
      data = await readFile(file);
    } catch {
      file = join(DIST, 'index.html');
      data = await readFile(file);
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-security-policy': CSP });
    res.end(data);
  }

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    res.requestId = randomUUID();
    try {
      if (url.pathname.startsWith('/api/v1/')) await api(req, res, url.pathname.slice('/api/v1'.length), url);
      else if (url.pathname.startsWith('/api/')) problem(res, 404, 'not_found', 'Not found.');
      else await staticFile(res, url.pathname === '/' ? '/index.html' : url.pathname);
    } catch (e) {
      if (!res.headersSent) {
        if (e?.tooLarge) problem(res, 413, 'payload_too_large', 'At most 10 MB.');
        else problem(res, e instanceof SyntaxError ? 400 : 500, e instanceof SyntaxError ? 'malformed_json' : 'internal', String(e));
      } else res.end();
    }
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  const address = server.address();
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections?.();
        server.close(r);
      }),
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { url } = await startMockApi({ port: Number(process.argv[2] ?? 8080) });
  console.log(`mock api on ${url}`);
}
