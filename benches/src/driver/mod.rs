//! The two measuring commands: `all` (throughput, latency, memory and
//! logins of every server, one table and the targets of issue 5) and
//! `profile` (instructions per request under callgrind).

mod enumeration;
mod fixtures;
mod gates;
mod layer;
mod logins;
mod measure;
mod memory;
mod options;
mod profile;
mod rate;
mod report;
mod run;

pub use enumeration::enumeration;
pub use gates::gates;
pub use layer::layer;
pub use memory::cache_memory;
pub use options::{ALL_REQUESTS, Options};
pub use profile::profile;
pub use rate::rate;
pub use run::all;

const SECRET: &str = "crudauth-bench-secret-key-of-at-least-32-bytes";
const EMAIL: &str = "bench@example.com";
const PASSWORD: &str = "correct horse battery";

/// One row of the table: a server, and how the benchmark reaches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Bare,
    JwtOnly,
    JwtSpec,
    JwtMinimal,
    AxumLogin,
    CrudauthBearer,
    CrudauthSession,
    PairPlain,
    PairAuthed,
    TunedBearer,
    TunedSession,
    JwtAll,
    UncachedBearer,
    UncachedSession,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::Bare => "bare",
            Self::JwtOnly => "jwt-only",
            Self::JwtSpec => "jwt-only, crudauth's claims",
            Self::JwtMinimal => "jwt-minimal",
            Self::AxumLogin => "axum-login",
            Self::CrudauthBearer => "crudauth-bearer",
            Self::CrudauthSession => "crudauth-session",
            Self::PairPlain => "crudauth-bearer, plain `Principal`",
            Self::PairAuthed => "crudauth-bearer, `#[authed]`",
            Self::TunedBearer => "crudauth-bearer, tuned pool",
            Self::TunedSession => "crudauth-session, tuned pool",
            Self::JwtAll => "jwt-minimal, `.all()`",
            Self::UncachedBearer => "crudauth-bearer, cache off",
            Self::UncachedSession => "crudauth-session, cache off",
        }
    }
}

/// A row of the table: the server and its database's label.
type RowKey = (Kind, &'static str);
