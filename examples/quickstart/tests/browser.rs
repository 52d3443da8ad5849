//! The quickstart's demo page in a real browser: Debian's `chromium`, driven through
//! `chromedriver` (WebDriver), against the quickstart on 127.0.0.1 with a three-second access
//! lifetime.
//!
//! Run with `cargo test -p quickstart --features browser-test --test browser` (CI runs it as part of
//! `cargo test --all-features`). Without `/usr/bin/chromium` and `/usr/bin/chromedriver` the
//! test fails, saying how to install them: `apt-get install chromium chromium-driver`.
//!
//! The browser's clock is the real one, so this test waits in real time — a few seconds,
//! past two access lifetimes — for the page to refresh its tokens. It saves a screenshot of
//! the signed-in page to `target/browser-demo.png`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    net::TcpListener as StdListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use fantoccini::{Client, ClientBuilder, Locator, wd::WebDriverCompatibleCommand};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use tokio::net::TcpListener;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const PASSWORD: &str = "correct horse battery";
/// The access lifetime of the server under test: the page refreshes every two seconds.
const ACCESS_TTL: Duration = Duration::from_secs(3);
/// How long any one expected change of the page may take.
const PATIENCE: Duration = Duration::from_secs(20);

/// A child process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "tower-jwt-auth-browser-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts chromedriver on a free port and waits until it listens.
fn chromedriver() -> (Killed, String) {
    for binary in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            Path::new(binary).exists(),
            "{binary} is missing: the browser test needs Debian's chromium and chromium-driver \
             (apt-get install -y --no-install-recommends chromium chromium-driver)"
        );
    }
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot start chromedriver");
    let child = Killed(child);
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < PATIENCE,
            "chromedriver did not listen on port {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, format!("http://127.0.0.1:{port}"))
}

/// A browser with a fresh profile of its own (a separate browser context).
async fn browser(driver: &str, profile: &TempDir) -> Client {
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=900,900",
        &format!("--user-data-dir={}", profile.0.display()),
    ];
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
    });
    let serde_json::Value::Object(capabilities) = capabilities else {
        unreachable!()
    };
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(driver)
        .await
        .expect("chromedriver could not start chromium")
}

async fn text(client: &Client, id: &str) -> String {
    match client.find(Locator::Id(id)).await {
        Ok(element) => element.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Waits until the text of element `id` satisfies `ok`; fails with the last text seen.
async fn wait_for(client: &Client, id: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let started = Instant::now();
    loop {
        let seen = text(client, id).await;
        if ok(&seen) {
            return seen;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "#{id} never became {what}; last seen {seen:?} (error: {:?})",
            text(client, "error").await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn signed_in(client: &Client, user: &str) {
    let expected = format!("signed in as {user}");
    wait_for(client, "status", &expected, |t| t == expected).await;
}

async fn signed_out(client: &Client) {
    wait_for(client, "status", "signed out", |t| t == "signed out").await;
}

async fn submit(client: &Client, base: &str, user: &str, button: &str) {
    client.goto(&format!("{base}/")).await.unwrap();
    signed_out(client).await;
    client
        .find(Locator::Id("username"))
        .await
        .unwrap()
        .send_keys(user)
        .await
        .unwrap();
    client
        .find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    click(client, button).await;
    signed_in(client, user).await;
}

async fn click(client: &Client, id: &str) {
    client
        .find(Locator::Id(id))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn document_cookie(client: &Client) -> String {
    client
        .execute("return document.cookie;", vec![])
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

/// Every cookie the browser holds, `HttpOnly` ones and those of other paths included, as the
/// DevTools protocol lists them (`Storage.getCookies`, through chromedriver).
#[derive(Debug)]
struct AllCookies;

impl WebDriverCompatibleCommand for AllCookies {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({ "cmd": "Storage.getCookies", "params": {} });
        (http::Method::POST, Some(body.to_string()))
    }
}

/// The browser's cookie `name`, as the DevTools protocol describes it.
async fn browser_cookie(client: &Client, name: &str) -> serde_json::Value {
    let all = client.issue_cmd(AllCookies).await.unwrap();
    all["cookies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no cookie {name} in {all}"))
}

fn screenshot_path() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target"),
        PathBuf::from,
    );
    target.join("browser-demo.png")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_page_in_chromium() {
    let (_driver, driver_url) = chromedriver();

    let config = quickstart::Config {
        access_ttl: ACCESS_TTL,
        ..quickstart::Config::default()
    };
    let app = quickstart::app(&config).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(quickstart::serve(listener, app, std::future::pending()));

    let user = format!("browser{}", std::process::id());
    let profile_a = TempDir::new("a");
    let a = browser(&driver_url, &profile_a).await;

    // Signup, then a reload: the session survives in the cookies.
    submit(&a, &base, &user, "signup").await;
    wait_for(&a, "me", "the /me answer", |t| t.contains(&user)).await;
    a.refresh().await.unwrap();
    signed_in(&a, &user).await;

    // Past two access lifetimes the page is still signed in: it refreshed on its own.
    tokio::time::sleep(ACCESS_TTL * 2 + Duration::from_secs(1)).await;
    let refreshes = wait_for(&a, "refreshes", "at least 2", |t| {
        t.parse::<u32>().is_ok_and(|n| n >= 2)
    })
    .await;
    signed_in(&a, &user).await;
    click(&a, "check").await;
    wait_for(&a, "me", "the /me answer", |t| t.contains(&user)).await;
    signed_in(&a, &user).await;

    // Scripts see the CSRF value, never a token; the browser holds the tokens all the same.
    let visible = document_cookie(&a).await;
    assert!(visible.contains("csrf_token="), "{visible}");
    assert!(!visible.contains("access_token"), "{visible}");
    assert!(!visible.contains("refresh_token"), "{visible}");
    let access = browser_cookie(&a, "access_token").await;
    assert_eq!(access["httpOnly"], true);
    assert_eq!(access["path"], "/");
    let refresh = browser_cookie(&a, "refresh_token").await;
    assert_eq!(refresh["httpOnly"], true);
    assert_eq!(refresh["sameSite"], "Strict");
    assert_eq!(refresh["path"], "/browser/auth/refresh");
    let csrf = browser_cookie(&a, "csrf_token").await;
    assert_eq!(csrf["httpOnly"], false);
    assert!(visible.contains(&format!("csrf_token={}", csrf["value"].as_str().unwrap())));
    // A request without the CSRF header is refused, though the browser sends the cookie.
    let forged = a
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch('/browser/auth/logout', { method: 'POST' }).then(r => done(r.status));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(forged, json!(403));
    signed_in(&a, &user).await;

    let png = a.screenshot().await.unwrap();
    let path = screenshot_path();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, png).unwrap();
    eprintln!(
        "screenshot of the signed-in page ({refreshes} refreshes): {}",
        path.display()
    );

    // Logout: signed out, and still after a reload.
    click(&a, "logout").await;
    signed_out(&a).await;
    a.refresh().await.unwrap();
    signed_out(&a).await;

    // Two browser contexts; logging out everywhere from one ends the other.
    let profile_b = TempDir::new("b");
    let b = browser(&driver_url, &profile_b).await;
    submit(&a, &base, &user, "login").await;
    submit(&b, &base, &user, "login").await;
    click(&a, "logout-all").await;
    signed_out(&a).await;
    click(&b, "check").await;
    signed_out(&b).await;
    b.refresh().await.unwrap();
    signed_out(&b).await;

    a.close().await.unwrap();
    b.close().await.unwrap();
}
