//! The task-list decoder (`GET /workflow`), streamed in pieces as the client receives it.
//!
//! Oracles: the pieces give what the whole body gives; for UTF-8 input, `serde_json::Value`
//! of the same bytes agrees: what it rejects as JSON the decoder rejects (except nesting past
//! serde_json's recursion limit, which the decoder skips without building, and a raw control
//! character in a key written with escapes, whose raw text the decoder never sees), and a code-0
//! answer with a `data.tasks` array decodes to one task or skipped task per element, each task
//! carrying an id that one of the elements has.
#![no_main]

use cloudreve_autoselect::cloudreve::decode_list_pieces;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some((&size, body)) = data.split_first() else {
        return;
    };
    let pieces = decode_list_pieces(body.chunks(usize::from(size).max(1)));
    let whole = decode_list_pieces([body]);
    match (&pieces, &whole) {
        (Ok(a), Ok(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}")),
        (Err(_), Err(_)) => {}
        _ => panic!("pieces and whole body disagree: {pieces:?} / {whole:?}"),
    }
    if std::str::from_utf8(body).is_err() {
        return;
    }
    match serde_json::from_slice::<Value>(body) {
        Err(e) => {
            let message = e.to_string();
            let escaped_key = message.starts_with("control character") && body.contains(&b'\\');
            if !message.contains("recursion limit") && !escaped_key {
                assert!(whole.is_err(), "accepted what is not JSON ({e}): {whole:?}");
            }
        }
        Ok(value) => {
            let Some(elements) = complete_tasks(&value) else {
                return;
            };
            let list = match whole {
                Ok(list) => list,
                Err(e) => panic!("refused a complete list: {e}"),
            };
            assert_eq!(list.tasks.len() + list.skipped.len(), elements.len());
            for task in &list.tasks {
                assert!(
                    elements
                        .iter()
                        .any(|e| e.get("id").and_then(Value::as_str) == Some(task.id.as_str())),
                    "task {:?} is no element's",
                    task.id
                );
            }
        }
    }
});

/// The `data.tasks` elements of an answer that is a complete list, as the decoder must read it.
fn complete_tasks(value: &Value) -> Option<&Vec<Value>> {
    let object = value.as_object()?;
    if object.get("code")?.as_i64() != Some(0) {
        return None;
    }
    let data = object.get("data")?.as_object()?;
    match data.get("pagination") {
        None | Some(Value::Null) => {}
        Some(Value::Object(pagination)) => match pagination.get("next_token") {
            None | Some(Value::Null | Value::String(_)) => {}
            Some(_) => return None,
        },
        Some(_) => return None,
    }
    data.get("tasks")?.as_array()
}
