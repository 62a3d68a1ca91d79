-- Accepting an invitation: the invitee's transaction knows the token, not the clinic. A second (permissive)
-- policy lets a transaction read exactly the invitation whose token hash it names in `app.invitation_token`
-- (hex of the SHA-256), so the lookup needs neither a superuser nor a way around row-level security; every
-- other invitation stays invisible, and changing one still needs its clinic in `app.clinic_id`.
create policy invitations_by_token on invitations for select
    using (token_hash = decode(nullif(current_setting('app.invitation_token', true), ''), 'hex'));
