//! The emulated routes that read or change the account: sign-in, refresh, the task list, the
//! select-files PATCH and cancel, with Cloudreve's codes and messages.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::model::decode_task_id;
use super::{Backend, Caller, Shared, UserStatus, envelope, err, lock, ok, param_err, respond};

pub(super) fn sign_in(shared: &Shared, body: &[u8], correlation_id: &str) -> Response {
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
        return param_err("Parameter error");
    };
    let email = fields.get("email").and_then(Value::as_str).unwrap_or("");
    let password = fields.get("password").and_then(Value::as_str).unwrap_or("");
    if email.is_empty() {
        return param_err("Email cannot be empty");
    }
    if !email.contains('@') {
        return param_err("Email format error");
    }
    if password.is_empty() {
        return param_err("Password cannot be empty");
    }
    if password.chars().count() < 4 {
        return param_err("Password too short");
    }
    let mut model = lock(&shared.model);
    if model.options.login_captcha {
        return err(40026, "CAPTCHA not match.", correlation_id);
    }
    if email != model.options.email || password != model.options.password {
        return err(40080, "Incorrect password or email address", correlation_id);
    }
    match model.options.user_status {
        UserStatus::Banned => return err(40017, "This account has been blocked", correlation_id),
        UserStatus::Inactive => return err(40018, "This account is not activated", correlation_id),
        UserStatus::Active => {}
    }
    if model.options.two_factor {
        return envelope(
            &json!({"code": 203, "data": uuid::Uuid::new_v4().to_string(), "msg": ""}),
        );
    }
    let token = model.token_pair(None);
    let email = model.options.email.clone();
    ok(Some(json!({
        "user": {
            "id": "MZTX", "email": email, "nickname": "bot", "status": "active",
            "created_at": "2025-06-01T10:00:00.123456+08:00",
            "group": {"id": "wrTP", "name": "User", "permission": "/f8B"},
        },
        "token": token,
    })))
}

pub(super) fn refresh(shared: &Shared, body: &[u8], correlation_id: &str) -> Response {
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
        return param_err("Parameter error");
    };
    let Some(token) = fields.get("refresh_token").and_then(Value::as_str) else {
        return param_err("RefreshToken cannot be empty");
    };
    let mut model = lock(&shared.model);
    match model.refresh_family(token) {
        Some(family) => {
            let pair = model.token_pair(Some(family));
            ok(Some(pair))
        }
        None => err(40020, "Failed to issue token pair", correlation_id),
    }
}

pub(super) fn list(shared: &Shared, caller: Caller, query: &str, correlation_id: &str) -> Response {
    if caller != Caller::User {
        return err(401, "Login required", correlation_id);
    }
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let Some(page_size) = param("page_size").filter(|v| !v.is_empty()) else {
        return param_err("PageSize cannot be empty");
    };
    let Ok(page_size) = page_size.parse::<i64>() else {
        return param_err("Parameter error");
    };
    if page_size < 10 {
        return param_err("PageSize too short");
    }
    if page_size > 100 {
        return param_err("PageSize too long");
    }
    match param("category") {
        None | Some("") => param_err("Category cannot be empty"),
        Some("downloading") => {
            let model = lock(&shared.model);
            if let Some(size) = model.options.downloading_page_size {
                return ok(Some(
                    model.list_downloading_page(size, param("next_page_token")),
                ));
            }
            drop(model);
            let data = lock(&shared.model).list_downloading_json();
            respond(
                StatusCode::OK,
                "application/json; charset=utf-8",
                format!("{{\"code\":0,\"data\":{data},\"msg\":\"\"}}"),
            )
        }
        Some("general" | "downloaded") => ok(Some(json!({
            "tasks": [], "pagination": {"page": 0, "page_size": page_size, "is_cursor": true}
        }))),
        Some(_) => param_err("Invalid parameters."),
    }
}

/// The select-files PATCH, validated in Cloudreve's order (cloudreve-api.md §5).
pub(super) fn patch(
    shared: &Shared,
    caller: Caller,
    path: &str,
    body: &[u8],
    correlation_id: &str,
) -> Response {
    if caller != Caller::User {
        return err(401, "Login required", correlation_id);
    }
    let id = path.rsplit('/').next().unwrap_or_default();
    if decode_task_id(id).is_none() {
        return err(40001, "Failed to parse object ID", correlation_id);
    }
    let changes = match parse_set_files(body) {
        Ok(changes) => changes,
        Err(BodyRejection::Param(msg)) => return param_err(msg),
        Err(BodyRejection::Panic) => {
            return respond(StatusCode::INTERNAL_SERVER_ERROR, "text/plain", "");
        }
    };
    let mut model = lock(&shared.model);
    let Some(task) = model.task_mut(id).filter(|t| t.in_registry) else {
        return err(404, "Task not found", correlation_id);
    };
    if !matches!(task.spec.status.as_str(), "processing" | "suspending") {
        return err(404, "Task not in processing state", correlation_id);
    }
    if task.spec.phase.as_deref() != Some("monitor") {
        return err(404, "Task not in monitoring loop", correlation_id);
    }
    if !task.spec.metadata_ready
        || changes
            .iter()
            .any(|&(index, _)| !task.files.iter().any(|f| f.index == index))
    {
        // The downloader rejects an unknown file (qBittorrent answers 409) or has no handle yet.
        return err(50005, "Failed to set download files", correlation_id);
    }
    let mut wanted: Vec<bool> = task.files.iter().map(|f| f.selected).collect();
    for (index, download) in &changes {
        for (file, want) in task.files.iter().zip(wanted.iter_mut()) {
            if file.index == *index {
                *want = *download;
            }
        }
    }
    if !wanted.iter().any(|w| *w) {
        model.all_deselected_attempts += 1;
    }
    let Some(task) = model.task_mut(id) else {
        return err(404, "Task not found", correlation_id);
    };
    if task.spec.backend == Backend::Aria2 && !wanted.iter().any(|w| *w) {
        // aria2 parses `select-file: ""` as nothing and keeps the old selection.
        return ok(None);
    }
    for (file, want) in task.files.iter_mut().zip(wanted) {
        file.selected = want;
    }
    ok(None)
}

/// Why Cloudreve would reject a select-files body.
enum BodyRejection {
    /// A parameter-binding error with this message.
    Param(&'static str),
    /// A null element: the Go handler nil-derefs and `gin.Recovery` answers HTTP 500.
    Panic,
}

fn parse_set_files(body: &[u8]) -> Result<Vec<(u64, bool)>, BodyRejection> {
    let value: Value =
        serde_json::from_slice(body).map_err(|_| BodyRejection::Param("Parameter error"))?;
    let Value::Object(fields) = value else {
        return Err(BodyRejection::Param("JSON marshall error"));
    };
    let files = match fields.get("files") {
        None | Some(Value::Null) => return Err(BodyRejection::Param("Files cannot be empty")),
        Some(Value::Array(files)) => files,
        Some(_) => return Err(BodyRejection::Param("JSON marshall error")),
    };
    let mut changes = Vec::with_capacity(files.len());
    for file in files {
        let Value::Object(entry) = file else {
            return Err(BodyRejection::Panic);
        };
        let index = match entry.get("index") {
            None => 0,
            Some(v) => v
                .as_u64()
                .ok_or(BodyRejection::Param("JSON marshall error"))?,
        };
        let download = match entry.get("download") {
            None => false,
            Some(v) => v
                .as_bool()
                .ok_or(BodyRejection::Param("JSON marshall error"))?,
        };
        changes.push((index, download));
    }
    Ok(changes)
}

pub(super) fn cancel(
    shared: &Shared,
    caller: Caller,
    path: &str,
    correlation_id: &str,
) -> Response {
    if caller != Caller::User {
        return err(401, "Login required", correlation_id);
    }
    let id = path.rsplit('/').next().unwrap_or_default();
    if decode_task_id(id).is_none() {
        return err(40001, "Failed to parse object ID", correlation_id);
    }
    let mut model = lock(&shared.model);
    match model.task_mut(id).filter(|t| t.in_registry) {
        Some(task) => {
            task.cancel_requested = true;
            ok(None)
        }
        None => err(404, "Task not found", correlation_id),
    }
}
