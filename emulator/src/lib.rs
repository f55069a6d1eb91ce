//! An emulated Cloudreve v4 server on 127.0.0.1, stateful and faithful to `cloudreve-api.md`,
//! for cloudreve-autoselect's integration tests, benches and `demo` command.
//!
//! It serves the routes the daemon uses (ping, sign-in, refresh, task list, select-files PATCH,
//! cancel) with Cloudreve's exact codes and messages, keeps a log of every request, and can
//! inject faults (HTTP 500 with an empty body, an error `code`, a delay, an oversized body, any
//! body, and list answers that are incomplete or hold one malformed task).
//! The list shows a snapshot that changes only on a simulated downloader poll, as the real
//! server's database copy does.
//!
//! A crate of its own, which imports nothing from the daemon: the daemon pulls it in only
//! through its `demo` feature (and as a dev-dependency), so a build without `demo` carries
//! none of it. Its examples serve it as a process for the deployment checks in `ci/`.

#![forbid(unsafe_code)]

mod gate;
mod model;
mod oauth;
mod routes;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub use gate::Gate;
use model::Model;
pub use model::{Backend, Caller, EmuFile, EmulatorOptions, TaskSpec, UserStatus};
pub use oauth::OAuthClient;
use routes::{cancel, list, patch, refresh, sign_in};

/// Which requests a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Every request.
    Any,
    /// `GET /site/ping`.
    Ping,
    /// `POST /session/token`.
    SignIn,
    /// `POST /session/token/refresh`.
    Refresh,
    /// `GET /workflow`.
    List,
    /// `PATCH /workflow/download/:id`.
    Patch,
}

/// What an injected fault does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 500 with an empty body, as a Go panic through `gin.Recovery` gives.
    Http500,
    /// HTTP 200 with this error code and message.
    Code {
        /// The envelope's `code`.
        code: i64,
        /// The envelope's `msg`.
        msg: String,
    },
    /// Answer normally, after a delay.
    Delay(Duration),
    /// HTTP 200 with a syntactically valid envelope padded to this many bytes.
    Oversized(usize),
    /// Handle the request normally (a PATCH is applied), then answer after a delay: what a
    /// client whose timeout is shorter sees as a timeout of an applied request.
    ApplyThenDelay(Duration),
    /// HTTP 200 with exactly this body.
    Body(String),
    /// This HTTP status with a proxy's HTML error page (502, 503, 504: what nginx answers when
    /// it cannot reach Cloudreve or waits too long for it).
    Status(u16),
    /// A list answer `{"code":0,"msg":"","data":null}`.
    ListDataNull,
    /// A list answer whose `data.tasks` is `null`.
    ListTasksNull,
    /// The real list answer, except that the first file of this task has a string `index`
    /// (`"1"`), as a newer or broken server might send.
    MalformedFileIndex(String),
    /// A list answer with no tasks and a new `next_token` every time: a list that never ends.
    EndlessCursor,
}

#[derive(Debug, Clone)]
struct FaultRule {
    route: Route,
    fault: Fault,
    remaining: usize,
}

/// One request as the emulator received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Path, e.g. `/api/v4/workflow`.
    pub path: String,
    /// Query string, without `?`.
    pub query: String,
    /// Body as text.
    pub body: String,
    /// What the `Authorization` header identified.
    pub caller: Caller,
    /// Whether an `Authorization` header was present.
    pub had_authorization: bool,
    /// The `X-Cr-Correlation-Id` header, if any.
    pub correlation_id: Option<String>,
    /// The `User-Agent` header, if any.
    pub user_agent: Option<String>,
    /// The fault injected into this request, if any.
    pub fault: Option<Fault>,
    /// When it arrived.
    pub received_at: std::time::Instant,
}

struct Shared {
    model: Mutex<Model>,
    faults: Mutex<VecDeque<FaultRule>>,
    random_faults: Mutex<Option<RandomFaults>>,
    log: Mutex<Vec<RecordedRequest>>,
    holds: Mutex<Vec<(Route, Arc<gate::Hold>)>>,
    oauth: Mutex<oauth::OAuthState>,
}

/// Faults drawn at random, reproducibly (a seeded xorshift generator).
struct RandomFaults {
    route: Route,
    fault: Fault,
    per_mille: u64,
    state: u64,
}

impl RandomFaults {
    fn draw(&mut self, route: Option<Route>) -> Option<Fault> {
        if self.route != Route::Any && Some(self.route) != route {
            return None;
        }
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        (self.state % 1000 < self.per_mille).then(|| self.fault.clone())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running emulated Cloudreve. Stops when dropped.
pub struct Emulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: CancellationToken,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Emulator {
    /// Starts a server on an ephemeral port of 127.0.0.1.
    pub async fn start(options: EmulatorOptions) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let auto_poll = options.auto_poll;
        let shared = Arc::new(Shared {
            model: Mutex::new(Model::new(options)),
            faults: Mutex::new(VecDeque::new()),
            random_faults: Mutex::new(None),
            log: Mutex::new(Vec::new()),
            holds: Mutex::new(Vec::new()),
            oauth: Mutex::new(oauth::OAuthState::default()),
        });
        let stop = CancellationToken::new();
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let stopped = stop.clone();
        tokio::spawn(async move {
            let result = axum::serve(listener, app)
                .with_graceful_shutdown(stopped.cancelled_owned())
                .await;
            if let Err(e) = result {
                tracing::warn!(error = %e, "emulator stopped with an error");
            }
        });
        if let Some(every) = auto_poll {
            let polled = Arc::clone(&shared);
            let stopped = stop.clone();
            tokio::spawn(async move {
                let mut interval = tokio::time::interval(every);
                interval.tick().await;
                loop {
                    tokio::select! {
                        () = stopped.cancelled() => break,
                        _ = interval.tick() => lock(&polled.model).poll(),
                    }
                }
            });
        }
        Ok(Self { addr, shared, stop })
    }

    /// The site's base URL, e.g. `http://127.0.0.1:40123/` (the client appends `api/v4/`).
    pub fn base_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Adds a task; returns its id. Its list snapshot is current at once.
    pub fn add_task(&self, spec: TaskSpec) -> String {
        lock(&self.shared.model).add_task(spec)
    }

    /// One simulated downloader poll: list snapshots catch up with the live state, a
    /// qBittorrent task with no selected file fails, cancelled tasks end.
    pub fn poll(&self) {
        lock(&self.shared.model).poll();
    }

    /// How many polls have happened.
    pub fn polls(&self) -> u64 {
        lock(&self.shared.model).polls
    }

    /// The torrent's metadata arrives: the real file list appears (after the next poll).
    pub fn metadata_arrives(&self, id: &str) {
        if let Some(task) = lock(&self.shared.model).task_mut(id) {
            task.spec.metadata_ready = true;
        }
    }

    /// Moves a task to another status and phase (takes effect in the list after the next poll).
    pub fn set_state(&self, id: &str, status: &str, phase: Option<&str>) {
        if let Some(task) = lock(&self.shared.model).task_mut(id) {
            status.clone_into(&mut task.spec.status);
            task.spec.phase = phase.map(str::to_owned);
            task.in_registry = matches!(status, "queued" | "processing" | "suspending");
        }
    }

    /// The task finishes and leaves the downloading list (after the next poll).
    pub fn finish(&self, id: &str) {
        self.set_state(id, "completed", Some("seeding"));
    }

    /// The user changes a file's selection by hand in the web UI.
    pub fn user_select(&self, id: &str, index: u64, download: bool) {
        if let Some(task) = lock(&self.shared.model).task_mut(id) {
            for file in task.files.iter_mut().filter(|f| f.index == index) {
                file.selected = download;
            }
        }
    }

    /// The live files of a task (what the downloader has now, not the lagging list).
    pub fn files(&self, id: &str) -> Vec<EmuFile> {
        lock(&self.shared.model)
            .task_mut(id)
            .map(|t| t.files.clone())
            .unwrap_or_default()
    }

    /// A task's status and error message, as the next list snapshot will show it.
    pub fn status(&self, id: &str) -> Option<(String, Option<String>)> {
        lock(&self.shared.model)
            .task_mut(id)
            .map(|t| (t.spec.status.clone(), t.error.clone()))
    }

    /// Every access token expires now.
    pub fn expire_access_tokens(&self) {
        lock(&self.shared.model).expire_access_tokens();
    }

    /// A refresh token as a browser holds it after signing in to the web UI.
    pub fn browser_refresh_token(&self) -> String {
        let pair = lock(&self.shared.model).token_pair(None);
        pair["refresh_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// One token stops working (as if it expired).
    pub fn expire_token(&self, token: &str) {
        lock(&self.shared.model).expire_token(token);
    }

    /// Every refresh token is revoked (as a password change or sign-out does).
    pub fn revoke_refresh_tokens(&self) {
        lock(&self.shared.model).revoke_refresh_tokens();
    }

    /// Changes the account (e.g. ban it, or turn on two-factor sign-in).
    pub fn update_options(&self, update: impl FnOnce(&mut EmulatorOptions)) {
        update(&mut lock(&self.shared.model).options);
    }

    /// The next `times` requests matching `route` get `fault`.
    pub fn inject(&self, route: Route, fault: Fault, times: usize) {
        lock(&self.shared.faults).push_back(FaultRule {
            route,
            fault,
            remaining: times,
        });
    }

    /// The next request matching `route` is logged, then held unanswered until the returned
    /// gate is released or dropped.
    pub fn hold(&self, route: Route) -> Gate {
        let hold = Arc::new(gate::Hold::default());
        lock(&self.shared.holds).push((route, Arc::clone(&hold)));
        Gate::new(hold)
    }

    /// Every token issued so far (for tests that prove no token reaches a log).
    pub fn issued_tokens(&self) -> Vec<String> {
        lock(&self.shared.model).tokens.keys().cloned().collect()
    }

    /// From now on, each request matching `route` gets `fault` with probability
    /// `per_mille`/1000, drawn reproducibly from `seed`.
    pub fn inject_randomly(&self, route: Route, fault: Fault, per_mille: u64, seed: u64) {
        *lock(&self.shared.random_faults) = Some(RandomFaults {
            route,
            fault,
            per_mille,
            state: seed.max(1),
        });
    }

    /// Stops random faults.
    pub fn stop_random_faults(&self) {
        *lock(&self.shared.random_faults) = None;
    }

    /// How many select-files requests asked to deselect every file of a task.
    pub fn all_deselected_attempts(&self) -> u64 {
        lock(&self.shared.model).all_deselected_attempts
    }

    /// The body `GET /workflow?category=downloading` would answer now (for benchmarks).
    pub fn list_body(&self) -> String {
        let data = lock(&self.shared.model).list_downloading_json();
        format!("{{\"code\":0,\"data\":{data},\"msg\":\"\"}}")
    }

    /// Ids of every task, in creation order.
    pub fn task_ids(&self) -> Vec<String> {
        lock(&self.shared.model)
            .tasks
            .iter()
            .map(|t| t.id.clone())
            .collect()
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.log).clone()
    }

    /// Forgets the request log.
    pub fn clear_requests(&self) {
        lock(&self.shared.log).clear();
    }

    /// The PATCH requests received so far: (task id, body JSON).
    pub fn patches(&self) -> Vec<(String, Value)> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "PATCH")
            .map(|r| {
                let id = r.path.rsplit('/').next().unwrap_or_default().to_owned();
                (id, serde_json::from_str(&r.body).unwrap_or(Value::Null))
            })
            .collect()
    }
}

fn route_of(method: &Method, path: &str) -> Option<Route> {
    match (method.as_str(), path) {
        ("GET", "/api/v4/site/ping") => Some(Route::Ping),
        ("POST", "/api/v4/session/token") => Some(Route::SignIn),
        ("POST", "/api/v4/session/token/refresh") => Some(Route::Refresh),
        ("GET", "/api/v4/workflow") => Some(Route::List),
        ("PATCH", p) if p.starts_with("/api/v4/workflow/download/") => Some(Route::Patch),
        _ => None,
    }
}

fn take_fault(shared: &Shared, route: Option<Route>) -> Option<Fault> {
    if let Some(fault) = lock(&shared.random_faults)
        .as_mut()
        .and_then(|random| random.draw(route))
    {
        return Some(fault);
    }
    let mut faults = lock(&shared.faults);
    let position = faults
        .iter()
        .position(|f| f.route == Route::Any || Some(f.route) == route)?;
    let rule = faults.get_mut(position)?;
    let fault = rule.fault.clone();
    rule.remaining = rule.remaining.saturating_sub(1);
    if rule.remaining == 0 {
        faults.remove(position);
    }
    Some(fault)
}

fn take_hold(shared: &Shared, route: Option<Route>) -> Option<Arc<gate::Hold>> {
    let mut holds = lock(&shared.holds);
    let position = holds
        .iter()
        .position(|(held, _)| *held == Route::Any || Some(*held) == route)?;
    Some(holds.remove(position).1)
}

fn respond(status: StatusCode, content_type: &str, body: impl Into<Body>) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, "private, no-cache")
        .body(body.into())
        .unwrap_or_default()
}

fn envelope(value: &Value) -> Response {
    respond(
        StatusCode::OK,
        "application/json; charset=utf-8",
        value.to_string(),
    )
}

fn ok(data: Option<Value>) -> Response {
    match data {
        Some(data) => envelope(&json!({"code": 0, "data": data, "msg": ""})),
        None => envelope(&json!({"code": 0, "msg": ""})),
    }
}

fn err(code: i64, msg: &str, correlation_id: &str) -> Response {
    envelope(&json!({"code": code, "msg": msg, "correlation_id": correlation_id}))
}

/// Parameter-binding errors carry no correlation id.
fn param_err(msg: &str) -> Response {
    envelope(&json!({"code": 40001, "msg": msg}))
}

fn not_found_text() -> Response {
    respond(StatusCode::NOT_FOUND, "text/plain", "404 page not found")
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let prefix = lock(&shared.model).options.path_prefix.clone();
    let Some(path) = uri.path().strip_prefix(prefix.trim_end_matches('/')) else {
        return not_found_text();
    };
    let path = path.to_owned();
    let header_text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let authorization = header_text("authorization");
    let sent_correlation = header_text("x-cr-correlation-id");
    let correlation_id = sent_correlation
        .as_deref()
        .and_then(|c| uuid::Uuid::parse_str(c).ok())
        .unwrap_or_else(uuid::Uuid::new_v4)
        .to_string();
    let caller = lock(&shared.model).caller(authorization.as_deref());
    let route = route_of(&method, &path);
    let fault = if path.starts_with("/api/v4/") {
        take_fault(&shared, route)
    } else {
        None
    };
    lock(&shared.log).push(RecordedRequest {
        method: method.to_string(),
        path: path.clone(),
        query: uri.query().unwrap_or("").to_owned(),
        body: String::from_utf8_lossy(&body).into_owned(),
        caller,
        had_authorization: authorization.is_some(),
        correlation_id: sent_correlation,
        user_agent: header_text("user-agent"),
        fault: fault.clone(),
        received_at: std::time::Instant::now(),
    });
    // A fault that lets the request through is answered after the route, below.
    let apply_then_delay = match &fault {
        Some(Fault::ApplyThenDelay(delay)) => Some(*delay),
        _ => None,
    };
    match fault
        .filter(|f| !matches!(f, Fault::ApplyThenDelay(_)))
        .map(|fault| answer_with(&shared, fault, &correlation_id))
    {
        Some(Err(delay)) => tokio::time::sleep(delay).await,
        Some(Ok(response)) => return response,
        None => {}
    }
    if let Some(hold) = take_hold(&shared, route) {
        hold.wait().await;
    }
    if !path.starts_with("/api/v4/") {
        return oauth::page(&shared, &path, uri.query().unwrap_or(""))
            .unwrap_or_else(not_found_text);
    }
    // CurrentUser middleware: a refresh token used as an access token fails every route.
    if caller == Caller::RefreshAsAccess {
        return err(40020, "Invalid token type", &correlation_id);
    }
    if let Some(response) = oauth::api(&shared, method.as_str(), &path, &body, &correlation_id) {
        return response;
    }
    if let Some(response) = route
        .and_then(|route| oauth::enforce(&shared, route, authorization.as_deref(), &correlation_id))
    {
        return response;
    }
    let Some(route) = route else {
        return if method == Method::DELETE && path.starts_with("/api/v4/workflow/download/") {
            cancel(&shared, caller, &path, &correlation_id)
        } else {
            not_found_text()
        };
    };
    let response = match route {
        Route::Ping => ok(Some(json!(oauth::version(&shared)))),
        Route::SignIn => sign_in(&shared, &body, &correlation_id),
        Route::Refresh => refresh(&shared, &body, &correlation_id),
        Route::List => list(&shared, caller, uri.query().unwrap_or(""), &correlation_id),
        Route::Patch => patch(&shared, caller, &path, &body, &correlation_id),
        Route::Any => not_found_text(),
    };
    if let Some(delay) = apply_then_delay {
        tokio::time::sleep(delay).await;
    }
    response
}

/// The answer of a fault that replaces the whole answer, or the delay of one that only delays it.
fn answer_with(shared: &Shared, fault: Fault, correlation_id: &str) -> Result<Response, Duration> {
    Ok(match fault {
        Fault::Delay(delay) => return Err(delay),
        // Answered by the route itself, then delayed: nothing to answer in its place.
        Fault::ApplyThenDelay(_) => return Err(Duration::ZERO),
        Fault::Http500 => respond(StatusCode::INTERNAL_SERVER_ERROR, "text/plain", ""),
        Fault::Code { code, msg } => err(code, &msg, correlation_id),
        Fault::Oversized(size) => envelope(
            &json!({"code": 0, "msg": "", "data": {"tasks": [], "padding": "x".repeat(size)}}),
        ),
        Fault::Body(body) => respond(StatusCode::OK, "application/json; charset=utf-8", body),
        Fault::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
            let page = format!(
                "<html><head><title>{status}</title></head><body><center><h1>{status}</h1></center><hr><center>nginx</center></body></html>"
            );
            respond(status, "text/html", page)
        }
        Fault::ListDataNull => envelope(&json!({"code": 0, "msg": "", "data": null})),
        Fault::ListTasksNull => ok(Some(json!({
            "tasks": null, "pagination": {"page": 0, "page_size": 32765, "is_cursor": true}
        }))),
        Fault::MalformedFileIndex(id) => {
            let mut data = lock(&shared.model).list_downloading();
            if let Some(tasks) = data["tasks"].as_array_mut() {
                for task in tasks.iter_mut().filter(|t| t["id"] == id.as_str()) {
                    let file = &mut task["summary"]["props"]["download"]["files"][0];
                    if let Some(index) = file.get("index").map(Value::to_string) {
                        file["index"] = json!(index);
                    }
                }
            }
            ok(Some(data))
        }
        Fault::EndlessCursor => {
            let token = uuid::Uuid::new_v4().to_string();
            ok(Some(json!({
                "tasks": [],
                "pagination": {"page": 0, "page_size": 10, "is_cursor": true, "next_token": token}
            })))
        }
    })
}
