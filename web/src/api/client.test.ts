import { describe, expect, it, vi } from 'vitest';
import { ApiClient } from './client';
import { ApiError } from './errors';
import type { Session, User } from './types';

const user: User = {
  id: '00000000-0000-0000-0000-000000000001',
  email: 'ada@example.com',
  fullName: 'Ada Lovelace',
  role: 'user',
  isActive: true,
  createdAt: '2024-06-15T10:00:00Z',
};

function session(token: string): Session {
  return { accessToken: token, tokenType: 'Bearer', expiresIn: 900, refreshToken: `refresh-for-${token}`, user };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  const type = status >= 400 ? 'application/problem+json' : 'application/json';
  return new Response(status === 204 ? null : JSON.stringify(body), {
    status,
    headers: { 'content-type': type, ...headers },
  });
}

const unauthorized = () =>
  json(401, { type: 'about:blank', title: 'Unauthorized', status: 401, detail: 'Token expired', code: 'unauthorized' });

interface Call {
  url: string;
  method: string;
  auth: string | null;
  body: string | null;
  credentials: RequestCredentials | undefined;
}

/**
 * A fake server: `/auth/refresh` answers with `refresh()`; every other route accepts only `validToken`.
 * Responses may be delayed to make requests overlap.
 */
function fakeServer(opts: { refresh: () => Response | Promise<Response>; validToken: () => string | null }) {
  const calls: Call[] = [];
  const fetchFn = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = String(input);
    const headers = new Headers(init.headers);
    calls.push({
      url,
      method: init.method ?? 'GET',
      auth: headers.get('authorization'),
      body: typeof init.body === 'string' ? init.body : null,
      credentials: init.credentials,
    });
    await new Promise((r) => setTimeout(r, 5));
    if (url.endsWith('/auth/refresh')) return opts.refresh();
    if (url.endsWith('/auth/logout')) return new Response(null, { status: 204 });
    if (url.endsWith('/auth/login')) return json(200, session('login-token'));
    if (headers.get('authorization') !== `Bearer ${opts.validToken()}`) return unauthorized();
    return json(200, { ok: url });
  });
  return { calls, fetchFn: fetchFn as unknown as typeof fetch, refreshes: () => calls.filter((c) => c.url.endsWith('/auth/refresh')) };
}

describe('ApiClient refresh logic', () => {
  it('sends the access token it got from login, and keeps it only in memory', async () => {
    const server = fakeServer({ refresh: () => unauthorized(), validToken: () => 'login-token' });
    const client = new ApiClient({ fetch: server.fetchFn });
    await client.login({ email: 'ada@example.com', password: 'x' });
    await client.request('GET', '/patients');
    expect(server.calls.at(-1)?.auth).toBe('Bearer login-token');
    // The body's refresh token is not kept anywhere in the client.
    expect(JSON.stringify(Object.values(client))).not.toContain('refresh-for-');
  });

  it('refreshes once for many concurrent 401s and retries each request once with the new token', async () => {
    let current = 'old';
    const server = fakeServer({
      refresh: async () => {
        await new Promise((r) => setTimeout(r, 20));
        current = 'new';
        return json(200, session('new'));
      },
      validToken: () => current,
    });
    const client = new ApiClient({ fetch: server.fetchFn });
    const results = await Promise.all(
      ['/patients', '/patients/1', '/patients/2', '/auth/me', '/patients?page=2'].map((p) => client.request('GET', p)),
    );
    expect(results).toHaveLength(5);
    expect(server.refreshes()).toHaveLength(1);
    const retries = server.calls.filter((c) => c.auth === 'Bearer new');
    expect(retries).toHaveLength(5);
    // Each request: one try without a valid token, one retry.
    expect(server.calls.filter((c) => !c.url.endsWith('/auth/refresh'))).toHaveLength(10);
  });

  it('posts an empty JSON body with the cookie to /auth/refresh', async () => {
    const server = fakeServer({ refresh: () => json(200, session('t')), validToken: () => 't' });
    const client = new ApiClient({ fetch: server.fetchFn });
    await client.refresh();
    expect(server.refreshes()[0]).toMatchObject({ method: 'POST', body: '{}', credentials: 'include', auth: null });
  });

  it('a request that gets 401 after another refresh finished reuses the new token instead of refreshing again', async () => {
    let current = 'old';
    const calls: Call[] = [];
    const fetchFn = (async (input: RequestInfo | URL, init: RequestInit = {}) => {
      const url = String(input);
      const auth = new Headers(init.headers).get('authorization');
      calls.push({ url, method: init.method ?? 'GET', auth, body: null, credentials: init.credentials });
      if (url.endsWith('/auth/refresh')) return json(200, session(current));
      // The slow request is judged when it finishes, after the token has rotated.
      await new Promise((r) => setTimeout(r, url.endsWith('/slow') && auth === 'Bearer old' ? 40 : 1));
      return auth === `Bearer ${current}` ? json(200, {}) : unauthorized();
    }) as unknown as typeof fetch;
    const client = new ApiClient({ fetch: fetchFn });
    await client.refresh(); // holds "old"
    const slow = client.request('GET', '/slow');
    current = 'new';
    await client.refresh(); // holds "new" while /slow is still in flight with "old"
    await expect(slow).resolves.toEqual({});
    expect(calls.filter((c) => c.url.endsWith('/auth/refresh'))).toHaveLength(2);
    expect(calls.filter((c) => c.url.endsWith('/slow')).map((c) => c.auth)).toEqual(['Bearer old', 'Bearer new']);
  });

  it('retries only once: a second 401 signs the user out', async () => {
    const server = fakeServer({ refresh: () => json(200, session('still-bad')), validToken: () => 'never' });
    const client = new ApiClient({ fetch: server.fetchFn });
    const listener = vi.fn();
    client.onSessionChange(listener);
    await expect(client.request('GET', '/patients')).rejects.toMatchObject({ status: 401 });
    expect(server.refreshes()).toHaveLength(1);
    expect(server.calls.filter((c) => c.url.endsWith('/patients'))).toHaveLength(2);
    expect(listener).toHaveBeenLastCalledWith(null);
    expect(client.hasAccessToken).toBe(false);
  });

  it('gives up when the refresh is refused: every waiting request fails with 401 and the user is signed out', async () => {
    const server = fakeServer({ refresh: () => unauthorized(), validToken: () => 'x' });
    const client = new ApiClient({ fetch: server.fetchFn });
    const listener = vi.fn();
    client.onSessionChange(listener);
    const outcomes = await Promise.allSettled([client.request('GET', '/a'), client.request('GET', '/b'), client.request('GET', '/c')]);
    expect(outcomes.every((o) => o.status === 'rejected' && (o.reason as ApiError).status === 401)).toBe(true);
    expect(server.refreshes()).toHaveLength(1);
    // No retries without a token.
    expect(server.calls.filter((c) => !c.url.endsWith('/auth/refresh'))).toHaveLength(3);
    expect(listener).toHaveBeenCalledWith(null);
  });

  it('does not refresh for a failed login', async () => {
    const fetchFn = vi.fn(async () =>
      json(401, { type: 't', title: 'Unauthorized', status: 401, detail: 'Invalid email or password', code: 'invalid_credentials' }),
    );
    const client = new ApiClient({ fetch: fetchFn as unknown as typeof fetch });
    await expect(client.login({ email: 'a@example.com', password: 'wrong' })).rejects.toMatchObject({
      status: 401,
      code: 'invalid_credentials',
    });
    expect(fetchFn).toHaveBeenCalledTimes(1);
  });

  it('restore() refreshes once even when called twice (React strict mode), and returns the user', async () => {
    const server = fakeServer({ refresh: () => json(200, session('t')), validToken: () => 't' });
    const client = new ApiClient({ fetch: server.fetchFn });
    const [a, b] = await Promise.all([client.restore(), client.restore()]);
    expect(a).toEqual(user);
    expect(b).toEqual(user);
    expect(server.refreshes()).toHaveLength(1);
  });

  it('restore() resolves to null without a refresh cookie', async () => {
    const server = fakeServer({ refresh: () => unauthorized(), validToken: () => null });
    const client = new ApiClient({ fetch: server.fetchFn });
    expect(await client.restore()).toBeNull();
  });

  it('runs the refresh under the cross-tab lock', async () => {
    const server = fakeServer({ refresh: () => json(200, session('t')), validToken: () => 't' });
    let locked = 0;
    const lock = <T,>(run: () => Promise<T>): Promise<T> => {
      locked += 1;
      return run();
    };
    const client = new ApiClient({ fetch: server.fetchFn, lock });
    await Promise.all([client.refresh(), client.refresh()]);
    expect(locked).toBe(1);
  });

  it('logout clears the session even when the server cannot be reached', async () => {
    const fetchFn = vi.fn(async (input: RequestInfo | URL) => {
      if (String(input).endsWith('/auth/login')) return json(200, session('t'));
      throw new TypeError('Failed to fetch');
    });
    const client = new ApiClient({ fetch: fetchFn as unknown as typeof fetch });
    await client.login({ email: 'a@example.com', password: 'x' });
    const listener = vi.fn();
    client.onSessionChange(listener);
    await client.logout();
    expect(client.hasAccessToken).toBe(false);
    expect(listener).toHaveBeenCalledWith(null);
    expect(await client.restore()).toBeNull();
  });
});

describe('ApiClient errors', () => {
  it('exposes the problem+json body, field errors and Retry-After', async () => {
    const problem = {
      type: 't',
      title: 'Unprocessable',
      status: 422,
      detail: 'One or more fields are invalid',
      code: 'validation_failed',
      requestId: 'r1',
      errors: [{ field: 'phone', code: 'invalid', message: 'must be E.164' }],
    };
    const client = new ApiClient({ fetch: (async () => json(422, problem)) as unknown as typeof fetch });
    const err = await client.request('POST', '/patients', { name: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).fieldErrors).toEqual(problem.errors);
    expect((err as ApiError).code).toBe('validation_failed');

    const limited = new ApiClient({
      fetch: (async () => json(429, { ...problem, status: 429, code: 'rate_limited', errors: undefined }, { 'retry-after': '30' })) as unknown as typeof fetch,
    });
    const e2 = (await limited.request('GET', '/patients').catch((e: unknown) => e)) as ApiError;
    expect(e2.retryAfter).toBe(30);
    expect(e2.userMessage).toMatch(/30 seconds/);
  });

  it('turns a network failure into status 0', async () => {
    const client = new ApiClient({
      fetch: (async () => {
        throw new TypeError('Failed to fetch');
      }) as unknown as typeof fetch,
    });
    await expect(client.request('GET', '/patients')).rejects.toMatchObject({ status: 0 });
  });

  it('returns undefined for 204', async () => {
    const client = new ApiClient({ fetch: (async () => new Response(null, { status: 204 })) as unknown as typeof fetch });
    await expect(client.request('DELETE', '/patients/1')).resolves.toBeUndefined();
  });
});

describe('ApiClient: clinics and two-step sign-in', () => {
  const problem = (status: number, code: string) =>
    json(status, { type: 'about:blank', title: code, status, detail: code, code });

  it('returns the challenge instead of a session when two-step sign-in is on, then signs in with the code', async () => {
    const calls: { url: string; body: string | null }[] = [];
    const fetchFn = (async (input: RequestInfo | URL, init: RequestInit = {}) => {
      const url = String(input);
      calls.push({ url, body: typeof init.body === 'string' ? init.body : null });
      if (url.endsWith('/auth/login')) return json(200, { mfaRequired: true, mfaToken: 'mfa-1', expiresIn: 300 });
      if (url.endsWith('/auth/login/mfa')) return json(200, { ...session('after-code'), clinic: { id: 'c1', name: 'Molar St', role: 'owner' } });
      return json(200, {});
    }) as typeof fetch;
    const client = new ApiClient({ fetch: fetchFn, lock: (run) => run() });
    const seen: (User | null)[] = [];
    client.onSessionChange((u) => seen.push(u));
    const first = await client.login({ email: 'ada@example.com', password: 'x' });
    expect(first).toEqual({ kind: 'mfa', mfaToken: 'mfa-1', expiresIn: 300 });
    expect(client.hasAccessToken).toBe(false);
    expect(seen).toEqual([]);
    const u = await client.loginMfa('mfa-1', '123456');
    expect(JSON.parse(calls.at(-1)?.body ?? '{}')).toEqual({ mfaToken: 'mfa-1', code: '123456' });
    expect(u.clinic).toEqual({ id: 'c1', name: 'Molar St', role: 'owner' });
    expect(client.hasAccessToken).toBe(true);
  });

  it('a 403 that asks for two-step set-up switches the app to it; signing out clears it', async () => {
    const fetchFn = (async (input: RequestInfo | URL) => {
      const url = String(input);
      if (url.endsWith('/auth/login')) return json(200, session('t'));
      if (url.endsWith('/auth/logout')) return new Response(null, { status: 204 });
      if (url.endsWith('/patients')) return problem(403, 'mfa_setup_required');
      return problem(403, 'forbidden');
    }) as typeof fetch;
    const client = new ApiClient({ fetch: fetchFn, lock: (run) => run() });
    const heard: boolean[] = [];
    client.onMfaSetupRequired((r) => heard.push(r));
    await client.login({ email: 'a@example.com', password: 'x' });
    await expect(client.request('GET', '/clinic')).rejects.toMatchObject({ status: 403 });
    expect(client.needsMfaSetup).toBe(false);
    await expect(client.request('GET', '/patients')).rejects.toMatchObject({ status: 403, code: 'mfa_setup_required' });
    expect(client.needsMfaSetup).toBe(true);
    client.mfaSetupDone();
    expect(heard).toEqual([true, false]);
    await client.request('GET', '/patients').catch(() => undefined);
    await client.logout();
    expect(client.needsMfaSetup).toBe(false);
  });

  it('a wrong password on a route that asks for it again is not a session problem: no refresh, still signed in', async () => {
    let refreshes = 0;
    const fetchFn = (async (input: RequestInfo | URL) => {
      const url = String(input);
      if (url.endsWith('/auth/login')) return json(200, session('t'));
      if (url.endsWith('/auth/refresh')) {
        refreshes += 1;
        return json(200, session('t2'));
      }
      return problem(401, 'invalid_credentials');
    }) as typeof fetch;
    const client = new ApiClient({ fetch: fetchFn, lock: (run) => run() });
    await client.login({ email: 'a@example.com', password: 'x' });
    await expect(client.request('POST', '/auth/mfa/setup', { password: 'nope' })).rejects.toMatchObject({ status: 401, code: 'invalid_credentials' });
    expect(refreshes).toBe(0);
    expect(client.hasAccessToken).toBe(true);
  });

  it('takes a 202 without a body (Stop)', async () => {
    const fetchFn = (async (input: RequestInfo | URL) =>
      String(input).endsWith('/auth/login') ? json(200, session('t')) : new Response(null, { status: 202 })) as typeof fetch;
    const client = new ApiClient({ fetch: fetchFn, lock: (run) => run() });
    await client.login({ email: 'a@example.com', password: 'x' });
    await expect(client.request('POST', '/patients/p/messages/m/stop', {})).resolves.toBeUndefined();
  });
});
