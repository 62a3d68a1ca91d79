import { createBrowserRouter, Navigate, Outlet, RouterProvider } from 'react-router';
import { AuthProvider } from './auth/AuthContext';
import { PublicOnly, RequireAdmin, RequireAuth, RequireCapability } from './auth/guards';
import { AppLayout, LogoutPage, PublicLayout, RootLayout } from './components/Layout';
import { Loading } from './components/Loading';
import { LoginPage } from './pages/LoginPage';
import { NotFoundPage } from './pages/NotFoundPage';
import { RegisterPage } from './pages/RegisterPage';

// A data router: `useBlocker` (the unsaved-changes prompt) needs one. The signed-in screens are loaded on first
// use (`lazy`), so the sign-in page does not wait for the chat or the phone-number metadata.
const router = createBrowserRouter([
  {
    element: <RootLayout />,
    hydrateFallbackElement: <Loading />,
    children: [
      {
        element: (
          <PublicOnly>
            <PublicLayout />
          </PublicOnly>
        ),
        children: [
          { path: '/login', element: <LoginPage /> },
          { path: '/register', element: <RegisterPage /> },
        ],
      },
      {
        element: <PublicLayout />,
        children: [
          { path: '/logout', element: <LogoutPage /> },
          // Signed out: register with the token; signed in: accept it.
          { path: '/invite/:token', lazy: () => import('./clinic/InvitePage').then((m) => ({ Component: m.InvitePage })) },
        ],
      },
      {
        element: (
          <RequireAuth>
            <AppLayout />
          </RequireAuth>
        ),
        children: [
          { path: '/', element: <Navigate to="/patients" replace /> },
          {
            path: '/patients',
            lazy: () => import('./pages/PatientListPage').then((m) => ({ Component: m.PatientListPage })),
          },
          {
            path: '/patients/import',
            element: (
              <RequireCapability what="portability">
                <Outlet />
              </RequireCapability>
            ),
            children: [{ index: true, lazy: () => import('./portability/ImportPage').then((m) => ({ Component: m.ImportPage })) }],
          },
          {
            path: '/patients/new',
            lazy: () =>
              import('./pages/PatientFormPage').then((m) => ({ element: <m.PatientFormPage key="new" mode="create" /> })),
          },
          {
            path: '/patients/:id',
            lazy: () => import('./pages/PatientDetailPage').then((m) => ({ Component: m.PatientDetailPage })),
          },
          {
            path: '/patients/:id/edit',
            lazy: () =>
              import('./pages/PatientFormPage').then((m) => ({ element: <m.PatientFormPage key="edit" mode="edit" /> })),
          },
          {
            path: '/patients/:id/access-log',
            element: (
              <RequireCapability what="clinic-admin">
                <Outlet />
              </RequireCapability>
            ),
            children: [{ index: true, lazy: () => import('./clinic/AccessLogPage').then((m) => ({ Component: m.AccessLogPage })) }],
          },
          {
            element: (
              <RequireCapability what="clinic-admin">
                <Outlet />
              </RequireCapability>
            ),
            children: [
              { path: '/clinic', lazy: () => import('./clinic/ClinicPage').then((m) => ({ Component: m.ClinicPage })) },
              { path: '/clinic/overview', lazy: () => import('./clinic/OverviewPage').then((m) => ({ Component: m.OverviewPage })) },
              { path: '/trash', lazy: () => import('./clinic/TrashPage').then((m) => ({ Component: m.TrashPage })) },
            ],
          },
          { path: '/security', lazy: () => import('./account/SecurityPage').then((m) => ({ Component: m.SecurityPage })) },
          { path: '/security/setup', lazy: () => import('./account/SecurityPage').then((m) => ({ Component: m.ForcedMfaPage })) },
          {
            path: '/admin/users',
            element: (
              <RequireAdmin>
                <Outlet />
              </RequireAdmin>
            ),
            children: [
              { index: true, lazy: () => import('./pages/AdminUsersPage').then((m) => ({ Component: m.AdminUsersPage })) },
            ],
          },
          { path: '*', element: <NotFoundPage /> },
        ],
      },
    ],
  },
]);

export function App() {
  return (
    <AuthProvider>
      <RouterProvider router={router} />
    </AuthProvider>
  );
}
