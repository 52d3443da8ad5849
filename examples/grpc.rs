//! The bearer middleware in front of a tonic gRPC server.
//!
//! `GrpcRejection` answers every refusal as a gRPC status: `UNAUTHENTICATED` without a valid
//! token, `PERMISSION_DENIED` for a method whose scope the token lacks, with the RFC 6750
//! challenge in the `www-authenticate` metadata. The handlers find the verified claims in the
//! request extensions.
//!
//! The service is written by hand, as `tonic-build` would generate it, so that no `protoc` is
//! needed; its messages derive `prost::Message`. It is this protocol:
//!
//! ```proto
//! syntax = "proto3";
//! package demo;
//!
//! service Greeter {
//!   rpc SayHello (HelloRequest) returns (HelloReply);      // any valid access token
//!   rpc SayHelloAdmin (HelloRequest) returns (HelloReply); // scope `admin`
//! }
//! message HelloRequest { string name = 1; }
//! message HelloReply { string message = 1; string subject = 2; }
//! ```
//!
//! ```sh
//! cargo run --example grpc --features tonic
//! ```
//!
//! It listens on `ADDR` (default `127.0.0.1:50051`), then calls itself once per case with a
//! hand-written tonic client and prints what each call got (never a token), and keeps serving.

use std::{
    convert::Infallible,
    error::Error,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use http::uri::PathAndQuery;
use tokio::net::TcpListener;
use tonic::{
    Status,
    body::Body,
    metadata::MetadataValue,
    server::NamedService,
    transport::{Channel, Server, server::TcpIncoming},
};
use tonic_prost::ProstCodec;
use tower::{Layer, Service, ServiceExt, service_fn};
use tower_jwt_auth::{
    BearerAuthLayer, Claims, Issuer, KeySet, Sessions, SigningKey, grpc::GrpcRejection,
    token::NoCustomClaims,
};

/// `demo.HelloRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct HelloRequest {
    /// Whom to greet.
    #[prost(string, tag = "1")]
    pub(crate) name: String,
}

/// `demo.HelloReply`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct HelloReply {
    /// The greeting.
    #[prost(string, tag = "1")]
    pub(crate) message: String,
    /// The subject of the access token the call was made with.
    #[prost(string, tag = "2")]
    pub(crate) subject: String,
}

/// The path of `demo.Greeter/SayHello`: any valid access token.
pub(crate) const SAY_HELLO: &str = "/demo.Greeter/SayHello";
/// The path of `demo.Greeter/SayHelloAdmin`: requires the scope `admin`.
pub(crate) const SAY_HELLO_ADMIN: &str = "/demo.Greeter/SayHelloAdmin";
/// The realm of the `www-authenticate` challenges.
pub(crate) const REALM: &str = "grpc-example";

/// `SayHello`: greets by name, as the subject of the verified token.
async fn say_hello(
    request: tonic::Request<HelloRequest>,
) -> Result<tonic::Response<HelloReply>, Status> {
    // The bearer layer in front put the claims here; an unverified call never gets this far.
    let subject = request
        .extensions()
        .get::<Arc<Claims>>()
        .map(|claims| claims.sub.clone())
        .ok_or_else(|| Status::internal("no claims: is the bearer layer installed?"))?;
    let name = &request.get_ref().name;
    Ok(tonic::Response::new(HelloReply {
        message: format!("hello, {name}"),
        subject,
    }))
}

/// `SayHelloAdmin`: the same greeting, behind a scope requirement.
async fn say_hello_admin(
    request: tonic::Request<HelloRequest>,
) -> Result<tonic::Response<HelloReply>, Status> {
    let mut reply = say_hello(request).await?;
    reply.get_mut().message.push_str(", admin");
    Ok(reply)
}

/// The `demo.Greeter` server: routes each call to its handler, as generated code does.
#[derive(Clone)]
pub(crate) struct Greeter {
    /// The layer of `SayHelloAdmin`: the server's bearer layer requiring the `admin` scope too,
    /// so that it answers with the same rejection (and realm). (It verifies the token again;
    /// a server of scoped methods only would put it in place of the server-wide layer.)
    admin: BearerAuthLayer<NoCustomClaims, GrpcRejection>,
}

impl NamedService for Greeter {
    const NAME: &'static str = "demo.Greeter";
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = Result<T, Infallible>> + Send>>;

impl Service<http::Request<Body>> for Greeter {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        match request.uri().path() {
            SAY_HELLO => Box::pin(async move {
                let mut grpc = tonic::server::Grpc::new(ProstCodec::default());
                Ok(grpc.unary(service_fn(say_hello), request).await)
            }),
            SAY_HELLO_ADMIN => {
                // One method behind a scope requirement: the scoped layer wraps its handler.
                let method = self.admin.layer(service_fn(|request| async move {
                    let mut grpc = tonic::server::Grpc::new(ProstCodec::default());
                    Ok::<_, Infallible>(grpc.unary(service_fn(say_hello_admin), request).await)
                }));
                Box::pin(async move {
                    let response = method.oneshot(request).await?;
                    Ok(response.map(Body::new))
                })
            }
            _ => Box::pin(async { Ok(Status::unimplemented("no such method").into_http()) }),
        }
    }
}

/// Serves `demo.Greeter` on `listener`, every call authenticated with `issuer`'s tokens.
pub(crate) async fn serve(
    issuer: Issuer,
    listener: TcpListener,
) -> Result<(), tonic::transport::Error> {
    let auth = BearerAuthLayer::new(&issuer)
        .with_realm(REALM)
        .on_rejection(GrpcRejection);
    let greeter = Greeter {
        admin: auth.require_scope(["admin"]),
    };
    Server::builder()
        .layer(auth)
        .add_service(greeter)
        .serve_with_incoming(TcpIncoming::from(listener))
        .await
}

/// Calls `method` (`SAY_HELLO` or `SAY_HELLO_ADMIN`) with `token` as the bearer token, if any.
pub(crate) async fn call(
    channel: Channel,
    method: &'static str,
    token: Option<&str>,
    name: &str,
) -> Result<tonic::Response<HelloReply>, Status> {
    let mut request = tonic::Request::new(HelloRequest { name: name.into() });
    if let Some(token) = token {
        let mut value: MetadataValue<_> = format!("Bearer {token}")
            .parse()
            .map_err(|_| Status::invalid_argument("the token is not a valid header value"))?;
        value.set_sensitive(true);
        request.metadata_mut().insert("authorization", value);
    }
    let mut client = tonic::client::Grpc::new(channel);
    client
        .ready()
        .await
        .map_err(|err| Status::unavailable(format!("not ready: {err}")))?;
    client
        .unary(
            request,
            PathAndQuery::from_static(method),
            ProstCodec::default(),
        )
        .await
}

/// Prints what a call got: the reply, or the status and its challenge.
fn report(what: &str, result: Result<tonic::Response<HelloReply>, Status>) {
    match result {
        Ok(reply) => {
            let reply = reply.into_inner();
            println!("{what}: {} (subject {})", reply.message, reply.subject);
        }
        Err(status) => {
            let challenge = status
                .metadata()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("none");
            println!(
                "{what}: {:?} {:?}; www-authenticate: {challenge}",
                status.code(),
                status.message()
            );
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let issuer = Issuer::builder(KeySet::new(SigningKey::generate_ed25519()?))
        .with_issuer("grpc-example")
        .with_audience("grpc-example")
        .build()?;

    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:50051".to_owned());
    let listener = TcpListener::bind(&addr).await?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}");
    let server = tokio::spawn(serve(issuer.clone(), listener));

    // A client of our own tries each case.
    let channel = Channel::from_shared(format!("http://{addr}"))?
        .connect()
        .await?;
    let alice = Sessions::new(issuer.clone())
        .start_with_scope("alice", "read")
        .await?;
    let root = Sessions::new(issuer.clone())
        .start_with_scope("root", "read admin")
        .await?;
    let calls = [
        ("SayHello without a token", SAY_HELLO, None),
        ("SayHello with a garbage token", SAY_HELLO, Some("garbage")),
        ("SayHello as alice", SAY_HELLO, Some(alice.access_token())),
        (
            "SayHelloAdmin as alice (scope read)",
            SAY_HELLO_ADMIN,
            Some(alice.access_token()),
        ),
        (
            "SayHelloAdmin as root (scope read admin)",
            SAY_HELLO_ADMIN,
            Some(root.access_token()),
        ),
    ];
    for (what, method, token) in calls {
        report(what, call(channel.clone(), method, token, "world").await);
    }

    server.await??;
    Ok(())
}
