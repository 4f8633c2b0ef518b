//! Who signed in, when the ID token does not say it all: an OpenID
//! provider's user-info endpoint, or GitHub's user API.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{Identity, SignInFailed, id_token::flexible_bool};

async fn get<T: DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    access_token: &str,
) -> Result<T, SignInFailed> {
    let response = http
        .get(url)
        .bearer_auth(access_token)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| SignInFailed(format!("{url}: {}", super::describe(&e))))?;
    if !response.status().is_success() {
        return Err(SignInFailed(format!("{url}: status {}", response.status())));
    }
    response
        .json()
        .await
        .map_err(|e| SignInFailed(format!("{url}: {}", super::describe(&e))))
}

/// An OpenID Connect user-info answer (Core 1.0 section 5.3.2).
#[derive(Debug, Deserialize)]
struct UserInfo {
    sub: String,
    email: Option<String>,
    #[serde(default, deserialize_with = "flexible_bool")]
    email_verified: bool,
}

/// The user-info endpoint's identity, which must be the ID token's subject
/// (Core 1.0 section 5.3.2: otherwise the answer is not to be used).
pub(super) async fn oidc(
    http: &reqwest::Client,
    endpoint: &str,
    access_token: &str,
    subject: &str,
) -> Result<Identity, SignInFailed> {
    let info: UserInfo = get(http, endpoint, access_token).await?;
    if info.sub != subject {
        return Err(SignInFailed(
            "the user-info subject differs from the ID token's".into(),
        ));
    }
    Ok(Identity {
        subject: info.sub,
        email: info.email,
        email_verified: info.email_verified,
    })
}

/// `GET /user` (the fields crudauth reads).
#[derive(Debug, Deserialize)]
pub(super) struct GithubUser {
    pub id: u64,
}

/// One entry of `GET /user/emails`.
#[derive(Debug, Deserialize)]
pub(super) struct GithubEmail {
    pub email: String,
    pub primary: bool,
    pub verified: bool,
}

/// GitHub's identity: the numeric id (a login can be renamed and reused;
/// the id cannot), and the primary email with GitHub's own verified flag.
pub(super) fn github_identity(user: GithubUser, emails: Vec<GithubEmail>) -> Identity {
    let primary = emails.into_iter().find(|e| e.primary);
    Identity {
        subject: user.id.to_string(),
        email_verified: primary.as_ref().is_some_and(|e| e.verified),
        email: primary.map(|e| e.email),
    }
}

pub(super) async fn github(
    http: &reqwest::Client,
    api: &str,
    access_token: &str,
) -> Result<Identity, SignInFailed> {
    let user: GithubUser = get(http, &format!("{api}/user"), access_token).await?;
    let emails: Vec<GithubEmail> = get(http, &format!("{api}/user/emails"), access_token).await?;
    Ok(github_identity(user, emails))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `GET /user` as documented at
    /// <https://docs.github.com/en/rest/users/users#get-the-authenticated-user>
    /// (abridged).
    const USER: &str = r#"{
      "login": "octocat", "id": 1, "node_id": "MDQ6VXNlcjE=",
      "avatar_url": "https://github.com/images/error/octocat_happy.gif",
      "type": "User", "site_admin": false, "name": "monalisa octocat",
      "email": "octocat@github.com", "two_factor_authentication": true
    }"#;

    /// `GET /user/emails` as documented at
    /// <https://docs.github.com/en/rest/users/emails#list-email-addresses-for-the-authenticated-user>.
    const EMAILS: &str = r#"[
      {"email": "octocat@github.com", "verified": true, "primary": true, "visibility": "public"}
    ]"#;

    #[test]
    fn github_documented_answers_give_the_numeric_id_and_the_verified_primary_email() {
        let user: GithubUser = serde_json::from_str(USER).unwrap();
        let emails: Vec<GithubEmail> = serde_json::from_str(EMAILS).unwrap();
        let identity = github_identity(user, emails);
        assert_eq!(identity.subject, "1");
        assert_eq!(identity.email.as_deref(), Some("octocat@github.com"));
        assert!(identity.email_verified);
    }

    #[test]
    fn github_unverified_or_secondary_emails_do_not_count() {
        let user = || serde_json::from_str::<GithubUser>(USER).unwrap();
        let emails: Vec<GithubEmail> = serde_json::from_str(
            r#"[{"email": "a@x.example", "verified": true, "primary": false, "visibility": null},
                {"email": "b@x.example", "verified": false, "primary": true, "visibility": "private"}]"#,
        )
        .unwrap();
        let identity = github_identity(user(), emails);
        assert_eq!(identity.email.as_deref(), Some("b@x.example"));
        assert!(!identity.email_verified);
        assert_eq!(github_identity(user(), Vec::new()).email, None);
    }

    #[test]
    fn oidc_userinfo_takes_booleans_as_some_providers_send_them() {
        let info: UserInfo = serde_json::from_str(
            r#"{"sub": "x", "email": "a@x.example", "email_verified": "true"}"#,
        )
        .unwrap();
        assert!(info.email_verified);
        let info: UserInfo = serde_json::from_str(r#"{"sub": "x"}"#).unwrap();
        assert!(!info.email_verified);
    }
}
