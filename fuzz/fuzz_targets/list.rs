//! The task-list decoder (`GET /workflow`), as the client runs it on a received body.
//!
//! Oracle: for UTF-8 input, `serde_json::Value` of the same bytes agrees: what it rejects as
//! JSON the decoder rejects (except nesting past serde_json's recursion limit), and a code-0
//! answer with a `data.tasks` array decodes to one task or skipped task per element, each task
//! carrying an id that one of the elements has; the one exception is a key repeated in the
//! envelope, which `Value` merges (last wins) and serde's derived structs refuse (the decoder
//! then calls it JSON that is not an envelope). The property test
//! `cloudreve::wire::list::oracle_tests` checks the fields themselves on generated answers.
#![no_main]

use cloudreve_autoselect::cloudreve::decode_list_answer;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let body = data;
    let whole = decode_list_answer(body);
    if std::str::from_utf8(body).is_err() {
        return;
    }
    match serde_json::from_slice::<Value>(body) {
        Err(e) => {
            if !e.to_string().contains("recursion limit") {
                assert!(whole.is_err(), "accepted what is not JSON ({e}): {whole:?}");
            }
        }
        Ok(value) => {
            let Some(elements) = complete_tasks(&value) else {
                return;
            };
            let list = match whole {
                Ok(list) => list,
                Err(e) if e.to_string().contains("JSON that is not an envelope") => return,
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
