//! A fresh PostgreSQL database per test, on the server `DATABASE_URL` names
//! (`tests/run` starts a throwaway one).

use sqlx::{Connection, Executor, PgConnection};

pub fn server_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "PostgreSQL tests need DATABASE_URL pointing at a server where they may create \
             databases; run `tests/run`, which starts a throwaway PostgreSQL"
        )
    })
}

/// The URL of a new, empty database.
#[allow(dead_code)] // not every test binary that includes this file needs it
pub async fn fresh_database() -> String {
    fresh_database_on(&server_url()).await
}

/// The URL of a new, empty database on the server `server` names.
pub async fn fresh_database_on(server: &str) -> String {
    let server = server.to_owned();
    let name = format!("virlife_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&server)
        .await
        .expect("connect to the test PostgreSQL");
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .expect("create a test database");
    admin.close().await.ok();
    with_database(&server, &name)
}

/// Replaces the database name in a `postgres://…/name?params` URL.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_part = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{host_part}/{name}?{query}"),
        None => format!("{host_part}/{name}"),
    }
}
