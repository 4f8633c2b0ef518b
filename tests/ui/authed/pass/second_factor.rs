//! `mfa` and `fresh`, alone and combined with the other gates and a
//! transport.
#![deny(warnings)]

use axum::Router;
use axum::routing::post;
use crudauth::{CrudAuth, Principal, authed};

#[authed(mfa)]
async fn mfa_only(_user: Principal) {}

#[authed(fresh = "5m")]
async fn fresh_only(_user: Principal) {}

#[authed(superuser, mfa, fresh = "30s", scopes = ["admin"], transport = "session")]
async fn delete_account(_user: Principal) {}

#[authed(transport = ["session", "bearer"], fresh = "24h", verified, mfa)]
async fn rotate_keys() {}

// The spec carries the options in the units the gates read: `fresh` in
// seconds, and no gate unless asked for.
const _: () = {
    use crudauth::__private::GuardSpec;
    assert!(<__crudauth_guard_mfa_only as GuardSpec>::MFA);
    assert!(<__crudauth_guard_mfa_only as GuardSpec>::FRESH_SECS == 0);
    assert!(!<__crudauth_guard_fresh_only as GuardSpec>::MFA);
    assert!(<__crudauth_guard_fresh_only as GuardSpec>::FRESH_SECS == 300);
    assert!(<__crudauth_guard_delete_account as GuardSpec>::FRESH_SECS == 30);
    assert!(<__crudauth_guard_rotate_keys as GuardSpec>::FRESH_SECS == 86_400);
};

fn main() {
    let _: Router<CrudAuth> = Router::new()
        .route("/mfa", post(mfa_only))
        .route("/fresh", post(fresh_only))
        .route("/account/delete", post(delete_account))
        .route("/keys/rotate", post(rotate_keys));
}
