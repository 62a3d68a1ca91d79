import { useEffect, useRef, useState } from 'react';
import { Link, NavLink, Outlet, useLocation, useNavigate } from 'react-router';
import { useAuth } from '../auth/AuthContext';

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

/** Moves focus to the new screen's main region on navigation, so keyboard and screen-reader users start there. */
function useFocusMainOnNavigate(mainRef: React.RefObject<HTMLElement | null>) {
  const location = useLocation();
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    mainRef.current?.focus({ preventScroll: true });
  }, [location.pathname, mainRef]);
}

/** The signed-in frame: header with navigation, the user's name and "Log out". */
export function AppLayout() {
  const { state, logout } = useAuth();
  const navigate = useNavigate();
  const mainRef = useRef<HTMLElement>(null);
  const [leaving, setLeaving] = useState(false);
  useFocusMainOnNavigate(mainRef);
  const user = state.user;

  const onLogout = async () => {
    setLeaving(true);
    await logout();
    navigate('/login', { replace: true, state: null });
  };

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
            <button type="button" className="btn btn-secondary btn-small" onClick={onLogout} disabled={leaving}>
              Log out
            </button>
          </div>
        </div>
      </header>
      <main id="main" ref={mainRef} tabIndex={-1} className="app-main">
        <Outlet />
      </main>
    </>
  );
}

/** Sign-in and registration frame. */
export function PublicLayout() {
  const mainRef = useRef<HTMLElement>(null);
  useFocusMainOnNavigate(mainRef);
  return (
    <>
      <SkipLink />
      <header className="app-header">
        <div className="header-inner">
          <Brand />
        </div>
      </header>
      <main id="main" ref={mainRef} tabIndex={-1} className="public-main">
        <Outlet />
      </main>
    </>
  );
}
