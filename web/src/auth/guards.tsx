import type { ReactNode } from 'react';
import { Navigate, useLocation } from 'react-router';
import { useAuth } from './AuthContext';
import { Loading } from '../components/Loading';
import { can, type Capability } from '../lib/roles';
import { NotFoundPage } from '../pages/NotFoundPage';

/** Where a user goes when the clinic requires two-step sign-in and they have none: nothing else until done. */
export const MFA_SETUP_PATH = '/security/setup';

/**
 * Screens for signed-in users; others go to the sign-in page and come back afterwards. While the api refuses
 * everything until two-step sign-in is set up (a clinic that requires it), every screen but the set-up leads there.
 */
export function RequireAuth({ children }: { children: ReactNode }) {
  const { state, mfaSetupRequired } = useAuth();
  const location = useLocation();
  if (state.status === 'loading') return <Loading label="Restoring your session…" />;
  if (state.status === 'anonymous') {
    return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  }
  if (mfaSetupRequired && location.pathname !== MFA_SETUP_PATH) {
    return <Navigate to={MFA_SETUP_PATH} replace state={{ from: location.pathname + location.search }} />;
  }
  return <>{children}</>;
}

/** Admin-only screens look like unknown pages to everyone else. */
export function RequireAdmin({ children }: { children: ReactNode }) {
  const { state } = useAuth();
  if (state.status !== 'authenticated' || state.user.role !== 'admin') return <NotFoundPage />;
  return <>{children}</>;
}

/** Screens of a role (the clinic's owner pages, export and import): unknown pages to other roles. */
export function RequireCapability({ what, children }: { what: Capability; children: ReactNode }) {
  const { state } = useAuth();
  if (state.status !== 'authenticated' || !can(state.user, what)) return <NotFoundPage />;
  return <>{children}</>;
}

/** Sign-in and registration: a signed-in user goes straight to the patients. */
export function PublicOnly({ children }: { children: ReactNode }) {
  const { state } = useAuth();
  const location = useLocation();
  if (state.status === 'loading') return <Loading label="Restoring your session…" />;
  if (state.status === 'authenticated') {
    const from = (location.state as { from?: string } | null)?.from;
    return <Navigate to={from && from.startsWith('/') ? from : '/patients'} replace />;
  }
  return <>{children}</>;
}
