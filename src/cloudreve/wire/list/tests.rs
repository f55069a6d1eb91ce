//! Unit tests of the list decoder: the documented sample, every field's problems, incomplete
//! answers, document shapes, and hostile answers (an index listed twice, names that are not
//! UTF-8, control characters in keys, repeated keys).

use super::*;
use crate::task::{DownloadState, DownloadTask, Phase, TaskFile, TaskKind, TaskStatus};

fn decode(body: &[u8]) -> Result<ListAnswer, Refused> {
    decode_list(body)
}

const SAMPLE: &str = r#"{"code":0,"data":{"tasks":[{"created_at":"2025-06-21T12:00:01.52+08:00","id":"kku7","status":"suspending","type":"remote_download","node":{"id":"Y9Tb","name":"Master","type":"master","capabilities":"Dg=="},"summary":{"phase":"monitor","props":{"src_str":"magnet:?xt=urn:btih:01","src":"","dst":"cloudreve://my/Downloads","failed":0,"download":{"name":"Some.Show.S01","state":"downloading","total":3052994560,"downloaded":786432000,"hash":"0123","files":[{"index":1,"name":"Some.Show.S01/E01.mkv","size":1503238553,"progress":0.42,"selected":true},{"index":5,"name":"Some.Show.S01/ads.url","size":120,"progress":0,"selected":false}],"pieces":"AAAA//8A","num_pieces":1456,"new_field":{"x":[1,{"y":null}]}}}},"duration":4210,"resume_time":1750479052},{"id":"YJOCZ","status":"queued","type":"remote_download","summary":{"props":{"src_str":"magnet:?","download":null}}},{"id":"9B0O","status":"processing","type":"remote_download"}],"pagination":{"page":0,"page_size":32765,"is_cursor":true}},"msg":""}"#;

fn page(body: &str) -> Result<ListPage, ListProblem> {
    let answer = decode_list(body.as_bytes()).unwrap();
    assert_eq!(answer.code, Some(0));
    answer.into_page()
}

fn tasks(body: &str) -> TaskList {
    page(body).ok().unwrap().tasks
}

/// A list answer with these task objects.
fn list_of(tasks: &[&str]) -> String {
    format!(
        r#"{{"code":0,"msg":"","data":{{"tasks":[{}]}}}}"#,
        tasks.join(",")
    )
}

const GOOD: &str = r#"{"id":"good","status":"processing","type":"remote_download","summary":{"phase":"monitor","props":{"download":{"name":"T","state":"downloading","files":[{"index":1,"name":"T/a.mkv","size":5,"selected":true}]}}}}"#;

#[test]
fn decodes_the_documented_sample_and_tolerates_missing_fields() {
    let list = tasks(SAMPLE);
    assert!(list.skipped.is_empty());
    let tasks = list.tasks;
    assert_eq!(tasks.len(), 3);
    let first = &tasks[0];
    assert_eq!(first.id.as_str(), "kku7");
    assert_eq!(first.phase, Phase::Monitor);
    assert_eq!(first.status, TaskStatus::Suspending);
    assert_eq!(first.kind, TaskKind::RemoteDownload);
    assert_eq!(first.source, "magnet:?xt=urn:btih:01");
    let download = first.download.as_ref().unwrap();
    assert_eq!(download.name, "Some.Show.S01");
    assert_eq!(download.state, DownloadState::Downloading);
    let files = download.files.as_ref().unwrap();
    assert_eq!(
        files[0],
        TaskFile {
            index: 1,
            path: "Some.Show.S01/E01.mkv".into(),
            size: 1_503_238_553,
            selected: true
        }
    );
    assert_eq!(files[1].index, 5);
    assert!(!files[1].selected);
    assert_eq!(tasks[1].download, None);
    assert_eq!(tasks[1].phase, Phase::NotStarted);
    assert_eq!(tasks[1].status, TaskStatus::Queued);
    assert_eq!(tasks[2].source, "");
    assert_eq!(tasks[2].download, None);
}

#[test]
fn escaped_strings_and_keys_decode_like_plain_ones() {
    let list = tasks(&list_of(&[
        r#"{"\u0069d":"a\u00e9","status":"processing","summary":{"props":{"download":{"files":[{"index":0,"n\u0061me":"T/\"q\"\\b.mkv"}]}}}}"#,
    ]));
    let task = &list.tasks[0];
    assert_eq!(task.id.as_str(), "aé");
    let files = task.download.as_ref().unwrap().files.as_ref().unwrap();
    assert_eq!(&*files[0].path, r#"T/"q"\b.mkv"#);
    assert_eq!(files[0].size, 0);
    assert!(!files[0].selected);
}

/// A task's paths share one buffer; each file still gets exactly its own path, a file without a
/// name has an empty path, and a task whose files are malformed leaves nothing behind for the
/// next task.
#[test]
fn the_paths_of_a_task_are_each_files_own() {
    let list = tasks(&list_of(&[
        r#"{"id":"a","status":"processing","summary":{"props":{"download":{"files":[{"index":1,"name":"A/é.mkv"},{"index":2},{"index":3,"name":"A/über.srt"},{"index":4,"name":""}]}}}}"#,
        r#"{"id":"bad","status":"processing","summary":{"props":{"download":{"files":[{"index":1,"name":"B/leftover.mkv"},{"index":"x","name":"B/2"}]}}}}"#,
        r#"{"id":"c","status":"processing","summary":{"props":{"download":{"files":[{"name":"C/x.mkv","index":7}]}}}}"#,
    ]));
    let paths = |task: &DownloadTask| -> Vec<(u64, String)> {
        task.download
            .as_ref()
            .unwrap()
            .files
            .as_ref()
            .unwrap()
            .iter()
            .map(|f| (f.index, f.path.to_string()))
            .collect()
    };
    assert_eq!(
        paths(&list.tasks[0]),
        [
            (1, "A/é.mkv".to_owned()),
            (2, String::new()),
            (3, "A/über.srt".to_owned()),
            (4, String::new())
        ]
    );
    assert_eq!(list.skipped.len(), 1);
    assert_eq!(list.skipped[0].id.as_deref(), Some("bad"));
    assert_eq!(paths(&list.tasks[1]), [(7, "C/x.mkv".to_owned())]);
}

#[test]
fn unknown_enum_values_are_kept_not_rejected() {
    let list = tasks(&list_of(&[
        r#"{"id":"a","status":"paused_by_admin","type":"future_kind","summary":{"phase":"verify","props":{"download":{"state":"checking"}}}}"#,
    ]));
    let task = &list.tasks[0];
    assert_eq!(task.status, TaskStatus::Other("paused_by_admin".into()));
    assert_eq!(task.kind, TaskKind::Other("future_kind".into()));
    assert_eq!(task.phase, Phase::Other("verify".into()));
    let download = task.download.as_ref().unwrap();
    assert_eq!(download.state, DownloadState::Other("checking".into()));
    assert_eq!(download.files, None);
}

#[test]
fn nulls_count_as_absent_for_optional_fields() {
    let list = tasks(&list_of(&[
        r#"{"id":"a","status":null,"type":null,"summary":{"phase":null,"props":{"src_str":null,"download":{"name":null,"state":null,"files":null}}}}"#,
    ]));
    assert!(list.skipped.is_empty());
    let task = &list.tasks[0];
    assert_eq!(task.phase, Phase::NotStarted);
    assert_eq!(task.download.as_ref().unwrap().files, None);
}

#[test]
fn one_malformed_task_is_skipped_with_its_id_and_the_field_path() {
    let cases = [
        (
            r#"{"id":"bad","summary":{"props":{"download":{"files":[{"index":1},{"index":"2","name":"x"}]}}}}"#,
            "summary.props.download.files[1].index is a string, not a non-negative integer",
        ),
        (
            r#"{"id":"bad","summary":{"props":{"download":{"files":[{"name":"x"}]}}}}"#,
            "summary.props.download.files[0].index is missing",
        ),
        (
            r#"{"id":"bad","summary":{"props":{"download":{"files":[{"index":-1}]}}}}"#,
            "summary.props.download.files[0].index is a number, not a non-negative integer",
        ),
        (
            r#"{"id":"bad","summary":{"props":{"download":{"files":[{"index":1,"size":1.5}]}}}}"#,
            "summary.props.download.files[0].size is a number, not a non-negative integer",
        ),
        (
            r#"{"id":"bad","summary":{"props":{"download":{"files":[{"index":1,"selected":"true"}]}}}}"#,
            "summary.props.download.files[0].selected is a string, not a boolean",
        ),
        (
            r#"{"id":"bad","summary":{"props":{"download":{"files":[7]}}}}"#,
            "summary.props.download.files[0] is a number, not an object",
        ),
        (
            r#"{"id":"bad","summary":{"props":{"download":{"files":{"0":{}}}}}}"#,
            "summary.props.download.files is an object, not an array",
        ),
        (
            r#"{"id":"bad","summary":{"props":{"download":"ready"}}}"#,
            "summary.props.download is a string, not an object",
        ),
        (
            r#"{"id":"bad","summary":{"props":{"src_str":["a"]}}}"#,
            "summary.props.src_str is an array, not a string",
        ),
        (
            r#"{"id":"bad","summary":{"phase":1}}"#,
            "summary.phase is a number, not a string",
        ),
        (
            r#"{"id":"bad","summary":[]}"#,
            "summary is an array, not an object",
        ),
        (
            r#"{"id":"bad","status":true}"#,
            "status is a boolean, not a string",
        ),
    ];
    for (bad, reason) in cases {
        let list = tasks(&list_of(&[GOOD, bad, GOOD]));
        assert_eq!(list.tasks.len(), 2, "{bad}");
        assert!(list.tasks.iter().all(|t| t.id.as_str() == "good"));
        assert_eq!(
            list.skipped,
            vec![SkippedTask {
                id: Some("bad".into()),
                reason: reason.into()
            }],
            "{bad}"
        );
    }
}

#[test]
fn a_task_without_a_readable_id_is_skipped_without_one() {
    let list = tasks(&list_of(&[
        GOOD,
        r#"{"status":"processing"}"#,
        r#"{"id":7}"#,
        r#"{"id":""}"#,
        "null",
        r#""x""#,
    ]));
    assert_eq!(list.tasks.len(), 1);
    let reasons: Vec<(Option<String>, String)> =
        list.skipped.into_iter().map(|s| (s.id, s.reason)).collect();
    assert_eq!(
        reasons,
        vec![
            (None, "id is missing".to_owned()),
            (None, "id is a number, not a string".to_owned()),
            (None, "id is empty".to_owned()),
            (None, "tasks[4] is null, not an object".to_owned()),
            (None, "tasks[5] is a string, not an object".to_owned()),
        ]
    );
}

#[test]
fn the_id_is_read_even_after_the_problem() {
    let list = tasks(&list_of(&[
        r#"{"summary":{"props":{"download":{"files":[{"index":"1"}]}}},"status":"processing","id":"late"}"#,
    ]));
    assert_eq!(list.skipped[0].id.as_deref(), Some("late"));
}

#[test]
fn an_incomplete_answer_is_a_problem_not_an_empty_list() {
    let cases = [
        (r#"{"code":0,"msg":""}"#, ListProblem::DataMissing),
        (r#"{"code":0,"msg":"","data":null}"#, ListProblem::DataNull),
        (
            r#"{"code":0,"msg":"","data":"eyJhbGciOiJIUzI1NiJ9.secret"}"#,
            ListProblem::DataNotObject(JsonKind::String),
        ),
        (
            r#"{"code":0,"msg":"","data":{}}"#,
            ListProblem::TasksMissing,
        ),
        (
            r#"{"code":0,"msg":"","data":{"tasks":null}}"#,
            ListProblem::TasksNull,
        ),
        (
            r#"{"code":0,"msg":"","data":{"tasks":{"a":1}}}"#,
            ListProblem::TasksNotArray(JsonKind::Object),
        ),
        (
            r#"{"code":0,"msg":"","data":{"tasks":[],"pagination":{"next_token":5}}}"#,
            ListProblem::CursorNotString(JsonKind::Number),
        ),
    ];
    for (body, problem) in cases {
        assert_eq!(page(body).err(), Some(problem), "{body}");
    }
    let next = page(r#"{"code":0,"msg":"","data":{"pagination":{"next_token":"abc"},"tasks":[]}}"#)
        .ok()
        .unwrap();
    assert_eq!(next.next_token.as_deref(), Some("abc"));
    let last = page(r#"{"code":0,"msg":"","data":{"tasks":[],"pagination":{"next_token":""}}}"#)
        .ok()
        .unwrap();
    assert_eq!(last.next_token, None);
}

#[test]
fn error_codes_and_non_objects() {
    let answer = decode(br#"{"code":404,"msg":"Task not found","correlation_id":"c1"}"#).unwrap();
    assert_eq!(answer.code, Some(404));
    assert_eq!(answer.msg, "Task not found");
    assert_eq!(answer.correlation_id.as_deref(), Some("c1"));
    assert_eq!(decode(br#"{"code":-1,"msg":""}"#).unwrap().code, Some(-1));
    assert_eq!(decode(br#"{"msg":""}"#).unwrap().code, None);
    assert!(decode(b"[1,2]").is_err());
    assert!(decode(b"").is_err());
    assert!(decode(br#"{"code":0,"data":{"tasks":[{"id":"a"#).is_err());
    assert!(decode(br#"{"code":0} trailing"#).is_err());
}

#[test]
fn documents_of_every_accepted_shape() {
    let shapes = [
        SAMPLE.to_owned(),
        format!(r#"{{"tasks":[{GOOD}],"pagination":{{"page":0}}}}"#),
        format!("[{GOOD},{GOOD}]"),
        GOOD.to_owned(),
    ];
    let counts: Vec<usize> = shapes
        .iter()
        .map(|text| match decode_document(text.as_bytes()).unwrap() {
            Document::Answer(answer) => answer.into_page().ok().unwrap().tasks.tasks.len(),
            Document::Tasks(tasks) => tasks.tasks.len(),
            Document::Other => 0,
        })
        .collect();
    assert_eq!(counts, [3, 1, 2, 1]);
    for other in [
        r#"{"name":"x"}"#,
        "7",
        r#""text""#,
        "null",
        r#"{"tasks":null}"#,
    ] {
        assert!(
            matches!(decode_document(other.as_bytes()), Ok(Document::Other)),
            "{other}"
        );
    }
    assert!(decode_document(b"{").is_err());
}

fn body(tasks: &[&[u8]]) -> Vec<u8> {
    let mut body = br#"{"code":0,"msg":"","data":{"tasks":["#.to_vec();
    for (i, task) in tasks.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(task);
    }
    body.extend_from_slice(br"]}}");
    body
}

/// The list the client makes of `body`.
fn whole(body: &[u8]) -> Result<TaskList, String> {
    match decode_list(body) {
        Ok(answer) => answer
            .into_page()
            .map(|page| page.tasks)
            .map_err(|e| e.to_string()),
        Err(e) => Err(format!("{e:?}")),
    }
}

#[test]
fn a_task_listing_an_index_twice_is_skipped_naming_both_files() {
    let twice = br#"{"id":"twice","status":"processing","summary":{"props":{"download":{"files":[{"index":3,"name":"a"},{"index":1,"name":"b"},{"index":3,"name":"c"}]}}}}"#;
    let list = whole(&body(&[twice, GOOD.as_bytes()])).unwrap();
    assert_eq!(list.tasks.len(), 1);
    assert_eq!(list.tasks[0].id.as_str(), "good");
    assert_eq!(
        list.skipped,
        vec![SkippedTask {
            id: Some("twice".into()),
            reason: "summary.props.download.files[2].index repeats the index of files[0]; a task listing an index twice is not planned".into(),
        }]
    );
}

#[test]
fn a_file_name_that_is_not_utf8_costs_only_its_task() {
    let latin1 = b"{\"id\":\"latin\",\"status\":\"processing\",\"summary\":{\"props\":{\"download\":{\"files\":[{\"index\":1,\"name\":\"Caf\xe9/film.mkv\"}]}}}}";
    let bad_id = b"{\"id\":\"x\xff\",\"status\":\"processing\"}";
    let ignored_field = b"{\"id\":\"node\",\"node\":{\"name\":\"\xc3\"}}";
    let body = body(&[
        GOOD.as_bytes(),
        latin1,
        bad_id,
        ignored_field,
        GOOD.as_bytes(),
    ]);
    let list = whole(&body).unwrap();
    assert_eq!(list.tasks.len(), 2);
    let skipped: Vec<_> = list
        .skipped
        .iter()
        .map(|s| (s.id.clone(), s.reason.clone()))
        .collect();
    assert_eq!(
        skipped,
        vec![
            (
                Some("latin".into()),
                "tasks[1] holds a string that is not UTF-8 text".into()
            ),
            (
                None,
                "tasks[2] holds a string that is not UTF-8 text".into()
            ),
            (
                Some("node".into()),
                "tasks[3] holds a string that is not UTF-8 text".into()
            ),
        ],
    );
}

/// Outside every task (here `msg`, or a cursor that would be sent back) the bad bytes cannot be
/// pinned on one task: the answer is refused, with the position in the body.
#[test]
fn text_that_is_not_utf8_outside_the_tasks_fails_the_page_with_a_position() {
    let msg = b"{\"code\":0,\n\"msg\":\"\xff\",\"data\":{\"tasks\":[]}}";
    let Err(Refused::NotUtf8(problem)) = decode_list(msg) else {
        panic!("accepted");
    };
    assert_eq!((problem.line, problem.column), (2, 8));
    let cursor = b"{\"code\":0,\"data\":{\"tasks\":[],\"pagination\":{\"next_token\":\"a\xff\"}}}";
    assert!(matches!(decode_list(cursor), Err(Refused::NotUtf8(_))));
    // Broken beyond its text, the answer is not JSON.
    let broken = body(&[b"{\"id\":\"a\xff\",\"status\":}"]);
    assert!(matches!(decode_list(&broken), Err(Refused::Json(_))));
}

/// Found by fuzzing (fuzz/artifacts/list/crash-0a9820c7): raw control characters in a key were
/// accepted, since `serde_json` reads keys as bytes without checking them.
#[test]
fn a_raw_control_character_in_a_key_is_not_json() {
    let body = b"{\"code\":0,\"data\":{\"tasks\":[{\"id\":\"kku7\",\"summa\x0f\x00ry\":{}}]}}";
    assert!(whole(body).is_err());
    // Written as escapes, the same characters are valid JSON.
    let body = br#"{"code":0,"data":{"tasks":[{"id":"kku7","summa\u000f\u0000ry":{}}]}}"#;
    assert_eq!(whole(body).unwrap().tasks.len(), 1);
}

/// serde refuses a key listed twice in one object: inside a task, the task is skipped, the
/// path naming where; in the envelope, the answer is refused (the scanner kept the last value;
/// Cloudreve's Go encoder never repeats a key).
#[test]
fn a_repeated_key_costs_its_task_or_the_answer() {
    let twice = br#"{"id":"twice","summary":{"props":{"download":{"files":[{"index":1,"name":"a","name":"b"}]}}}}"#;
    let list = whole(&body(&[twice, GOOD.as_bytes()])).unwrap();
    assert_eq!(list.tasks.len(), 1);
    assert_eq!(list.skipped.len(), 1);
    assert_eq!(list.skipped[0].id.as_deref(), Some("twice"));
    let reason = &list.skipped[0].reason;
    assert!(
        reason.contains("summary.props.download.files[0]") && reason.contains("twice"),
        "{reason}"
    );
    assert!(!reason.contains('"'), "{reason}");
    assert!(matches!(
        decode_list(br#"{"code":0,"data":{"tasks":[]},"data":{"tasks":[]}}"#),
        Err(Refused::Json(_))
    ));
}
