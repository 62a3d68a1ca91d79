import { ApiError, errorFromResponse } from './errors';
import type { LoginRequest, RegisterRequest, Session, User } from './types';

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

  get hasAccessToken(): boolean {
    return this.accessToken !== null;
  }

  private setSession(session: Session): User {
    this.accessToken = session.accessToken;
    this.user = session.user;
    for (const l of this.listeners) l(session.user);
    return session.user;
  }

  /** Forgets the access token and tells the app it is signed out. */
  clearSession(): void {
    this.accessToken = null;
    this.user = null;
    for (const l of this.listeners) l(null);
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
    if (res.status !== 401 || options.auth === false) return res;

    // Another request may already have refreshed while this one was in flight: reuse its token.
    const fresh = this.accessToken !== null && this.accessToken !== used ? this.accessToken : await this.refresh();
    if (!fresh) return res;
    const retried = await this.send(path, init, fresh);
    if (retried.status === 401) this.clearSession();
    return retried;
  }

  /** JSON request; throws {@link ApiError} on any non-2xx. Returns `undefined` for 204. */
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
    return (await res.json()) as T;
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

  async login(body: LoginRequest): Promise<User> {
    const session = await this.request<Session>('POST', '/auth/login', body, { auth: false, credentials: 'include' });
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
