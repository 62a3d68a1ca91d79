//! The audit trail beyond patient-data access (which `db::UserTx` records): authentication and
//! account events, and the admin listing's query. Rows hold ids, an action and the request id; never
//! an email, a name or any text a user typed.

pub mod access_log;
pub mod queries;
pub mod types;

pub use queries::{page, record, record_refresh_reuse};
pub use types::{AuthAction, Filter};
