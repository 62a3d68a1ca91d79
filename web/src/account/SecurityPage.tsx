import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router';
import { api, isApiError, messageOf } from '../api';
import { changePassword, disableMfa, listSessions, revokeSession } from '../api/account';
import { listMembers } from '../api/clinic';
import type { SessionInfo } from '../api/types';
import { useAuth, useUser } from '../auth/AuthContext';
import { normalizeCode, validateCode } from '../auth/signIn';
import { Alert } from '../components/Alert';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Field } from '../components/Field';
import { Loading } from '../components/Loading';
import { formatDateTime } from '../lib/format';
import { useDocumentTitle } from '../lib/hooks';
import { charCount, mapServerErrors, PASSWORD_MIN, type FieldErrors } from '../lib/rules';
import { MfaSetupFlow } from './MfaSetupFlow';
import { describeUserAgent } from './userAgent';

type MfaStatus = 'on' | 'off' | 'unknown';

/** Whether this user has two-step sign-in: from the api's user when it says, else from the clinic's member list. */
function useMfaStatus(): [MfaStatus, (s: MfaStatus) => void] {
  const user = useUser();
  const own = (user as { mfaEnabled?: unknown }).mfaEnabled;
  const [status, setStatus] = useState<MfaStatus>(typeof own === 'boolean' ? (own ? 'on' : 'off') : 'unknown');
  useEffect(() => {
    if (status !== 'unknown' || !user.clinic) return undefined;
    const controller = new AbortController();
    listMembers(controller.signal)
      .then((members) => {
        const me = members.find((m) => m.userId === user.id);
        if (me) setStatus(me.mfaEnabled ? 'on' : 'off');
      })
      .catch(() => undefined);
    return () => controller.abort();
    // Once: the status is then kept by this page's own changes.
  }, []);
  return [status, setStatus];
}

function TwoStep() {
  const user = useUser();
  const [status, setStatus] = useMfaStatus();
  const [mode, setMode] = useState<'view' | 'setup' | 'disable'>('view');
  const [notice, setNotice] = useState<string | null>(null);
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [errors, setErrors] = useState<FieldErrors<'password' | 'code'>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const finished = useCallback(() => {
    setMode('view');
    setNotice('Two-step sign-in is on. You will be asked for a code from your app when you sign in.');
  }, []);

  const onDisable = async (e: FormEvent) => {
    e.preventDefault();
    const found: FieldErrors<'password' | 'code'> = {};
    if (!password) found.password = 'Enter your password.';
    const method = /^\d[\d\s-]*$/.test(code.trim()) || !code.trim() ? 'totp' : 'recovery';
    const codeProblem = validateCode(code, method);
    if (codeProblem) found.code = codeProblem;
    setErrors(found);
    setError(null);
    if (Object.keys(found).length) {
      document.getElementById(found.password ? 'mfa-off-password' : 'mfa-off-code')?.focus();
      return;
    }
    setBusy(true);
    try {
      await disableMfa(password, normalizeCode(code, method));
      setStatus('off');
      setMode('view');
      setPassword('');
      setCode('');
      setNotice('Two-step sign-in is off. You sign in with your password alone.');
    } catch (err) {
      if (isApiError(err) && [400, 401, 403, 422].includes(err.status) && !/mfa_required|policy/.test(err.code ?? '')) {
        setErrors({ code: 'The password or the code is not correct.' });
        document.getElementById('mfa-off-code')?.focus();
      } else if (isApiError(err) && err.status === 403) {
        setError('Your clinic requires two-step sign-in, so it cannot be turned off.');
      } else setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-labelledby="twostep-title">
      <h2 id="twostep-title">Two-step sign-in</h2>
      <p>
        Status:{' '}
        <strong>{status === 'on' ? 'On' : status === 'off' ? 'Off' : 'Not known'}</strong>
        {status === 'on' && ' — signing in needs your password and a code from your authenticator app.'}
        {status === 'off' && ' — signing in needs your password only.'}
      </p>
      {notice && <Alert kind="success">{notice}</Alert>}
      {mode === 'view' && (
        <div className="form-actions">
          {status !== 'on' && (
            <button type="button" className="btn btn-primary" onClick={() => {
                setNotice(null);
                setMode('setup');
              }}>
              Set up two-step sign-in
            </button>
          )}
          {status !== 'off' && (
            <button type="button" className="btn btn-secondary" onClick={() => {
                setNotice(null);
                setErrors({});
                setMode('disable');
              }}>
              Turn off two-step sign-in
            </button>
          )}
        </div>
      )}
      {mode === 'setup' && (
        <MfaSetupFlow email={user.email} onEnabled={() => setStatus('on')} onFinished={finished} onCancel={() => setMode('view')} />
      )}
      {mode === 'disable' && (
        <form onSubmit={onDisable} noValidate className="form">
          <p>Enter your password and a code from your app (or a recovery code).</p>
          {error && <Alert kind="error">{error}</Alert>}
          <Field id="mfa-off-password" label="Password" type="password" autoComplete="current-password" required value={password} onChange={setPassword} error={errors.password} />
          <Field id="mfa-off-code" label="Code" required autoComplete="one-time-code" value={code} onChange={setCode} error={errors.code} />
          <div className="form-actions">
            <button type="submit" className="btn btn-danger" disabled={busy}>
              {busy ? 'Turning off…' : 'Turn off'}
            </button>
            <button type="button" className="btn btn-secondary" onClick={() => setMode('view')}>
              Cancel
            </button>
          </div>
        </form>
      )}
    </section>
  );
}

const PASSWORD_FIELDS = ['currentPassword', 'newPassword', 'confirm'] as const;
type PasswordField = (typeof PASSWORD_FIELDS)[number];

function PasswordChange({ onChanged }: { onChanged: () => void }) {
  const [values, setValues] = useState<Record<PasswordField, string>>({ currentPassword: '', newPassword: '', confirm: '' });
  const [errors, setErrors] = useState<FieldErrors<PasswordField>>({});
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (k: PasswordField) => (v: string) => setValues((s) => ({ ...s, [k]: v }));

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setNotice(null);
    const found: FieldErrors<PasswordField> = {};
    if (!values.currentPassword) found.currentPassword = 'Enter your current password.';
    if (charCount(values.newPassword) < PASSWORD_MIN) found.newPassword = `Use at least ${PASSWORD_MIN} characters. A few unrelated words make a strong password.`;
    else if (values.newPassword === values.currentPassword) found.newPassword = 'Choose a password different from the current one.';
    if (!found.newPassword && values.confirm !== values.newPassword) found.confirm = 'The two new passwords are not the same.';
    setErrors(found);
    const first = PASSWORD_FIELDS.find((f) => found[f]);
    if (first) {
      document.getElementById(`pw-${first}`)?.focus();
      return;
    }
    setBusy(true);
    try {
      await changePassword(values.currentPassword, values.newPassword);
      setValues({ currentPassword: '', newPassword: '', confirm: '' });
      setNotice('Your password was changed. Every other session was signed out; this one stays signed in.');
      onChanged();
    } catch (err) {
      if (isApiError(err) && err.fieldErrors.length) {
        const mapped = mapServerErrors(err.fieldErrors, PASSWORD_FIELDS);
        setErrors(mapped.fields);
        if (mapped.other.length) setError(mapped.other.join(' '));
        const f = PASSWORD_FIELDS.find((k) => mapped.fields[k]);
        if (f) document.getElementById(`pw-${f}`)?.focus();
      } else if (isApiError(err) && (err.status === 401 || err.status === 403)) {
        setErrors({ currentPassword: 'The current password is not correct.' });
        document.getElementById('pw-currentPassword')?.focus();
      } else setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-labelledby="password-title">
      <h2 id="password-title">Password</h2>
      {notice && <Alert kind="success">{notice}</Alert>}
      {error && <Alert kind="error">{error}</Alert>}
      <form onSubmit={onSubmit} noValidate className="form">
        <Field id="pw-currentPassword" label="Current password" type="password" autoComplete="current-password" required value={values.currentPassword} onChange={set('currentPassword')} error={errors.currentPassword} />
        <Field
          id="pw-newPassword"
          label="New password"
          type="password"
          autoComplete="new-password"
          required
          hint={`At least ${PASSWORD_MIN} characters and hard to guess: a few unrelated words work well.`}
          value={values.newPassword}
          onChange={set('newPassword')}
          error={errors.newPassword}
        />
        <Field id="pw-confirm" label="New password again" type="password" autoComplete="new-password" required value={values.confirm} onChange={set('confirm')} error={errors.confirm} />
        <div className="form-actions">
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? 'Changing…' : 'Change password'}
          </button>
        </div>
      </form>
    </section>
  );
}

function Sessions({ reloadKey }: { reloadKey: number }) {
  const [items, setItems] = useState<SessionInfo[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [confirmAll, setConfirmAll] = useState(false);

  useEffect(() => {
    const controller = new AbortController();
    listSessions(controller.signal)
      .then(setItems)
      .catch((e: unknown) => {
        if (!controller.signal.aborted) setError(messageOf(e));
      });
    return () => controller.abort();
  }, [reloadKey]);

  const others = (items ?? []).filter((s) => !s.current);

  const revoke = async (targets: SessionInfo[], done: string) => {
    setBusy(targets.length === 1 ? (targets[0] as SessionInfo).id : 'all');
    setError(null);
    setNotice(null);
    const ended: string[] = [];
    try {
      for (const s of targets) {
        try {
          await revokeSession(s.id);
          ended.push(s.id);
        } catch (e) {
          // Already ended (signed out there, or expired): it is gone either way.
          if (!(isApiError(e) && e.status === 404)) throw e;
          ended.push(s.id);
        }
      }
      setNotice(done);
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setItems((list) => (list ?? []).filter((s) => !ended.includes(s.id)));
      setBusy(null);
      setConfirmAll(false);
    }
  };

  return (
    <section className="card" aria-labelledby="sessions-title">
      <h2 id="sessions-title">Where you are signed in</h2>
      <p className="muted">Each browser or device you signed in on. Sign out any you do not recognise, then change your password.</p>
      {notice && <Alert kind="success">{notice}</Alert>}
      {error && <Alert kind="error">{error}</Alert>}
      {!items && !error && <Loading label="Loading your sessions…" />}
      {items && (
        <ul className="session-list">
          {items.map((s) => (
            <li key={s.id} className={`session${s.current ? ' session-current' : ''}`}>
              <div>
                <p className="session-device">
                  {describeUserAgent(s.userAgent)}
                  {s.current && <span className="badge badge-success">This device</span>}
                </p>
                <p className="muted small">
                  {s.ip ? `IP address ${s.ip} · ` : ''}signed in {formatDateTime(s.createdAt)}
                  {s.lastUsedAt ? ` · last used ${formatDateTime(s.lastUsedAt)}` : ''}
                </p>
                {s.userAgent && <p className="muted small session-ua">{s.userAgent}</p>}
              </div>
              {!s.current && (
                <button
                  type="button"
                  className="btn btn-secondary btn-small"
                  disabled={busy !== null}
                  onClick={() => void revoke([s], `Signed out ${describeUserAgent(s.userAgent)}.`)}
                >
                  {busy === s.id ? 'Signing out…' : 'Sign out'}
                  <span className="visually-hidden">
                    {' '}
                    {describeUserAgent(s.userAgent)}, signed in {formatDateTime(s.createdAt)}
                  </span>
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {others.length > 1 && (
        <div className="form-actions">
          <button type="button" className="btn btn-danger-outline" disabled={busy !== null} onClick={() => setConfirmAll(true)}>
            Sign out all other sessions
          </button>
        </div>
      )}
      <ConfirmDialog
        open={confirmAll}
        title={`Sign out ${others.length} other sessions?`}
        confirmLabel="Sign out the others"
        busyLabel="Signing out…"
        busy={busy === 'all'}
        onCancel={() => setConfirmAll(false)}
        onConfirm={() => void revoke(others, 'Every other session was signed out.')}
      >
        <p>Every other browser and device is signed out at once. This one stays signed in.</p>
      </ConfirmDialog>
    </section>
  );
}

/** The account's security: two-step sign-in, the password, and the sessions. */
export function SecurityPage() {
  useDocumentTitle('Security');
  const [sessionsKey, setSessionsKey] = useState(0);
  return (
    <div className="page page-narrow">
      <h1>Security</h1>
      <div className="stack">
        <TwoStep />
        <PasswordChange onChanged={() => setSessionsKey((n) => n + 1)} />
        <Sessions reloadKey={sessionsKey} />
      </div>
    </div>
  );
}

/**
 * The clinic requires two-step sign-in and this account has none: the api refuses everything else until it is
 * set up, so this is the only screen (and Log out).
 */
export function ForcedMfaPage() {
  useDocumentTitle('Set up two-step sign-in');
  const user = useUser();
  const { mfaSetupRequired } = useAuth();
  const navigate = useNavigate();
  const [enabled, setEnabled] = useState(false);
  const finished = useCallback(async () => {
    api.mfaSetupDone();
    // A fresh access token, in case the old one was issued before the second factor was on.
    await api.refresh().catch(() => null);
    navigate('/patients', { replace: true, state: { flash: 'Two-step sign-in is on.' } });
  }, [navigate]);
  useEffect(() => {
    // Opened by hand without the clinic asking: the ordinary security page.
    if (!mfaSetupRequired && !enabled) navigate('/security', { replace: true });
  }, [mfaSetupRequired, enabled, navigate]);
  return (
    <div className="page page-narrow">
      <h1>Set up two-step sign-in</h1>
      <Alert kind="info">
        {user.clinic?.name ?? 'Your clinic'} requires two-step sign-in for every member. Set it up now to continue: you
        will need your phone with an authenticator app.
      </Alert>
      <section className="card" aria-label="Set-up">
        <MfaSetupFlow email={user.email} forced onEnabled={() => setEnabled(true)} onFinished={() => void finished()} />
      </section>
    </div>
  );
}
