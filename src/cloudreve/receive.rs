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

/// Judges an answer once its whole body has arrived: every answer is held whole (the list
/// too, under the response-size cap), then decoded.
pub(super) type Decode<T> = fn(AnswerHead<'_>, &[u8]) -> Result<T, Error>;

/// A `GET /workflow` answer: its page (with the bytes it took, which the whole list's cap
/// counts) and the correlation id to name in later errors.
pub(super) fn decode_list_page(
    head: AnswerHead<'_>,
    bytes: &[u8],
) -> Result<(wire::list::ListPage, String), Error> {
    let decoded = wire::list::decode_list(bytes).map_err(|refused| {
        head.not_json(match refused {
            wire::list::Refused::Json(_) => error::body_excerpt(bytes),
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
    let head = AnswerHead {
        endpoint: LIST_ENDPOINT,
        status: StatusCode::OK,
        correlation_id: "",
    };
    decode_list_page(head, body).map(|(page, _)| page.tasks)
}
