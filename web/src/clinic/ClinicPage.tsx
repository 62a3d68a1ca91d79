import { useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { isApiError, messageOf } from '../api';
import {
  changeMemberRole,
  getClinic,
  invite,
  listInvitations,
  listMembers,
  removeMember,
  revokeInvitation,
  updateClinic,
} from '../api/clinic';
import type { Clinic, ClinicRole, Invitation, Member, UpdateClinicRequest } from '../api/types';
import { useUser } from '../auth/AuthContext';
import { Alert } from '../components/Alert';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { CopyButton } from '../components/CopyButton';
import { Field } from '../components/Field';
import { Loading } from '../components/Loading';
import { RoleDialog } from '../components/RoleDialog';
import { rememberClinic } from '../lib/clinic';
import { focusStatic } from '../lib/focus';
import { formatDate, formatDateTime } from '../lib/format';
import { useDocumentTitle } from '../lib/hooks';
import { CLINIC_ROLES, ROLE_DESCRIPTIONS, ROLE_LABELS } from '../lib/roles';
import { charCount, isValidEmail, NAME_MAX } from '../lib/rules';
import { countryOptions } from './countries';

const ROLE_OPTIONS = CLINIC_ROLES.map((r) => ({ value: r, label: ROLE_LABELS[r], description: ROLE_DESCRIPTIONS[r] }));

function lastOwnerText(what: 'remove' | 'demote'): string {
  return what === 'remove'
    ? 'A clinic needs at least one owner: make another member an owner first, then remove this one.'
    : 'A clinic needs at least one owner: make another member an owner first, then change this role.';
}

/** The link a colleague opens to join: registration with the token, or accepting when signed in. */
export function invitationLink(token: string, origin: string = window.location.origin): string {
  return `${origin}/invite/${encodeURIComponent(token)}`;
}

function Settings({ clinic, members, onSaved }: { clinic: Clinic; members: Member[] | null; onSaved: (c: Clinic) => void }) {
  const [name, setName] = useState(clinic.name);
  const [country, setCountry] = useState(clinic.country);
  const [requireMfa, setRequireMfa] = useState(clinic.requireMfa);
  const [error, setError] = useState<string | null>(null);
  const [nameError, setNameError] = useState<string | undefined>();
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const countries = useMemo(() => countryOptions(), []);
  const withoutMfa = members?.filter((m) => !m.mfaEnabled).length ?? 0;

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setNotice(null);
    const trimmed = name.trim();
    const problem = !trimmed ? 'Enter the clinic’s name.' : charCount(trimmed) > NAME_MAX ? `At most ${NAME_MAX} characters.` : undefined;
    setNameError(problem);
    if (problem) {
      document.getElementById('clinic-name')?.focus();
      return;
    }
    const change: UpdateClinicRequest = {};
    if (trimmed !== clinic.name) change.name = trimmed;
    if (country !== clinic.country) change.country = country;
    if (requireMfa !== clinic.requireMfa) change.requireMfa = requireMfa;
    if (Object.keys(change).length === 0) {
      setNotice('Nothing to save: no changes.');
      return;
    }
    setBusy(true);
    try {
      const saved = await updateClinic(change);
      onSaved(saved);
      setNotice('Saved.');
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-labelledby="clinic-settings-title">
      <h2 id="clinic-settings-title">Settings</h2>
      {error && <Alert kind="error">{error}</Alert>}
      {notice && <Alert kind="success">{notice}</Alert>}
      <form onSubmit={onSubmit} noValidate className="form">
        <Field id="clinic-name" label="Clinic name" required value={name} onChange={setName} error={nameError} />
        <div className="field">
          <label htmlFor="clinic-country">Country</label>
          <p id="clinic-country-hint" className="field-hint">
            Phone numbers typed without a country code are read as numbers of this country, and shown in its format.
          </p>
          <select id="clinic-country" value={country} onChange={(e) => setCountry(e.target.value)} aria-describedby="clinic-country-hint">
            {!countries.some((c) => c.code === country) && <option value={country}>{country}</option>}
            {countries.map((c) => (
              <option key={c.code} value={c.code}>
                {c.name}
              </option>
            ))}
          </select>
        </div>
        <div className="field switch-field">
          <input
            id="clinic-requireMfa"
            type="checkbox"
            role="switch"
            checked={requireMfa}
            onChange={(e) => setRequireMfa(e.target.checked)}
            aria-describedby="clinic-requireMfa-hint"
          />
          <label htmlFor="clinic-requireMfa">Require two-step sign-in for every member</label>
          <p id="clinic-requireMfa-hint" className="field-hint">
            Members without it are asked to set it up when they next sign in, and can do nothing else until they have.
            {requireMfa && withoutMfa > 0 && !clinic.requireMfa && (
              <strong>
                {' '}
                {withoutMfa} member{withoutMfa === 1 ? ' has' : 's have'} not set it up yet.
              </strong>
            )}
          </p>
        </div>
        <div className="form-actions">
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? 'Saving…' : 'Save settings'}
          </button>
        </div>
      </form>
    </section>
  );
}

type MemberAction = { kind: 'role' | 'remove'; member: Member } | null;

function Members({
  members,
  meId,
  clinicName,
  onChanged,
}: {
  members: Member[];
  meId: string;
  clinicName: string;
  onChanged: (next: Member[]) => void;
}) {
  const [action, setAction] = useState<MemberAction>(null);
  const [busy, setBusy] = useState(false);
  const [dialogError, setDialogError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const open = (next: MemberAction) => {
    setDialogError(null);
    setAction(next);
  };

  const changeRole = async (member: Member, role: ClinicRole) => {
    setBusy(true);
    setDialogError(null);
    try {
      const updated = await changeMemberRole(member.userId, role);
      onChanged(members.map((m) => (m.userId === updated.userId ? updated : m)));
      setNotice(`${member.fullName} is now ${ROLE_LABELS[updated.role].toLowerCase()}.`);
      setAction(null);
    } catch (e) {
      setDialogError(isApiError(e) && e.code === 'last_owner' ? lastOwnerText('demote') : messageOf(e));
    } finally {
      setBusy(false);
    }
  };

  const remove = async (member: Member) => {
    setBusy(true);
    setDialogError(null);
    try {
      await removeMember(member.userId);
      onChanged(members.filter((m) => m.userId !== member.userId));
      setNotice(`${member.fullName} was removed from ${clinicName}.`);
      setAction(null);
    } catch (e) {
      setDialogError(isApiError(e) && e.code === 'last_owner' ? lastOwnerText('remove') : messageOf(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-labelledby="members-title">
      <h2 id="members-title">Members</h2>
      {notice && <Alert kind="success">{notice}</Alert>}
      <div className="table-wrap">
        <table className="table stack-table">
          <caption className="visually-hidden">Members of {clinicName}</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Email</th>
              <th scope="col">Role</th>
              <th scope="col">Two-step sign-in</th>
              <th scope="col">Joined</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {members.map((m) => {
              const self = m.userId === meId;
              return (
                <tr key={m.userId}>
                  <th scope="row">
                    {m.fullName}
                    {self && <span className="muted"> (you)</span>}
                  </th>
                  <td data-label="Email">{m.email}</td>
                  <td data-label="Role">{ROLE_LABELS[m.role] ?? m.role}</td>
                  <td data-label="Two-step sign-in">
                    <span className={`badge ${m.mfaEnabled ? 'badge-success' : 'badge-muted'}`}>{m.mfaEnabled ? 'On' : 'Off'}</span>
                  </td>
                  <td data-label="Joined">{formatDate(m.joinedAt.slice(0, 10))}</td>
                  <td className="row-actions">
                    <button type="button" className="btn btn-secondary btn-small" onClick={() => open({ kind: 'role', member: m })}>
                      Change role<span className="visually-hidden"> of {m.fullName}</span>
                    </button>
                    {!self && (
                      <button type="button" className="btn btn-danger-outline btn-small" onClick={() => open({ kind: 'remove', member: m })}>
                        Remove<span className="visually-hidden"> {m.fullName}</span>
                      </button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <RoleDialog
        open={action?.kind === 'role'}
        who={action?.member.fullName ?? ''}
        current={action?.member.role ?? 'clinician'}
        options={ROLE_OPTIONS}
        busy={busy}
        error={dialogError}
        onCancel={() => setAction(null)}
        onConfirm={(role) => action && void changeRole(action.member, role)}
      />
      <ConfirmDialog
        open={action?.kind === 'remove'}
        title={`Remove ${action?.member.fullName ?? ''} from ${clinicName}?`}
        confirmLabel="Remove member"
        busyLabel="Removing…"
        busy={busy}
        error={dialogError}
        onCancel={() => setAction(null)}
        onConfirm={() => action && void remove(action.member)}
      >
        <p>
          They lose access to the clinic’s patients from their next request. Their account stays, and the patients and
          conversations they worked on stay in the clinic. You can invite them again later.
        </p>
      </ConfirmDialog>
    </section>
  );
}

function Invitations({ clinicName }: { clinicName: string }) {
  const [items, setItems] = useState<Invitation[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<ClinicRole>('clinician');
  const [emailError, setEmailError] = useState<string | undefined>();
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<Invitation | null>(null);
  const [revoking, setRevoking] = useState<Invitation | null>(null);
  const [revokeBusy, setRevokeBusy] = useState(false);
  const [revokeError, setRevokeError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const createdTitle = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    const controller = new AbortController();
    listInvitations(controller.signal)
      .then(setItems)
      .catch((e: unknown) => {
        if (!controller.signal.aborted) setLoadError(messageOf(e));
      });
    return () => controller.abort();
  }, []);

  useEffect(() => {
    if (created) focusStatic(createdTitle.current);
  }, [created]);

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    setFormError(null);
    setNotice(null);
    const value = email.trim();
    const problem = !value ? 'Enter the email address to invite.' : !isValidEmail(value) ? 'Enter a valid email address, like name@example.com.' : undefined;
    setEmailError(problem);
    if (problem) {
      document.getElementById('invite-email')?.focus();
      return;
    }
    setBusy(true);
    try {
      const inv = await invite(value, role);
      setCreated(inv);
      setEmail('');
      const { token: _secret, ...listed } = inv;
      setItems((list) => [listed, ...(list ?? []).filter((i) => i.id !== inv.id)]);
    } catch (err) {
      if (isApiError(err) && err.code === 'already_member') setEmailError('This person is already a member of the clinic.');
      else if (isApiError(err) && err.fieldErrors.length > 0) setEmailError(err.fieldErrors.map((f) => f.message).join(' '));
      else setFormError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  const revoke = async (inv: Invitation) => {
    setRevokeBusy(true);
    setRevokeError(null);
    try {
      await revokeInvitation(inv.id);
      setItems((list) => (list ?? []).filter((i) => i.id !== inv.id));
      if (created?.id === inv.id) setCreated(null);
      setNotice(`The invitation for ${inv.email} was revoked: its link no longer works.`);
      setRevoking(null);
    } catch (e) {
      setRevokeError(messageOf(e));
    } finally {
      setRevokeBusy(false);
    }
  };

  const now = Date.now();
  const link = created?.token ? invitationLink(created.token) : null;
  return (
    <section className="card" aria-labelledby="invitations-title">
      <h2 id="invitations-title">Invitations</h2>
      <form onSubmit={onSubmit} noValidate className="form invite-form">
        {formError && <Alert kind="error">{formError}</Alert>}
        <Field id="invite-email" label="Email" type="email" autoComplete="off" required value={email} onChange={setEmail} error={emailError} />
        <div className="field">
          <label htmlFor="invite-role">Role</label>
          <select id="invite-role" value={role} onChange={(e) => setRole(e.target.value as ClinicRole)} aria-describedby="invite-role-hint">
            {CLINIC_ROLES.map((r) => (
              <option key={r} value={r}>
                {ROLE_LABELS[r]}
              </option>
            ))}
          </select>
          <p id="invite-role-hint" className="field-hint">
            {ROLE_DESCRIPTIONS[role]}
          </p>
        </div>
        <div className="form-actions">
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create invitation link'}
          </button>
        </div>
      </form>

      {created && link && (
        <section className="invite-created" aria-labelledby="invite-created-title">
          <h3 id="invite-created-title" ref={createdTitle} tabIndex={-1}>
            Invitation link for {created.email}
          </h3>
          <p>
            Send this link to {created.email} yourself (the app does not email it). It is shown <strong>only once</strong>,
            works for that email address only, as {ROLE_LABELS[created.role].toLowerCase()}, until{' '}
            {formatDateTime(created.expiresAt)}.
          </p>
          <div className="copy-row">
            <label htmlFor="invite-link" className="visually-hidden">
              Invitation link
            </label>
            <input id="invite-link" type="text" readOnly value={link} onFocus={(e) => e.target.select()} />
            <CopyButton text={link} label="Copy link" selectId="invite-link" />
          </div>
          <button type="button" className="btn btn-link" onClick={() => setCreated(null)}>
            Done: hide the link
          </button>
        </section>
      )}

      {notice && <Alert kind="success">{notice}</Alert>}
      <h3>Pending invitations</h3>
      {loadError && <Alert kind="error">{loadError}</Alert>}
      {!items && !loadError && <Loading label="Loading invitations…" />}
      {items && items.length === 0 && <p className="muted">No pending invitations.</p>}
      {items && items.length > 0 && (
        <div className="table-wrap">
          <table className="table stack-table">
            <caption className="visually-hidden">Pending invitations to {clinicName}</caption>
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Sent</th>
                <th scope="col">Expires</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((inv) => {
                const expired = Date.parse(inv.expiresAt) <= now;
                return (
                  <tr key={inv.id}>
                    <th scope="row">{inv.email}</th>
                    <td data-label="Role">{ROLE_LABELS[inv.role] ?? inv.role}</td>
                    <td data-label="Sent">{formatDateTime(inv.createdAt)}</td>
                    <td data-label="Expires">
                      {expired ? <span className="badge badge-muted">Expired</span> : formatDateTime(inv.expiresAt)}
                    </td>
                    <td className="row-actions">
                      <button
                        type="button"
                        className="btn btn-danger-outline btn-small"
                        onClick={() => {
                          setRevokeError(null);
                          setRevoking(inv);
                        }}
                      >
                        Revoke<span className="visually-hidden"> the invitation for {inv.email}</span>
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <ConfirmDialog
        open={revoking !== null}
        title={`Revoke the invitation for ${revoking?.email ?? ''}?`}
        confirmLabel="Revoke invitation"
        busyLabel="Revoking…"
        busy={revokeBusy}
        error={revokeError}
        onCancel={() => setRevoking(null)}
        onConfirm={() => revoking && void revoke(revoking)}
      >
        <p>The link stops working at once. You can invite them again with a new link.</p>
      </ConfirmDialog>
    </section>
  );
}

/** Owners: the clinic's settings, members with their roles, and invitations. */
export function ClinicPage() {
  useDocumentTitle('Clinic');
  const me = useUser();
  const [clinic, setClinic] = useState<Clinic | null>(null);
  const [members, setMembers] = useState<Member[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const controller = new AbortController();
    Promise.all([getClinic(controller.signal), listMembers(controller.signal)])
      .then(([c, m]) => {
        rememberClinic(c);
        setClinic(c);
        setMembers(m);
      })
      .catch((e: unknown) => {
        if (!controller.signal.aborted) setError(messageOf(e));
      });
    return () => controller.abort();
  }, []);

  const saved = (c: Clinic) => {
    rememberClinic(c);
    setClinic(c);
  };

  return (
    <div className="page">
      <div className="page-header">
        <h1>{clinic ? clinic.name : 'Clinic'}</h1>
        <nav aria-label="Clinic pages" className="subnav">
          <Link to="/clinic/overview">Overview</Link>
          <Link to="/trash">Trash</Link>
        </nav>
      </div>
      {error && <Alert kind="error">{error}</Alert>}
      {!clinic && !error && <Loading label="Loading the clinic…" />}
      {clinic && (
        <div className="stack">
          <Settings clinic={clinic} members={members} onSaved={saved} />
          {members && <Members members={members} meId={me.id} clinicName={clinic.name} onChanged={setMembers} />}
          <Invitations clinicName={clinic.name} />
        </div>
      )}
    </div>
  );
}
