//! crudauth's own tables as SeaORM entities.

pub(crate) mod attempt;
pub(crate) mod family;
pub(crate) mod identity;
pub(crate) mod mfa;
pub(crate) mod mfa_challenge;
pub(crate) mod recovery_code;
pub(crate) mod refresh_token;
pub(crate) mod session;
pub(crate) mod unlinked_identity;
pub(crate) mod one_time_token;
