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
//!
//! The map is a fixed set of shards, each a `HashMap` behind a read-write
//! lock: a hit takes one uncontended read lock, and an entry costs its slot
//! and nothing more. When the cache is full, a keep makes room in the other
//! shards: their expired entries first, then arbitrary ones (the keys are
//! random digests, so arbitrary is random).

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockWriteGuard};
use std::time::{Duration, Instant};

use crate::principal::{SharedUser, UserId};
use crate::store::entities::session;
use crate::store::sessions;
use crate::store::users::FamilyState;

/// A session token's SHA-256, the session cache's key.
pub(crate) type TokenDigest = [u8; 32];

/// A live session: what the hot path reads, and its last use, which the
/// hot path slides.
pub(crate) struct SessionEntry {
    pub user: Arc<SharedUser>,
    /// The session's public id (crudauth makes them uuids).
    pub id: uuid::Uuid,
    pub authenticated_at: i64,
    expires_at: i64,
    last_seen_at: AtomicI64,
    idle_secs: i32,
    pub mfa: bool,
}

impl SessionEntry {
    /// The entry of a row just read from the database; `None` when the row
    /// is not one crudauth wrote (its id is not a uuid, or its idle timeout
    /// is out of range).
    pub(crate) fn new(user: Arc<SharedUser>, row: &session::Model) -> Option<Self> {
        Some(Self {
            user,
            id: uuid::Uuid::parse_str(&row.id).ok()?,
            mfa: row.mfa,
            authenticated_at: row.authenticated_at,
            expires_at: row.expires_at,
            idle_secs: i32::try_from(row.idle_secs).ok()?,
            last_seen_at: AtomicI64::new(row.last_seen_at),
        })
    }

    /// Whether the session is past its absolute or idle timeout at `at`.
    pub(crate) fn is_expired(&self, at: i64) -> bool {
        let last_seen_at = self.last_seen_at.load(Ordering::Relaxed);
        sessions::expired(self.expires_at, last_seen_at, self.idle_secs.into(), at)
    }

    /// Records a use at `at`; whether this call is the one that slid the
    /// idle timeout (and so must write it behind). At most one caller wins
    /// per slide, so steady traffic writes at most once a minute.
    pub(crate) fn slide(&self, at: i64) -> bool {
        let from = self.last_seen_at.load(Ordering::Relaxed);
        sessions::due_for_touch(from, self.idle_secs.into(), at)
            && self
                .last_seen_at
                .compare_exchange(from, at, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

/// A live token family: its user and what can still end or qualify it.
pub(crate) struct FamilyEntry {
    pub user: Arc<SharedUser>,
    pub expires_at: i64,
    pub mfa: bool,
    pub authenticated_at: i64,
}

impl FamilyEntry {
    /// The entry of a family just checked against the database.
    pub(crate) fn new(user: Arc<SharedUser>, state: &FamilyState) -> Self {
        Self {
            user,
            expires_at: state.expires_at,
            mfa: state.mfa,
            authenticated_at: state.authenticated_at,
        }
    }
}

/// Shards per table: enough that two cores rarely meet on one lock, few
/// enough that a scan (a user's revocation) stays cheap.
const SHARDS: usize = 32;

/// An entry and when it was kept, in milliseconds of the table's clock.
struct Kept<V> {
    value: Arc<V>,
    at: u64,
}

/// One shard's map, and its lookups counted beside its lock (whose cache
/// line a lookup touches anyway).
struct Shard<K, V> {
    map: RwLock<HashMap<K, Kept<V>>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl<K, V> Default for Shard<K, V> {
    fn default() -> Self {
        Self {
            map: RwLock::default(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }
}

/// A bounded map whose entries expire `ttl` after they are kept.
pub(crate) struct Table<K, V> {
    shards: Box<[Shard<K, V>]>,
    hasher: RandomState,
    held: AtomicUsize,
    capacity: usize,
    ttl_ms: u64,
    epoch: Instant,
}

impl<K: Hash + Eq, V> Table<K, V> {
    pub(crate) fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            hasher: RandomState::new(),
            held: AtomicUsize::new(0),
            capacity: capacity.max(1),
            ttl_ms: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
            epoch: Instant::now(),
        }
    }

    fn clock(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn index<Q: Hash + ?Sized>(&self, key: &Q) -> usize {
        (self.hasher.hash_one(key) % SHARDS as u64) as usize
    }

    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> &Shard<K, V> {
        &self.shards[self.index(key)]
    }

    fn write<'a>(shard: &'a Shard<K, V>) -> RwLockWriteGuard<'a, HashMap<K, Kept<V>>> {
        // The maps hold no invariant a panicking writer could break halfway.
        shard.map.write().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn get<Q>(&self, key: &Q) -> Option<Arc<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let shard = self.shard(key);
        let found = {
            let map = shard.map.read().unwrap_or_else(PoisonError::into_inner);
            map.get(key)
                .filter(|kept| self.clock().saturating_sub(kept.at) < self.ttl_ms)
                .map(|kept| kept.value.clone())
        };
        let counter = if found.is_some() {
            &shard.hits
        } else {
            &shard.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Lookups that found a live entry, and lookups that did not.
    fn lookups(&self) -> (u64, u64) {
        self.shards.iter().fold((0, 0), |(hits, misses), shard| {
            (
                hits + shard.hits.load(Ordering::Relaxed),
                misses + shard.misses.load(Ordering::Relaxed),
            )
        })
    }

    pub(crate) fn insert(&self, key: K, value: Arc<V>) {
        let at = self.clock();
        let index = self.index(&key);
        let mut shard = Self::write(&self.shards[index]);
        if shard.insert(key, Kept { value, at }).is_some() {
            return;
        }
        // The count moves under the lock of the shard that changed, so it
        // never drops below what the shards hold.
        let full = self.held.fetch_add(1, Ordering::Relaxed) >= self.capacity;
        drop(shard);
        if full {
            self.make_room(index, at);
        }
    }

    /// Brings a full table back under its capacity, one shard at a time
    /// (never two locks at once), starting after the shard that was just
    /// kept in and ending with it: each drops its expired entries, then, if
    /// that was not enough, an arbitrary eighth of itself.
    fn make_room(&self, kept_in: usize, at: u64) {
        for step in 1..=SHARDS {
            if self.held.load(Ordering::Relaxed) <= self.capacity {
                return;
            }
            let mut shard = Self::write(&self.shards[(kept_in + step) % SHARDS]);
            let before = shard.len();
            let ttl = self.ttl_ms;
            shard.retain(|_, kept| at.saturating_sub(kept.at) < ttl);
            let expired = before - shard.len();
            if self.held.load(Ordering::Relaxed).saturating_sub(expired) > self.capacity {
                let mut evict = shard.len().div_ceil(8);
                shard.retain(|_, _| {
                    let keep = evict == 0;
                    evict = evict.saturating_sub(1);
                    keep
                });
            }
            self.held.fetch_sub(before - shard.len(), Ordering::Relaxed);
        }
    }

    fn remove<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if Self::write(self.shard(key)).remove(key).is_some() {
            self.held.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Drops every entry whose value `matches`.
    fn remove_where(&self, matches: impl Fn(&V) -> bool) {
        for shard in &self.shards {
            let mut shard = Self::write(shard);
            let before = shard.len();
            shard.retain(|_, kept| !matches(&kept.value));
            self.held.fetch_sub(before - shard.len(), Ordering::Relaxed);
        }
    }

    fn len(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }
}

type Sessions = Table<TokenDigest, SessionEntry>;
/// Keyed by the family id as a uuid (crudauth makes them so): sixteen bytes
/// in the slot rather than a 36-byte string on the heap.
type Families = Table<uuid::Uuid, FamilyEntry>;

/// The key of a family id; `None` for an id crudauth did not make, which is
/// then never cached.
fn family_key(family_id: &str) -> Option<uuid::Uuid> {
    uuid::Uuid::try_parse(family_id).ok()
}

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
        let capacity = usize::try_from(capacity).unwrap_or(usize::MAX);
        let sessions = Table::new(ttl, capacity);
        let families = Table::new(ttl, capacity);
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
    #[cfg(feature = "postgres")]
    pub(crate) fn deafen(&self) {
        self.deaf.store(true, Ordering::Release);
        self.clear();
    }

    /// Serves and keeps entries again, starting empty: revocations made
    /// while deaf went unheard.
    #[cfg(feature = "postgres")]
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

    /// Lookups (sessions and token families) answered from memory, and
    /// lookups that went to the database, since the start.
    pub(crate) fn lookups(&self) -> (u64, u64) {
        let Some((sessions, families)) = &self.caches else {
            return (0, 0);
        };
        let (a, b) = (sessions.lookups(), families.lookups());
        (a.0 + b.0, a.1 + b.1)
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
            sessions.remove(&digest);
        }
    }

    /// The cached family of a family id.
    pub(crate) fn family(&self, family_id: &str) -> Option<Arc<FamilyEntry>> {
        self.live()?.1.get(&family_key(family_id)?)
    }

    /// Caches a family read from the database since `read`.
    pub(crate) fn keep_family(&self, read: Generation, family_id: &str, entry: Arc<FamilyEntry>) {
        let (Some((_, families)), Some(key)) = (self.live(), family_key(family_id)) else {
            return;
        };
        if self.moved(read) {
            return;
        }
        families.insert(key, entry);
        if self.moved(read) {
            families.remove(&key);
        }
    }

    /// Drops every entry of a user.
    pub(crate) fn forget_user(&self, user_id: &UserId) {
        self.advance();
        let Some((sessions, families)) = &self.caches else {
            return;
        };
        sessions.remove_where(|e| e.user.id == *user_id);
        families.remove_where(|e| e.user.id == *user_id);
    }

    /// Drops one family.
    pub(crate) fn forget_family(&self, family_id: &str) {
        self.advance();
        if let (Some((_, families)), Some(key)) = (&self.caches, family_key(family_id)) {
            families.remove(&key);
        }
    }

    /// Drops one session by its token digest.
    pub(crate) fn forget_session(&self, digest: &TokenDigest) {
        self.advance();
        if let Some((sessions, _)) = &self.caches {
            sessions.remove(digest);
        }
    }

    /// Drops everything (a lost listener may have missed revocations).
    pub(crate) fn clear(&self) {
        self.advance();
        if let Some((sessions, families)) = &self.caches {
            sessions.remove_where(|_| true);
            families.remove_where(|_| true);
        }
    }

    /// Entries held, expired ones included until they are dropped.
    pub(crate) fn len(&self) -> u64 {
        let Some((sessions, families)) = &self.caches else {
            return 0;
        };
        (sessions.len() + families.len()) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(ttl_ms: u64, capacity: usize) -> Table<u32, u32> {
        Table::new(Duration::from_millis(ttl_ms), capacity)
    }

    #[test]
    fn a_full_table_evicts_rather_than_grows() {
        let t = table(60_000, 100);
        for n in 0..10_000 {
            t.insert(n, Arc::new(n));
            assert!(t.len() <= 100, "{} held with a capacity of 100", t.len());
        }
        let held = (0..10_000).filter(|n| t.get(n).is_some()).count();
        assert_eq!(held, t.len());
        // Still a cache: the newest entry is served until another insert
        // evicts.
        assert!(
            t.get(&9_999).is_some(),
            "the newest of {held} entries is gone"
        );
    }

    #[test]
    fn expired_entries_are_not_served_and_are_evicted_first() {
        let t = table(40, 2);
        t.insert(1, Arc::new(1));
        t.insert(2, Arc::new(2));
        assert_eq!(t.get(&1).as_deref(), Some(&1));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(t.get(&1), None);
        assert_eq!(t.len(), 2, "expired entries stay until a keep needs room");
        t.insert(3, Arc::new(3));
        assert!(t.len() <= 2);
        assert_eq!(t.get(&3).as_deref(), Some(&3), "the new entry is kept");
    }

    #[test]
    fn removals_count_down() {
        let t = table(60_000, 1_000);
        for n in 0..100 {
            t.insert(n, Arc::new(n % 10));
        }
        t.insert(5, Arc::new(5));
        assert_eq!(t.len(), 100, "a second keep of a key replaces it");
        t.remove_where(|v| *v == 3);
        assert_eq!(t.len(), 90);
        assert_eq!(t.get(&13), None);
        t.remove(&14);
        t.remove(&14);
        assert_eq!(t.len(), 89);
        t.remove_where(|_| true);
        assert_eq!(t.len(), 0);
    }
}
