//! The PostgreSQL the tests run against.

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;

/// `TOWER_JWT_AUTH_POSTGRES_URL`, by default `postgres://postgres@127.0.0.1:5432/test`.
pub fn postgres_options() -> PgConnectOptions {
    let url = std::env::var("TOWER_JWT_AUTH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    PgConnectOptions::from_str(&url).unwrap()
}
