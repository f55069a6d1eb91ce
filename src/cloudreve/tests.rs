//! Unit tests of `cloudreve`.

use super::client::route_template;
use super::receive::{LIST_ENDPOINT, ListReceiver, Receive, decode_envelope};
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
        let mut receiver = ListReceiver::default();
        receiver.receive(body.as_bytes());
        receiver.finish(AnswerHead {
            endpoint: LIST_ENDPOINT,
            status: StatusCode::OK,
            correlation_id: "ours",
        })
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

/// Each array's tasks go to the reader numbered by array, and the answer names the array
/// that is the document's; a single task stays in the answer; a reader may stop early.
#[test]
fn a_streamed_document_names_its_array() {
    let task = |id: &str| format!(r#"{{"id":"{id}","status":"processing"}}"#);
    let (a, b, c) = (task("a"), task("b"), task("c"));
    let cases = [
        (format!("[{a},{b}]"), vec![(0, "a"), (0, "b")], Some(0)),
        (
            format!(r#"{{"tasks":[{a}],"tasks":[{b},{c}]}}"#),
            vec![(0, "a"), (1, "b"), (1, "c")],
            Some(1),
        ),
        (
            format!(r#"{{"code":0,"data":{{"tasks":[{c}]}},"msg":""}}"#),
            vec![(0, "c")],
            Some(0),
        ),
        (a.clone(), vec![], None),
    ];
    for (document, handed, array) in cases {
        let mut seen = Vec::new();
        let streamed = stream_task_document(document.as_bytes(), &mut |n, task| {
            seen.push((n, task.id.as_str().to_owned()));
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
        let handed: Vec<(usize, String)> =
            handed.iter().map(|&(n, id)| (n, id.to_owned())).collect();
        assert_eq!(seen, handed, "{document}");
        assert_eq!(streamed.array, array, "{document}");
        assert_eq!(streamed.rest.tasks.len(), usize::from(array.is_none()));
    }
    let mut seen = 0;
    let stopped = stream_task_document(format!("[{a},{b},{c}]").as_bytes(), &mut |_, _| {
        seen += 1;
        std::ops::ControlFlow::Break(())
    });
    assert!(
        matches!(stopped, Err(DocumentError::Stopped)),
        "{stopped:?}"
    );
    assert_eq!(seen, 1);
}

/// What a reader of the whole text sees: the tasks handed over, numbered, and the answer.
fn read_whole(document: &str) -> (Vec<(usize, String)>, String) {
    let mut seen = Vec::new();
    let answer = stream_task_document(document.as_bytes(), &mut |n, task| {
        seen.push((n, format!("{task:?}")));
        std::ops::ControlFlow::Continue(())
    });
    (seen, format!("{answer:?}"))
}

/// The tasks handed over, array by array, each array's in the order handed over.
fn by_array(
    read: Option<(Vec<(usize, String)>, String)>,
) -> Option<(Vec<(usize, String)>, String)> {
    read.map(|(mut seen, answer)| {
        seen.sort_by_key(|(n, _)| *n);
        (seen, answer)
    })
}

/// The same document fed in pieces of `size` bytes; `None` when the stream gave up on it.
fn read_in_pieces(document: &str, size: usize) -> Option<(Vec<(usize, String)>, String)> {
    let mut seen = Vec::new();
    let mut each = |n, task| {
        seen.push((n, format!("{task:?}")));
        std::ops::ControlFlow::Continue(())
    };
    let mut stream = TaskDocumentStream::new(&mut each);
    for piece in document.as_bytes().chunks(size) {
        stream.feed(piece);
    }
    let answer = stream.finish()?;
    Some((seen, format!("{answer:?}")))
}

/// Fed in pieces of any size, a document gives the reader what decoding its whole text
/// gives, or is given up on (then read whole), but only when the scanner cannot follow it.
#[test]
fn a_document_read_in_pieces_gives_what_its_whole_text_gives() {
    let task = |id: &str| {
        format!(
            r#"{{"id":"{id}","status":"processing","summary":{{"props":{{"download":{{"name":"T","files":[{{"index":1,"name":"T/a\"],{{.mkv","size":5,"selected":true}}]}}}}}}}}"#
        )
    };
    let (a, b, c) = (task("a"), task("b"), task("c"));
    let followed = [
        format!(r#"{{"code":0,"msg":"","data":{{"tasks":[{a},{b}]}}}}"#),
        format!(r#"{{"code":0,"data":{{"tasks":[{a}],"tasks":[{b},{c}]}}}}"#),
        format!(r#"{{"code":0,"data":{{"tasks":[{a}],"tasks":null}}}}"#),
        format!(r#"{{"code":0,"data":{{"tasks":[{a},7,{{"id":"bad","status":1}}]}}}}"#),
        format!(r#"{{"tasks":[{a}],"data":{{"tasks":[{b}]}},"tasks":[{c}]}}"#),
        format!(r#"{{"data":{{"tasks":[{a}]}},"code":0,"data":{{"tasks":[{b}]}}}}"#),
        format!(r#"{{"data":{{"tasks":[{a}]}},"code":401,"msg":"login required"}}"#),
        format!(r#"{{"code":0,"data":{{"tasks":[{a}],"pagination":{{"next_token":7}}}}}}"#),
        format!(r#"{{"data":{{"tasks":[{a}]}},"id":"t","status":"processing"}}"#),
        format!(" [ {a} , {b} ] "),
        a.clone(),
        "[]".to_owned(),
        "7".to_owned(),
    ];
    for document in &followed {
        let whole = by_array(Some(read_whole(document)));
        for size in (1..=9).chain([document.len()]) {
            let pieces = by_array(read_in_pieces(document, size));
            assert_eq!(pieces, whole, "pieces of {size}: {document}");
        }
    }
    let given_up = [
        // A key written with escapes: its array is numbered by the parser alone.
        format!(r#"{{"code":0,"d\u0061ta":{{"tasks":[{a}]}},"data":{{"tasks":[{b}]}}}}"#),
        format!(r#"{{"code":0,"data":{{"t\u0061sks":[{a}],"tasks":[{b}]}}}}"#),
        // Not valid JSON: the parser of the whole text says where.
        format!(r#"{{"code":0,"data":{{"tasks":[{a},]}}}}"#),
        format!(r#"{{"code":0,"data":{{"tasks":[{a}"#),
        r#"{"code":0,"data":{"tasks":[]}} x"#.to_owned(),
    ];
    for document in &given_up {
        assert!(
            read_in_pieces(document, 5).is_none() && read_in_pieces(document, 4096).is_none(),
            "{document}"
        );
    }
    // A reader may stop early.
    let mut seen = 0;
    let mut each = |_, _| {
        seen += 1;
        std::ops::ControlFlow::Break(())
    };
    let mut stream = TaskDocumentStream::new(&mut each);
    stream.feed(format!(r#"{{"code":0,"data":{{"tasks":[{a},{b},{c}]}}}}"#).as_bytes());
    assert!(matches!(stream.finish(), Some(Err(DocumentError::Stopped))));
    assert_eq!(seen, 1);
}
