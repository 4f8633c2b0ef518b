//! Storage behaviour: one query per authenticated request, the migration,
//! rehash on login, hooks, and keys other than integers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crudauth::{AuthEvent, BearerTransport, CrudAuth, SessionTransport};
use crudauth_tests::{Backend, PASSWORD, TestDb, assert_error, on_both_backends, start, start_app};
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database, EntityTrait, Schema, Statement, TransactionTrait};
use serde_json::{Value, json};

/// Uncached, authentication costs one round trip: the session (or token
/// family) and the user row come back together, and sliding expiry writes
/// at most once a minute. With the principal cache on (the default), only a
/// credential's first request reaches the database.
async fn authenticated_requests_cost_one_query_and_none_when_cached(backend: Backend) {
    for (ttl, expected) in [(0, 10), (10, 1)] {
        let queries = Arc::new(AtomicUsize::new(0));
        let counter = queries.clone();
        let server = start_app(
            backend,
            move |mut db| {
                db.set_metric_callback(move |_| {
                    counter.fetch_add(1, Ordering::SeqCst);
                });
                example_web_and_api::auth_builder(db, crudauth_tests::config())
                    .principal_cache(std::time::Duration::from_secs(ttl), 1000)
            },
            |_| axum::Router::new(),
        )
        .await;
        server.register("ada@example.com").await;
        let browser = server.login("ada@example.com").await;
        let token = server.access_token("ada@example.com").await;
        let before = queries.load(Ordering::SeqCst);
        for _ in 0..10 {
            assert_eq!(
                server
                    .as_browser(&browser, Method::GET, "/me", None)
                    .await
                    .status(),
                StatusCode::OK
            );
        }
        assert_eq!(
            queries.load(Ordering::SeqCst) - before,
            expected,
            "session, cache ttl {ttl}"
        );
        let before = queries.load(Ordering::SeqCst);
        for _ in 0..10 {
            assert_eq!(
                server.get_bearer("/me", &token).await.status(),
                StatusCode::OK
            );
        }
        assert_eq!(
            queries.load(Ordering::SeqCst) - before,
            expected,
            "bearer, cache ttl {ttl}"
        );
        // Anonymous requests and malformed cookies cost none.
        let before = queries.load(Ordering::SeqCst);
        server.client.get(server.url("/me")).send().await.unwrap();
        server
            .client
            .get(server.url("/me"))
            .header("cookie", "__Host-session_id=short")
            .send()
            .await
            .unwrap();
        assert_eq!(queries.load(Ordering::SeqCst), before);
    }
}

async fn weaker_hashes_are_upgraded_at_login(backend: Backend) {
    let server = start(backend, |b| b).await;
    let weak = crudauth_tests::weak_hash(PASSWORD);
    server
        .db
        .execute_unprepared(&format!(
            "INSERT INTO users (email, password_hash, is_active, is_superuser, email_verified, scopes) \
             VALUES ('old@example.com', '{weak}', true, false, false, '')"
        ))
        .await
        .unwrap();
    server.login("old@example.com").await;
    let user = example_web_and_api::user::Entity::find()
        .one(&server.db)
        .await
        .unwrap()
        .unwrap();
    assert!(
        user.password_hash
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{}",
        user.password_hash
    );
    assert!(
        server
            .login_with("old@example.com", PASSWORD, None)
            .await
            .is_ok()
    );
}

async fn hooks_see_every_account_event(backend: Backend) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let server = start(backend, move |b| {
        b.hook(move |e| seen.lock().unwrap().push(e.clone()))
    })
    .await;
    let id = server.register("ada@example.com").await;
    let browser = server.login("ada@example.com").await;
    server.token("ada@example.com").await;
    let res = server
        .client
        .post(server.url("/change-password"))
        .header("cookie", browser.cookie())
        .header("x-csrf-token", &browser.csrf)
        .json(&json!({ "current_password": PASSWORD, "new_password": "another password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let browser = crudauth_tests::Browser::from_login(res).await;
    server
        .as_browser(&browser, Method::POST, "/logout", Some(&browser.csrf))
        .await;
    let id = crudauth::UserId::Int(id.as_i64().unwrap());
    assert_eq!(
        *events.lock().unwrap(),
        vec![
            AuthEvent::Registered {
                user_id: id.clone()
            },
            AuthEvent::LoggedIn {
                user_id: id.clone(),
                transport: "session"
            },
            AuthEvent::LoggedIn {
                user_id: id.clone(),
                transport: "bearer"
            },
            AuthEvent::PasswordChanged {
                user_id: id.clone()
            },
            AuthEvent::LoggedOut { user_id: id },
        ]
    );
}

async fn the_migration_creates_and_drops_the_tables(backend: Backend) {
    use sea_orm_migration::{MigrationTrait, MigratorTrait};
    struct Migrator;
    impl MigratorTrait for Migrator {
        fn migrations() -> Vec<Box<dyn MigrationTrait>> {
            // This test binary derives more than one user model: name it.
            crudauth::migration::migrations_for::<example_web_and_api::user::Model>()
        }
    }
    let test_db = TestDb::create(backend).await;
    // The application's user table first, as its own migration would.
    example_web_and_api::connect(&test_db.url).await.unwrap();
    let db = Database::connect(&test_db.url).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    for table in [
        "crudauth_sessions",
        "crudauth_refresh_tokens",
        "crudauth_token_families",
        "crudauth_attempts",
    ] {
        db.execute_unprepared(&format!("SELECT COUNT(*) FROM {table}"))
            .await
            .unwrap();
    }
    // `auth.migrate()` on top of the migrator's tables is a no-op.
    example_web_and_api::connect(&test_db.url).await.unwrap();
    let auth = example_web_and_api::auth_builder(db.clone(), crudauth_tests::config())
        .build()
        .unwrap();
    auth.migrate().await.unwrap();
    Migrator::down(&db, None).await.unwrap();
    assert!(
        db.execute_unprepared("SELECT COUNT(*) FROM crudauth_sessions")
            .await
            .is_err()
    );
    db.close().await.unwrap();
}

/// `migrate()` indexes `lower(email)` of the user table, and the lookup
/// crudauth makes by email (login, registration, recovery) uses it instead
/// of scanning the table: a scan that stops at the first match would
/// answer a taken address sooner than a free one.
async fn email_lookups_use_the_lower_email_index(backend: Backend) {
    let server = start(backend, |b| b).await;
    let db = server.auth.db();
    // Enough users, and fresh statistics, for the planner to prefer an
    // index over a scan where one applies.
    let fill = match backend {
        Backend::Sqlite => {
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) \
             INSERT INTO users (email, password_hash) SELECT 'user' || i || '@example.com', 'x' \
             FROM n"
        }
        Backend::Postgres => {
            "INSERT INTO users (email, password_hash) SELECT 'user' || i || '@example.com', 'x' \
             FROM generate_series(1, 5000) AS i"
        }
    };
    // One connection throughout: SQLite loads statistics per connection,
    // so another pooled connection may plan with none or stale ones.
    let txn = db.begin().await.unwrap();
    txn.execute_unprepared(fill).await.unwrap();
    txn.execute_unprepared("ANALYZE users").await.unwrap();
    // SQLite names the index the query must use (`INDEXED BY` fails
    // unless it can search it on that expression): its planner's choice
    // rests on statistics each connection loads when it pleases.
    let (explain, from, column) = match backend {
        Backend::Sqlite => (
            "EXPLAIN QUERY PLAN",
            r#""users" INDEXED BY "crudauth_users_email_lower""#,
            "detail",
        ),
        Backend::Postgres => ("EXPLAIN", r#""users""#, "QUERY PLAN"),
    };
    let lookup =
        format!(r#"SELECT "id" FROM {from} WHERE LOWER("users"."email") = 'user77@example.com'"#);
    let plan: Vec<String> = txn
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            format!("{explain} {lookup}"),
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get("", column).unwrap())
        .collect();
    txn.commit().await.unwrap();
    let searched = |line: &String| {
        line.contains("crudauth_users_email_lower")
            && (line.contains("SEARCH") || line.contains("Index"))
    };
    assert!(plan.iter().any(searched), "{plan:#?}");
    // A second migrate() finds it there.
    server.auth.migrate().await.unwrap();
}

mod uuid_user {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, crudauth::AuthUser)]
    #[sea_orm(table_name = "accounts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        #[sea_orm(unique)]
        pub email: String,
        pub password_hash: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

async fn uuid_keyed_users_work_with_both_transports(backend: Backend) {
    let server = start_app(
        backend,
        |db| {
            CrudAuth::builder()
                .database(db)
                .user_model::<uuid_user::Model>()
                .config(crudauth_tests::config())
                .transport(SessionTransport::new())
                .transport(BearerTransport::new())
                .me_route(false)
        },
        |_| axum::Router::new(),
    )
    .await;
    let schema = Schema::new(server.db.get_database_backend());
    server
        .db
        .execute(&schema.create_table_from_entity(uuid_user::Entity))
        .await
        .unwrap();
    let res = server
        .post_json(
            "/register",
            json!({ "email": "ada@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = res.json::<Value>().await.unwrap()["id"].clone();
    assert!(
        uuid::Uuid::parse_str(id.as_str().unwrap()).is_ok(),
        "uuid id serialized as a string: {id}"
    );
    let browser = server.login("ada@example.com").await;
    let me: Value = server
        .as_browser(&browser, Method::GET, "/me", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me, json!({ "id": id }));
    let token = server.access_token("ada@example.com").await;
    let me: Value = server.get_bearer("/me", &token).await.json().await.unwrap();
    assert_eq!(me, json!({ "id": id }));
    let res = server
        .as_browser(&browser, Method::POST, "/logout", Some(&browser.csrf))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_error(
        server.as_browser(&browser, Method::GET, "/me", None).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
}

/// Instances that start together migrate together: each `migrate()`
/// succeeds, whichever creates the tables, the trigger and the email index.
async fn instances_migrating_at_once_all_succeed(backend: Backend) {
    let test_db = TestDb::create(backend).await;
    // The application's own table first, as the example creates it.
    example_web_and_api::connect(&test_db.url).await.unwrap();
    let mut migrations = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let db = example_web_and_api::connect(&test_db.url).await.unwrap();
        let auth = example_web_and_api::auth_builder(db, crudauth_tests::config())
            .build()
            .unwrap();
        migrations.spawn(async move { auth.migrate().await });
    }
    while let Some(done) = migrations.join_next().await {
        done.unwrap().expect("a concurrent migrate() failed");
    }
    drop(test_db);
}

on_both_backends!(
    instances_migrating_at_once_all_succeed,
    authenticated_requests_cost_one_query_and_none_when_cached,
    weaker_hashes_are_upgraded_at_login,
    hooks_see_every_account_event,
    the_migration_creates_and_drops_the_tables,
    uuid_keyed_users_work_with_both_transports,
    email_lookups_use_the_lower_email_index,
);
