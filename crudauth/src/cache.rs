//! The principal cache: a valid session or token family resolves without a
//! database round trip while cached. Entries are keyed by the session
//! token's hash and by the family id, bounded in number and in age, and
//! every revocation drops the user's entries before its response is sent.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use moka::sync::Cache;

use crate::principal::LoadedUser;
use crate::store::entities::session;
use crate::store::users::FamilyState;

/// A cached session: its user and its row. The row's `last_seen_at` is kept
/// here as the cache-hit path slides it.
pub(crate) struct SessionEntry {
    pub user: Arc<LoadedUser>,
    pub row: session::Model,
    last_seen_at: AtomicI64,
}

impl SessionEntry {
    /// The row with the latest `last_seen_at`.
    pub(crate) fn row(&self) -> session::Model {
        let mut row = self.row.clone();
        row.last_seen_at = self.last_seen_at.load(Ordering::Relaxed);
        row
    }

    /// Records a use at `at`; whether this call is the one that moved it
    /// (and so writes it behind).
    pub(crate) fn slide(&self, from: i64, at: i64) -> bool {
        self.last_seen_at
            .compare_exchange(from, at, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }
}

/// A cached token family: its user and its state.
pub(crate) struct FamilyEntry {
    pub user: Arc<LoadedUser>,
    pub state: FamilyState,
}

type Sessions = Cache<String, Arc<SessionEntry>>;
type Families = Cache<String, Arc<FamilyEntry>>;

/// The two caches, or nothing when the TTL is zero.
pub(crate) struct PrincipalCache {
    caches: Option<(Sessions, Families)>,
}

impl PrincipalCache {
    /// A cache keeping entries for `ttl`, at most `capacity` of each kind.
    pub(crate) fn new(ttl: Duration, capacity: u64) -> Self {
        if ttl.is_zero() {
            return Self { caches: None };
        }
        let sessions = Cache::builder()
            .max_capacity(capacity)
            .time_to_live(ttl)
            .support_invalidation_closures()
            .build();
        let families = Cache::builder()
            .max_capacity(capacity)
            .time_to_live(ttl)
            .support_invalidation_closures()
            .build();
        Self {
            caches: Some((sessions, families)),
        }
    }

    /// The cached session of a token hash.
    pub(crate) fn session(&self, token_hash: &str) -> Option<Arc<SessionEntry>> {
        self.caches.as_ref()?.0.get(token_hash)
    }

    /// Caches a session just read from the database.
    pub(crate) fn keep_session(
        &self,
        token_hash: String,
        user: Arc<LoadedUser>,
        row: session::Model,
    ) -> Option<Arc<SessionEntry>> {
        let (sessions, _) = self.caches.as_ref()?;
        let entry = Arc::new(SessionEntry {
            user,
            last_seen_at: AtomicI64::new(row.last_seen_at),
            row,
        });
        sessions.insert(token_hash, entry.clone());
        Some(entry)
    }

    /// The cached family of a family id.
    pub(crate) fn family(&self, family_id: &str) -> Option<Arc<FamilyEntry>> {
        self.caches.as_ref()?.1.get(family_id)
    }

    /// Caches a family just read from the database.
    pub(crate) fn keep_family(&self, family_id: String, user: Arc<LoadedUser>, state: FamilyState) {
        if let Some((_, families)) = &self.caches {
            families.insert(family_id, Arc::new(FamilyEntry { user, state }));
        }
    }

    /// Drops every entry of a user (its key in text form).
    pub(crate) fn forget_user(&self, user_id: &str) {
        let Some((sessions, families)) = &self.caches else {
            return;
        };
        let id = user_id.to_owned();
        // Entries matching a predicate are never returned again, from the
        // moment the call returns; moka removes them in the background.
        let matches = id.clone();
        let _ = sessions.invalidate_entries_if(move |_, e| e.user.id.to_string() == matches);
        let _ = families.invalidate_entries_if(move |_, e| e.user.id.to_string() == id);
    }

    /// Drops one family.
    pub(crate) fn forget_family(&self, family_id: &str) {
        if let Some((_, families)) = &self.caches {
            families.invalidate(family_id);
        }
    }

    /// Drops one session by its token hash.
    pub(crate) fn forget_session(&self, token_hash: &str) {
        if let Some((sessions, _)) = &self.caches {
            sessions.invalidate(token_hash);
        }
    }

    /// Drops everything (a lost listener may have missed revocations).
    pub(crate) fn clear(&self) {
        if let Some((sessions, families)) = &self.caches {
            sessions.invalidate_all();
            families.invalidate_all();
        }
    }

    /// Entries held (after pending maintenance).
    pub(crate) fn len(&self) -> u64 {
        let Some((sessions, families)) = &self.caches else {
            return 0;
        };
        sessions.run_pending_tasks();
        families.run_pending_tasks();
        sessions.entry_count() + families.entry_count()
    }
}
