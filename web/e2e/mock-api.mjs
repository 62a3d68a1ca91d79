// A small in-memory stand-in for the api (CONTRACT.md), only to check the web app and e2e/run.mjs before the
// real api exists: `E2E_MOCK=1 npm run e2e`, or `node e2e/mock-api.mjs [port]` and `npm run dev` with
// API_URL=http://127.0.0.1:<port>. Serves web/dist with the SPA fallback and the same strict CSP the api sends.
// Access tokens live 5 s (MOCK_ACCESS_TTL_MS) so the refresh path is exercised; refresh tokens rotate and
// reuse revokes the family, like the real one. Emails starting with "admin" register as admins.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const DIST = resolve(here, '../dist');
const ACCESS_TTL_MS = Number(process.env.MOCK_ACCESS_TTL_MS ?? 5_000);
const CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png' };
const FIRST_AID =
  'Find the tooth and hold it by the crown (the white part), not the root. If it is dirty, rinse it briefly ' +
  'in milk or saline. Try to put it back in its socket and bite gently on a clean cloth; if you cannot, keep it ' +
  'in milk. Time matters: the chance of saving the tooth is best within 60 minutes.';

export async function startMockApi({ port = 0 } = {}) {
  const users = new Map(); // id -> user (+ password)
  const access = new Map(); // token -> { userId, exp }
  const refresh = new Map(); // token -> { userId, family, used }
  const patients = new Map(); // id -> patient (+ ownerId)
  const messages = []; // { ...message, patientId }

  const now = () => new Date().toISOString();
  const publicUser = ({ password: _p, ...u }) => u;
  const publicPatient = ({ ownerId: _o, seq: _s, ...p }) => p;
  let patientSeq = 0;
  const publicMessage = ({ patientId: _p, ...m }) => m;

  function send(res, status, body, headers = {}) {
    const problem = status >= 400;
    res.writeHead(status, {
      'content-type': problem ? 'application/problem+json' : 'application/json',
      'x-request-id': randomUUID(),
      ...headers,
    });
    res.end(body === undefined ? undefined : JSON.stringify(body));
  }

  function problem(res, status, code, detail, errors, headers) {
    send(
      res,
      status,
      { type: `https://dental-assistant.local/problems/${code}`, title: code, status, detail, code, requestId: 'mock', ...(errors ? { errors } : {}) },
      headers,
    );
  }

  function issue(res, user, status) {
    const token = randomUUID();
    access.set(token, { userId: user.id, exp: Date.now() + ACCESS_TTL_MS });
    const rt = randomUUID();
    refresh.set(rt, { userId: user.id, family: randomUUID(), used: false });
    return sessionWith(res, user, status, token, rt);
  }

  function sessionWith(res, user, status, token, rt) {
    send(
      res,
      status,
      { accessToken: token, tokenType: 'Bearer', expiresIn: Math.round(ACCESS_TTL_MS / 1000), refreshToken: rt, user: publicUser(user) },
      { 'set-cookie': `refresh_token=${rt}; HttpOnly; Secure; SameSite=Strict; Path=/api/v1/auth; Max-Age=2592000` },
    );
  }

  function cookie(req, name) {
    const m = new RegExp(`(?:^|; )${name}=([^;]+)`).exec(req.headers.cookie ?? '');
    return m ? m[1] : null;
  }

  function authUser(req) {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    const entry = m ? access.get(m[1]) : null;
    if (!entry || entry.exp < Date.now()) return null;
    const user = users.get(entry.userId);
    return user && user.isActive ? user : null;
  }

  async function body(req) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const text = Buffer.concat(chunks).toString('utf8');
    if (!text) return {};
    return JSON.parse(text);
  }

  function validatePatient(input, partial) {
    const errors = [];
    const known = ['name', 'email', 'phone', 'dateOfBirth', 'medicalNotes'];
    for (const k of Object.keys(input)) if (!known.includes(k)) errors.push({ field: k, code: 'unknown_field', message: 'Unknown field.' });
    const out = {};
    if (!partial || 'name' in input) {
      const name = typeof input.name === 'string' ? input.name.trim() : '';
      if (!name || [...name].length > 200) errors.push({ field: 'name', code: 'length', message: 'Name must be 1-200 characters.' });
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
      : { detected: false, category: null, severity: null, source: null, language: 'en' };
    const text = emergency.detected
      ? FIRST_AID
      : 'Sensitive teeth often improve with a desensitising toothpaste and a soft brush. Avoid very acidic drinks, ' +
        'and book a check-up if it lasts more than two weeks — ça va mieux bientôt 🦷.';
    return { text, emergency };
  }

  function saveAssistant(patientId, content) {
    const { text, emergency } = reply(content);
    if (emergency.detected && patients.has(patientId)) patients.get(patientId).lastEmergencyAt = now();
    const m = {
      id: randomUUID(),
      role: 'assistant',
      content: text,
      metadata: { provider: 'offline', model: 'mock', usage: { inputTokens: 10, outputTokens: 40 }, latencyMs: 5, emergency, finishReason: 'stop' },
      createdAt: now(),
      patientId,
    };
    messages.push(m);
    return { message: m, emergency: emergency.detected ? emergency : null };
  }

  async function api(req, res, path, url) {
    const method = req.method;
    if (path === '/health') return send(res, 200, { status: 'ok', checks: { database: 'ok', ai: 'ok' } });
    if (method === 'POST' && path === '/auth/register') {
      const b = await body(req);
      const errors = [];
      if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(b.email ?? '')) errors.push({ field: 'email', code: 'invalid_email', message: 'Not a valid email address.' });
      if (!b.fullName?.trim()) errors.push({ field: 'fullName', code: 'required', message: 'Full name is required.' });
      if ((b.password ?? '').length < 12) errors.push({ field: 'password', code: 'weak_password', message: 'Password is too weak: use at least 12 characters.' });
      if (errors.length) return problem(res, 422, 'validation_failed', 'Some fields are invalid.', errors);
      const email = b.email.toLowerCase();
      if ([...users.values()].some((u) => u.email === email)) return problem(res, 409, 'email_taken', 'An account with this email already exists.');
      const user = { id: randomUUID(), email, fullName: b.fullName.trim(), role: email.startsWith('admin') ? 'admin' : 'user', isActive: true, createdAt: now(), password: b.password };
      users.set(user.id, user);
      return issue(res, user, 201);
    }
    if (method === 'POST' && path === '/auth/login') {
      const b = await body(req);
      const user = [...users.values()].find((u) => u.email === String(b.email ?? '').toLowerCase());
      if (!user || user.password !== b.password || !user.isActive) return problem(res, 401, 'invalid_credentials', 'Invalid email or password.');
      return issue(res, user, 200);
    }
    if (method === 'POST' && path === '/auth/refresh') {
      const b = await body(req);
      const rt = b.refreshToken ?? cookie(req, 'refresh_token');
      const entry = rt ? refresh.get(rt) : null;
      if (!entry) return problem(res, 401, 'invalid_refresh_token', 'Sign in again.');
      if (entry.used) {
        for (const e of refresh.values()) if (e.family === entry.family) e.used = true;
        return problem(res, 401, 'invalid_refresh_token', 'Sign in again.');
      }
      entry.used = true;
      const user = users.get(entry.userId);
      const token = randomUUID();
      access.set(token, { userId: user.id, exp: Date.now() + ACCESS_TTL_MS });
      const next = randomUUID();
      refresh.set(next, { userId: user.id, family: entry.family, used: false });
      return sessionWith(res, user, 200, token, next);
    }
    if (method === 'POST' && path === '/auth/logout') {
      const rt = cookie(req, 'refresh_token');
      const entry = rt ? refresh.get(rt) : null;
      if (entry) for (const e of refresh.values()) if (e.family === entry.family) e.used = true;
      res.writeHead(204, { 'set-cookie': 'refresh_token=; HttpOnly; Secure; SameSite=Strict; Path=/api/v1/auth; Max-Age=0' });
      return res.end();
    }

    const user = authUser(req);
    if (!user) return problem(res, 401, 'unauthorized', 'Missing or invalid access token.');
    if (method === 'GET' && path === '/auth/me') return send(res, 200, publicUser(user));

    if (path.startsWith('/admin/')) {
      if (user.role !== 'admin') return problem(res, 403, 'forbidden', 'Admins only.');
      if (method === 'GET' && path === '/admin/users') {
        const page = Number(url.searchParams.get('page') ?? 1);
        const limit = Number(url.searchParams.get('limit') ?? 20);
        const all = [...users.values()].reverse();
        return send(res, 200, { items: all.slice((page - 1) * limit, page * limit).map(publicUser), page, limit, total: all.length });
      }
      const m = /^\/admin\/users\/([^/]+)$/.exec(path);
      if (method === 'PATCH' && m && users.has(m[1])) {
        const b = await body(req);
        const target = users.get(m[1]);
        if (b.role) target.role = b.role;
        if (typeof b.isActive === 'boolean') target.isActive = b.isActive;
        return send(res, 200, publicUser(target));
      }
      return problem(res, 404, 'not_found', 'Not found.');
    }

    if (path === '/patients' && method === 'GET') {
      const page = Math.max(1, Number(url.searchParams.get('page') ?? 1));
      const limit = Math.min(100, Math.max(1, Number(url.searchParams.get('limit') ?? 20)));
      const q = (url.searchParams.get('q') ?? '').toLowerCase();
      // The second wave's `sort` (CONTRACT.md); the real api of the first wave refuses it with 400 invalid_query.
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
        .filter((p) => p.ownerId === user.id)
        .filter((p) => !q || [p.name, p.email, p.phone].some((v) => v && v.toLowerCase().includes(q)))
        .sort(orders[sort]);
      return send(res, 200, { items: mine.slice((page - 1) * limit, page * limit).map(publicPatient), page, limit, total: mine.length });
    }
    if (path === '/patients' && method === 'POST') {
      const { errors, out } = validatePatient(await body(req), false);
      if (errors.length) return problem(res, 422, 'validation_failed', 'Some fields are invalid.', errors);
      patientSeq += 1;
      const p = { id: randomUUID(), email: null, phone: null, dateOfBirth: null, medicalNotes: null, lastEmergencyAt: null, ...out, createdAt: now(), updatedAt: now(), ownerId: user.id, seq: patientSeq };
      patients.set(p.id, p);
      return send(res, 201, publicPatient(p));
    }
    const pm = /^\/patients\/([^/]+)(\/.*)?$/.exec(path);
    const patient = pm ? patients.get(pm[1]) : null;
    if (!patient || patient.ownerId !== user.id) return problem(res, 404, 'not_found', 'Patient not found.');
    const rest = pm[2] ?? '';
    if (rest === '' && method === 'GET') return send(res, 200, publicPatient(patient));
    if (rest === '' && method === 'PATCH') {
      const { errors, out } = validatePatient(await body(req), true);
      if (errors.length) return problem(res, 422, 'validation_failed', 'Some fields are invalid.', errors);
      Object.assign(patient, out, { updatedAt: now() });
      return send(res, 200, publicPatient(patient));
    }
    if (rest === '' && method === 'DELETE') {
      patients.delete(patient.id);
      res.writeHead(204);
      return res.end();
    }
    const mine = messages.filter((m) => m.patientId === patient.id);
    if (rest === '/messages' && method === 'GET') {
      const limit = Number(url.searchParams.get('limit') ?? 30);
      const before = url.searchParams.get('before');
      const end = before ? mine.findIndex((m) => m.id === before) : mine.length;
      const start = Math.max(0, end - limit);
      const items = mine.slice(start, end < 0 ? 0 : end);
      return send(res, 200, { items: items.map(publicMessage), nextBefore: start > 0 ? items[0]?.id ?? null : null });
    }
    if (rest === '/messages' && method === 'POST') {
      const b = await body(req);
      const content = String(b.content ?? '').trim();
      if (!content || [...content].length > 4000) return problem(res, 422, 'validation_failed', 'Invalid message.', [{ field: 'content', code: 'length', message: 'Message must be 1-4,000 characters.' }]);
      const userMsg = { id: randomUUID(), role: 'user', content, metadata: {}, createdAt: now(), patientId: patient.id };
      messages.push(userMsg);
      const { message, emergency } = saveAssistant(patient.id, content);
      return send(res, 201, { userMessage: publicMessage(userMsg), assistantMessage: publicMessage(message), emergency });
    }
    if (rest === '/messages/stream' && method === 'POST') {
      const b = await body(req);
      const content = String(b.content ?? '').trim();
      if (!content || [...content].length > 4000) return problem(res, 422, 'validation_failed', 'Invalid message.', [{ field: 'content', code: 'length', message: 'Message must be 1-4,000 characters.' }]);
      const userMsg = { id: randomUUID(), role: 'user', content, metadata: {}, createdAt: now(), patientId: patient.id };
      messages.push(userMsg);
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const write = (event, data) => res.write(`event: ${event}\r\ndata: ${JSON.stringify(data)}\r\n\r\n`);
      write('user', publicMessage(userMsg));
      if (/^fail/i.test(content)) {
        write('delta', { text: 'Hal' });
        write('error', { code: 'ai_unavailable', detail: 'The assistant is unavailable.' });
        return res.end();
      }
      const { message, emergency } = saveAssistant(patient.id, content);
      // Split the bytes at awkward places, inside multi-byte characters too.
      const pieces = [];
      for (let i = 0; i < message.content.length; i += 12) pieces.push(message.content.slice(i, i + 12));
      for (const piece of pieces) {
        const wire = Buffer.from(`event: delta\r\ndata: ${JSON.stringify({ text: piece })}\r\n\r\n`, 'utf8');
        const cut = Math.floor(wire.length / 2);
        res.write(wire.subarray(0, cut));
        await new Promise((r) => setTimeout(r, 15));
        res.write(wire.subarray(cut));
      }
      write('done', { assistantMessage: publicMessage(message), emergency });
      return res.end();
    }
    const rm = /^\/messages\/([^/]+)\/reply$/.exec(rest);
    if (rm && method === 'POST') {
      const idx = mine.findIndex((m) => m.id === rm[1] && m.role === 'user');
      if (idx < 0) return problem(res, 404, 'not_found', 'Message not found.');
      if (mine[idx + 1]?.role === 'assistant') return problem(res, 409, 'already_answered', 'This message already has a reply.');
      const { message, emergency } = saveAssistant(patient.id, mine[idx].content);
      return send(res, 201, { assistantMessage: publicMessage(message), emergency });
    }
    return problem(res, 404, 'not_found', 'Not found.');
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
    try {
      if (url.pathname.startsWith('/api/v1/')) await api(req, res, url.pathname.slice('/api/v1'.length), url);
      else if (url.pathname.startsWith('/api/')) problem(res, 404, 'not_found', 'Not found.');
      else await staticFile(res, url.pathname === '/' ? '/index.html' : url.pathname);
    } catch (e) {
      if (!res.headersSent) problem(res, e instanceof SyntaxError ? 400 : 500, e instanceof SyntaxError ? 'malformed_json' : 'internal', String(e));
      else res.end();
    }
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  const address = server.address();
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () => new Promise((r) => server.close(r)),
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { url } = await startMockApi({ port: Number(process.argv[2] ?? 8080) });
  console.log(`mock api on ${url}`);
}
