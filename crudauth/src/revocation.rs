//! Making a revocation take effect everywhere: the local principal cache
//! drops the user's entries before the response is sent, and on PostgreSQL
//! a `NOTIFY` tells every other instance sharing the database to do the
//! same. A listener per instance receives those; when it loses its
//! connection (closed, or silent for a query after a quiet second) it
//! empties the cache (it may have missed some), which serves nothing until
//! the listener has reconnected.
//!
//! The listener is PostgreSQL's driver itself (`PgListener`): it exists
//! with the `postgres` feature, and `build()` refuses a PostgreSQL
//! connection without it.

use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

use crate::state::{CrudAuth, Inner};

/// The channel instances announce revocations on.
pub(crate) const CHANNEL: &str = "crudauth_revoked";

/// Every credential of a user may have ended (logout, password change,
/// deactivation, ...).
pub(crate) async fn user(auth: &CrudAuth, user_id: &str) {
    forget_user(&auth.inner, user_id);
    announce(auth, &format!("u:{user_id}")).await;
}

/// Drops a user's cached entries, given the key in text form (parsed once,
/// not compared as text per entry). A key that does not parse cannot be
/// told apart from a cached one: everything goes.
fn forget_user(inner: &Inner, user_id: &str) {
    match inner.users.parse_id(user_id) {
        Some(id) => inner.cache.forget_user(&id),
        None => inner.cache.clear(),
    }
}

/// One token family ended.
pub(crate) async fn family(auth: &CrudAuth, family_id: &str) {
    auth.inner.cache.forget_family(family_id);
    announce(auth, &format!("f:{family_id}")).await;
}

async fn announce(auth: &CrudAuth, payload: &str) {
    let db = &auth.inner.db;
    if db.get_database_backend() != DatabaseBackend::Postgres
        || auth.inner.config.cache_ttl.is_zero()
    {
        return;
    }
    let statement = Statement::from_sql_and_values(
        DatabaseBackend::Postgres,
        format!("SELECT pg_notify('{CHANNEL}', $1)"),
        [payload.into()],
    );
    // The revocation itself is committed; a lost announcement leaves other
    // instances serving the credential for at most the cache's TTL.
    if let Err(err) = db.execute_raw(statement).await {
        tracing::warn!(error = %err, "crudauth: could not announce a revocation to other instances");
    }
}

#[cfg(feature = "postgres")]
pub(crate) use listener::spawn_listener;

#[cfg(feature = "postgres")]
mod listener {
    use std::sync::Weak;
    use std::time::Duration;

    use sea_orm::DatabaseBackend;

    use super::{CHANNEL, forget_user};
    use crate::state::{CrudAuth, Inner};

    /// Applies an announcement received from any instance.
    fn apply(inner: &Inner, payload: &str) {
        match payload.split_once(':') {
            Some(("u", id)) => forget_user(inner, id),
            Some(("f", id)) => inner.cache.forget_family(id),
            _ => inner.cache.clear(),
        }
    }

    /// Listens for announcements while the `CrudAuth` lives (PostgreSQL with
    /// the cache on, inside a Tokio runtime).
    pub(crate) fn spawn_listener(auth: &CrudAuth) {
        let inner = &auth.inner;
        if inner.db.get_database_backend() != DatabaseBackend::Postgres
            || inner.config.cache_ttl.is_zero()
        {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        // Until the listener is connected, other instances' revocations cannot
        // reach this one.
        inner.cache.deafen();
        let weak = std::sync::Arc::downgrade(&auth.inner);
        runtime.spawn(listen(weak));
    }

    /// How long the listener waits for an announcement before it checks its
    /// connection.
    const IDLE: Duration = Duration::from_secs(1);

    /// Whether the listener's connection answers a query within [`IDLE`].
    /// Announcements that arrive meanwhile are buffered for `try_recv`.
    async fn heartbeat(listener: &mut sea_orm::sqlx::postgres::PgListener) -> bool {
        let ping = sea_orm::sqlx::query("SELECT 1").execute(&mut *listener);
        matches!(tokio::time::timeout(IDLE, ping).await, Ok(Ok(_)))
    }

    async fn listen(weak: Weak<Inner>) {
        use sea_orm::sqlx::postgres::PgListener;
        let mut backoff = Duration::from_millis(50);
        loop {
            let pool = match weak.upgrade() {
                Some(inner) => inner.db.get_postgres_connection_pool().clone(),
                None => return,
            };
            let connected = async {
                let mut listener = PgListener::connect_with(&pool).await?;
                // A lost connection must surface here at once: reconnecting
                // inside `try_recv` waits on the pool for as long as the
                // database is unreachable, and this loop would take that wait
                // for a quiet, healthy connection.
                listener.eager_reconnect(false);
                listener.listen(CHANNEL).await?;
                Ok::<_, sea_orm::sqlx::Error>(listener)
            }
            .await;
            let mut listener = match connected {
                Ok(listener) => listener,
                Err(err) => {
                    tracing::debug!(error = %err, "crudauth: revocation listener cannot connect yet");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    continue;
                }
            };
            backoff = Duration::from_millis(50);
            // Revocations made while no listener was connected were missed.
            match weak.upgrade() {
                Some(inner) => inner.cache.hear(),
                None => return,
            }
            loop {
                // Wake now and then to notice that the `CrudAuth` is gone, and
                // to check that a quiet connection is still there.
                let received = tokio::time::timeout(IDLE, listener.try_recv()).await;
                let Some(inner) = weak.upgrade() else { return };
                let alive = match received {
                    Ok(Ok(Some(notification))) => {
                        apply(&inner, notification.payload());
                        true
                    }
                    // `try_recv` answers `None` (or an error) when the
                    // connection dropped.
                    Ok(Ok(None) | Err(_)) => false,
                    // A socket can stall without closing (a lost peer, a
                    // partition): a quiet connection must answer a query.
                    Err(_) => heartbeat(&mut listener).await,
                };
                if !alive {
                    // Whatever was announced meanwhile is lost: the cache is
                    // emptied and stays unused until the listener is back.
                    inner.cache.deafen();
                    break;
                }
            }
        }
    }
}
