//! The emulated OAuth side of Cloudreve 4.12 to 4.18: the admin's client registry, the authorize
//! page (the emulator's user is signed in and consents; a test plays the browser), the code
//! exchange with its errors, scope enforcement on the workflow routes (40089, from 4.16.1), the
//! version `GET /site/ping` answers, and revocation (`DELETE /session/token`, a removed grant, a
//! disabled client).
//!
//! Facts kept: every client is confidential (the exchange needs the secret); redirect URIs
//! match exactly; the scopes must include `openid`; PKCE is S256; a code lives 10 minutes and
//! is single-use even when its exchange fails; the token answer is plain RFC 6749 JSON, its
//! errors HTTP 400 `{error, error_description, error_codes, correlation_id}`, a malformed form
//! the usual envelope with 40001; `refresh_token` only with `offline_access`; a `.Write` scope
//! implies its `.Read`.

use std::collections::HashMap;
use std::time::Duration;

use axum::http::{StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use super::{Emulator, Route, Shared, err, lock, param_err, respond};

/// A client as the admin registered it.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    /// The generated UUID.
    pub id: String,
    /// The 32-character secret.
    pub secret: String,
    /// Redirect URIs, matched exactly.
    pub redirect_uris: Vec<String>,
    /// The scopes the client may be granted.
    pub scopes: Vec<String>,
    /// The refresh-token lifetime (the form's default is 90 days).
    pub refresh_ttl: Duration,
    /// Disabled by the admin: no authorize, no exchange, no refresh.
    pub disabled: bool,
}

struct CodeRecord {
    client_id: String,
    redirect_uri: String,
    scopes: Vec<String>,
    challenge: String,
    issued: DateTime<Utc>,
}

/// The OAuth state of the emulated site.
pub(super) struct OAuthState {
    /// What `GET /site/ping` answers.
    pub(super) version: String,
    clients: Vec<OAuthClient>,
    codes: HashMap<String, CodeRecord>,
    /// Token families issued through OAuth: their client and granted scopes.
    families: HashMap<u64, (String, Vec<String>)>,
    /// When set, the user grants only these of the scopes asked for.
    grant_only: Option<Vec<String>>,
}

impl Default for OAuthState {
    fn default() -> Self {
        Self {
            version: "4.18.0".to_owned(),
            clients: Vec::new(),
            codes: HashMap::new(),
            families: HashMap::new(),
            grant_only: None,
        }
    }
}

const CODE_LIFETIME_SECS: i64 = 600;

fn version_at_least(version: &str, wanted: (u32, u32, u32)) -> bool {
    let core = version.split('-').next().unwrap_or_default();
    let mut parts = core.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let v = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    v >= wanted
}

fn s256(verifier: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    data_encoding::BASE64URL_NOPAD.encode(digest.as_ref())
}

/// Whether `granted` covers `needed`: a `.Write` scope implies its `.Read`.
fn covers(granted: &[String], needed: &str) -> bool {
    granted.iter().any(|g| {
        g == needed
            || needed
                .strip_suffix(".Read")
                .is_some_and(|base| g.strip_suffix(".Write") == Some(base))
    })
}

fn oauth_error(
    status: StatusCode,
    error: &str,
    description: &str,
    correlation_id: &str,
) -> Response {
    respond(
        status,
        "application/json; charset=utf-8",
        json!({
            "error": error,
            "error_description": description,
            "error_codes": [],
            "correlation_id": correlation_id,
        })
        .to_string(),
    )
}

fn redirect(location: &str) -> Response {
    Response::builder()
        .status(StatusCode::FOUND)
        .header(header::LOCATION, location)
        .body(axum::body::Body::empty())
        .unwrap_or_default()
}

fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let Ok(mut url) = url::Url::parse(uri) else {
        return uri.to_owned();
    };
    {
        let mut query = url.query_pairs_mut();
        for (key, value) in pairs {
            query.append_pair(key, value);
        }
    }
    url.to_string()
}

/// The web app's pages this module answers (outside `/api/v4/`): `GET /session/authorize`.
pub(super) fn page(shared: &Shared, path: &str, query: &str) -> Option<Response> {
    if path != "/session/authorize" {
        return None;
    }
    let params: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let param = |name: &str| params.get(name).map_or("", String::as_str);
    let mut oauth = lock(&shared.oauth);
    if !version_at_least(&oauth.version, (4, 12, 0)) {
        return None;
    }
    let Some(client) = oauth
        .clients
        .iter()
        .find(|c| c.id == param("client_id") && !c.disabled)
        .cloned()
    else {
        return Some(respond(
            StatusCode::BAD_REQUEST,
            "text/plain",
            "unknown or disabled client",
        ));
    };
    let redirect_uri = param("redirect_uri");
    // An unregistered redirect URI is never redirected to.
    if !client.redirect_uris.iter().any(|u| u == redirect_uri) {
        return Some(respond(
            StatusCode::BAD_REQUEST,
            "text/plain",
            "redirect_uri mismatch",
        ));
    }
    let state = param("state");
    let fail = |error: &str| {
        Some(redirect(&with_query(
            redirect_uri,
            &[("error", error), ("state", state)],
        )))
    };
    if param("response_type") != "code" {
        return fail("unsupported_response_type");
    }
    let asked: Vec<String> = param("scope")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if !asked.iter().any(|s| s == "openid") || asked.iter().any(|s| !client.scopes.contains(s)) {
        return fail("invalid_scope");
    }
    if param("code_challenge_method") != "S256" || param("code_challenge").is_empty() {
        return fail("invalid_request");
    }
    let scopes = match &oauth.grant_only {
        Some(only) => asked.into_iter().filter(|s| only.contains(s)).collect(),
        None => asked,
    };
    let code = uuid::Uuid::new_v4().simple().to_string();
    oauth.codes.insert(
        code.clone(),
        CodeRecord {
            client_id: client.id,
            redirect_uri: redirect_uri.to_owned(),
            scopes,
            challenge: param("code_challenge").to_owned(),
            issued: Utc::now(),
        },
    );
    Some(redirect(&with_query(
        redirect_uri,
        &[("code", &code), ("state", state)],
    )))
}

/// The API routes this module answers: the exchange and the revocation.
pub(super) fn api(
    shared: &Shared,
    method: &str,
    path: &str,
    body: &[u8],
    correlation_id: &str,
) -> Option<Response> {
    match (method, path) {
        ("POST", "/api/v4/session/oauth/token") => Some(exchange(shared, body, correlation_id)),
        ("DELETE", "/api/v4/session/token") => Some(sign_out(shared, body)),
        _ => None,
    }
}

fn exchange(shared: &Shared, body: &[u8], correlation_id: &str) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let field = |name: &str| form.get(name).map_or("", String::as_str);
    if ["client_id", "client_secret", "grant_type", "code"]
        .iter()
        .any(|name| field(name).is_empty())
    {
        return param_err("Parameter error");
    }
    let bad = |error: &str, description: &str| {
        oauth_error(StatusCode::BAD_REQUEST, error, description, correlation_id)
    };
    if field("grant_type") != "authorization_code" {
        return bad("unsupported_grant_type", "grant type not supported");
    }
    let mut oauth = lock(&shared.oauth);
    let client_ok = oauth
        .clients
        .iter()
        .any(|c| c.id == field("client_id") && c.secret == field("client_secret") && !c.disabled);
    if !client_ok {
        return bad("invalid_client", "client authentication failed");
    }
    // Single-use: taken now, whatever the outcome.
    let Some(record) = oauth.codes.remove(field("code")) else {
        return bad("invalid_grant", "invalid or used authorization code");
    };
    if Utc::now() - record.issued > TimeDelta::seconds(CODE_LIFETIME_SECS) {
        return bad("invalid_grant", "authorization code expired");
    }
    if record.client_id != field("client_id") {
        return bad("invalid_grant", "code issued to another client");
    }
    if !field("redirect_uri").is_empty() && field("redirect_uri") != record.redirect_uri {
        return bad("invalid_grant", "redirect_uri mismatch");
    }
    if s256(field("code_verifier")) != record.challenge {
        return bad("invalid_grant", "PKCE verification failed");
    }
    let refresh_ttl = oauth
        .clients
        .iter()
        .find(|c| c.id == record.client_id)
        .map_or(Duration::from_secs(90 * 86_400), |c| c.refresh_ttl);
    let mut model = lock(&shared.model);
    let saved_ttl = model.options.refresh_ttl;
    model.options.refresh_ttl = refresh_ttl;
    let pair = model.token_pair(None);
    model.options.refresh_ttl = saved_ttl;
    let family = model.next_family;
    let access_ttl = model.options.access_ttl.as_secs();
    drop(model);
    oauth
        .families
        .insert(family, (record.client_id.clone(), record.scopes.clone()));
    let mut answer = json!({
        "access_token": pair["access_token"],
        "token_type": "Bearer",
        "expires_in": access_ttl,
        "refresh_token_expires_in": refresh_ttl.as_secs(),
        "scope": record.scopes.join(" "),
    });
    if record.scopes.iter().any(|s| s == "offline_access") {
        answer["refresh_token"] = pair["refresh_token"].clone();
    }
    respond(
        StatusCode::OK,
        "application/json; charset=utf-8",
        answer.to_string(),
    )
}

/// `DELETE /session/token`: revokes the refresh token's whole family.
fn sign_out(shared: &Shared, body: &[u8]) -> Response {
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
        return param_err("Parameter error");
    };
    let token = fields
        .get("refresh_token")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut model = lock(&shared.model);
    if let Some(family) = model.tokens.get(token).map(|r| r.family) {
        model.revoked_families.push(family);
    }
    super::ok(Some(json!("")))
}

/// Scope enforcement (4.16.1 and later): an OAuth token on a workflow route needs
/// `Workflow.Read` to list and `Workflow.Write` to change; a session token has every scope.
pub(super) fn enforce(
    shared: &Shared,
    route: Route,
    authorization: Option<&str>,
    correlation_id: &str,
) -> Option<Response> {
    let needed = match route {
        Route::List => "Workflow.Read",
        Route::Patch => "Workflow.Write",
        _ => return None,
    };
    let token = authorization?.strip_prefix("Bearer ")?;
    let family = lock(&shared.model).tokens.get(token)?.family;
    let oauth = lock(&shared.oauth);
    if !version_at_least(&oauth.version, (4, 16, 1)) {
        return None;
    }
    let (_, scopes) = oauth.families.get(&family)?;
    (!covers(scopes, needed)).then(|| err(40089, "Insufficient scope", correlation_id))
}

/// What `GET /site/ping` answers.
pub(super) fn version(shared: &Shared) -> String {
    lock(&shared.oauth).version.clone()
}

impl Emulator {
    /// The admin registers an OAuth client: a UUID id and a 32-character secret, returned.
    pub fn register_oauth_client(&self, redirect_uri: &str, scopes: &[&str]) -> (String, String) {
        let id = uuid::Uuid::new_v4().to_string();
        let secret: String = uuid::Uuid::new_v4().simple().to_string();
        lock(&self.shared.oauth).clients.push(OAuthClient {
            id: id.clone(),
            secret: secret.clone(),
            redirect_uris: vec![redirect_uri.to_owned()],
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            refresh_ttl: Duration::from_secs(90 * 86_400),
            disabled: false,
        });
        (id, secret)
    }

    /// Changes a registered client (e.g. its refresh-token lifetime).
    pub fn update_oauth_client(&self, id: &str, update: impl FnOnce(&mut OAuthClient)) {
        if let Some(client) = lock(&self.shared.oauth)
            .clients
            .iter_mut()
            .find(|c| c.id == id)
        {
            update(client);
        }
    }

    /// The admin disables a client: its tokens stop refreshing.
    pub fn disable_oauth_client(&self, id: &str) {
        self.update_oauth_client(id, |c| c.disabled = true);
        self.remove_oauth_grant(id);
    }

    /// The user removes the app's access: every token family of the client is revoked.
    pub fn remove_oauth_grant(&self, id: &str) {
        let families: Vec<u64> = lock(&self.shared.oauth)
            .families
            .iter()
            .filter(|(_, (client, _))| client == id)
            .map(|(family, _)| *family)
            .collect();
        lock(&self.shared.model).revoked_families.extend(families);
    }

    /// The version `GET /site/ping` answers (OAuth from 4.12, scopes enforced from 4.16.1).
    pub fn set_version(&self, version: &str) {
        version.clone_into(&mut lock(&self.shared.oauth).version);
    }

    /// The user grants only these scopes of those asked for (`None`: all of them).
    pub fn grant_only(&self, scopes: Option<&[&str]>) {
        lock(&self.shared.oauth).grant_only =
            scopes.map(|s| s.iter().map(|s| (*s).to_owned()).collect());
    }

    /// A grant issued directly, as if the user had consented to `scopes` for client `id`:
    /// its refresh token (for tests that need a grant `login` would refuse).
    pub fn issue_oauth_token(&self, id: &str, scopes: &[&str]) -> String {
        let mut model = lock(&self.shared.model);
        let pair = model.token_pair(None);
        let family = model.next_family;
        drop(model);
        lock(&self.shared.oauth).families.insert(
            family,
            (
                id.to_owned(),
                scopes.iter().map(|s| (*s).to_owned()).collect(),
            ),
        );
        pair["refresh_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The scopes the family of a token was granted, if it came from an OAuth exchange.
    pub fn oauth_scopes_of(&self, token: &str) -> Option<Vec<String>> {
        let family = lock(&self.shared.model).tokens.get(token)?.family;
        lock(&self.shared.oauth)
            .families
            .get(&family)
            .map(|(_, scopes)| scopes.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_implies_read_and_versions_compare() {
        let granted = vec!["openid".to_owned(), "Workflow.Write".to_owned()];
        assert!(covers(&granted, "Workflow.Read"));
        assert!(covers(&granted, "Workflow.Write"));
        assert!(!covers(&["Workflow.Read".to_owned()], "Workflow.Write"));
        assert!(version_at_least("4.16.1-pro", (4, 16, 1)));
        assert!(!version_at_least("4.16.0", (4, 16, 1)));
        assert!(version_at_least("4.12.0", (4, 12, 0)));
    }
}
