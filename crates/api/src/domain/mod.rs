//! Value types more than one capability parses: an account's email and a patient's email are the
//! same `Email`, so it belongs to neither `auth` nor `patients`.

pub mod email;
pub mod phone;

pub use email::{Email, EmailError};
pub use phone::{Phone, PhoneRegion};
