//! Redirects never carry credentials elsewhere (`src/http.rs`): raw loopback servers answer
//! sign-in, the list, the PATCH, a shared-list fetch and a notifier with 301/302/307/308, over
//! http and https, and the listener they point at must receive nothing.

use std::sync::{Arc, Mutex};

use cloudreve_autoselect::cloudreve::{Client, ClientOptions, Delivery, DownloadOptions, Error};
use cloudreve_autoselect::notify::format::{Auth, OutboundRequest};
use secrecy::SecretString;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpListener;

use crate::connect::{TestPki, new_pki};
use crate::support;

const STATUSES: [u16; 4] = [301, 302, 307, 308];

const SIGNED_IN: &str = r#"{"code":0,"msg":"","data":{"token":{"access_token":"access-secret","refresh_token":"refresh-secret","access_expires":"2099-01-01T00:00:00Z"}}}"#;
const EMPTY_LIST: &str = r#"{"code":0,"msg":"","data":{"tasks":[]}}"#;

/// What a raw server answers: a status, extra header lines and a body, for a method and path.
type Script = Arc<dyn Fn(&str, &str) -> (u16, String, String) + Send + Sync>;

/// A raw HTTP/1.1 server on 127.0.0.1 that records every request it reads (head and body).
struct Raw {
    base: String,
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Raw {
    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

async fn serve_one<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    script: &Script,
    seen: &Mutex<Vec<String>>,
) {
    let mut buffer = Vec::new();
    let mut chunk = [0_u8; 4096];
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let length = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
    let body = String::from_utf8_lossy(&buffer[head_end..]).into_owned();
    seen.lock().unwrap().push(format!("{head}{body}"));
    let mut words = head.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let (status, headers, body) = script(method, path);
    let answer = format!(
        "HTTP/1.1 {status} X\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(answer.as_bytes()).await;
    let _ = stream.shutdown().await;
}

async fn raw(tls: Option<&TestPki>, script: Script) -> Raw {
    cloudreve_autoselect::cloudreve::install_crypto_provider();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = tls.map(|pki| {
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(pki.server_key.clone().into());
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![pki.server_cert.clone()], key)
            .unwrap();
        tokio_rustls::TlsAcceptor::from(Arc::new(config))
    });
    let scheme = if tls.is_some() { "https" } else { "http" };
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (script, seen, acceptor) =
                (Arc::clone(&script), Arc::clone(&recorded), acceptor.clone());
            tokio::spawn(async move {
                match acceptor {
                    Some(acceptor) => {
                        if let Ok(tls) = acceptor.accept(stream).await {
                            serve_one(tls, &script, &seen).await;
                        }
                    }
                    None => serve_one(stream, &script, &seen).await,
                }
            });
        }
    });
    Raw {
        base: format!("{scheme}://127.0.0.1:{port}"),
        port,
        seen,
    }
}

/// The listener redirects point at: it answers every request as Cloudreve would.
async fn elsewhere() -> Raw {
    raw(
        None,
        Arc::new(|_: &str, path: &str| {
            let body = if path.contains("session") {
                SIGNED_IN
            } else {
                EMPTY_LIST
            };
            (200, String::new(), body.to_owned())
        }),
    )
    .await
}

fn location(status: u16, to: &str) -> (u16, String, String) {
    (status, format!("Location: {to}\r\n"), String::new())
}

fn client(base: &str, pki: Option<&TestPki>) -> Client {
    let mut options = ClientOptions::new(
        format!("{base}/api/v4/").parse().unwrap(),
        support::EMAIL.to_owned(),
        SecretString::from(support::PASSWORD),
    );
    options.retries = 0;
    if let Some(pki) = pki {
        options.extra_roots_pem = pki.ca_pem.clone().into_bytes();
    }
    Client::new(options).unwrap()
}

/// Each scheme of the redirecting server: plain http, and https with a private CA.
fn schemes() -> [Option<TestPki>; 2] {
    [None, Some(new_pki())]
}

#[tokio::test]
async fn a_sign_in_redirected_elsewhere_sends_nothing_there_and_names_both_addresses() {
    for pki in schemes() {
        for status in STATUSES {
            let other = elsewhere().await;
            let to = format!("{}/api/v4/session/token", other.base);
            let target = to.clone();
            let server = raw(
                pki.as_ref(),
                Arc::new(move |_: &str, _: &str| location(status, &target)),
            )
            .await;
            let error = client(&server.base, pki.as_ref())
                .ensure_signed_in()
                .await
                .unwrap_err();
            let text = error.to_string();
            assert!(matches!(error, Error::Redirect { .. }), "{text}");
            assert!(text.contains(&format!("HTTP {status}")), "{text}");
            assert!(
                text.contains(&format!("{}/api/v4/session/token", server.base)),
                "{text}"
            );
            assert!(text.contains(&to), "{text}");
            assert!(
                text.contains(&format!("put {}/ in server.url", other.base)),
                "{text}"
            );
            if pki.is_some() {
                assert!(text.contains("it leaves https for plain http"), "{text}");
            }
            assert!(!text.contains(support::PASSWORD), "{text}");
            assert_eq!(server.seen().len(), 1, "one sign-in, no retry");
            assert_eq!(other.seen(), Vec::<String>::new(), "{status} {text}");
        }
    }
}

#[tokio::test]
async fn the_list_follows_its_own_origin_a_few_times_and_never_another() {
    for pki in schemes() {
        for status in STATUSES {
            let other = elsewhere().await;
            let to = format!("{}/api/v4/workflow", other.base);
            let server = raw(
                pki.as_ref(),
                Arc::new(move |_: &str, path: &str| {
                    if path.contains("session") {
                        (200, String::new(), SIGNED_IN.to_owned())
                    } else if path.starts_with("/api/v4/workflow?") {
                        location(status, "/api/v4/moved?category=downloading")
                    } else if path.starts_with("/api/v4/moved") {
                        (200, String::new(), EMPTY_LIST.to_owned())
                    } else {
                        location(status, &to)
                    }
                }),
            )
            .await;
            let client = client(&server.base, pki.as_ref());
            // Within the origin: followed, the token with it.
            let list = client.list_downloading().await.unwrap();
            assert!(list.tasks.is_empty());
            let seen = server.seen();
            assert!(
                seen.last().unwrap().starts_with("GET /api/v4/moved"),
                "{seen:?}"
            );
            assert!(seen.last().unwrap().contains("Bearer access-secret"));
            assert_eq!(other.seen(), Vec::<String>::new());
        }
    }
    // To another listener: refused, and the other listener never hears the token.
    for pki in schemes() {
        let other = elsewhere().await;
        let to = format!("{}/api/v4/workflow", other.base);
        let server = raw(
            pki.as_ref(),
            Arc::new(move |_: &str, path: &str| {
                if path.contains("session") {
                    (200, String::new(), SIGNED_IN.to_owned())
                } else {
                    location(302, &to)
                }
            }),
        )
        .await;
        let error = client(&server.base, pki.as_ref())
            .list_downloading()
            .await
            .unwrap_err();
        assert!(matches!(error, Error::Redirect { .. }), "{error}");
        assert_eq!(other.seen(), Vec::<String>::new());
    }
    // A loop within the origin: bounded.
    let server = raw(
        None,
        Arc::new(|_: &str, path: &str| {
            if path.contains("session") {
                (200, String::new(), SIGNED_IN.to_owned())
            } else {
                location(302, "/api/v4/workflow?again")
            }
        }),
    )
    .await;
    let error = client(&server.base, None)
        .list_downloading()
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("more than 5 redirects"),
        "{error}"
    );
    assert_eq!(
        server.seen().len(),
        1 + 1 + 5,
        "sign-in, the list, 5 redirects"
    );
}

#[tokio::test]
async fn a_patch_follows_no_redirect_even_within_its_origin() {
    for pki in schemes() {
        for status in STATUSES {
            let other = elsewhere().await;
            for to in [
                format!("{}/api/v4/workflow/download/t1", other.base),
                "/api/v4/elsewhere/t1".to_owned(),
            ] {
                let server = raw(
                    pki.as_ref(),
                    Arc::new(move |method: &str, _: &str| {
                        if method == "POST" {
                            (200, String::new(), SIGNED_IN.to_owned())
                        } else {
                            location(status, &to)
                        }
                    }),
                )
                .await;
                let change = cloudreve_autoselect::task::SelectionChange {
                    index: 1,
                    download: false,
                };
                let error = client(&server.base, pki.as_ref())
                    .set_selection(&cloudreve_autoselect::task::TaskId::new("t1"), &[change])
                    .await
                    .unwrap_err();
                assert!(
                    matches!(error.error, Error::Redirect { .. }),
                    "{}",
                    error.error
                );
                assert_eq!(error.delivery, Delivery::NotApplied);
                let patches = server
                    .seen()
                    .iter()
                    .filter(|r| r.starts_with("PATCH"))
                    .count();
                assert_eq!(patches, 1, "{status}: the PATCH was sent once, not re-sent");
                assert_eq!(other.seen(), Vec::<String>::new());
            }
        }
    }
}

#[tokio::test]
async fn a_shared_list_follows_its_own_origin_and_never_another() {
    for pki in schemes() {
        for status in STATUSES {
            let other = elsewhere().await;
            let to = format!("{}/list.txt", other.base);
            let target = to.clone();
            let server = raw(
                pki.as_ref(),
                Arc::new(move |_: &str, path: &str| match path {
                    "/moved.txt" => (200, String::new(), "*.exe\n".to_owned()),
                    "/here.txt" => location(status, "/moved.txt"),
                    _ => location(status, &target),
                }),
            )
            .await;
            let downloader = cloudreve_autoselect::cloudreve::Downloader::new(&DownloadOptions {
                timeout: std::time::Duration::from_secs(10),
                connect_timeout: std::time::Duration::from_secs(5),
                extra_roots_pem: pki
                    .as_ref()
                    .map(|p| p.ca_pem.clone().into_bytes())
                    .unwrap_or_default(),
                max_bytes: 1024,
            })
            .unwrap();
            let here = format!("{}/here.txt", server.base).parse().unwrap();
            assert_eq!(downloader.get(&here).await.unwrap(), b"*.exe\n");
            let away = format!("{}/away.txt", server.base).parse().unwrap();
            let error = downloader.get(&away).await.unwrap_err().to_string();
            assert!(
                error.contains(&format!("put {to} in the rule's list_url")),
                "{error}"
            );
            assert_eq!(other.seen(), Vec::<String>::new());
        }
    }
}

#[tokio::test]
async fn a_notification_follows_no_redirect_and_its_error_shows_no_path() {
    for pki in schemes() {
        for status in STATUSES {
            let other = elsewhere().await;
            for to in [format!("{}/topic", other.base), "/other-topic".to_owned()] {
                let server = raw(
                    pki.as_ref(),
                    Arc::new(move |_: &str, _: &str| location(status, &to)),
                )
                .await;
                let transport = cloudreve_autoselect::notify::Transport::new(
                    cloudreve_autoselect::notify::Timeouts::default(),
                )
                .unwrap();
                if pki.is_some() {
                    // The platform's roots only: a private CA is Cloudreve's, never a notifier's.
                    let request = OutboundRequest {
                        url: format!("{}/secret-topic", server.base).parse().unwrap(),
                        auth: Auth::None,
                        body: b"{}".to_vec(),
                    };
                    assert!(transport.send(&request).await.is_err());
                    assert_eq!(server.seen(), Vec::<String>::new());
                    continue;
                }
                let request = OutboundRequest {
                    url: format!("{}/secret-topic", server.base).parse().unwrap(),
                    auth: Auth::Bearer(SecretString::from("tk_secret")),
                    body: br#"{"message":"hello"}"#.to_vec(),
                };
                let error = transport.send(&request).await.unwrap_err();
                let text = error.to_string();
                assert!(!error.is_transient(), "{text}");
                assert!(text.starts_with(&format!("refused to follow HTTP {status}")));
                assert!(
                    !text.contains("topic") && !text.contains("secret"),
                    "{text}"
                );
                assert_eq!(server.seen().len(), 1);
                assert_eq!(other.seen(), Vec::<String>::new());
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_fails_loudly_on_a_redirected_sign_in() {
    let other = elsewhere().await;
    let to = format!("{}/api/v4/session/token", other.base);
    let server = raw(None, Arc::new(move |_: &str, _: &str| location(307, &to))).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rules.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nurl = \"{}\"\nemail = \"{}\"\nretries = 0\n[daemon]\nstate_file = \"{}\"\n{}",
            server.base,
            support::EMAIL,
            dir.path().join("state.json").display(),
            support::RULES
        ),
    )
    .unwrap();
    let output = support::run_binary(
        &["--config", config.to_str().unwrap(), "once"],
        &[("CLOUDREVE_AUTOSELECT_PASSWORD", support::PASSWORD)],
    )
    .await;
    let stderr = support::stderr(&output);
    assert_ne!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("refused to follow HTTP 307"), "{stderr}");
    assert!(stderr.contains(&format!(":{}/", other.port)), "{stderr}");
    assert!(!stderr.contains(support::PASSWORD), "{stderr}");
    assert_eq!(other.seen(), Vec::<String>::new());
}
