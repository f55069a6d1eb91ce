//! Unit tests of `cloudreve`.

use super::client::route_template;
use super::receive::{LIST_ENDPOINT, decode_envelope, decode_list_page};
use super::*;
use chrono::TimeDelta;
use reqwest::StatusCode;

fn head(status: u16) -> AnswerHead<'static> {
    AnswerHead {
        endpoint: "GET /x",
        status: StatusCode::from_u16(status).unwrap(),
        correlation_id: "cid",
    }
}

fn decode(status: u16, body: &str) -> Result<Option<serde_json::Value>, Error> {
    decode_envelope(head(status), body.as_bytes())
}

#[test]
fn code_zero_is_success() {
    assert_eq!(decode(200, r#"{"code":0,"msg":""}"#).unwrap(), None);
    assert_eq!(
        decode(200, r#"{"code":0,"data":"4.0.0","msg":""}"#).unwrap(),
        Some(serde_json::json!("4.0.0"))
    );
}

#[test]
fn non_zero_code_is_an_error_even_on_http_200() {
    let err = decode(
        200,
        r#"{"code":404,"msg":"Task not found","correlation_id":"abc"}"#,
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::Api { code: 404, correlation_id, .. } if correlation_id == "abc")
    );
    assert!(!err.is_transient());
    assert!(err.to_string().contains("Task not found"));
}

#[test]
fn error_with_unexpected_data_type_still_reports_the_code() {
    let result: Result<Option<wire::SignInData>, Error> = decode_envelope(
        head(200),
        br#"{"code":203,"data":"3f1c9a4e-5b7d","msg":""}"#,
    );
    assert!(matches!(result, Err(Error::Api { code: 203, .. })));
}

#[test]
fn non_json_bodies_are_transport_errors() {
    let err = decode(500, "").unwrap_err();
    assert!(matches!(err, Error::NotJson { status: 500, .. }));
    assert!(err.is_transient());
    let err = decode(404, "404 page not found").unwrap_err();
    assert!(matches!(err, Error::NotJson { status: 404, .. }));
    assert!(!err.is_transient());
}

#[tokio::test]
async fn a_rejected_refresh_token_never_promises_a_retry() {
    use cloudreve_emulator::{Emulator, EmulatorOptions};
    use std::sync::atomic::{AtomicI64, Ordering};
    let emu = Emulator::start(EmulatorOptions::default()).await.unwrap();
    let token = emu.browser_refresh_token();
    emu.revoke_refresh_tokens();
    let api = Url::parse(&emu.base_url())
        .unwrap()
        .join("api/v4/")
        .unwrap();
    let mut options = ClientOptions::new(api, "bot@example.com".into(), SecretString::from(""));
    options.credentials = Credentials::RefreshToken {
        token: SecretString::from(token),
        store: None,
        source_file: "/etc/cloudreve-autoselect/refresh-token".into(),
    };
    let hours = Arc::new(AtomicI64::new(0));
    let clock_hours = Arc::clone(&hours);
    options.clock =
        Arc::new(move || Utc::now() + TimeDelta::hours(clock_hours.load(Ordering::SeqCst)));
    let client = Client::new(options).unwrap();
    // The first answer, again right away, and long after any back-off would have run out.
    for advance_hours in [0, 0, 2, 0] {
        hours.fetch_add(advance_hours, Ordering::SeqCst);
        let error = client.list_downloading().await.unwrap_err();
        assert!(
            matches!(error, Error::RefreshTokenRejected { .. }),
            "{error}"
        );
        let message = error.to_string();
        assert!(
            message.contains("/etc/cloudreve-autoselect/refresh-token")
                && message.contains("restart")
                && !message.contains("next attempt"),
            "{message}"
        );
    }
    let refreshes = emu
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/session/token/refresh"))
        .count();
    assert_eq!(refreshes, 1, "a rejected token is not sent again");
}

#[test]
fn routes_never_carry_ids() {
    assert_eq!(
        route_template("PATCH /workflow/download/kku7"),
        "PATCH /workflow/download/{id}"
    );
    assert_eq!(route_template("GET /workflow"), "GET /workflow");
    assert_eq!(route_template("GET /something/else"), "other");
}

#[test]
fn decode_errors_name_the_position_not_the_value() {
    let token = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0";
    let err = decode_envelope::<wire::SignInData>(
        head(200),
        format!(r#"{{"code":0,"msg":"","data":{{"token":"{token}"}}}}"#).as_bytes(),
    )
    .err()
    .unwrap();
    assert_eq!(
        err.to_string(),
        "GET /x: could not decode the answer (correlation id cid): a value of an unexpected type or shape at line 1 column 66"
    );
    let err = decode(200, &format!(r#"{{"code":0,"data":"{token}"#)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "GET /x: HTTP 200 without a Cloudreve JSON answer (correlation id cid): 47 bytes of JSON cut off at line 1 column 47"
    );
    let err = decode(502, &format!("<html>Bad Gateway {token}</html>")).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"GET /x: HTTP 502 without a Cloudreve JSON answer (correlation id cid): body starts "<html>Bad Gateway [masked]</html>""#
    );
    let err = decode(500, "").unwrap_err();
    assert!(err.to_string().ends_with(": empty body"), "{err}");
}

#[test]
fn list_errors_name_the_endpoint_and_the_problem() {
    let list = |body: &str| {
        let head = AnswerHead {
            endpoint: LIST_ENDPOINT,
            status: StatusCode::OK,
            correlation_id: "ours",
        };
        decode_list_page(head, body.as_bytes())
    };
    let err = list(r#"{"code":0,"msg":"","data":null,"correlation_id":"theirs"}"#)
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "GET /workflow: incomplete list answer (correlation id theirs): data is null"
    );
    let err = list(r#"{"code":401,"msg":"Login required"}"#)
        .err()
        .unwrap();
    assert!(matches!(err, Error::Api { code: 401, .. }), "{err}");
    let err = list(r#"{"msg":"","data":{"tasks":[]}}"#).err().unwrap();
    assert!(matches!(err, Error::NotJson { status: 200, .. }), "{err}");
    let (page, correlation_id) = list(r#"{"code":0,"msg":"","data":{"tasks":[]}}"#).unwrap();
    assert_eq!(correlation_id, "ours");
    assert!(page.tasks.tasks.is_empty() && page.next_token.is_none());
}

#[test]
fn options_debug_hides_the_password() {
    let options = ClientOptions::new(
        Url::parse("http://127.0.0.1/api/v4/").unwrap(),
        "bot@example.com".into(),
        SecretString::from("hunter22"),
    );
    assert!(!format!("{options:?}").contains("hunter22"));
    let mut with_user_info = options.clone();
    with_user_info.api_base = Url::parse("https://bot:pw-in-url@host/api/v4/").unwrap();
    let shown = format!("{with_user_info:?}");
    assert!(
        !shown.contains("pw-in-url") && shown.contains("https://bot@host/api/v4/"),
        "{shown}"
    );
    let client = Client::new(options).unwrap();
    assert!(!format!("{client:?}").contains("hunter22"));
}
