import { createBrowserRouter, Navigate, Outlet, RouterProvider } from 'react-router';
import { AuthProvider } from './auth/AuthContext';
import { PublicOnly, RequireAdmin, RequireAuth } from './auth/guards';
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
      { element: <PublicLayout />, children: [{ path: '/logout', element: <LogoutPage /> }] },
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
