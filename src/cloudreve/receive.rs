//! Receiving an answer: the envelope, the size cap, the list's body kept whole and decoded.

use reqwest::StatusCode;
use serde::de::DeserializeOwned;

use crate::task::TaskList;

use super::{DecodeProblem, Error, error, oauth, wire};

/// What is known of an answer besides its body.
#[derive(Clone, Copy)]
pub(super) struct AnswerHead<'a> {
    /// e.g. `GET /workflow`.
    pub(super) endpoint: &'a str,
    pub(super) status: StatusCode,
    /// The id sent in `X-Cr-Correlation-Id`.
    pub(super) correlation_id: &'a str,
}

impl AnswerHead<'_> {
    pub(super) fn not_json(&self, snippet: String) -> Error {
        Error::NotJson {
            endpoint: self.endpoint.to_owned(),
            status: self.status.as_u16(),
            correlation_id: self.correlation_id.to_owned(),
            snippet,
        }
    }

    pub(super) fn api(&self, code: i64, msg: String, correlation_id: Option<String>) -> Error {
        if code == 40089 {
            return Error::ScopeMissing {
                endpoint: self.endpoint.to_owned(),
                scope: oauth::scope_for(self.endpoint),
                correlation_id: correlation_id.unwrap_or_else(|| self.correlation_id.to_owned()),
            };
        }
        Error::Api {
            endpoint: self.endpoint.to_owned(),
            code,
            msg,
            correlation_id: correlation_id.unwrap_or_else(|| self.correlation_id.to_owned()),
        }
    }
}

/// Receives an answer's body as it arrives, then judges it.
pub(super) trait Receive: Send {
    /// What a good answer gives.
    type Output;
    /// The body's announced length, if any.
    fn expect(&mut self, _content_length: Option<u64>) {}
    /// The next piece of the body.
    fn receive(&mut self, chunk: &[u8]);
    /// Bytes received so far (the response-size cap counts them).
    fn received(&self) -> usize;
    /// The whole answer has arrived.
    fn finish(self, head: AnswerHead<'_>) -> Result<Self::Output, Error>;
}

/// Keeps the body, then decodes it with `serde` (every answer but the list, all small).
pub(super) struct Buffered<T> {
    pub(super) bytes: Vec<u8>,
    pub(super) decode: fn(AnswerHead<'_>, &[u8]) -> Result<T, Error>,
}

impl<T: DeserializeOwned> Buffered<Option<T>> {
    /// The envelope with a `data` of type `T`.
    pub(super) fn envelope() -> Self {
        Self {
            bytes: Vec::new(),
            decode: decode_envelope::<T>,
        }
    }
}

impl<T> Receive for Buffered<T> {
    type Output = T;

    fn expect(&mut self, content_length: Option<u64>) {
        // A length beyond the cap is refused before this; a small first guess otherwise.
        let length = content_length.map_or(8 * 1024, |l| usize::try_from(l).unwrap_or(0));
        self.bytes.reserve_exact(length);
    }
    fn receive(&mut self, chunk: &[u8]) {
        self.bytes.extend_from_slice(chunk);
    }
    fn received(&self) -> usize {
        self.bytes.len()
    }
    fn finish(self, head: AnswerHead<'_>) -> Result<T, Error> {
        (self.decode)(head, &self.bytes)
    }
}

/// Keeps the list answer's body, then decodes it whole (see `wire::list`).
#[derive(Default)]
pub(super) struct ListReceiver(Vec<u8>);

impl Receive for ListReceiver {
    type Output = (wire::list::ListPage, String);

    fn expect(&mut self, content_length: Option<u64>) {
        // A length beyond the cap is refused before this; a small first guess otherwise.
        let length = content_length.map_or(64 * 1024, |l| usize::try_from(l).unwrap_or(0));
        self.0.reserve_exact(length);
    }
    fn receive(&mut self, chunk: &[u8]) {
        self.0.extend_from_slice(chunk);
    }
    fn received(&self) -> usize {
        self.0.len()
    }
    fn finish(self, head: AnswerHead<'_>) -> Result<Self::Output, Error> {
        let bytes = self.0;
        let decoded = wire::list::decode_list(&bytes).map_err(|refused| {
            head.not_json(match refused {
                wire::list::Refused::Json(_) => error::body_excerpt(&bytes),
                wire::list::Refused::NotUtf8(problem) => format!(
                    "{} bytes of JSON; text that is not UTF-8 outside data.tasks at line {} column {}",
                    bytes.len(),
                    problem.line,
                    problem.column
                ),
            })
        })?;
        judge_list(head, decoded).map(|(mut page, correlation_id)| {
            page.bytes = bytes.len();
            (page, correlation_id)
        })
    }
}

/// Checks the envelope: a non-zero `code` is an error whatever the HTTP status; a body that is
/// not the envelope is a transport-level error. No error quotes a value from the body.
pub(super) fn decode_envelope<T: DeserializeOwned>(
    head: AnswerHead<'_>,
    bytes: &[u8],
) -> Result<Option<T>, Error> {
    let envelope_head = || serde_json::from_slice::<wire::EnvelopeHead>(bytes);
    if !head.status.is_success() && envelope_head().is_err() {
        return Err(head.not_json(error::body_excerpt(bytes)));
    }
    match serde_json::from_slice::<wire::Envelope<T>>(bytes) {
        Ok(envelope) if envelope.code != 0 => {
            Err(head.api(envelope.code, envelope.msg, envelope.correlation_id))
        }
        Ok(envelope) => Ok(envelope.data),
        Err(e) => Err(match envelope_head() {
            Ok(envelope) if envelope.code != 0 => {
                head.api(envelope.code, envelope.msg, envelope.correlation_id)
            }
            Ok(_) => Error::Decode {
                endpoint: head.endpoint.to_owned(),
                correlation_id: head.correlation_id.to_owned(),
                problem: DecodeProblem::from(&e),
            },
            Err(_) => head.not_json(error::body_excerpt(bytes)),
        }),
    }
}

/// The endpoint named in list errors.
pub(super) const LIST_ENDPOINT: &str = "GET /workflow";

/// Pages of the downloading list read before giving up (the server sends one).
pub(super) const MAX_LIST_PAGES: usize = 1000;

/// A decoded list answer: its page and the correlation id to name in later errors, or why it is
/// not a complete list.
pub(super) fn judge_list(
    head: AnswerHead<'_>,
    decoded: wire::list::ListAnswer,
) -> Result<(wire::list::ListPage, String), Error> {
    let Some(code) = decoded.code else {
        return Err(head.not_json("JSON without an envelope code".to_owned()));
    };
    if code != 0 {
        return Err(head.api(code, decoded.msg, decoded.correlation_id));
    }
    let correlation_id = decoded
        .correlation_id
        .clone()
        .unwrap_or_else(|| head.correlation_id.to_owned());
    match decoded.into_page() {
        Ok(page) => Ok((page, correlation_id)),
        Err(problem) => Err(Error::ListIncomplete {
            endpoint: head.endpoint.to_owned(),
            correlation_id,
            problem,
        }),
    }
}

/// Decodes a `GET /workflow` answer exactly as the client does once the body has arrived
/// (public for the scale bench and the fuzz target). The answer must be a complete list, as for
/// [`Client::list_downloading`](super::Client::list_downloading).
pub fn decode_list_answer(body: &[u8]) -> Result<TaskList, Error> {
    let mut receiver = ListReceiver::default();
    receiver.receive(body);
    receiver
        .finish(AnswerHead {
            endpoint: LIST_ENDPOINT,
            status: StatusCode::OK,
            correlation_id: "",
        })
        .map(|(page, _)| page.tasks)
}
