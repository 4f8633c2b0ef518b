//! The link-time list of `#[authed]` handlers that narrow their transports,
//! which `build()` checks against the chain.

use crate::error::NarrowedHandler;
use crate::guard::TransportRef;
use crate::state::ChainEntry;

/// One `#[authed]` handler that narrows its transports, collected at link
/// time.
#[derive(Debug)]
pub struct GuardRegistration {
    /// `module::path::handler`.
    pub handler: &'static str,
    /// The transports it accepts.
    pub transports: &'static [TransportRef],
}

inventory::collect!(GuardRegistration);

/// A user model derived with `#[derive(AuthUser)]`, collected at link time
/// so that `crudauth::migration::migrations()` finds its table.
#[derive(Debug)]
pub struct UserModelRegistration {
    /// The model's table, key and email column.
    pub table: fn() -> crate::store::migration::UserTable,
}

inventory::collect!(UserModelRegistration);

/// [`UserModelRegistration::table`] of the model `U`.
pub fn user_table<U: crate::user::AuthUser>() -> crate::store::migration::UserTable {
    crate::store::migration::UserTable::of::<U>()
}

/// Every (handler, transport) pair naming a transport the chain lacks.
pub(crate) fn unknown_transports(chain: &[ChainEntry]) -> Vec<NarrowedHandler> {
    let mut missing = Vec::new();
    for registration in inventory::iter::<GuardRegistration> {
        for transport in registration.transports {
            let enabled = transport
                .type_id()
                .is_some_and(|id| chain.iter().any(|e| e.id == id));
            if !enabled {
                missing.push(NarrowedHandler {
                    handler: registration.handler.to_owned(),
                    transport: transport.describe(),
                });
            }
        }
    }
    missing.sort();
    // A handler expanded twice (as `#[axum::debug_handler]` does when it is
    // the outer attribute) registers twice.
    missing.dedup();
    missing
}
