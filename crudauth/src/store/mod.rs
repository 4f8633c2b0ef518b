//! crudauth's own tables and the queries on them. Nothing here knows HTTP.

pub(crate) mod attempt;
pub(crate) mod families;
pub(crate) mod family;
pub(crate) mod migration;
pub(crate) mod refresh;
pub(crate) mod session;
pub(crate) mod sessions;
