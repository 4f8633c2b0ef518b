//! The audit trail: one `tracing` event per security-relevant happening,
//! under the target `crudauth::audit`, each with a stable name (the event's
//! metadata name and its `event` field) and the fields `user_id`, `ip`,
//! `transport`, `reason` where they apply.
//!
//! Each function is called from the one place its event happens. None takes
//! a password, token, code or secret: the signatures are the guarantee that
//! no credential reaches an operator's log pipeline. Every event is also
//! counted (`crudauth_events_total`, by event name) for a metrics exporter.

use std::net::IpAddr;

use tracing::Level;

use crate::principal::UserId;

/// Emits one audit event; `$name` is both the metadata name and the `event`
/// field, so that formatters that print only fields still show it. Each
/// event also counts in the `crudauth_events_total{event="…"}` counter of
/// the `metrics` facade (nothing without an installed recorder).
macro_rules! audit {
    ($level:expr, $name:literal $(, $($fields:tt)*)?) => {
        metrics::counter!("crudauth_events_total", "event" => $name).increment(1);
        tracing::event!(
            name: $name,
            target: "crudauth::audit",
            $level,
            event = $name
            $(, $($fields)*)?
        )
    };
}

/// `value` as a log line shows it: control characters (a newline that
/// would start a forged `crudauth::audit` line, a terminal escape) and the
/// backslash are written as Rust escapes (`\n`, `\u{1b}`, `\\`). Every
/// value a request or a provider supplied goes through here on its way to
/// a log line.
pub(crate) fn escaped(value: &str) -> Escaped<'_> {
    Escaped(value)
}

/// See [`escaped`].
pub(crate) struct Escaped<'a>(&'a str);

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write;
        for c in self.0.chars() {
            // U+2028/2029 end a line for some log viewers.
            if c.is_control() || c == '\\' || c == '\u{2028}' || c == '\u{2029}' {
                write!(f, "{}", c.escape_default())?;
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

/// The client address as logged: the address, or `unknown` when the app is
/// served without the socket peer.
fn ip_text(ip: Option<IpAddr>) -> String {
    ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}

/// A user registered.
pub(crate) fn registered(user_id: &UserId, ip: Option<IpAddr>) {
    audit!(Level::INFO, "registered", user_id = %user_id, ip = %ip_text(ip));
}

/// A login succeeded on `transport` (`/login`: session, `/token`: bearer).
pub(crate) fn login_succeeded(user_id: &UserId, ip: Option<IpAddr>, transport: &str) {
    audit!(
        Level::INFO,
        "login_succeeded",
        user_id = %user_id,
        ip = %ip_text(ip),
        transport = %escaped(transport)
    );
}

/// A login was refused (`reason`: `invalid_credentials` or `locked`);
/// `user_id` only when the identifier named an account (absent, not empty,
/// otherwise).
pub(crate) fn login_failed(user_id: Option<&UserId>, ip: Option<IpAddr>, reason: &str) {
    audit!(
        Level::WARN,
        "login_failed",
        user_id = user_id.map(tracing::field::display),
        ip = %ip_text(ip),
        reason = %escaped(reason)
    );
}

/// A signed-in user's current-password check failed (password change and
/// other re-authentications).
pub(crate) fn password_check_failed(user_id: &UserId) {
    audit!(
        Level::WARN,
        "password_check_failed",
        user_id = %user_id,
        reason = "invalid_credentials"
    );
}

/// A lockout counter reached its limit and is locked for `secs`. `scope` is
/// what was counted (`ip`, `identifier`, `account`); `user_id` only when
/// known.
pub(crate) fn locked(user_id: Option<&UserId>, ip: Option<IpAddr>, scope: &str, secs: i64) {
    audit!(
        Level::WARN,
        "locked",
        user_id = user_id.map(tracing::field::display),
        ip = %ip_text(ip),
        reason = %escaped(scope),
        lock_secs = secs
    );
}

/// A session ended through `/logout`.
pub(crate) fn logout(user_id: &UserId) {
    audit!(
        Level::INFO,
        "logout",
        user_id = %user_id,
        transport = "session"
    );
}

/// One session ended before its time (`reason`: `user` by
/// `DELETE /sessions/{id}`, `session_cap` when a login past
/// `max_sessions_per_user` ended the oldest).
pub(crate) fn session_revoked(user_id: &UserId, reason: &'static str) {
    audit!(
        Level::INFO,
        "session_revoked",
        user_id = %user_id,
        reason = reason
    );
}

/// Every session and token family of a user ended (`reason`:
/// `logout_all`, or `admin` through [`CrudAuth::revoke_user`]).
///
/// [`CrudAuth::revoke_user`]: crate::CrudAuth::revoke_user
pub(crate) fn user_revoked(user_id: &str, reason: &str, ended: u64) {
    audit!(
        Level::INFO,
        "user_revoked",
        user_id = %escaped(user_id),
        reason = %escaped(reason),
        ended = ended
    );
}

/// A refresh token was presented a second time: its family is revoked.
pub(crate) fn token_reuse_detected(user_id: &str) {
    audit!(
        Level::WARN,
        "token_reuse_detected",
        user_id = %escaped(user_id),
        transport = "bearer",
        reason = "refresh_token_reused"
    );
}

/// A token pair was issued (`reason`: `login` at `/token`, `refresh` at
/// `/refresh`).
pub(crate) fn token_issued(user_id: &str, reason: &str) {
    audit!(
        Level::INFO,
        "token_issued",
        user_id = %escaped(user_id),
        transport = "bearer",
        reason = %escaped(reason)
    );
}

/// A token family was revoked (`reason`: `client` through `/revoke`,
/// where the token names no user until it is looked up and an unknown one
/// is answered alike; `family_cap` when a login past
/// `max_token_families_per_user` ended the oldest).
pub(crate) fn token_revoked(reason: &'static str) {
    audit!(
        Level::INFO,
        "token_revoked",
        transport = "bearer",
        reason = reason
    );
}

/// An unsafe request was refused by the CSRF defence (`reason`: the
/// refusal's message, which never holds the token).
pub(crate) fn csrf_refused(ip: Option<IpAddr>, reason: &'static str) {
    audit!(
        Level::WARN,
        "csrf_refused",
        ip = %ip_text(ip),
        transport = "session",
        reason = reason
    );
}

/// A user changed their password; their other sessions and families ended
/// (`reason`: `change_password`, or `set_password` for an account a
/// provider made).
pub(crate) fn password_changed(user_id: &UserId, reason: &str) {
    audit!(
        Level::INFO,
        "password_changed",
        user_id = %user_id,
        reason = %escaped(reason)
    );
}

/// A password was reset through a mailed link: every session and family of
/// the user ended, the lockout cleared.
pub(crate) fn password_reset(user_id: &UserId, ip: Option<IpAddr>) {
    audit!(
        Level::INFO,
        "password_reset",
        user_id = %user_id,
        ip = %ip_text(ip),
        reason = "reset_link"
    );
}

/// An email address was proved by a mailed link.
pub(crate) fn email_verified(user_id: &UserId, ip: Option<IpAddr>) {
    audit!(
        Level::INFO,
        "email_verified",
        user_id = %user_id,
        ip = %ip_text(ip),
        reason = "verify_link"
    );
}

/// A user's email address was replaced through a mailed link (the notice
/// to the old address is queued).
pub(crate) fn email_changed(user_id: &UserId, ip: Option<IpAddr>) {
    audit!(
        Level::INFO,
        "email_changed",
        user_id = %user_id,
        ip = %ip_text(ip),
        reason = "change_link"
    );
}

/// A login's password passed for an account with a second factor: a
/// challenge was issued instead of a credential.
pub(crate) fn mfa_challenged(user_id: &UserId, ip: Option<IpAddr>, transport: &str) {
    audit!(
        Level::INFO,
        "mfa_challenged",
        user_id = %user_id,
        ip = %ip_text(ip),
        transport = %escaped(transport)
    );
}

/// A TOTP enrolment was confirmed (its first recovery codes issued).
pub(crate) fn mfa_enabled(user_id: &UserId, ip: Option<IpAddr>, transport: &str) {
    audit!(
        Level::INFO,
        "mfa_enabled",
        user_id = %user_id,
        ip = %ip_text(ip),
        transport = %escaped(transport)
    );
}

/// The second factor was turned off.
pub(crate) fn mfa_disabled(user_id: &UserId, ip: Option<IpAddr>, transport: &str) {
    audit!(
        Level::INFO,
        "mfa_disabled",
        user_id = %user_id,
        ip = %ip_text(ip),
        transport = %escaped(transport)
    );
}

/// A new set of recovery codes replaced the old one.
pub(crate) fn mfa_recovery_codes_regenerated(
    user_id: &UserId,
    ip: Option<IpAddr>,
    transport: &str,
) {
    audit!(
        Level::INFO,
        "mfa_recovery_codes_regenerated",
        user_id = %user_id,
        ip = %ip_text(ip),
        transport = %escaped(transport)
    );
}

/// A recovery code was used up in place of a TOTP code.
pub(crate) fn mfa_recovery_code_used(user_id: &str) {
    audit!(
        Level::WARN,
        "mfa_recovery_code_used",
        user_id = %escaped(user_id),
        reason = "recovery_code"
    );
}

/// A second-factor code was refused (`reason`: the route — `verify`,
/// `sudo`, `confirm`, `disable`, `recovery_codes`).
pub(crate) fn mfa_failed(user_id: &UserId, ip: Option<IpAddr>, reason: &str) {
    audit!(
        Level::WARN,
        "mfa_failed",
        user_id = %user_id,
        ip = %ip_text(ip),
        reason = %escaped(reason)
    );
}

/// A signed-in user proved themselves again (`reason`: `password` or
/// `code`); the credential is fresh.
pub(crate) fn sudo(user_id: &UserId, ip: Option<IpAddr>, transport: &str, reason: &str) {
    audit!(
        Level::INFO,
        "sudo",
        user_id = %user_id,
        ip = %ip_text(ip),
        transport = %escaped(transport),
        reason = %escaped(reason)
    );
}

/// A provider's identity was tied to an account (`reason`: `linked` to the
/// account with its verified email, `claimed` — linked to an account whose
/// email was never verified, whose password and sessions ended — or
/// `created`, a new account).
#[cfg(feature = "oidc")]
pub(crate) fn oauth_linked(user_id: &UserId, ip: Option<IpAddr>, provider: &str, reason: &str) {
    audit!(
        Level::INFO,
        "oauth_linked",
        user_id = %user_id,
        ip = %ip_text(ip),
        transport = "session",
        provider = %escaped(provider),
        reason = %escaped(reason)
    );
}

/// A user removed a provider's identity from their account.
#[cfg(feature = "oidc")]
pub(crate) fn oauth_unlinked(user_id: &UserId, ip: Option<IpAddr>, provider: &str) {
    audit!(
        Level::INFO,
        "oauth_unlinked",
        user_id = %user_id,
        ip = %ip_text(ip),
        provider = %escaped(provider)
    );
}

/// A sign-in with a provider was refused at the callback (`reason`: the
/// error code, e.g. `invalid_state`, `email_unverified`).
#[cfg(feature = "oidc")]
pub(crate) fn oauth_failed(ip: Option<IpAddr>, provider: &str, reason: &str) {
    audit!(
        Level::WARN,
        "oauth_failed",
        ip = %ip_text(ip),
        transport = "session",
        provider = %escaped(provider),
        reason = %escaped(reason)
    );
}

/// A user was created outside HTTP (the `create-user` command,
/// `CrudAuth::create_user`).
pub(crate) fn user_created(user_id: &UserId, superuser: bool) {
    audit!(
        Level::INFO,
        "user_created",
        user_id = %user_id,
        superuser = superuser,
        reason = "admin"
    );
}

#[cfg(test)]
mod tests {
    use super::escaped;

    #[test]
    fn escaped_values_cannot_start_a_line_or_drive_a_terminal() {
        let forged = "denied\r\ncrudauth::audit: event=\"login_succeeded\"\u{1b}[2J\\n\u{2028}";
        let written = escaped(forged).to_string();
        assert_eq!(
            written,
            "denied\\r\\ncrudauth::audit: event=\"login_succeeded\"\\u{1b}[2J\\\\n\\u{2028}"
        );
        assert!(!written.chars().any(char::is_control), "{written}");
        assert_eq!(
            escaped("ada@example.com é").to_string(),
            "ada@example.com é"
        );
    }
}
