//! The list decoder against an independent oracle, on generated answers.
//!
//! Answers are generated as `serde_json::Value`s (valid tasks with random files, unknown fields
//! and nested noise at every level, escaped and non-ASCII strings, values of the wrong type, a
//! file without an index, an index listed twice, `data` or `tasks` missing or null, other
//! codes), written out, and given bytes that are not UTF-8 where a string holds [`BAD`]. The
//! oracle reads the same `Value` by the rules the documentation states, sharing no code with
//! the decoder; both must agree on error or not, the tasks (ids, names, files) and the skipped
//! ids.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::cloudreve::decode_list_answer;

/// Written out as one byte that is not UTF-8.
const BAD: &str = "@@BAD@@";

/// What a decoded task must hold: id, name, and each file's index, path, size and selection.
type Expected = (
    String,
    Option<String>,
    Option<Vec<(u64, String, u64, bool)>>,
);

fn noise() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (0.0f64..1e6).prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Names with quotes, backslashes, control characters (written as escapes), non-ASCII text,
/// and now and then bytes that are not UTF-8.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[a-zA-Z0-9 ./_\"\\\\\u{1}\n\té日本ü\u{202e}-]{0,12}",
        1 => "[a-z]{0,4}".prop_map(|s| format!("{s}{BAD}")),
    ]
}

/// A value of the kind wanted, or now and then another one.
fn or_wrong(good: BoxedStrategy<Value>, w: u32) -> BoxedStrategy<Value> {
    let wrong = prop_oneof![
        Just(json!("1")),
        Just(json!(-1)),
        Just(json!(1.5)),
        Just(json!(true)),
        Just(json!([])),
        Just(json!({})),
        noise(),
    ];
    prop_oneof![w => good, 1 => wrong].boxed()
}

fn with_noise(object: Value, noise: Vec<(String, Value)>) -> Value {
    let Value::Object(mut map) = object else {
        return object;
    };
    for (key, value) in noise {
        map.entry(format!("x_{key}")).or_insert(value);
    }
    Value::Object(map)
}

fn extra() -> impl Strategy<Value = Vec<(String, Value)>> {
    prop::collection::vec(("[a-z]{1,6}", noise()), 0..2)
}

/// An optional field: absent, `null`, or the value.
fn optional(value: BoxedStrategy<Value>) -> BoxedStrategy<Option<Value>> {
    prop_oneof![1 => Just(None), 1 => Just(Some(Value::Null)), 10 => value.prop_map(Some)].boxed()
}

fn put(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(value) = value {
        map.insert(key.to_owned(), value);
    }
}

fn file(w: u32) -> impl Strategy<Value = Value> {
    (
        prop_oneof![10 => (0u64..6).prop_map(|i| Some(Value::from(i))), 1 => Just(None), 1 => noise().prop_map(Some)],
        optional(or_wrong(text().prop_map(Value::String).boxed(), w)),
        optional(or_wrong(any::<u64>().prop_map(Value::from).boxed(), w)),
        optional(or_wrong(any::<bool>().prop_map(Value::Bool).boxed(), w)),
        extra(),
    )
        .prop_map(|(index, name, size, selected, extra)| {
            let mut map = Map::new();
            put(&mut map, "index", index);
            put(&mut map, "name", name);
            put(&mut map, "size", size);
            put(&mut map, "selected", selected);
            with_noise(Value::Object(map), extra)
        })
}

fn task(w: u32) -> impl Strategy<Value = Value> {
    let status = prop_oneof![
        Just("processing"),
        Just("queued"),
        Just("seeding"),
        Just("")
    ]
    .prop_map(Value::from)
    .boxed();
    let download = (
        optional(or_wrong(text().prop_map(Value::String).boxed(), w)),
        optional(or_wrong(Just(json!("downloading")).boxed(), w)),
        optional(or_wrong(
            prop::collection::vec(or_wrong(file(w).boxed(), w), 0..8)
                .prop_map(Value::Array)
                .boxed(),
            w,
        )),
        extra(),
    )
        .prop_map(|(name, state, files, extra)| {
            let mut map = Map::new();
            put(&mut map, "name", name);
            put(&mut map, "state", state);
            put(&mut map, "files", files);
            with_noise(Value::Object(map), extra)
        });
    let summary = (
        optional(or_wrong(Just(json!("monitor")).boxed(), w)),
        optional(or_wrong(text().prop_map(Value::String).boxed(), w)),
        optional(or_wrong(download.boxed(), w)),
        extra(),
    )
        .prop_map(|(phase, source, download, extra)| {
            let mut props = Map::new();
            put(&mut props, "src_str", source);
            put(&mut props, "download", download);
            let mut map = Map::new();
            put(&mut map, "phase", phase);
            map.insert("props".to_owned(), Value::Object(props));
            with_noise(Value::Object(map), extra)
        });
    (
        prop_oneof![12 => text().prop_map(|t| Some(Value::String(format!("t{t}")))), 1 => optional(or_wrong(text().prop_map(Value::String).boxed(), w))],
        optional(or_wrong(status.clone(), w)),
        optional(or_wrong(Just(json!("remote_download")).boxed(), w)),
        optional(or_wrong(summary.boxed(), w)),
        extra(),
    )
        .prop_map(|(id, status, kind, summary, extra)| {
            let mut map = Map::new();
            put(&mut map, "id", id);
            put(&mut map, "status", status);
            put(&mut map, "type", kind);
            put(&mut map, "summary", summary);
            with_noise(Value::Object(map), extra)
        })
}

fn answer() -> impl Strategy<Value = Value> {
    // How often a value is of the wrong kind: never, now and then, often.
    prop_oneof![Just(1000u32), Just(40), Just(8)].prop_flat_map(answer_with)
}

fn answer_with(w: u32) -> impl Strategy<Value = Value> {
    let tasks = optional(or_wrong(
        prop::collection::vec(or_wrong(task(w).boxed(), w), 0..6)
            .prop_map(Value::Array)
            .boxed(),
        w,
    ));
    let pagination = optional(or_wrong(
        optional(or_wrong(text().prop_map(Value::String).boxed(), w))
            .prop_map(|token| {
                let mut map = Map::new();
                put(&mut map, "next_token", token);
                Value::Object(map)
            })
            .boxed(),
        w,
    ));
    let data = (tasks, pagination, extra()).prop_map(|(tasks, pagination, extra)| {
        let mut map = Map::new();
        put(&mut map, "tasks", tasks);
        put(&mut map, "pagination", pagination);
        with_noise(Value::Object(map), extra)
    });
    (
        prop_oneof![12 => Just(Some(json!(0))), 1 => Just(Some(json!(401))), 1 => Just(None)],
        prop_oneof![8 => Just(json!("")), 1 => text().prop_map(Value::String)],
        optional(or_wrong(data.boxed(), w)),
        extra(),
    )
        .prop_map(|(code, msg, data, extra)| {
            let mut map = Map::new();
            put(&mut map, "code", code);
            map.insert("msg".to_owned(), msg);
            put(&mut map, "data", data);
            with_noise(Value::Object(map), extra)
        })
}

// ---------------------------------------------------------------------------------------------
// The oracle.

fn holds_bad(value: &Value) -> bool {
    serde_json::to_string(value).unwrap().contains(BAD)
}

/// A string, or `None` for absent and `null`; `Err` for another kind.
fn opt_str(value: Option<&Value>) -> Result<Option<&str>, ()> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(()),
    }
}

fn opt_obj(value: Option<&Value>) -> Result<Option<&Map<String, Value>>, ()> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(_) => Err(()),
    }
}

fn oracle_task(task: &Map<String, Value>) -> Result<Expected, ()> {
    let id = match task.get("id") {
        Some(Value::String(id)) if !id.is_empty() => id.clone(),
        _ => return Err(()),
    };
    opt_str(task.get("status"))?;
    opt_str(task.get("type"))?;
    let Some(summary) = opt_obj(task.get("summary"))? else {
        return Ok((id, None, None));
    };
    opt_str(summary.get("phase"))?;
    let Some(props) = opt_obj(summary.get("props"))? else {
        return Ok((id, None, None));
    };
    opt_str(props.get("src_str"))?;
    let Some(download) = opt_obj(props.get("download"))? else {
        return Ok((id, None, None));
    };
    let name = opt_str(download.get("name"))?.unwrap_or("").to_owned();
    opt_str(download.get("state"))?;
    let files = match download.get("files") {
        None | Some(Value::Null) => None,
        Some(Value::Array(files)) => {
            let mut out: Vec<(u64, String, u64, bool)> = Vec::new();
            for file in files {
                let file = file.as_object().ok_or(())?;
                let index = file.get("index").and_then(Value::as_u64).ok_or(())?;
                let path = opt_str(file.get("name"))?.unwrap_or("").to_owned();
                let size = match file.get("size") {
                    None | Some(Value::Null) => 0,
                    Some(size) => size.as_u64().ok_or(())?,
                };
                let selected = match file.get("selected") {
                    None | Some(Value::Null) => false,
                    Some(selected) => selected.as_bool().ok_or(())?,
                };
                if out.iter().any(|(i, ..)| *i == index) {
                    return Err(());
                }
                out.push((index, path, size, selected));
            }
            Some(out)
        }
        Some(_) => return Err(()),
    };
    Ok((id, Some(name), files))
}

/// The tasks and skipped ids of a complete list, or `None` for an error.
#[allow(clippy::type_complexity, reason = "a test's expectation, spelt out")]
fn oracle(answer: &Value) -> Option<(Vec<Expected>, Vec<Option<String>>)> {
    let answer = answer.as_object()?;
    let data = answer.get("data");
    let outside_tasks = answer
        .iter()
        .filter(|(key, _)| *key != "data")
        .any(|(_, value)| holds_bad(value))
        || data.and_then(Value::as_object).is_some_and(|data| {
            data.iter()
                .any(|(key, value)| key != "tasks" && holds_bad(value))
        })
        || data.is_some_and(|data| !data.is_object() && holds_bad(data))
        || data
            .and_then(|data| data.get("tasks"))
            .is_some_and(|tasks| !tasks.is_array() && holds_bad(tasks));
    if outside_tasks || answer.get("code")?.as_i64()? != 0 {
        return None;
    }
    let data = data?.as_object()?;
    match data.get("pagination") {
        Some(Value::Object(pagination)) => opt_str(pagination.get("next_token")).ok()?,
        _ => None,
    };
    let mut tasks = Vec::new();
    let mut skipped = Vec::new();
    for element in data.get("tasks")?.as_array()? {
        let Some(task) = element.as_object() else {
            skipped.push(None);
            continue;
        };
        let id = task
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty() && !id.contains(BAD))
            .map(str::to_owned);
        match oracle_task(task) {
            _ if holds_bad(element) => skipped.push(id),
            Ok(expected) => tasks.push(expected),
            Err(()) => skipped.push(id),
        }
    }
    Some((tasks, skipped))
}

fn written(answer: &Value) -> Vec<u8> {
    let text = serde_json::to_string(answer).unwrap();
    text.replace(BAD, "\u{0}")
        .into_bytes()
        .into_iter()
        .map(|b| if b == 0 { 0xff } else { b })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn the_decoder_agrees_with_the_value_oracle(answer in answer()) {
        let bytes = written(&answer);
        let decoded = decode_list_answer(&bytes);
        let expected = oracle(&answer);
        match (decoded, expected) {
            (Err(_), None) => {}
            (Ok(list), Some((tasks, skipped))) => {
                let got: Vec<Expected> = list
                    .tasks
                    .iter()
                    .map(|task| {
                        (
                            task.id.as_str().to_owned(),
                            task.download.as_ref().map(|d| d.name.clone()),
                            task.download.as_ref().and_then(|d| d.files.as_ref()).map(|files| {
                                files
                                    .iter()
                                    .map(|f| (f.index, f.path.to_string(), f.size, f.selected))
                                    .collect()
                            }),
                        )
                    })
                    .collect();
                prop_assert_eq!(got, tasks);
                let got: Vec<Option<String>> =
                    list.skipped.into_iter().map(|s| s.id).collect();
                prop_assert_eq!(got, skipped);
            }
            (decoded, expected) => {
                prop_assert!(false, "decoder {:?}, oracle {:?}", decoded.map(|l| l.tasks.len()), expected.map(|e| e.0.len()));
            }
        }
    }
}
