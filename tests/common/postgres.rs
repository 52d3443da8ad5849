//! The PostgreSQL the tests run against.

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;

/// `TOWER_JWT_AUTH_POSTGRES_URL`, by default `postgres://postgres@127.0.0.1:5432/test`.
pub fn postgres_options() -> PgConnectOptions {
    let url = std::env::var("TOWER_JWT_AUTH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    PgConnectOptions::from_str(&url).unwrap()
}

/// Makes `role` a login role that may only read the store's tables under `prefix`, as the
/// read-only follower's documentation grants it.
pub async fn create_select_only_role(role: &str, prefix: &str) {
    use sqlx::{AssertSqlSafe, ConnectOptions};

    let mut admin = postgres_options().connect().await.unwrap();
    for statement in [
        format!("CREATE ROLE {role} LOGIN"),
        format!("GRANT SELECT ON {prefix}sessions, {prefix}entries, {prefix}dpop_proofs TO {role}"),
    ] {
        sqlx::query(AssertSqlSafe(statement))
            .execute(&mut admin)
            .await
            .unwrap();
    }
}
