//! A loopback HTTP receiver for notifications: it records every request and answers with a
//! status, or hangs until the test opens its gate.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use tokio::sync::{mpsc, watch};

/// One request a receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Received {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// How a receiver answers.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Answer {
    Status(u16),
    /// Not until `open` is called.
    Hang,
}

/// A loopback HTTP server that records every request.
pub(crate) struct Receiver {
    pub(crate) addr: SocketAddr,
    all: Arc<Mutex<Vec<Received>>>,
    arrivals: mpsc::UnboundedReceiver<Received>,
    gate: watch::Sender<bool>,
}

impl Receiver {
    pub(crate) async fn start(answer: Answer) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let all = Arc::new(Mutex::new(Vec::new()));
        let (arrived, arrivals) = mpsc::unbounded_channel();
        let (gate, opened) = watch::channel(false);
        let recorded = Arc::clone(&all);
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let recorded = Arc::clone(&recorded);
                let arrived = arrived.clone();
                let mut opened = opened.clone();
                async move {
                    let request = Received {
                        method: method.to_string(),
                        path: uri.path().to_owned(),
                        headers,
                        body: String::from_utf8(body.to_vec()).unwrap(),
                    };
                    recorded.lock().unwrap().push(request.clone());
                    let _ = arrived.send(request);
                    match answer {
                        Answer::Status(code) => StatusCode::from_u16(code).unwrap(),
                        Answer::Hang => {
                            let _ = opened.wait_for(|open| *open).await;
                            StatusCode::OK
                        }
                    }
                }
            },
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            addr,
            all,
            arrivals,
            gate,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The next request to arrive.
    pub(crate) async fn next(&mut self) -> Received {
        self.arrivals.recv().await.unwrap()
    }

    /// Lets hanging requests be answered.
    pub(crate) fn open(&self) {
        self.gate.send_replace(true);
    }

    pub(crate) fn all(&self) -> Vec<Received> {
        self.all.lock().unwrap().clone()
    }
}
