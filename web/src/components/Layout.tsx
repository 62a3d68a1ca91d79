import { useEffect, useRef } from 'react';
import { Link, NavLink, Outlet, useLocation, useNavigate } from 'react-router';
import { useAuth } from '../auth/AuthContext';
import { focusMainHeading } from '../lib/focus';

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

/** The signed-in frame: header with navigation, the user's name and "Log out". */
export function AppLayout() {
  const { state } = useAuth();
  const navigate = useNavigate();
  const user = state.user;

  return (
    <>
      <SkipLink />
      <header className="app-header">
        <div className="header-inner">
          <Brand />
          <nav aria-label="Main">
            <ul className="nav-list">
              <li>
                <NavLink to="/patients">Patients</NavLink>
              </li>
              {user?.role === 'admin' && (
                <li>
                  <NavLink to="/admin/users">Users</NavLink>
                </li>
              )}
            </ul>
          </nav>
          <div className="header-user">
            <span className="user-name">
              <span className="visually-hidden">Signed in as </span>
              {user?.fullName}
              {user?.role === 'admin' && <span className="badge">Admin</span>}
            </span>
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
    void logout().finally(() => navigate('/login', { replace: true, state: { signedOut: true } }));
  }, [ready, logout, navigate]);
  return (
    <section className="auth-card" aria-labelledby="logout-title">
      <h1 id="logout-title">Signing out…</h1>
    </section>
  );
}
