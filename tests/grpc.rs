//! `GrpcRejection` over the wire: the server of `examples/grpc.rs` on a real tonic server,
//! called by a real tonic client.

#![cfg(feature = "tonic")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

// The example's service, server and client; its `main` and `report` are unused here.
#[allow(dead_code)]
#[path = "../examples/grpc.rs"]
mod example;

use std::time::Duration;

use common::*;
use example::{HelloReply, REALM, SAY_HELLO, SAY_HELLO_ADMIN, call};
use tokio::{net::TcpListener, task::JoinHandle};
use tonic::{Code, Status, transport::Channel};
use tower_jwt_auth::{Issuer, Sessions, clock::MockClock};

struct Server {
    issuer: Issuer,
    clock: MockClock,
    channel: Channel,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The example's server on an ephemeral port, with an issuer on a mock clock.
async fn start() -> Server {
    let clock = MockClock::at_secs(T0);
    let issuer = builder(&clock).build().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(example::serve(issuer.clone(), listener));
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    Server {
        issuer,
        clock,
        channel,
        task,
    }
}

impl Server {
    async fn call(
        &self,
        method: &'static str,
        token: Option<&str>,
    ) -> Result<tonic::Response<HelloReply>, Status> {
        call(self.channel.clone(), method, token, "Bob").await
    }
}

/// A status the server sent as `grpc-status` and `grpc-message`: tonic would map a bare HTTP
/// 401 or 403 to the same code, but with "grpc-status header missing" as the message.
fn assert_status(status: &Status, code: Code, message: &str) {
    assert_eq!(status.code(), code, "{status:?}");
    assert_eq!(status.message(), message, "{status:?}");
}

fn challenge(status: &Status) -> String {
    status
        .metadata()
        .get("www-authenticate")
        .expect("a www-authenticate challenge in the metadata")
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn no_token_is_unauthenticated_with_a_challenge() {
    let server = start().await;
    let status = server.call(SAY_HELLO, None).await.unwrap_err();
    assert_status(&status, Code::Unauthenticated, "a bearer token is required");
    assert_eq!(challenge(&status), format!(r#"Bearer realm="{REALM}""#));
}

#[tokio::test]
async fn an_invalid_token_is_unauthenticated() {
    let server = start().await;
    let status = server
        .call(SAY_HELLO, Some("not.a.token"))
        .await
        .unwrap_err();
    assert_status(&status, Code::Unauthenticated, "malformed token");
    assert_eq!(
        challenge(&status),
        format!(
            r#"Bearer realm="{REALM}", error="invalid_token", error_description="malformed token""#
        )
    );
}

#[tokio::test]
async fn an_expired_token_is_unauthenticated() {
    let server = start().await;
    let pair = Sessions::new(server.issuer.clone())
        .start_with_scope("alice", "read")
        .await
        .unwrap();
    assert!(
        server
            .call(SAY_HELLO, Some(pair.access_token()))
            .await
            .is_ok()
    );

    // Past the 15-minute access-token lifetime, on the issuer's clock.
    server.clock.advance(Duration::from_secs(15 * 60 + 1));
    let status = server
        .call(SAY_HELLO, Some(pair.access_token()))
        .await
        .unwrap_err();
    assert_status(&status, Code::Unauthenticated, "token expired");
    assert_eq!(
        challenge(&status),
        format!(
            r#"Bearer realm="{REALM}", error="invalid_token", error_description="token expired""#
        )
    );
}

#[tokio::test]
async fn a_valid_token_reaches_the_handler_with_its_claims() {
    let server = start().await;
    let pair = Sessions::new(server.issuer.clone())
        .start_with_scope("alice", "read")
        .await
        .unwrap();
    let reply = server
        .call(SAY_HELLO, Some(pair.access_token()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.message, "hello, Bob");
    assert_eq!(reply.subject, "alice");
}

#[tokio::test]
async fn a_missing_scope_is_permission_denied() {
    let server = start().await;
    let reader = Sessions::new(server.issuer.clone())
        .start_with_scope("alice", "read")
        .await
        .unwrap();
    let status = server
        .call(SAY_HELLO_ADMIN, Some(reader.access_token()))
        .await
        .unwrap_err();
    assert_status(
        &status,
        Code::PermissionDenied,
        "the token lacks a required scope",
    );
    assert_eq!(
        challenge(&status),
        format!(
            r#"Bearer realm="{REALM}", error="insufficient_scope", error_description="the token lacks a required scope", scope="admin""#
        )
    );

    // The scope gates this method only, and a token with it passes.
    assert!(
        server
            .call(SAY_HELLO, Some(reader.access_token()))
            .await
            .is_ok()
    );
    let admin = Sessions::new(server.issuer.clone())
        .start_with_scope("root", "read admin")
        .await
        .unwrap();
    let reply = server
        .call(SAY_HELLO_ADMIN, Some(admin.access_token()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.message, "hello, Bob, admin");
    assert_eq!(reply.subject, "root");
}

#[tokio::test]
async fn the_scoped_method_still_needs_a_token() {
    let server = start().await;
    let status = server.call(SAY_HELLO_ADMIN, None).await.unwrap_err();
    assert_status(&status, Code::Unauthenticated, "a bearer token is required");
    assert_eq!(challenge(&status), format!(r#"Bearer realm="{REALM}""#));
}
