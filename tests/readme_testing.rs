//! The README's "Testing your handlers" example, verbatim (`tests/readme.rs` checks it).

use axum::{Router, routing::get};
use std::time::Duration;
use tower_jwt_auth::{Claims, testing::TestEnv, token_routes};
fn app(env: &TestEnv) -> Router {
    Router::new()
        .route("/me", get(|claims: Claims| async move { claims.sub }))
        .route_layer(env.layer())
        .nest("/auth", token_routes(env.sessions().clone(), &env.layer()))
}

#[tokio::test]
async fn tokens_expire_rotate_and_end() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let env = TestEnv::new()?; // a MockClock, an issuer, its sessions, a bearer layer
    let client = env.client(app(&env));
    let me = |token: &str| client.get("/me").bearer(token).send();
    let pair = env.login("alice").await?;
    env.advance(env.access_ttl() - Duration::from_secs(1));
    assert_eq!(me(pair.access_token()).await?.text(), "alice");
    env.advance(Duration::from_secs(1)); // refused at exactly its lifetime
    assert_eq!(me(pair.access_token()).await?.status(), 401);
    let next = env.refresh(pair.refresh_token()).await?;
    assert_eq!(me(next.access_token()).await?.text(), "alice");
    assert!(env.refresh(pair.refresh_token()).await.is_err()); // reuse ends the session
    assert_eq!(me(next.access_token()).await?.status(), 401);
    let other = env.login("alice").await?;
    client
        .post("/auth/logout")
        .bearer(other.access_token())
        .send()
        .await?;
    assert_eq!(me(other.access_token()).await?.status(), 401);
    Ok(())
}
