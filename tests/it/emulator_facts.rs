//! The emulator against the facts of `cloudreve-api.md`, over raw HTTP.

use cloudreve_emulator::{Backend, Emulator};
use serde_json::{Value, json};

use crate::support;

struct Raw {
    http: reqwest::Client,
    base: String,
}

impl Raw {
    #[expect(
        clippy::disallowed_methods,
        reason = "a bare client, to send what the daemon never would"
    )]
    fn new(emu: &Emulator) -> Self {
        cloudreve_autoselect::cloudreve::install_crypto_provider();
        Self {
            http: reqwest::Client::new(),
            base: format!("{}api/v4", emu.base_url()),
        }
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, String) {
        let mut request = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_owned());
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    async fn json(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> Value {
        let (status, text) = self.send(method, path, token, body).await;
        assert_eq!(status, 200, "every API answer is HTTP 200: {text}");
        serde_json::from_str(&text).unwrap()
    }

    async fn sign_in(&self) -> Value {
        let body = json!({"email": support::EMAIL, "password": support::PASSWORD}).to_string();
        self.json("POST", "/session/token", None, Some(&body)).await["data"]["token"].clone()
    }
}

fn code_msg(value: &Value) -> (i64, &str) {
    (
        value["code"].as_i64().unwrap(),
        value["msg"].as_str().unwrap(),
    )
}

#[tokio::test]
async fn ping_sign_in_and_token_types() {
    let emu = support::emulator().await;
    let raw = Raw::new(&emu);
    assert_eq!(
        raw.json("GET", "/site/ping", None, None).await,
        json!({"code": 0, "data": "4.18.0", "msg": ""})
    );
    let token = raw.sign_in().await;
    let access = token["access_token"].as_str().unwrap();
    let refresh = token["refresh_token"].as_str().unwrap();
    assert!(
        token["access_expires"]
            .as_str()
            .unwrap()
            .ends_with("+08:00")
    );
    // A refresh token used as an access token fails every route, even the public ping.
    let answer = raw.json("GET", "/site/ping", Some(refresh), None).await;
    assert_eq!(code_msg(&answer), (40020, "Invalid token type"));
    // No token, a garbage token, an expired token: anonymous, so 401 on protected routes.
    for token in [None, Some("garbage")] {
        let answer = raw
            .json(
                "GET",
                "/workflow?page_size=10&category=downloading",
                token,
                None,
            )
            .await;
        assert_eq!(code_msg(&answer), (401, "Login required"));
        assert!(answer["correlation_id"].is_string());
    }
    emu.expire_access_tokens();
    let answer = raw
        .json(
            "GET",
            "/workflow?page_size=10&category=downloading",
            Some(access),
            None,
        )
        .await;
    assert_eq!(code_msg(&answer), (401, "Login required"));
    // Refresh answers a bare token object; the old refresh token stays valid.
    let body = json!({"refresh_token": refresh}).to_string();
    let first = raw
        .json("POST", "/session/token/refresh", None, Some(&body))
        .await;
    assert!(first["data"]["access_token"].is_string() && first["data"]["user"].is_null());
    let second = raw
        .json("POST", "/session/token/refresh", None, Some(&body))
        .await;
    assert_eq!(second["code"], 0);
    let bad = json!({"refresh_token": "nope"}).to_string();
    assert_eq!(
        code_msg(
            &raw.json("POST", "/session/token/refresh", None, Some(&bad))
                .await
        ),
        (40020, "Failed to issue token pair")
    );
}

#[tokio::test]
async fn sign_in_validation_messages() {
    let emu = support::emulator().await;
    let raw = Raw::new(&emu);
    let cases = [
        (
            json!({"email": "not-an-email", "password": "abcd"}),
            40001,
            "Email format error",
        ),
        (
            json!({"email": "bot@example.com", "password": "abc"}),
            40001,
            "Password too short",
        ),
        (
            json!({"email": "bot@example.com", "password": "wrong-password"}),
            40080,
            "Incorrect password or email address",
        ),
    ];
    for (body, code, msg) in cases {
        let answer = raw
            .json("POST", "/session/token", None, Some(&body.to_string()))
            .await;
        assert_eq!(code_msg(&answer), (code, msg));
    }
    emu.update_options(|o| o.two_factor = true);
    let body = json!({"email": support::EMAIL, "password": support::PASSWORD}).to_string();
    let answer = raw.json("POST", "/session/token", None, Some(&body)).await;
    assert_eq!(answer["code"], 203);
    assert!(uuid::Uuid::parse_str(answer["data"].as_str().unwrap()).is_ok());
}

#[tokio::test]
async fn list_validation_and_the_downloading_category() {
    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Aria2));
    let raw = Raw::new(&emu);
    let token = raw.sign_in().await;
    let access = token["access_token"].as_str();
    let cases = [
        ("/workflow?category=downloading", "PageSize cannot be empty"),
        (
            "/workflow?page_size=5&category=downloading",
            "PageSize too short",
        ),
        (
            "/workflow?page_size=101&category=downloading",
            "PageSize too long",
        ),
        ("/workflow?page_size=10", "Category cannot be empty"),
        (
            "/workflow?page_size=10&category=everything",
            "Invalid parameters.",
        ),
    ];
    for (path, msg) in cases {
        let answer = raw.json("GET", path, access, None).await;
        assert_eq!(code_msg(&answer), (40001, msg), "{path}");
        assert!(
            answer.get("correlation_id").is_none(),
            "parameter errors carry no correlation id"
        );
    }
    let answer = raw
        .json(
            "GET",
            "/workflow?page_size=10&category=downloading",
            access,
            None,
        )
        .await;
    assert_eq!(answer["data"]["pagination"]["page_size"], 32765);
    assert_eq!(answer["data"]["tasks"].as_array().unwrap().len(), 1);
    // An unknown route is gin's text 404, not JSON.
    assert_eq!(
        raw.send("GET", "/no/such/route", access, None).await,
        (404, "404 page not found".to_owned())
    );
}

#[tokio::test]
async fn patch_binding_merge_and_lagging_list() {
    let emu = support::emulator().await;
    let id = emu.add_task(support::show(Backend::Aria2));
    let raw = Raw::new(&emu);
    let token = raw.sign_in().await;
    let access = token["access_token"].as_str();
    let path = format!("/workflow/download/{id}");
    let cases = [
        ("{}", "Files cannot be empty"),
        (r#"{"files":null}"#, "Files cannot be empty"),
        ("not json", "Parameter error"),
        (
            r#"{"files":[{"index":"7","download":false}]}"#,
            "JSON marshall error",
        ),
    ];
    for (body, msg) in cases {
        let answer = raw.json("PATCH", &path, access, Some(body)).await;
        assert_eq!(code_msg(&answer), (40001, msg), "{body}");
    }
    // A null element panics the Go handler: HTTP 500 with an empty body.
    assert_eq!(
        raw.send("PATCH", &path, access, Some(r#"{"files":[null]}"#))
            .await,
        (500, String::new())
    );
    // A missing `download` means false; files not named keep their state.
    let answer = raw
        .json("PATCH", &path, access, Some(r#"{"files":[{"index":5}]}"#))
        .await;
    assert_eq!(answer, json!({"code": 0, "msg": ""}));
    assert_eq!(
        support::selected(&emu, &id),
        [
            (1, true),
            (2, true),
            (3, true),
            (4, true),
            (5, false),
            (6, true)
        ]
    );
    // The list still shows the old selection until the downloader is polled.
    let list = raw
        .json(
            "GET",
            "/workflow?page_size=10&category=downloading",
            access,
            None,
        )
        .await;
    assert_eq!(
        list["data"]["tasks"][0]["summary"]["props"]["download"]["files"][4]["selected"],
        true
    );
    emu.poll();
    let list = raw
        .json(
            "GET",
            "/workflow?page_size=10&category=downloading",
            access,
            None,
        )
        .await;
    assert_eq!(
        list["data"]["tasks"][0]["summary"]["props"]["download"]["files"][4]["selected"],
        false
    );
}

#[tokio::test]
async fn deselecting_every_file_differs_by_downloader() {
    let emu = support::emulator().await;
    let aria = emu.add_task(support::all_junk(Backend::Aria2));
    let qbt = emu.add_task(support::all_junk(Backend::Qbittorrent));
    let raw = Raw::new(&emu);
    let token = raw.sign_in().await;
    let access = token["access_token"].as_str();
    let body = r#"{"files":[{"index":0,"download":false},{"index":1,"download":false},{"index":2,"download":false}]}"#;
    let aria_body = r#"{"files":[{"index":1,"download":false},{"index":2,"download":false}]}"#;
    assert_eq!(
        raw.json(
            "PATCH",
            &format!("/workflow/download/{aria}"),
            access,
            Some(aria_body)
        )
        .await["code"],
        0
    );
    assert_eq!(
        raw.json(
            "PATCH",
            &format!("/workflow/download/{qbt}"),
            access,
            Some(&body.replace(r#",{"index":2,"download":false}"#, ""))
        )
        .await["code"],
        0
    );
    emu.poll();
    // aria2 silently ignores an empty selection.
    assert!(emu.files(&aria).iter().all(|f| f.selected));
    // qBittorrent: the task fails on the next poll, and Cloudreve deletes it.
    let (status, error) = emu.status(&qbt).unwrap();
    assert_eq!(status, "error");
    assert!(
        error
            .unwrap()
            .contains("no selected file found in download task")
    );
    let answer = raw
        .json(
            "PATCH",
            &format!("/workflow/download/{qbt}"),
            access,
            Some(body),
        )
        .await;
    assert_eq!(code_msg(&answer), (404, "Task not found"));
    let list = raw
        .json(
            "GET",
            "/workflow?page_size=10&category=downloading",
            access,
            None,
        )
        .await;
    assert_eq!(
        list["data"]["tasks"].as_array().unwrap().len(),
        1,
        "the failed task left the downloading list"
    );
}
