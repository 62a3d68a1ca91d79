import { useEffect, useRef, useState } from 'react';
import { Link, NavLink, Outlet, useLocation, useNavigate } from 'react-router';
import { messageOf } from '../api';
import { switchClinic } from '../api/clinic';
import type { ClinicRef, User } from '../api/types';
import { useAuth } from '../auth/AuthContext';
import { forgetClinics, useActiveClinic } from '../lib/clinic';
import { focusMainHeading } from '../lib/focus';
import { can, ROLE_LABELS } from '../lib/roles';

function Brand() {
  return (
    <Link to="/" className="brand">
      <img src="/favicon.svg" alt="" width="28" height="28" />
      <span>Dental Assistant</span>
    </Link>
  );
}

function SkipLink() {
  return (
    <a className="skip-link" href="#main">
      Skip to main content
    </a>
  );
}

/**
 * The root of every screen. After each navigation to another page (a link, Back, sign-in, sign-out) focus moves
 * to the new page's main heading, so keyboard and screen-reader users start at the top of what changed. Changes
 * of the query alone (typing in the search box) keep focus where it is; pagination moves it itself.
 */
export function RootLayout() {
  const location = useLocation();
  // The page the app opened on keeps the browser's own focus; only a change of page moves it.
  const shown = useRef(location.pathname);
  useEffect(() => {
    if (shown.current === location.pathname) return undefined;
    shown.current = location.pathname;
    return focusMainHeading();
  }, [location.pathname]);
  return <Outlet />;
}

/**
 * The active clinic and the user's role in it; with several clinics, a disclosure to switch
 * (`POST /auth/switch-clinic`: a new session acting for the chosen clinic, then back to its patients).
 */
function ClinicSwitcher({ user }: { user: User }) {
  const { adopt } = useAuth();
  const navigate = useNavigate();
  const clinic = useActiveClinic();
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const details = useRef<HTMLDetailsElement>(null);
  const active = user.clinic;
  if (!active) return null;
  const others = (user.clinics ?? []).filter((c) => c.id !== active.id);
  const name = clinic?.name ?? active.name;

  const choose = async (target: ClinicRef) => {
    setBusy(target.id);
    setError(null);
    try {
      const session = await switchClinic(target.id);
      forgetClinics();
      adopt(session);
      if (details.current) details.current.open = false;
      navigate('/patients', { state: { flash: `You are now working in ${target.name}.` } });
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(null);
    }
  };

  return (
    <div className="clinic-current">
      <span className="clinic-name">
        <span className="visually-hidden">Clinic: </span>
        {name}
      </span>
      <span className="badge badge-muted">{ROLE_LABELS[active.role]}</span>
      {others.length > 0 && (
        <details className="clinic-switch" ref={details}>
          <summary>Switch clinic</summary>
          <ul className="clinic-switch-list">
            {others.map((c) => (
              <li key={c.id}>
                <button type="button" className="btn btn-secondary btn-small" disabled={busy !== null} onClick={() => void choose(c)}>
                  {busy === c.id ? 'Switching…' : c.name}
                  <span className="muted"> · {ROLE_LABELS[c.role]}</span>
                </button>
              </li>
            ))}
          </ul>
          {error && (
            <p className="field-error" role="alert">
              {error}
            </p>
          )}
        </details>
      )}
    </div>
  );
}

/** The signed-in frame: header with navigation, the user's name and "Log out". */
export function AppLayout() {
  const { state, mfaSetupRequired } = useAuth();
  const navigate = useNavigate();
  const user = state.user;
  const owner = can(user, 'clinic-admin');

  return (
    <>
      <SkipLink />
      <header className="app-header">
        <div className="header-inner">
          <Brand />
          <nav aria-label="Main">
            {mfaSetupRequired ? (
              <ul className="nav-list">
                <li>
                  <NavLink to="/security/setup">Set up two-step sign-in</NavLink>
                </li>
              </ul>
            ) : (
              <ul className="nav-list">
                <li>
                  <NavLink to="/patients" end>
                    Patients
                  </NavLink>
                </li>
                {owner && (
                  <>
                    <li>
                      <NavLink to="/clinic" end>
                        Clinic
                      </NavLink>
                    </li>
                    <li>
                      <NavLink to="/clinic/overview">Overview</NavLink>
                    </li>
                    <li>
                      <NavLink to="/trash">Trash</NavLink>
                    </li>
                  </>
                )}
                <li>
                  <NavLink to="/security">Security</NavLink>
                </li>
                {user?.role === 'admin' && (
                  <li>
                    <NavLink to="/admin/users">Users</NavLink>
                  </li>
                )}
              </ul>
            )}
          </nav>
          <div className="header-user">
            <span className="user-name">
              <span className="visually-hidden">Signed in as </span>
              {user?.fullName}
              {user?.role === 'admin' && <span className="badge">Admin</span>}
            </span>
            {user && <ClinicSwitcher user={user} />}
            {/* A navigation, so a form with unsaved changes can ask first (see useUnsavedChanges). */}
            <button type="button" className="btn btn-secondary btn-small" onClick={() => navigate('/logout')}>
              Log out
            </button>
          </div>
        </div>
      </header>
      <main id="main" tabIndex={-1} className="app-main">
        <Outlet />
      </main>
    </>
  );
}

/** Sign-in, registration and signing-out frame. */
export function PublicLayout() {
  return (
    <>
      <SkipLink />
      <header className="app-header">
        <div className="header-inner">
          <Brand />
        </div>
      </header>
      <main id="main" tabIndex={-1} className="public-main">
        <Outlet />
      </main>
    </>
  );
}

/** `/logout`: signs out (the refresh token family is revoked), then shows the sign-in page with a confirmation. */
export function LogoutPage() {
  const { state, logout } = useAuth();
  const navigate = useNavigate();
  const started = useRef(false);
  const ready = state.status !== 'loading';
  useEffect(() => {
    document.title = 'Signing out · Dental Assistant';
    // On a fresh load of /logout, let the session restore finish first, so it cannot sign back in afterwards.
    if (!ready || started.current) return;
    started.current = true;
    forgetClinics();
    void logout().finally(() => navigate('/login', { replace: true, state: { signedOut: true } }));
  }, [ready, logout, navigate]);
  return (
    <section className="auth-card" aria-labelledby="logout-title">
      <h1 id="logout-title">Signing out…</h1>
    </section>
  );
}
