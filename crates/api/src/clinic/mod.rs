//! The caller's clinic: its settings, members and invitations (`/clinic*`), and accepting an invitation
//! (`/invitations/{token}/accept`, also reached through registration with `invitationToken`).

pub mod invitations;
pub mod queries;
pub mod routes;
