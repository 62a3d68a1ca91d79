import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api } from '../api';
import type { LoginResult } from '../api/client';
import type { LoginRequest, RegisterRequest, Session, User } from '../api/types';

export type AuthState =
  | { status: 'loading'; user: null }
  | { status: 'anonymous'; user: null }
  | { status: 'authenticated'; user: User };

interface AuthApi {
  state: AuthState;
  /** The api refuses everything but the set-up until this user turns two-step sign-in on (clinic policy). */
  mfaSetupRequired: boolean;
  login: (body: LoginRequest) => Promise<LoginResult>;
  loginMfa: (mfaToken: string, code: string) => Promise<User>;
  register: (body: RegisterRequest) => Promise<User>;
  /** A new session from the api (switching clinic, accepting an invitation). */
  adopt: (session: Session) => User;
  logout: () => Promise<void>;
}

const AuthContext = createContext<AuthApi | null>(null);

/**
 * Holds who is signed in. The access token itself stays inside the ApiClient (memory only); on load the session
 * is restored from the HttpOnly refresh cookie, so a reload keeps the user signed in.
 */
export function AuthProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<AuthState>({ status: 'loading', user: null });
  const [mfaSetupRequired, setMfaSetupRequired] = useState(api.needsMfaSetup);

  useEffect(() => {
    const unsubscribe = api.onSessionChange((user) => {
      setState(user ? { status: 'authenticated', user } : { status: 'anonymous', user: null });
    });
    const unsubscribeMfa = api.onMfaSetupRequired(setMfaSetupRequired);
    let live = true;
    api
      .restore()
      .then((user) => {
        if (live) setState(user ? { status: 'authenticated', user } : { status: 'anonymous', user: null });
      })
      .catch(() => {
        if (live) setState({ status: 'anonymous', user: null });
      });
    return () => {
      live = false;
      unsubscribe();
      unsubscribeMfa();
    };
  }, []);

  const login = useCallback((body: LoginRequest) => api.login(body), []);
  const loginMfa = useCallback((token: string, code: string) => api.loginMfa(token, code), []);
  const register = useCallback((body: RegisterRequest) => api.register(body), []);
  const adopt = useCallback((session: Session) => api.adopt(session), []);
  const logout = useCallback(() => api.logout(), []);

  const value = useMemo(
    () => ({ state, mfaSetupRequired, login, loginMfa, register, adopt, logout }),
    [state, mfaSetupRequired, login, loginMfa, register, adopt, logout],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthApi {
  const ctx = useContext(AuthContext);
  if (!ctx) throw new Error('useAuth outside AuthProvider');
  return ctx;
}

/** The signed-in user; only for screens under RequireAuth. */
export function useUser(): User {
  const { state } = useAuth();
  if (state.status !== 'authenticated') throw new Error('useUser without a signed-in user');
  return state.user;
}
