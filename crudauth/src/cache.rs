//! The principal cache: a valid session or token family resolves without a
//! database round trip while cached. Entries are keyed by the session
//! token's raw SHA-256 and by the family id, bounded in number and in age,
//! and every revocation drops the user's entries before its response is
//! sent.
//!
//! An entry holds only what a request needs once the credential has been
//! checked against the database: the user (shared with the principals it
//! resolves), the timestamps that can still end it, and its second-factor
//! facts.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use moka::sync::Cache;

use crate::principal::{LoadedUser, UserId};
use crate::store::entities::session;
use crate::store::sessions;
use crate::store::users::FamilyState;

/// A session token's SHA-256, the session cache's key.
pub(crate) type TokenDigest = [u8; 32];

/// A live session: what the hot path reads, and its last use, which the
/// hot path slides.
pub(crate) struct SessionEntry {
    pub user: Arc<LoadedUser>,
    /// The session's public id.
    pub id: Box<str>,
    pub mfa: bool,
    pub authenticated_at: i64,
    expires_at: i64,
    idle_secs: i64,
    last_seen_at: AtomicI64,
}

impl SessionEntry {
    /// The entry of a row just read from the database.
    pub(crate) fn new(user: Arc<LoadedUser>, row: session::Model) -> Self {
        Self {
            user,
            id: row.id.into_boxed_str(),
            mfa: row.mfa,
            authenticated_at: row.authenticated_at,
            expires_at: row.expires_at,
            idle_secs: row.idle_secs,
            last_seen_at: AtomicI64::new(row.last_seen_at),
        }
    }

    /// Whether the session is past its absolute or idle timeout at `at`.
    pub(crate) fn is_expired(&self, at: i64) -> bool {
        let last_seen_at = self.last_seen_at.load(Ordering::Relaxed);
        sessions::expired(self.expires_at, last_seen_at, self.idle_secs, at)
    }

    /// Records a use at `at`; whether this call is the one that slid the
    /// idle timeout (and so must write it behind). At most one caller wins
    /// per slide, so steady traffic writes at most once a minute.
    pub(crate) fn slide(&self, at: i64) -> bool {
        let from = self.last_seen_at.load(Ordering::Relaxed);
        sessions::due_for_touch(from, self.idle_secs, at)
            && self
                .last_seen_at
                .compare_exchange(from, at, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

/// A live token family: its user and what can still end or qualify it.
pub(crate) struct FamilyEntry {
    pub user: Arc<LoadedUser>,
    pub expires_at: i64,
    pub mfa: bool,
    pub authenticated_at: i64,
}

impl FamilyEntry {
    /// The entry of a family just checked against the database.
    pub(crate) fn new(user: Arc<LoadedUser>, state: &FamilyState) -> Self {
        Self {
            user,
            expires_at: state.expires_at,
            mfa: state.mfa,
            authenticated_at: state.authenticated_at,
        }
    }
}

type Sessions = Cache<TokenDigest, Arc<SessionEntry>>;
type Families = Cache<Box<str>, Arc<FamilyEntry>>;

/// The two caches, or nothing when the TTL is zero.
pub(crate) struct PrincipalCache {
    caches: Option<(Sessions, Families)>,
    /// Moves on every invalidation, so that an entry read from the database
    /// before a revocation is not cached after it.
    generation: AtomicU64,
    /// Set while revocations made by other instances cannot reach this one
    /// (the listener is not connected): the cache then neither serves nor
    /// keeps entries, and every request reads the database.
    deaf: AtomicBool,
}

/// The cache's generation when a database read started; see
/// [`PrincipalCache::generation`].
#[derive(Clone, Copy)]
pub(crate) struct Generation(u64);

impl PrincipalCache {
    /// A cache keeping entries for `ttl`, at most `capacity` of each kind.
    pub(crate) fn new(ttl: Duration, capacity: u64) -> Self {
        let generation = AtomicU64::new(0);
        if ttl.is_zero() {
            return Self {
                caches: None,
                generation,
                deaf: AtomicBool::new(false),
            };
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
            generation,
            deaf: AtomicBool::new(false),
        }
    }

    /// Whether the cache is in use: on, and not deaf.
    fn live(&self) -> Option<&(Sessions, Families)> {
        if self.deaf.load(Ordering::Acquire) {
            return None;
        }
        self.caches.as_ref()
    }

    /// Stops serving and keeping entries, and drops those held: another
    /// instance's revocation may go unheard from now on.
    pub(crate) fn deafen(&self) {
        self.deaf.store(true, Ordering::Release);
        self.clear();
    }

    /// Serves and keeps entries again, starting empty: revocations made
    /// while deaf went unheard.
    pub(crate) fn hear(&self) {
        self.clear();
        self.deaf.store(false, Ordering::Release);
    }

    /// Taken before a database read whose result may be cached.
    pub(crate) fn generation(&self) -> Generation {
        Generation(self.generation.load(Ordering::Acquire))
    }

    /// Whether an invalidation happened since `since`.
    fn moved(&self, since: Generation) -> bool {
        self.generation.load(Ordering::Acquire) != since.0
    }

    fn advance(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The cached session of a token digest.
    pub(crate) fn session(&self, digest: &TokenDigest) -> Option<Arc<SessionEntry>> {
        self.live()?.0.get(digest)
    }

    /// Caches a session read from the database since `read`.
    pub(crate) fn keep_session(
        &self,
        read: Generation,
        digest: TokenDigest,
        entry: Arc<SessionEntry>,
    ) {
        let Some((sessions, _)) = self.live() else {
            return;
        };
        if self.moved(read) {
            return;
        }
        sessions.insert(digest, entry);
        // An invalidation between the check and the insert may have missed
        // the new entry.
        if self.moved(read) {
            sessions.invalidate(&digest);
        }
    }

    /// The cached family of a family id.
    pub(crate) fn family(&self, family_id: &str) -> Option<Arc<FamilyEntry>> {
        self.live()?.1.get(family_id)
    }

    /// Caches a family read from the database since `read`.
    pub(crate) fn keep_family(&self, read: Generation, family_id: &str, entry: Arc<FamilyEntry>) {
        let Some((_, families)) = self.live() else {
            return;
        };
        if self.moved(read) {
            return;
        }
        families.insert(family_id.into(), entry);
        if self.moved(read) {
            families.invalidate(family_id);
        }
    }

    /// Drops every entry of a user.
    pub(crate) fn forget_user(&self, user_id: &UserId) {
        self.advance();
        let Some((sessions, families)) = &self.caches else {
            return;
        };
        // Entries matching a predicate are never returned again, from the
        // moment the call returns; moka removes them in the background.
        let id = user_id.clone();
        let _ = sessions.invalidate_entries_if(move |_, e| e.user.id == id);
        let id = user_id.clone();
        let _ = families.invalidate_entries_if(move |_, e| e.user.id == id);
    }

    /// Drops one family.
    pub(crate) fn forget_family(&self, family_id: &str) {
        self.advance();
        if let Some((_, families)) = &self.caches {
            families.invalidate(family_id);
        }
    }

    /// Drops one session by its token digest.
    pub(crate) fn forget_session(&self, digest: &TokenDigest) {
        self.advance();
        if let Some((sessions, _)) = &self.caches {
            sessions.invalidate(digest);
        }
    }

    /// Drops everything (a lost listener may have missed revocations).
    pub(crate) fn clear(&self) {
        self.advance();
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
