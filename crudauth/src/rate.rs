//! `#[authed(rate = "..")]`: how many requests one principal (or one
//! anonymous client address) may make to one handler per period.
//!
//! Every store runs the same algorithm, GCRA: a key remembers the time at
//! which its budget is whole again, so a limit of `n` per period lets `n`
//! requests through at once and then one every `period / n`. In-process
//! counters are `governor`'s; Redis runs the same arithmetic in a script so
//! that every instance sharing the server shares the budget. A store that
//! cannot be reached lets requests through (a limiter is no reason to stop
//! serving) and says so in the log at most once a minute.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

/// A limit: `count` requests per `per_secs` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    count: u32,
    per_secs: u64,
}

impl Rate {
    /// `count` requests per `per_secs` seconds (`#[authed(rate = ..)]`
    /// writes these from its literal, where both were checked).
    pub const fn new(count: u32, per_secs: u64) -> Self {
        Self { count, per_secs }
    }

    /// The time between two requests once the burst is spent.
    fn interval(self) -> Duration {
        Duration::from_secs(self.per_secs.max(1)) / self.count.max(1)
    }
}

/// Where `#[authed(rate = ..)]` keeps its counters.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum RateLimitStore {
    /// In this process: each instance counts on its own.
    #[default]
    InProcess,
    /// In a Redis server (`redis://host:port/db`), shared by every instance
    /// that names it.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    Redis(String),
    /// In crudauth's PostgreSQL database (table `crudauth_rate_limits`,
    /// created on first use), shared by every instance on it: one statement
    /// per limited request.
    #[cfg(feature = "postgres")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
    Postgres,
}

/// One handler's in-process counters, keyed by principal or address.
type Counters = Arc<DefaultKeyedRateLimiter<String>>;

/// The counters, built from a [`RateLimitStore`].
pub(crate) struct RateLimiter {
    /// Per handler; a handful of entries, so a list.
    local: RwLock<Vec<(&'static str, Counters)>>,
    #[cfg(feature = "redis")]
    redis: Option<redis_store::Shared>,
    #[cfg(feature = "postgres")]
    postgres: Option<postgres_store::Shared>,
    /// Checks since the last sweep of forgotten keys.
    since_sweep: AtomicU64,
}

/// How many checks pass between two sweeps of in-process keys whose
/// budget is whole again (they hold nothing worth keeping).
const SWEEP_EVERY: u64 = 4096;

impl RateLimiter {
    /// Reads the store's settings; an address that does not parse is a
    /// configuration error, said in words.
    pub(crate) fn new(
        store: &RateLimitStore,
        db: &sea_orm::DatabaseConnection,
    ) -> Result<Self, String> {
        let _ = db;
        Ok(Self {
            local: RwLock::new(Vec::new()),
            #[cfg(feature = "redis")]
            redis: match store {
                RateLimitStore::Redis(url) => Some(redis_store::Shared::new(url)?),
                _ => None,
            },
            #[cfg(feature = "postgres")]
            postgres: match store {
                RateLimitStore::Postgres => Some(postgres_store::Shared::new(db)?),
                _ => None,
            },
            since_sweep: AtomicU64::new(0),
        })
    }

    /// Takes one request from `who`'s budget on `handler`; `Err` holds the
    /// whole seconds to wait.
    pub(crate) async fn check(
        &self,
        handler: &'static str,
        who: &str,
        rate: Rate,
    ) -> Result<(), u64> {
        // A shared store that is down lets the request through (said in
        // the log).
        #[cfg(feature = "redis")]
        if let Some(shared) = &self.redis {
            return shared.check(handler, who, rate).await.unwrap_or(Ok(()));
        }
        #[cfg(feature = "postgres")]
        if let Some(shared) = &self.postgres {
            return shared.check(handler, who, rate).await.unwrap_or(Ok(()));
        }
        self.check_local(handler, who, rate)
    }

    fn check_local(&self, handler: &'static str, who: &str, rate: Rate) -> Result<(), u64> {
        let limiter = self.limiter(handler, rate);
        if self.since_sweep.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            limiter.retain_recent();
        }
        match limiter.check_key(&who.to_owned()) {
            Ok(()) => Ok(()),
            Err(not_until) => Err(whole_secs(
                not_until.wait_time_from(DefaultClock::default().now()),
            )),
        }
    }

    /// The handler's counters, made on its first request.
    fn limiter(&self, handler: &'static str, rate: Rate) -> Counters {
        let found = |list: &[(&'static str, Counters)]| {
            list.iter()
                .find(|(name, _)| *name == handler)
                .map(|(_, limiter)| Arc::clone(limiter))
        };
        if let Some(limiter) = found(&self.local.read().expect("rate limiter list poisoned")) {
            return limiter;
        }
        let mut list = self.local.write().expect("rate limiter list poisoned");
        if let Some(limiter) = found(&list) {
            return limiter;
        }
        let burst = NonZeroU32::new(rate.count).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(rate.interval())
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
            .allow_burst(burst);
        let limiter = Arc::new(DefaultKeyedRateLimiter::dashmap(quota));
        list.push((handler, Arc::clone(&limiter)));
        limiter
    }
}

/// A wait as `Retry-After` says it: whole seconds, at least one.
fn whole_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// Says at most once a minute that the shared store is down.
struct Warner {
    last: AtomicI64,
}

impl Warner {
    const fn new() -> Self {
        Self {
            last: AtomicI64::new(i64::MIN),
        }
    }

    fn warn(&self, error: &dyn std::fmt::Display) {
        let now = crate::tokens::now();
        let last = self.last.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= 60
            && self
                .last
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                error = %error,
                "crudauth: the rate limit store cannot be reached; `rate` limits are not applied until it answers again"
            );
        }
    }
}

#[cfg(feature = "redis")]
mod redis_store {
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::time::Duration;

    use redis::aio::{ConnectionManager, ConnectionManagerConfig};
    use tokio::sync::OnceCell;

    use super::{Rate, Warner, whole_secs};

    /// GCRA on one key, with the server's clock so that instances whose
    /// clocks disagree still share one budget. KEYS[1] holds the time (in
    /// microseconds) at which the budget is whole again; ARGV are the
    /// interval between requests and the burst, both in microseconds.
    /// Answers 0 when the request may pass, else the microseconds to wait.
    const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst
if now < allow_at then
  return allow_at - now
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000))
return 0
";

    /// How long a request waits for Redis before it is let through.
    const TIMEOUT: Duration = Duration::from_millis(250);

    /// After a failure, how long requests skip Redis (no connection
    /// attempt per request while it is down).
    const BACKOFF_SECS: i64 = 1;

    pub(super) struct Shared {
        client: redis::Client,
        connection: OnceCell<ConnectionManager>,
        script: redis::Script,
        down_until: AtomicI64,
        warner: Warner,
    }

    impl Shared {
        pub(super) fn new(url: &str) -> Result<Self, String> {
            let client = redis::Client::open(url)
                .map_err(|error| format!("the Redis URL {url:?} does not parse: {error}"))?;
            Ok(Self {
                client,
                connection: OnceCell::new(),
                script: redis::Script::new(GCRA),
                down_until: AtomicI64::new(0),
                warner: Warner::new(),
            })
        }

        /// The verdict, or `Err(())` when Redis did not answer (already
        /// logged).
        pub(super) async fn check(
            &self,
            handler: &str,
            who: &str,
            rate: Rate,
        ) -> Result<Result<(), u64>, ()> {
            if crate::tokens::now() < self.down_until.load(Ordering::Relaxed) {
                return Err(());
            }
            let interval = rate.interval().as_micros().max(1) as u64;
            let burst = interval.saturating_mul(u64::from(rate.count));
            let key = format!("crudauth:rate:{handler}:{who}");
            let answer = tokio::time::timeout(TIMEOUT, async {
                let mut connection = self.connection().await?.clone();
                self.script
                    .key(&key)
                    .arg(interval)
                    .arg(burst)
                    .invoke_async::<u64>(&mut connection)
                    .await
            })
            .await;
            match answer {
                Ok(Ok(0)) => Ok(Ok(())),
                Ok(Ok(wait)) => Ok(Err(whole_secs(Duration::from_micros(wait)))),
                Ok(Err(error)) => {
                    self.down(&error);
                    Err(())
                }
                Err(elapsed) => {
                    self.down(&elapsed);
                    Err(())
                }
            }
        }

        async fn connection(&self) -> redis::RedisResult<&ConnectionManager> {
            self.connection
                .get_or_try_init(|| async {
                    let config = ConnectionManagerConfig::new()
                        .set_connection_timeout(Some(TIMEOUT))
                        .set_response_timeout(Some(TIMEOUT))
                        .set_number_of_retries(1);
                    ConnectionManager::new_lazy_with_config(self.client.clone(), config)
                })
                .await
        }

        fn down(&self, error: &dyn std::fmt::Display) {
            self.down_until
                .store(crate::tokens::now() + BACKOFF_SECS, Ordering::Relaxed);
            self.warner.warn(error);
        }
    }
}

#[cfg(feature = "postgres")]
mod postgres_store {
    use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement};
    use tokio::sync::OnceCell;

    use super::{Rate, Warner, whole_secs};

    /// The table, made on first use (a limiter's counters are not worth a
    /// migration step: losing them forgives a minute's requests).
    const CREATE: &str = "CREATE TABLE IF NOT EXISTS crudauth_rate_limits \
        (key text PRIMARY KEY, tat bigint NOT NULL)";

    /// GCRA as one upsert with the database's clock: `tat` (microseconds)
    /// moves on only when the request fits; no row back means refused.
    /// $1 key, $2 interval, $3 burst, all in microseconds.
    const TAKE: &str = "WITH now AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS t) \
        INSERT INTO crudauth_rate_limits AS r (key, tat) SELECT $1, now.t + $2 FROM now \
        ON CONFLICT (key) DO UPDATE SET tat = GREATEST(r.tat, (SELECT t FROM now)) + $2 \
        WHERE GREATEST(r.tat, (SELECT t FROM now)) + $2 - $3 <= (SELECT t FROM now) \
        RETURNING r.tat";

    /// How long a refused request waits, in microseconds.
    const WAIT: &str = "SELECT (tat + $2 - $3 - (extract(epoch FROM clock_timestamp()) * 1000000)::bigint) AS wait \
        FROM crudauth_rate_limits WHERE key = $1";

    pub(super) struct Shared {
        db: DatabaseConnection,
        table: OnceCell<()>,
        warner: Warner,
    }

    impl Shared {
        pub(super) fn new(db: &DatabaseConnection) -> Result<Self, String> {
            if db.get_database_backend() != DatabaseBackend::Postgres {
                return Err(
                    "RateLimitStore::Postgres keeps its counters in crudauth's database, which is not PostgreSQL here; use RateLimitStore::InProcess or Redis".to_owned(),
                );
            }
            Ok(Self {
                db: db.clone(),
                table: OnceCell::new(),
                warner: Warner::new(),
            })
        }

        pub(super) async fn check(
            &self,
            handler: &str,
            who: &str,
            rate: Rate,
        ) -> Result<Result<(), u64>, ()> {
            self.ask(handler, who, rate)
                .await
                .map_err(|error| self.warner.warn(&error))
        }

        async fn ask(
            &self,
            handler: &str,
            who: &str,
            rate: Rate,
        ) -> Result<Result<(), u64>, sea_orm::DbErr> {
            self.table
                .get_or_try_init(|| async { self.db.execute_unprepared(CREATE).await.map(|_| ()) })
                .await?;
            let interval = rate.interval().as_micros().max(1) as i64;
            let burst = interval.saturating_mul(i64::from(rate.count));
            let values = |sql: &str| {
                Statement::from_sql_and_values(
                    DatabaseBackend::Postgres,
                    sql,
                    [
                        format!("{handler}:{who}").into(),
                        interval.into(),
                        burst.into(),
                    ],
                )
            };
            if self.db.query_one_raw(values(TAKE)).await?.is_some() {
                return Ok(Ok(()));
            }
            let wait = match self.db.query_one_raw(values(WAIT)).await? {
                Some(row) => row.try_get::<i64>("", "wait")?.max(1),
                None => 1,
            };
            Ok(Err(whole_secs(std::time::Duration::from_micros(
                wait as u64,
            ))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Rate, RateLimitStore, RateLimiter, whole_secs};
    use std::time::Duration;

    #[tokio::test]
    async fn a_burst_of_the_limit_passes_and_the_next_waits_a_whole_interval() {
        let db = sea_orm::DatabaseConnection::default();
        let limiter = RateLimiter::new(&RateLimitStore::InProcess, &db).unwrap();
        let rate = Rate::new(5, 60);
        for _ in 0..5 {
            assert_eq!(limiter.check("h", "7", rate).await, Ok(()));
        }
        let wait = limiter.check("h", "7", rate).await.unwrap_err();
        assert!((11..=12).contains(&wait), "{wait}");
        // Another principal and another handler have their own budgets.
        assert_eq!(limiter.check("h", "8", rate).await, Ok(()));
        assert_eq!(limiter.check("g", "7", rate).await, Ok(()));
    }

    #[test]
    fn waits_round_up_to_whole_seconds() {
        assert_eq!(whole_secs(Duration::from_millis(1)), 1);
        assert_eq!(whole_secs(Duration::from_secs(2)), 2);
        assert_eq!(whole_secs(Duration::from_millis(2001)), 3);
    }
}
