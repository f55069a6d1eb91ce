//! The list decoder against hostile answers: an index listed twice, and file names that are not
//! UTF-8 text.

use super::*;

const GOOD: &str = r#"{"id":"good","status":"processing","type":"remote_download","summary":{"phase":"monitor","props":{"download":{"name":"T","state":"downloading","files":[{"index":1,"name":"T/a.mkv","size":5,"selected":true}]}}}}"#;

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

/// The list the client makes of `body` arriving in pieces of `size` bytes.
fn streamed(body: &[u8], size: usize) -> Result<TaskList, String> {
    let mut stream = ListStream::default();
    for piece in body.chunks(size) {
        stream.feed(piece);
    }
    match stream.finish() {
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
    let body = body(&[twice, GOOD.as_bytes()]);
    for list in [
        decode_list(&body)
            .ok()
            .and_then(|a| a.into_page().ok())
            .map(|p| p.tasks),
        streamed(&body, 7).ok(),
    ] {
        let list = list.unwrap();
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
}

#[test]
fn a_file_name_that_is_not_utf8_costs_only_its_task() {
    let latin1 = b"{\"id\":\"latin\",\"status\":\"processing\",\"summary\":{\"props\":{\"download\":{\"files\":[{\"index\":1,\"name\":\"Caf\xe9/film.mkv\"}]}}}}";
    let bad_id = b"{\"id\":\"x\xff\",\"status\":\"processing\"}";
    let body = body(&[GOOD.as_bytes(), latin1, bad_id, GOOD.as_bytes()]);
    // In pieces of every size: the element may arrive whole or cut anywhere.
    for size in 1..=body.len() {
        let list = streamed(&body, size).unwrap_or_else(|e| panic!("pieces of {size}: {e}"));
        assert_eq!(list.tasks.len(), 2, "pieces of {size}");
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
            ],
            "pieces of {size}"
        );
    }
    // The whole-body decoder (saved documents that the stream could not follow) still refuses
    // the document, with the position: serde_json reads only UTF-8 strings.
    assert!(decode_list(&body).is_err());
}

#[test]
fn text_that_is_not_utf8_outside_the_tasks_fails_the_page_with_a_position() {
    let body = b"{\"code\":0,\"msg\":\"\xff\",\"data\":{\"tasks\":[]}}";
    let e = streamed(body, 5).unwrap_err();
    assert!(e.starts_with("Skeleton"), "{e}");
    // An element that is broken beyond its text stays an error of the page.
    let broken = body_of_broken();
    let e = streamed(&broken, 9).unwrap_err();
    assert!(e.starts_with("Element"), "{e}");
}

fn body_of_broken() -> Vec<u8> {
    body(&[b"{\"id\":\"a\xff\",\"status\":}"])
}

/// Found by fuzzing (fuzz/artifacts/list/crash-0a9820c7): raw control characters in a key were
/// accepted, since `serde_json` reads keys as bytes without checking them.
#[test]
fn a_raw_control_character_in_a_key_is_not_json() {
    let body = b"{\"code\":0,\"data\":{\"tasks\":[{\"id\":\"kku7\",\"summa\x0f\x00ry\":{}}]}}";
    for size in [1, 7, body.len()] {
        assert!(streamed(body, size).is_err(), "pieces of {size}");
    }
    assert!(decode_list(body).is_err());
    // Written as escapes, the same characters are valid JSON.
    let body = br#"{"code":0,"data":{"tasks":[{"id":"kku7","summa\u000f\u0000ry":{}}]}}"#;
    assert_eq!(streamed(body, 3).unwrap().tasks.len(), 1);
}
