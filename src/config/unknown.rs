//! Every unknown key of a rules file at once, not only the first.
//!
//! serde's `deny_unknown_fields` stops at the first unknown key, and not in line order (a
//! misspelt table is found before a misspelt key above it). So the file is parsed again and
//! again: each unknown key found is recorded and blanked out of a working copy of the text (its
//! key and value, or a whole misspelt table, replaced by spaces, newlines kept), until the text
//! parses or fails for another reason. Blanking keeps every byte offset, so the spans of later
//! problems, and the value checks run on the result, point into the original file.

use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// Unknown keys reported at most; past this many the file is something else entirely.
const MAX_UNKNOWN: usize = 64;

/// An unknown key: where it is, and toml's message (which lists the expected keys).
pub(super) struct UnknownKey {
    /// The key's span in the text.
    pub(super) span: Range<usize>,
    /// What toml says of it.
    pub(super) message: String,
}

/// Parses `text` as `T`, collecting every unknown key on the way. The result is `T` parsed from
/// the text without its unknown keys, or the first error that is not an unknown key.
pub(super) fn parse<T: DeserializeOwned>(
    text: &str,
) -> (Result<T, toml::de::Error>, Vec<UnknownKey>) {
    let mut working = text.to_owned();
    let mut unknown = Vec::new();
    loop {
        let error = match toml::from_str::<T>(&working) {
            Ok(value) => return (Ok(value), unknown),
            Err(error) => error,
        };
        let span = match error.span() {
            Some(span) if error.message().starts_with("unknown field") => span,
            _ => return (Err(error), unknown),
        };
        let Some(blank) = blank_range(&working, &span) else {
            return (Err(error), unknown);
        };
        if unknown.len() >= MAX_UNKNOWN {
            return (Err(error), unknown);
        }
        unknown.push(UnknownKey {
            span: span.clone(),
            message: error.message().trim_end_matches('.').to_owned(),
        });
        // Spaces in place of every byte but newlines: offsets and lines stay as they were.
        let blanked: String = working
            .get(blank.clone())
            .unwrap_or_default()
            .chars()
            .map(|c| if c == '\n' { '\n' } else { ' ' })
            .collect();
        working.replace_range(blank, &blanked);
    }
}

/// What to blank for the unknown key at `key`: a table header with everything up to the next
/// header, or the key with its value.
fn blank_range(text: &str, key: &Range<usize>) -> Option<Range<usize>> {
    let line_start = text.get(..key.start)?.rfind('\n').map_or(0, |i| i + 1);
    if text
        .get(line_start..key.start)?
        .trim_start()
        .starts_with('[')
    {
        // A misspelt table: its header and its keys, up to the next header.
        let mut offset = line_start;
        for (n, line) in text.get(line_start..)?.split_inclusive('\n').enumerate() {
            if n > 0 && line.trim_start().starts_with('[') {
                break;
            }
            offset += line.len();
        }
        return Some(line_start..offset);
    }
    let document = DeTable::parse(text).ok()?;
    let value = value_span(document.get_ref(), key)?;
    Some(key.start..value.end.max(key.end))
}

/// The span of the value whose key is at `key`, anywhere in the document.
fn value_span(table: &DeTable<'_>, key: &Range<usize>) -> Option<Range<usize>> {
    for (name, value) in table {
        if name.span() == *key {
            return Some(value.span());
        }
        if let Some(found) = in_value(value, key) {
            return Some(found);
        }
    }
    None
}

fn in_value(value: &Spanned<DeValue<'_>>, key: &Range<usize>) -> Option<Range<usize>> {
    match value.get_ref() {
        DeValue::Table(table) => value_span(table, key),
        DeValue::Array(items) => items.iter().find_map(|item| in_value(item, key)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        #[serde(default)]
        server: Option<Server>,
        #[serde(default)]
        rule: Vec<Rule>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Server {
        url: String,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Rule {
        name: String,
    }

    #[test]
    fn every_unknown_key_is_found_and_the_rest_still_parses() {
        let text = "[deamon]\nschedule = \"x\"\nmore = [\n  1,\n]\n\n[server]\nurl = \"u\"\nemial = \"e\"\n\n[[rule]]\nname = \"r\"\nacton = [\n \"skip\",\n]\n";
        let (parsed, unknown) = parse::<Doc>(text);
        let doc = parsed.unwrap();
        assert_eq!(doc.server.unwrap().url, "u");
        assert_eq!(doc.rule[0].name, "r");
        let keys: Vec<&str> = unknown.iter().map(|u| &text[u.span.clone()]).collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, ["acton", "deamon", "emial"]);
    }
}
