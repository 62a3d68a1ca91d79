import { useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { isApiError, messageOf } from '../api';
import { acceptInvitation } from '../api/clinic';
import { useAuth } from '../auth/AuthContext';
import { RegisterForm } from '../auth/RegisterForm';
import { Alert } from '../components/Alert';
import { Loading } from '../components/Loading';
import { forgetClinics } from '../lib/clinic';
import { useDocumentTitle } from '../lib/hooks';

export const INVALID_INVITATION =
  'This invitation link does not work: it may have expired (links last 7 days), been used or revoked, or be for another email address. Ask the clinic’s owner for a new one.';

/**
 * `/invite/<token>`: the link an owner sends. Signed out: create an account with the token (it joins the
 * clinic in the invitation's role), or sign in first. Signed in as the invited email: accept it.
 */
export function InvitePage() {
  useDocumentTitle('Join a clinic');
  const { token = '' } = useParams();
  const { state, adopt } = useAuth();
  const navigate = useNavigate();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const here = `/invite/${encodeURIComponent(token)}`;

  if (state.status === 'loading') return <Loading label="Restoring your session…" />;

  const accept = async () => {
    setBusy(true);
    setError(null);
    try {
      const session = await acceptInvitation(token);
      forgetClinics();
      const user = adopt(session);
      const name = user.clinic?.name ?? session.clinic?.name ?? 'the clinic';
      navigate('/patients', { replace: true, state: { flash: `You joined ${name}.` } });
    } catch (e) {
      setBusy(false);
      setError(isApiError(e) && e.status === 404 ? INVALID_INVITATION : messageOf(e));
    }
  };

  if (state.status === 'authenticated') {
    const user = state.user;
    return (
      <section className="auth-card" aria-labelledby="invite-title">
        <h1 id="invite-title">Join a clinic</h1>
        <p>
          You have been invited to join a clinic. You are signed in as <strong>{user.email}</strong>; the invitation
          works only for the email address it was sent to.
        </p>
        {error && (
          <Alert kind="error" focus>
            {error}
          </Alert>
        )}
        <button type="button" className="btn btn-primary btn-block" disabled={busy} onClick={() => void accept()}>
          {busy ? 'Joining…' : 'Accept the invitation'}
        </button>
        <p className="auth-switch">
          Invited with another address? <Link to="/logout">Log out</Link>, then open the link again.
        </p>
      </section>
    );
  }

  return (
    <section className="auth-card" aria-labelledby="invite-title">
      <h1 id="invite-title">Join a clinic</h1>
      <p>
        You have been invited to join a clinic. Create your account with the email address the invitation was sent to;
        you join the clinic in the role the owner chose.
      </p>
      <RegisterForm
        invitationToken={token}
        submitLabel="Create account and join"
        onDone={(user) =>
          navigate('/patients', { replace: true, state: { flash: user.clinic ? `You joined ${user.clinic.name}.` : undefined } })
        }
      />
      <p className="auth-switch">
        Already have an account?{' '}
        <Link to="/login" state={{ from: here }}>
          Sign in to accept
        </Link>
      </p>
    </section>
  );
}
