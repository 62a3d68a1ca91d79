import { ApiError, errorFromResponse, isMfaSetupRequired } from './errors';
import type { LoginRequest, MfaChallenge, RegisterRequest, Session, User } from './types';

/**
 * The one HTTP client of the app.
 *
 * - The access token lives in this object's memory only: never in localStorage/sessionStorage, so a reload
 *   forgets it and {@link ApiClient.restore} gets a new one from the refresh cookie.
 * - The refresh token lives only in the HttpOnly cookie scoped to `/api/v1/auth`; the `refreshToken` field of a
 *   Session body is ignored.
 * - A 401 triggers one silent refresh and one retry. Concurrent 401s share a single refresh (the refresh token
 *   rotates, so two refreshes racing with the same cookie would look like token reuse to the server). Across tabs
 *   the refresh runs under a Web Lock when the browser has them.
 * - When the refresh fails, or the retry is refused again, the session is cleared and listeners hear `null`.
 */

export type SessionListener = (user: User | null) => void;
/** Told when the api refuses a request until the user sets up two-step sign-in (a clinic that requires it). */
export type MfaSetupListener = (required: boolean) => void;

/** What `POST /auth/login` gave: a session, or the second step (a code) when two-step sign-in is on. */
export type LoginResult = { kind: 'session'; user: User } | { kind: 'mfa'; mfaToken: string; expiresIn: number };

function isMfaChallenge(body: unknown): body is MfaChallenge {
  return typeof body === 'object' && body !== null && (body as { mfaRequired?: unknown }).mfaRequired === true;
}

/** The user of a session, with the active clinic from wherever the api put it (`user.clinic` or `clinic`). */
export function sessionUser(session: Session): User {
  const clinic = session.user.clinic ?? session.clinic ?? null;
  return clinic ? { ...session.user, clinic } : session.user;
}

export interface ApiClientOptions {
  /** Defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Defaults to `/api/v1` (same origin; the dev server proxies it). */
  baseUrl?: string;
  /** Runs the refresh exclusively; defaults to a Web Lock when available. */
  lock?: <T>(run: () => Promise<T>) => Promise<T>;
}

export interface RequestOptions {
  signal?: AbortSignal;
  /** `false` for the auth routes that must not trigger a refresh (login, register). */
  auth?: boolean;
  headers?: Record<string, string>;
  credentials?: RequestCredentials;
}

const REFRESH_LOCK = 'dental-assistant-refresh';

/** 401 codes that refuse what the user typed (a password, a code), not the access token. */
const CREDENTIAL_CODES = new Set([
  'invalid_credentials',
  'invalid_password',
  'wrong_password',
  'invalid_code',
  'invalid_mfa_code',
  'invalid_totp',
  'mfa_invalid_code',
]);

async function isCredentialRefusal(res: Response): Promise<boolean> {
  if (!(res.headers.get('content-type') ?? '').includes('json')) return false;
  try {
    const body: unknown = await res.clone().json();
    const code = typeof body === 'object' && body !== null ? (body as { code?: unknown }).code : null;
    return typeof code === 'string' && CREDENTIAL_CODES.has(code);
  } catch {
    return false;
  }
}

function defaultLock<T>(run: () => Promise<T>): Promise<T> {
  const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
  if (locks?.request) return locks.request(REFRESH_LOCK, run) as Promise<T>;
  return run();
}

export class ApiClient {
  readonly baseUrl: string;
  private readonly doFetch: typeof fetch;
  private readonly lock: <T>(run: () => Promise<T>) => Promise<T>;
  private accessToken: string | null = null;
  private user: User | null = null;
  private refreshing: Promise<string | null> | null = null;
  private restoring: Promise<User | null> | null = null;
  private readonly listeners = new Set<SessionListener>();
  private readonly mfaListeners = new Set<MfaSetupListener>();
  private mfaSetupRequired = false;

  constructor(options: ApiClientOptions = {}) {
    // Bind so a test double or the global function is called with the right `this`.
    const f = options.fetch ?? ((...args: Parameters<typeof fetch>) => globalThis.fetch(...args));
    this.doFetch = f;
    this.baseUrl = options.baseUrl ?? '/api/v1';
    this.lock = options.lock ?? defaultLock;
  }

  /** Subscribes to sign-in / sign-out; returns the unsubscribe function. */
  onSessionChange(listener: SessionListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Subscribes to "two-step sign-in must be set up first"; returns the unsubscribe function. */
  onMfaSetupRequired(listener: MfaSetupListener): () => void {
    this.mfaListeners.add(listener);
    return () => this.mfaListeners.delete(listener);
  }

  get hasAccessToken(): boolean {
    return this.accessToken !== null;
  }

  /** Whether the api has refused this session until two-step sign-in is set up. */
  get needsMfaSetup(): boolean {
    return this.mfaSetupRequired;
  }

  private setMfaSetupRequired(required: boolean): void {
    if (this.mfaSetupRequired === required) return;
    this.mfaSetupRequired = required;
    for (const l of this.mfaListeners) l(required);
  }

  /** Two-step sign-in is on now: the app may use every screen again. */
  mfaSetupDone(): void {
    this.setMfaSetupRequired(false);
  }

  /** Takes a session the api gave (sign-in, switching clinic, accepting an invitation): token kept in memory only. */
  adopt(session: Session): User {
    const user = sessionUser(session);
    this.accessToken = session.accessToken;
    this.user = user;
    for (const l of this.listeners) l(user);
    return user;
  }

  private setSession(session: Session): User {
    return this.adopt(session);
  }

  /** Forgets the access token and tells the app it is signed out. */
  clearSession(): void {
    this.accessToken = null;
    this.user = null;
    this.setMfaSetupRequired(false);
    for (const l of this.listeners) l(null);
  }

  /** A 403 that says "set up two-step sign-in first" switches the app to the forced set-up. */
  private async watch(res: Response): Promise<Response> {
    if (res.status !== 403) return res;
    const type = res.headers.get('content-type') ?? '';
    if (!type.includes('json')) return res;
    try {
      const body: unknown = await res.clone().json();
      if (isMfaSetupRequired(body)) this.setMfaSetupRequired(true);
    } catch {
      // Not JSON after all: an ordinary 403.
    }
    return res;
  }

  private async send(path: string, init: RequestInit, token: string | null): Promise<Response> {
    const headers = new Headers(init.headers);
    if (token) headers.set('Authorization', `Bearer ${token}`);
    try {
      return await this.doFetch(this.baseUrl + path, { ...init, headers });
    } catch (e) {
      if (e instanceof DOMException && e.name === 'AbortError') throw e;
      if (e instanceof Error && e.name === 'AbortError') throw e;
      throw new ApiError(0, null, 'Network error');
    }
  }

  /**
   * Sends a request with the access token; on 401 refreshes once (shared with concurrent callers) and retries once.
   * Returns the final response whatever its status; `init.body` must be replayable (a string).
   */
  async fetch(path: string, init: RequestInit = {}, options: RequestOptions = {}): Promise<Response> {
    const used = this.accessToken;
    const res = await this.send(path, init, used);
    if (res.status !== 401 || options.auth === false) return this.watch(res);
    // A wrong password or code on a route that asks for one again (two-step set-up, password change) is a 401
    // about what was typed, not about the session: no refresh, and the user stays signed in.
    if (await isCredentialRefusal(res)) return res;

    // Another request may already have refreshed while this one was in flight: reuse its token.
    const fresh = this.accessToken !== null && this.accessToken !== used ? this.accessToken : await this.refresh();
    if (!fresh) return res;
    const retried = await this.send(path, init, fresh);
    if (retried.status === 401) this.clearSession();
    return this.watch(retried);
  }

  /** JSON request; throws {@link ApiError} on any non-2xx. Returns `undefined` for 204 and an empty body. */
  async request<T>(method: string, path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
    const init: RequestInit = { method, headers, credentials: options.credentials ?? 'same-origin' };
    if (options.signal) init.signal = options.signal;
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await this.fetch(path, init, options);
    if (!res.ok) throw await errorFromResponse(res);
    if (res.status === 204) return undefined as T;
    // 202 (a stop) and some 200s may come without a body.
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /**
   * Gets a new access token from the refresh cookie. Every caller during one refresh shares it.
   * Resolves to the new token, or `null` (and the session is cleared) when the server refuses.
   */
  refresh(): Promise<string | null> {
    if (!this.refreshing) {
      this.refreshing = this.lock(() => this.doRefresh()).finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  private async doRefresh(): Promise<string | null> {
    let res: Response;
    try {
      res = await this.send(
        '/auth/refresh',
        {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
          body: '{}',
          credentials: 'include',
        },
        null,
      );
    } catch {
      // Offline: keep whatever session there is, the caller's request fails with its own error.
      return null;
    }
    if (!res.ok) {
      this.clearSession();
      return null;
    }
    const session = (await res.json()) as Session;
    this.setSession(session);
    return session.accessToken;
  }

  /**
   * On app load: try the refresh cookie once to restore the session after a reload.
   * Memoised so React's development double-mount does not refresh twice.
   */
  restore(): Promise<User | null> {
    if (!this.restoring) {
      this.restoring = this.refresh().then((token) => (token ? this.user : null));
    }
    return this.restoring;
  }

  /** Signs in, or (two-step sign-in on) returns the challenge for {@link ApiClient.loginMfa}. */
  async login(body: LoginRequest): Promise<LoginResult> {
    const answer = await this.request<Session | MfaChallenge>('POST', '/auth/login', body, {
      auth: false,
      credentials: 'include',
    });
    if (isMfaChallenge(answer)) return { kind: 'mfa', mfaToken: answer.mfaToken, expiresIn: answer.expiresIn };
    return { kind: 'session', user: this.setSession(answer) };
  }

  /** The second step: a code from the authenticator app or a recovery code. */
  async loginMfa(mfaToken: string, code: string): Promise<User> {
    const session = await this.request<Session>('POST', '/auth/login/mfa', { mfaToken, code }, {
      auth: false,
      credentials: 'include',
    });
    return this.setSession(session);
  }

  async register(body: RegisterRequest): Promise<User> {
    const session = await this.request<Session>('POST', '/auth/register', body, { auth: false, credentials: 'include' });
    return this.setSession(session);
  }

  /** `GET /auth/me`: the signed-in user as the server sees it now. */
  me(): Promise<User> {
    return this.request<User>('GET', '/auth/me');
  }

  /** Revokes the refresh token family on the server (best effort) and always signs out locally. */
  async logout(): Promise<void> {
    try {
      const res = await this.send(
        '/auth/logout',
        {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: '{}',
          credentials: 'include',
        },
        this.accessToken,
      );
      await res.body?.cancel();
    } catch {
      // The cookie expires on its own; the local sign-out below is what the user asked for.
    } finally {
      this.restoring = Promise.resolve(null);
      this.clearSession();
    }
  }
}
