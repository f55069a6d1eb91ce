//! Connecting to the Cloudreve servers people run: private-CA TLS, sub-paths, proxies,
//! refresh-token sign-in, insecure settings, and the config file's permissions.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use cloudreve_emulator::{Backend, Emulator, EmulatorOptions};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{self, run_binary as run, stderr};

/// A rules file for `url` with extra `[server]` lines and a state file in `dir`.
fn config(dir: &Path, url: &str, server_extra: &str) -> PathBuf {
    let path = dir.join("rules.toml");
    let text = format!(
        "[server]\nurl = \"{url}\"\nemail = \"{}\"\nretries = 0\n{server_extra}\n[daemon]\nstate_file = \"{}\"\n{}",
        support::EMAIL,
        dir.join("state.json").display(),
        support::RULES
    );
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

async fn once(config: &Path, envs: &[(&str, &str)]) -> Output {
    let mut all = vec![("CLOUDREVE_AUTOSELECT_PASSWORD", support::PASSWORD)];
    all.extend_from_slice(envs);
    run(&["--config", config.to_str().unwrap(), "once"], &all).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sub_path_behind_a_reverse_proxy() {
    for url_suffix in ["cloud", "cloud/", "cloud//"] {
        let emu = Emulator::start(EmulatorOptions {
            path_prefix: "/cloud".into(),
            ..EmulatorOptions::default()
        })
        .await
        .unwrap();
        emu.add_task(support::show(Backend::Aria2));
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path(), &format!("{}{url_suffix}", emu.base_url()), "");
        let output = once(&config, &[]).await;
        assert_eq!(
            output.status.code(),
            Some(0),
            "{url_suffix}: {}",
            stderr(&output)
        );
        assert_eq!(support::patches(&emu).len(), 1);
    }
}

/// A test CA and a server certificate for 127.0.0.1 signed by it.
pub(crate) struct TestPki {
    pub(crate) ca_pem: String,
    pub(crate) server_cert: rustls::pki_types::CertificateDer<'static>,
    pub(crate) server_key: Vec<u8>,
}

pub(crate) fn new_pki() -> TestPki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "cloudreve-autoselect test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server_cert = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
        .signed_by(&server_key, &ca)
        .unwrap();
    TestPki {
        ca_pem: ca.pem(),
        server_cert: server_cert.der().clone(),
        server_key: server_key.serialize_der(),
    }
}

/// A TLS front on 127.0.0.1 that forwards plain HTTP to the emulator.
async fn tls_front(pki: &TestPki, backend: SocketAddr) -> SocketAddr {
    cloudreve_autoselect::cloudreve::install_crypto_provider();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(pki.server_key.clone().into());
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![pki.server_cert.clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let Ok(mut plain) = TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_private_ca_and_with_the_wrong_ca() {
    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Aria2));
    let pki = new_pki();
    let front = tls_front(&pki, emu.addr()).await;
    let url = format!("https://127.0.0.1:{}/", front.port());
    let dir = tempfile::tempdir().unwrap();

    // Not trusted by the system: refused.
    let output = once(&config(dir.path(), &url, ""), &[]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("certificate"),
        "{}",
        stderr(&output)
    );

    // A different CA: refused.
    let wrong = dir.path().join("wrong-ca.pem");
    std::fs::write(&wrong, new_pki().ca_pem).unwrap();
    let output = once(
        &config(
            dir.path(),
            &url,
            &format!("ca_file = \"{}\"", wrong.display()),
        ),
        &[],
    )
    .await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("certificate"),
        "{}",
        stderr(&output)
    );
    assert!(support::patches(&emu).is_empty());

    // The right CA: works.
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let output = once(
        &config(dir.path(), &url, &format!("ca_file = \"{}\"", ca.display())),
        &[],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(support::patches(&emu).len(), 1);

    // A CA file without certificates is a config error.
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate").unwrap();
    let output = once(
        &config(
            dir.path(),
            &url,
            &format!("ca_file = \"{}\"", empty.display()),
        ),
        &[],
    )
    .await;
    assert_eq!(output.status.code(), Some(78), "{}", stderr(&output));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepting_invalid_certificates_needs_allow_insecure_and_warns() {
    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Aria2));
    let front = tls_front(&new_pki(), emu.addr()).await;
    let url = format!("https://127.0.0.1:{}/", front.port());
    let dir = tempfile::tempdir().unwrap();
    let output = once(
        &config(dir.path(), &url, "accept_invalid_certs = true"),
        &[],
    )
    .await;
    assert_eq!(output.status.code(), Some(78));
    assert!(
        stderr(&output).contains("server.accept_invalid_certs: accepting any certificate"),
        "{}",
        stderr(&output)
    );
    let output = once(
        &config(
            dir.path(),
            &url,
            "accept_invalid_certs = true\nallow_insecure = true",
        ),
        &[],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("TLS certificates are not checked"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn a_password_over_plain_http_to_another_host_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // 192.0.2.0/24 is TEST-NET-1: `check` never connects anyway.
    let path = config(dir.path(), "http://192.0.2.10/", "");
    let output = run(
        &["--config", path.to_str().unwrap(), "check"],
        support::CHECK_ENV,
    )
    .await;
    assert_eq!(output.status.code(), Some(78));
    assert!(
        stderr(&output).contains("server.url: plain http:// to a host that is not this machine"),
        "{}",
        stderr(&output)
    );
    let path = config(dir.path(), "http://192.0.2.10/", "allow_insecure = true");
    let output = run(
        &["--config", path.to_str().unwrap(), "check"],
        support::CHECK_ENV,
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    for loopback in [
        "http://127.0.0.1:5212/",
        "http://localhost:5212/",
        "http://[::1]:5212/",
    ] {
        let path = config(dir.path(), loopback, "");
        let output = run(
            &["--config", path.to_str().unwrap(), "check"],
            support::CHECK_ENV,
        )
        .await;
        assert_eq!(
            output.status.code(),
            Some(0),
            "{loopback}: {}",
            stderr(&output)
        );
    }
}

/// A minimal HTTP forward proxy: counts connections and relays them to the target.
async fn http_proxy() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&count);
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let counted = Arc::clone(&counted);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let text = String::from_utf8_lossy(&head).into_owned();
                // "GET http://127.0.0.1:PORT/path HTTP/1.1"
                let Some(target) = text.split_whitespace().nth(1) else {
                    return;
                };
                let Some(authority) = target
                    .strip_prefix("http://")
                    .and_then(|rest| rest.split('/').next())
                else {
                    return;
                };
                counted.fetch_add(1, Ordering::SeqCst);
                let Ok(mut upstream) = TcpStream::connect(authority).await else {
                    return;
                };
                if upstream.write_all(&head).await.is_err() {
                    return;
                }
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    (addr, count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_proxy_and_no_proxy_are_honoured() {
    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Aria2));
    let (proxy, count) = http_proxy().await;
    let proxy_url = format!("http://{proxy}");
    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path(), &emu.base_url(), "");
    let output = once(&path, &[("HTTP_PROXY", &proxy_url)]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        count.load(Ordering::SeqCst) >= 1,
        "requests went through the proxy"
    );
    assert_eq!(support::patches(&emu).len(), 1);
    let before = count.load(Ordering::SeqCst);
    let output = once(
        &path,
        &[("HTTP_PROXY", &proxy_url), ("NO_PROXY", "127.0.0.1")],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        count.load(Ordering::SeqCst),
        before,
        "NO_PROXY bypasses the proxy"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_replaces_the_password_and_its_rotation_survives_a_restart() {
    let emu = Emulator::start(EmulatorOptions {
        two_factor: true,
        ..EmulatorOptions::default()
    })
    .await
    .unwrap();
    emu.add_task(support::show(Backend::Aria2));
    let initial = emu.browser_refresh_token();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("refresh-token");
    std::fs::write(&token_file, format!("{initial}\n")).unwrap();
    let path = config(
        dir.path(),
        &emu.base_url(),
        &format!("refresh_token_file = \"{}\"", token_file.display()),
    );
    let args = ["--config", path.to_str().unwrap(), "once"];

    let output = run(&args, &[]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(support::patches(&emu).len(), 1);
    assert_eq!(
        support::count(&emu, "POST", "/session/token"),
        0,
        "no password sign-in"
    );
    let store = dir.path().join("state.json.refresh-token");
    let rotated = std::fs::read_to_string(&store).unwrap();
    assert_ne!(rotated.trim(), initial);
    assert_eq!(
        std::fs::metadata(&store).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::read_to_string(&token_file).unwrap().trim(),
        initial,
        "the config's token file is never written"
    );

    // A restart continues from the rotated token, even once the initial one is gone.
    emu.expire_token(&initial);
    let output = run(&args, &[]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    // When the refresh token is finally rejected, one clear error says what to do.
    emu.revoke_refresh_tokens();
    let output = run(&args, &[]).await;
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("the refresh token was rejected by Cloudreve (40020)"),
        "{message}"
    );
    assert!(
        message.contains(&token_file.display().to_string()),
        "{message}"
    );
    assert!(
        !message.contains(&initial) && !message.contains(rotated.trim()),
        "no token in the log"
    );
}

#[tokio::test]
async fn a_config_holding_a_password_warns_when_others_can_read_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = config(
        dir.path(),
        "https://cloud.example.com/",
        "password = \"hunter2hunter2\"",
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = run(
        &["--config", path.to_str().unwrap(), "check"],
        support::CHECK_ENV,
    )
    .await;
    assert_eq!(output.status.code(), Some(0));
    assert!(
        stderr(&output).contains("is readable by group or others (mode 0644)"),
        "{}",
        stderr(&output)
    );
    assert!(!stderr(&output).contains("hunter2hunter2"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let output = run(
        &["--config", path.to_str().unwrap(), "check"],
        support::CHECK_ENV,
    )
    .await;
    assert!(
        !stderr(&output).contains("readable by group or others"),
        "{}",
        stderr(&output)
    );
}
