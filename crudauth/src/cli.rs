//! Admin commands for an application's own binary (feature `cli`):
//! create the first superuser without SQL, end a user's every login, purge
//! expired rows.
//!
//! # Examples
//!
//! ```no_run
//! use clap::Parser;
//!
//! #[derive(Parser)]
//! struct Args {
//!     #[command(subcommand)]
//!     admin: Option<crudauth::cli::Command>,
//! }
//!
//! # async fn run(auth: crudauth::CrudAuth) -> Result<(), Box<dyn std::error::Error>> {
//! if let Some(command) = Args::parse().admin {
//!     let said = command.run(&auth, std::io::stdin().lock()).await?;
//!     println!("{said}");
//!     return Ok(());
//! }
//! // ... serve the application
//! # Ok(()) }
//! ```

use std::io::BufRead;

use crate::audit;
use crate::credentials::validate_email;
use crate::error::AuthError;
use crate::password::policy::PasswordContext;
use crate::state::CrudAuth;
use crate::store;
use crate::store::users::{Account, CreateError};

/// The admin subcommands, for an application's `clap` parser.
#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
#[non_exhaustive]
pub enum Command {
    /// Creates a user; the password is the first line of standard input,
    /// checked by the same rules as `POST /register`.
    CreateUser {
        /// The new user's email address.
        #[arg(long)]
        email: String,
        /// Makes the user a superuser.
        #[arg(long)]
        superuser: bool,
    },
    /// Ends every session and token family of a user.
    RevokeUser {
        /// The user's id, as stored.
        id: String,
    },
    /// Deletes expired sessions, ended token families and idle counters.
    Purge,
    /// Seals every second-factor secret again under the first key of the
    /// list (`CRUDAUTH_MFA_KEY=new,old`), so that the old key can go once
    /// the recovery codes handed out under it are no longer needed.
    RotateMfaKey,
}

/// Why a command did nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// The input was refused (an invalid email or password, a duplicate
    /// user), or the database failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The database failed.
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
    /// Standard input could not be read.
    #[error("reading the password from standard input: {0}")]
    Io(#[from] std::io::Error),
    /// The user model cannot hold what was asked.
    #[error("{0}")]
    Unsupported(&'static str),
    /// No user has this id.
    #[error("no user has the id {0:?}")]
    UnknownUser(String),
}

impl Command {
    /// Runs the command on `auth`'s database, reading a password from
    /// `input` where one is needed; returns what to tell the operator.
    ///
    /// # Errors
    ///
    /// A [`CliError`] saying what was refused; nothing is changed then.
    pub async fn run(self, auth: &CrudAuth, input: impl BufRead) -> Result<String, CliError> {
        match self {
            Self::CreateUser { email, superuser } => {
                create_user(auth, &email, superuser, input).await
            }
            Self::RevokeUser { id } => {
                let Some(user) = auth.inner.users.parse_id(&id) else {
                    return Err(CliError::UnknownUser(id));
                };
                let ended = auth.revoke_user(user).await?;
                Ok(format!(
                    "ended {ended} sessions and token families of user {id}"
                ))
            }
            Self::Purge => Ok(format!("purged {} expired rows", auth.purge().await?)),
            Self::RotateMfaKey => {
                if auth.inner.mfa.is_none() {
                    return Err(CliError::Unsupported(
                        "no second-factor key is configured (CRUDAUTH_MFA_KEY=new,old)",
                    ));
                }
                let done = auth.rotate_mfa_key().await?;
                let mut said = format!(
                    "re-sealed {} second-factor secrets under the first key ({} already were)",
                    done.resealed, done.current
                );
                if done.unreadable > 0 {
                    said.push_str(&format!(
                        "; {} open under no listed key and were left as they are",
                        done.unreadable
                    ));
                }
                Ok(said)
            }
        }
    }
}

async fn create_user(
    auth: &CrudAuth,
    email: &str,
    superuser: bool,
    mut input: impl BufRead,
) -> Result<String, CliError> {
    let users = &auth.inner.users;
    let db = &auth.inner.db;
    if !users.has_email() {
        return Err(CliError::Unsupported("the user model has no email column"));
    }
    if superuser && !users.has_superuser() {
        return Err(CliError::Unsupported(
            "the user model has no is_superuser column",
        ));
    }
    let email = validate_email(email)?;
    let mut password = String::new();
    input.read_line(&mut password)?;
    let password = password.trim_end_matches(['\r', '\n']).to_owned();
    auth.inner.password_policy.check(
        "password",
        &password,
        &PasswordContext::new(Some(&email), None),
    )?;
    if users.exists(db, Some(&email), None).await? {
        return Err(AuthError::AlreadyRegistered.into());
    }
    let hash = auth.inner.hasher.hash(password).await?;
    let txn = store::begin_write(db).await.map_err(AuthError::from)?;
    let account = Account {
        email: Some(email.clone()),
        hash,
        superuser,
        ..Account::default()
    };
    let created = users.create_account(&txn, account).await;
    let user = match created {
        Ok(user) => user,
        Err(CreateError::Duplicate) => return Err(AuthError::AlreadyRegistered.into()),
        Err(CreateError::Db(err)) => return Err(err.into()),
    };
    txn.commit().await.map_err(AuthError::from)?;
    audit::user_created(&user.id, superuser);
    let role = if superuser { "superuser" } else { "user" };
    Ok(format!("created {role} {email} with id {}", user.id))
}
