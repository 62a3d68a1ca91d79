import { useEffect, useState } from 'react';
import { useSearchParams } from 'react-router';
import { messageOf } from '../api';
import { listUsers, updateUser } from '../api/admin';
import type { Role, User, UserPage } from '../api/types';
import { useUser } from '../auth/AuthContext';
import { Alert } from '../components/Alert';
import { Loading } from '../components/Loading';
import { Pagination } from '../components/Pagination';
import { formatDateTime } from '../lib/format';
import { useDocumentTitle } from '../lib/hooks';

const LIMIT = 20;

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
    setError(null);
    setNotice(null);
    try {
      const updated = await updateUser(user.id, change);
      setData((d) => (d ? { ...d, items: d.items.map((u) => (u.id === updated.id ? updated : u)) } : d));
      setNotice(done);
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setSaving(null);
    }
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
                        <label className="visually-hidden" htmlFor={`role-${u.id}`}>
                          Role of {u.fullName}
                        </label>
                        <select
                          id={`role-${u.id}`}
                          value={u.role}
                          disabled={self || busy}
                          onChange={(e) =>
                            void apply(u, { role: e.target.value as Role }, `${u.fullName} is now ${e.target.value === 'admin' ? 'an admin' : 'a user'}.`)
                          }
                        >
                          <option value="user">User</option>
                          <option value="admin">Admin</option>
                        </select>
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
                          onClick={() =>
                            void apply(
                              u,
                              { isActive: !u.isActive },
                              `${u.fullName} was ${u.isActive ? 'deactivated' : 'activated'}.`,
                            )
                          }
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
    </div>
  );
}
