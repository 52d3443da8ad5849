// The quickstart's demo page, with the cookie transport: the access and refresh tokens are in
// HttpOnly cookies set by the server; the page only ever handles the session's CSRF value,
// which it reads from the csrf_token cookie and sends back in the X-CSRF-Token header on
// every request that changes state.
"use strict";

const API = "/browser";
let refreshes = 0;
let refreshTimer = null;
let countdownTimer = null;
let expiresAt = 0;

const $ = (id) => document.getElementById(id);

function csrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === "csrf_token" || name === "__Host-csrf_token") {
      return value.join("=");
    }
  }
  return "";
}

async function call(method, path, body) {
  const headers = {};
  if (method !== "GET") {
    headers["X-CSRF-Token"] = csrfToken();
  }
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
  }
  const response = await fetch(API + path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let json = null;
  if (response.status !== 204) {
    json = await response.json().catch(() => null);
  }
  return { status: response.status, json };
}

function showError(json) {
  $("error").textContent = json && json.error_description ? json.error_description : "";
}

function signedOut() {
  clearTimeout(refreshTimer);
  clearInterval(countdownTimer);
  document.body.className = "out";
  $("status").textContent = "signed out";
  $("signed-in").classList.add("hidden");
  $("signed-out").classList.remove("hidden");
  $("expires").textContent = "–";
  $("me").textContent = "";
  $("sessions").replaceChildren();
}

function signedIn(me) {
  document.body.className = "in";
  $("status").textContent = "signed in as " + (me.preferred_username || me.sub);
  $("me").textContent = JSON.stringify(me, null, 2);
  $("signed-out").classList.add("hidden");
  $("signed-in").classList.remove("hidden");
}

// Refreshes a little before the access token expires: at two thirds of its lifetime, at
// most a minute early.
function schedule(expiresIn) {
  clearTimeout(refreshTimer);
  clearInterval(countdownTimer);
  expiresAt = Date.now() + expiresIn * 1000;
  const early = Math.min(60, expiresIn / 3);
  refreshTimer = setTimeout(refresh, Math.max(0.5, expiresIn - early) * 1000);
  const tick = () => {
    const left = Math.max(0, Math.round((expiresAt - Date.now()) / 1000));
    $("expires").textContent = left + " s";
  };
  tick();
  countdownTimer = setInterval(tick, 250);
}

// One refresh at a time: a refresh token is single-use, and a second request with the same
// one would be taken for a stolen token being replayed (the session would end).
let refreshing = null;

function refresh() {
  if (!refreshing) {
    refreshing = refreshOnce().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

async function refreshOnce() {
  const { status, json } = await call("POST", "/auth/refresh");
  if (status !== 200) {
    showError(json);
    signedOut();
    return false;
  }
  refreshes += 1;
  $("refreshes").textContent = String(refreshes);
  schedule(json.expires_in);
  await me();
  return true;
}

async function me() {
  const { status, json } = await call("GET", "/me");
  if (status === 200) {
    signedIn(json);
    await sessions();
    return true;
  }
  return false;
}

// The user's live sessions: where they are signed in, this one marked, each other one with a
// button that ends it. Built with text nodes only: a label is whatever a User-Agent said.
async function sessions() {
  const { status, json } = await call("GET", "/auth/sessions");
  if (status !== 200) {
    return;
  }
  const items = json.sessions.map((session) => {
    const item = document.createElement("li");
    item.dataset.id = session.id;
    const started = new Date(session.started_ms).toLocaleString();
    item.append((session.label || "unnamed device") + ", since " + started);
    if (session.current) {
      const mark = document.createElement("span");
      mark.className = "current";
      mark.textContent = " (this browser)";
      item.append(mark);
    } else {
      const end = document.createElement("button");
      end.type = "button";
      end.className = "secondary end-session";
      end.textContent = "End";
      end.addEventListener("click", () => endSession(session.id));
      item.append(end);
    }
    return item;
  });
  $("sessions").replaceChildren(...items);
}

async function endSession(id) {
  const { status, json } = await call("DELETE", "/auth/sessions/" + encodeURIComponent(id));
  if (status === 204 || status === 404) {
    showError(null);
    await sessions();
  } else if (status === 401 && (await refresh())) {
    await endSession(id);
  } else {
    showError(json);
  }
}

// On load, and after a reload: the cookies, not the page, hold the session.
async function start() {
  if (!csrfToken()) {
    signedOut();
    return;
  }
  if (!(await me()) && !(await refresh())) {
    return;
  }
  // The access token's remaining lifetime is unknown after a reload: refresh now to learn it.
  if (expiresAt === 0) {
    await refresh();
  }
}

$("credentials").addEventListener("submit", async (event) => {
  event.preventDefault();
  const action = event.submitter ? event.submitter.dataset.action : "login";
  const body = { username: $("username").value, password: $("password").value };
  const { status, json } = await call("POST", "/" + action, body);
  if (status !== 200 && status !== 201) {
    showError(json);
    return;
  }
  showError(null);
  schedule(json.expires_in);
  await me();
});

$("check").addEventListener("click", async () => {
  if (!(await me())) {
    await refresh();
  }
});

for (const [id, path] of [["logout", "/auth/logout"], ["logout-all", "/auth/logout-all"]]) {
  $(id).addEventListener("click", async () => {
    const { status, json } = await call("POST", path);
    if (status === 204) {
      showError(null);
      signedOut();
    } else if (status === 401 && (await refresh())) {
      $(id).click();
    } else {
      showError(json);
    }
  });
}

start();
