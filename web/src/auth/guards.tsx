import type { ReactNode } from 'react';
import { Navigate, useLocation } from 'react-router';
import { useAuth } from './AuthContext';
import { Loading } from '../components/Loading';
import { NotFoundPage } from '../pages/NotFoundPage';

/** Screens for signed-in users; others go to the sign-in page and come back afterwards. */
export function RequireAuth({ children }: { children: ReactNode }) {
  const { state } = useAuth();
  const location = useLocation();
  if (state.status === 'loading') return <Loading label="Restoring your session…" />;
  if (state.status === 'anonymous') {
    return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  }
  return <>{children}</>;
}

/** Admin-only screens look like unknown pages to everyone else. */
export function RequireAdmin({ children }: { children: ReactNode }) {
  const { state } = useAuth();
  if (state.status !== 'authenticated' || state.user.role !== 'admin') return <NotFoundPage />;
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
