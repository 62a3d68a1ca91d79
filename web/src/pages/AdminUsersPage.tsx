import { useEffect, useState } from 'react';
import { useSearchParams } from 'react-router';
import { messageOf } from '../api';
import { listUsers, updateUser } from '../api/admin';
import type { Role, User, UserPage } from '../api/types';
import { useUser } from '../auth/AuthContext';
import { Alert } from '../components/Alert';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Loading } from '../components/Loading';
import { RoleDialog, type RoleOption } from '../components/RoleDialog';
import { Pagination } from '../components/Pagination';
import { formatDateTime } from '../lib/format';
import { useDocumentTitle } from '../lib/hooks';

const LIMIT = 20;

const PLATFORM_ROLES: readonly RoleOption<Role>[] = [
  { value: 'user', label: 'User', description: 'Works in their clinics; no platform administration.' },
  { value: 'admin', label: 'Admin', description: 'Also manages every account on this server (this page). No patient access of its own.' },
];

type Pending = { kind: 'role'; user: User } | { kind: 'active'; user: User } | null;

/** Admins: every account, with its role and whether it may sign in. */
export function AdminUsersPage() {
  useDocumentTitle('Users');
  const me = useUser();
  const [params, setParams] = useSearchParams();
  const page = Math.max(1, Number.parseInt(params.get('page') ?? '1', 10) || 1);
  const [data, setData] = useState<UserPage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [saving, setSaving] = useState<string | null>(null);
  const [pending, setPending] = useState<Pending>(null);
  const [dialogError, setDialogError] = useState<string | null>(null);

  useEffect(() => {
    const controller = new AbortController();
    setError(null);
    listUsers(page, LIMIT, controller.signal)
      .then(setData)
      .catch((e: unknown) => {
        if (!controller.signal.aborted) setError(messageOf(e));
      });
    return () => controller.abort();
  }, [page]);

  const apply = async (user: User, change: { role?: Role; isActive?: boolean }, done: string) => {
    setSaving(user.id);
    setDialogError(null);
    setNotice(null);
    try {
      const updated = await updateUser(user.id, change);
      setData((d) => (d ? { ...d, items: d.items.map((u) => (u.id === updated.id ? updated : u)) } : d));
      setNotice(done);
      setPending(null);
    } catch (e) {
      setDialogError(messageOf(e));
    } finally {
      setSaving(null);
    }
  };

  const ask = (next: Pending) => {
    setDialogError(null);
    setPending(next);
  };

  return (
    <div className="page">
      <div className="page-header">
        <h1>Users</h1>
      </div>
      {error && <Alert kind="error">{error}</Alert>}
      {notice && <Alert kind="success">{notice}</Alert>}
      {!data && !error && <Loading label="Loading users…" />}
      {data && (
        <>
          <p className="result-count">
            {data.total} account{data.total === 1 ? '' : 's'}
          </p>
          <div className="table-wrap">
            <table className="table">
              <caption className="visually-hidden">User accounts</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Email</th>
                  <th scope="col">Role</th>
                  <th scope="col">Status</th>
                  <th scope="col">Created</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {data.items.map((u) => {
                  const self = u.id === me.id;
                  const busy = saving === u.id;
                  return (
                    <tr key={u.id}>
                      <th scope="row">
                        {u.fullName}
                        {self && <span className="muted"> (you)</span>}
                      </th>
                      <td>{u.email}</td>
                      <td>
                        <span className="role-cell">
                          {u.role === 'admin' ? 'Admin' : 'User'}
                          <button
                            type="button"
                            className="btn btn-secondary btn-small"
                            disabled={self || busy}
                            onClick={() => ask({ kind: 'role', user: u })}
                          >
                            Change role<span className="visually-hidden"> of {u.fullName}</span>
                          </button>
                        </span>
                      </td>
                      <td>
                        <span className={`badge ${u.isActive ? 'badge-success' : 'badge-muted'}`}>
                          {u.isActive ? 'Active' : 'Deactivated'}
                        </span>
                      </td>
                      <td>{formatDateTime(u.createdAt)}</td>
                      <td>
                        <button
                          type="button"
                          className={`btn btn-small ${u.isActive ? 'btn-danger-outline' : 'btn-secondary'}`}
                          disabled={self || busy}
                          onClick={() => ask({ kind: 'active', user: u })}
                        >
                          {u.isActive ? 'Deactivate' : 'Activate'}
                          <span className="visually-hidden"> {u.fullName}</span>
                        </button>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          <Pagination
            page={page}
            limit={LIMIT}
            total={data.total}
            label="User pages"
            onPage={(p) => setParams({ page: String(p) })}
          />
        </>
      )}
      <p className="muted small">You cannot change your own role or deactivate yourself.</p>
      <RoleDialog
        open={pending?.kind === 'role'}
        who={pending?.user.fullName ?? ''}
        current={pending?.user.role ?? 'user'}
        options={PLATFORM_ROLES}
        busy={saving !== null}
        error={dialogError}
        onCancel={() => setPending(null)}
        onConfirm={(role) => {
          if (pending) void apply(pending.user, { role }, `${pending.user.fullName} is now ${role === 'admin' ? 'an admin' : 'a user'}.`);
        }}
      />
      <ConfirmDialog
        open={pending?.kind === 'active'}
        title={pending?.user.isActive ? `Deactivate ${pending.user.fullName}?` : `Activate ${pending?.user.fullName ?? ''}?`}
        confirmLabel={pending?.user.isActive ? 'Deactivate' : 'Activate'}
        busyLabel={pending?.user.isActive ? 'Deactivating…' : 'Activating…'}
        tone={pending?.user.isActive ? 'danger' : 'primary'}
        busy={saving !== null}
        error={dialogError}
        onCancel={() => setPending(null)}
        onConfirm={() => {
          if (pending) {
            const u = pending.user;
            void apply(u, { isActive: !u.isActive }, `${u.fullName} was ${u.isActive ? 'deactivated' : 'activated'}.`);
          }
        }}
      >
        <p>
          {pending?.user.isActive
            ? 'They are signed out everywhere and cannot sign in until an admin activates the account again. Their clinics keep every record.'
            : 'They can sign in again with their password.'}
        </p>
      </ConfirmDialog>
    </div>
  );
}
