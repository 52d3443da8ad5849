use axum::{Json, Router, extract::State, routing::{get, post}};
use tower_jwt_auth::{BearerAuthLayer, Claims, Issuer, KeySet, Sessions, SigningKey, TokenPair, token_routes};
use tower_jwt_auth::session::StartError;

async fn me(claims: Claims) -> Json<String> { Json(claims.sub) }
async fn login(State(sessions): State<Sessions>) -> Result<TokenPair, StartError> {
    sessions.start_with_scope("alice", "read").await // once the password is checked
}

fn app() -> Result<Router, Box<dyn std::error::Error>> {
    let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?)).with_audience("api").build()?;
    let (auth, sessions) = (BearerAuthLayer::new(&issuer), Sessions::new(issuer));
    Ok(Router::new()
        .route("/me", get(me))
        .route_layer(auth.clone()) // only matched routes need a token: unknown paths stay 404
        .route("/admin", get(me).route_layer(auth.require_scope(["admin"])))
        .route("/login", post(login))
        .nest("/auth", token_routes(sessions.clone(), &auth))
        .with_state(sessions))
}
