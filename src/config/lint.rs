//! `check --lint`: rule-writing mistakes that are valid TOML and valid globs but almost
//! certainly not what the user meant. Pure; the config layer attaches locations.

use std::collections::BTreeSet;

use crate::rules::{RuleSpec, is_path_glob};

use super::RawRule;

/// The warning for a rules file without a single rule.
pub(super) const NO_RULES: &str = "no [[rule]] tables: the daemon signs in and lists the downloads, but never changes a selection; add rules (rules.example.toml is a start)";

/// A cron step larger than its field (`*/90` in the seconds field) does not mean what it says:
/// croner starts every step at the field's first value, so `*/90` seconds fires at second 0 of
/// every minute, once a minute, not every 90 seconds.
pub(super) fn schedule_warnings(pattern: &str) -> Vec<String> {
    const FIELDS: [(&str, u64, &str); 3] = [
        ("seconds", 60, "minute"),
        ("minutes", 60, "hour"),
        ("hours", 24, "day"),
    ];
    let mut warnings = Vec::new();
    for ((name, size, next), field) in FIELDS.iter().zip(pattern.split_whitespace()) {
        for part in field.split(',') {
            let Some((start, step)) = part.split_once('/') else {
                continue;
            };
            let Ok(step) = step.parse::<u64>() else {
                continue;
            };
            if step >= *size {
                let at = if start == "*" { "0" } else { start };
                warnings.push(format!(
                    "{part} in the {name} field fires once a {next} (at {at}), not every {step} {name}: a step counts within its field, which has {size} values; write the interval in a larger field"
                ));
            }
        }
    }
    warnings
}

/// Warnings about one `glob` pattern.
pub(super) fn glob_warnings(pattern: &str, case_sensitive: bool) -> Vec<String> {
    let mut warnings: Vec<String> = bracket_warning(pattern, case_sensitive)
        .into_iter()
        .collect();
    if pattern.ends_with('/') {
        warnings.push(format!(
            "never matches: paths name files, not folders; write \"{pattern}**\" to match everything in that folder"
        ));
    } else if is_path_glob(pattern) {
        let first = pattern.split('/').next().unwrap_or_default();
        if !first.is_empty() && first != "**" && !first.contains(['*', '?', '[', '{']) {
            warnings.push(format!(
                "matches only a folder {first:?} at the top of the torrent (paths start with the torrent's root folder); write \"**/{pattern}\" to match it at any depth"
            ));
        }
    }
    let regex_like = pattern.contains(".*")
        || pattern.contains("\\.")
        || pattern.contains("\\d")
        || pattern.contains("(?")
        || pattern.starts_with('^')
        || pattern.ends_with('$');
    if regex_like {
        warnings.push(
            "looks like a regular expression, but `glob` takes globs (`*` already means any characters); write `regex = ...` for a regular expression".to_owned(),
        );
    }
    warnings
}

/// A `[...]` character class of a glob: the byte offsets of its brackets and its members.
struct Class<'p> {
    open: usize,
    close: usize,
    members: &'p str,
}

/// The character classes of a glob, read as globset reads them: `\x` is a literal `x`, a `!`
/// right after `[` negates, and a `]` first among the members is a member, not the end.
/// Negated classes are left out: a tag is never written as "anything but".
fn classes(pattern: &str) -> Vec<Class<'_>> {
    // Every byte looked at is ASCII, so each offset below is a char boundary.
    let bytes = pattern.as_bytes();
    let mut found = Vec::new();
    let mut offset = 0;
    while let Some(&byte) = bytes.get(offset) {
        match byte {
            b'\\' => offset += 2,
            b'[' => {
                let negated = bytes.get(offset + 1) == Some(&b'!');
                let first = offset + 1 + usize::from(negated);
                let search_from = first + usize::from(bytes.get(first) == Some(&b']'));
                let Some(close) = pattern
                    .get(search_from..)
                    .and_then(|rest| rest.find(']'))
                    .map(|at| search_from + at)
                else {
                    break;
                };
                if !negated {
                    found.push(Class {
                        open: offset,
                        close,
                        members: pattern.get(first..close).unwrap_or_default(),
                    });
                }
                offset = close + 1;
            }
            _ => offset += 1,
        }
    }
    found
}

/// The members of a class: single characters, and ranges such as `a-z` as written.
fn members(class: &str) -> (Vec<char>, Vec<String>) {
    let chars: Vec<char> = class.chars().collect();
    let mut singles = Vec::new();
    let mut ranges = Vec::new();
    let mut at = 0;
    while let Some(&c) = chars.get(at) {
        if let (Some('-'), Some(&end)) = (chars.get(at + 1), chars.get(at + 2)) {
            ranges.push(format!("{c}-{end}"));
            at += 3;
        } else {
            singles.push(c);
            at += 1;
        }
    }
    (singles, ranges)
}

/// Whether a class reads as text written between brackets (a release group's `[SubsPlease]`,
/// `[1080p]`) rather than a set of characters. The heuristic: it holds words (a space and two or
/// more letters or digits; `[ ._]` is a separator class), or four or more letters and digits
/// named one by one (a real class of that many is written as a range), or the same letter or
/// digit twice (pointless in a set, usual in words).
fn reads_as_text(class: &str) -> bool {
    let (singles, _) = members(class);
    let alphanumeric: Vec<char> = singles
        .into_iter()
        .filter(|c| c.is_alphanumeric())
        .collect();
    let repeated = alphanumeric
        .iter()
        .enumerate()
        .any(|(at, c)| alphanumeric.iter().take(at).any(|earlier| earlier == c));
    let words = class.chars().any(char::is_whitespace) && alphanumeric.len() >= 2;
    words || alphanumeric.len() >= 4 || repeated
}

/// A warning when a `[...]` in a `glob` or `task` pattern looks like a literal tag, showing
/// the pattern with those brackets escaped, quoted for TOML.
pub(super) fn bracket_warning(pattern: &str, case_sensitive: bool) -> Option<String> {
    let suspicious: Vec<Class<'_>> = classes(pattern)
        .into_iter()
        .filter(|class| reads_as_text(class.members))
        .collect();
    let first = suspicious.first()?;
    let mut escaped = String::with_capacity(pattern.len() + 2 * suspicious.len());
    for (offset, c) in pattern.char_indices() {
        if suspicious
            .iter()
            .any(|class| class.open == offset || class.close == offset)
        {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    let (singles, ranges) = members(first.members);
    let mut listed: Vec<String> = Vec::new();
    for c in singles {
        let shown = if case_sensitive {
            c.to_string()
        } else {
            c.to_lowercase().collect()
        };
        if !listed.contains(&shown) {
            listed.push(shown);
        }
    }
    listed.extend(ranges);
    let quoted = if escaped.contains('\'') {
        format!("\"{}\"", escaped.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        format!("'{escaped}'")
    };
    Some(format!(
        "[{members}] is a character class: it matches one character (one of {listed}), not the text {members:?}; to match the brackets and the text, write {quoted}",
        members = first.members,
        listed = listed.join(", "),
    ))
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum NameCondition {
    Any,
    Globs {
        patterns: BTreeSet<String>,
        case_sensitive: bool,
    },
    Regex,
}

/// What a rule matches, reduced to what shadowing needs.
#[derive(Debug, Clone)]
pub(super) struct RuleShape {
    pub(super) index: usize,
    pub(super) name: String,
    task: Option<String>,
    source: Option<String>,
    names: NameCondition,
    min: u64,
    max: u64,
    /// The kinds of task the rule applies to.
    kinds: crate::rules::KindSet,
    /// Conditions that narrow the match beyond names and sizes (shares, extensions).
    narrowed: bool,
}

impl RuleShape {
    pub(super) fn of(index: usize, name: &str, raw: &RawRule, spec: &RuleSpec) -> Self {
        let names = if !spec.regexes.is_empty() || spec.from_list {
            NameCondition::Regex
        } else if spec.globs.is_empty() {
            NameCondition::Any
        } else {
            NameCondition::Globs {
                patterns: spec.globs.iter().map(|g| g.glob().to_owned()).collect(),
                case_sensitive: raw.case_sensitive.unwrap_or(false),
            }
        };
        Self {
            index,
            name: name.to_owned(),
            task: raw.task.as_ref().map(|t| t.get_ref().clone()),
            source: raw.source.as_ref().map(|s| s.get_ref().clone()),
            names,
            min: spec
                .min_size
                .map_or(0, super::super::rules::size::ByteSize::bytes),
            max: spec
                .max_size
                .map_or(u64::MAX, super::super::rules::size::ByteSize::bytes),
            kinds: spec.kinds,
            narrowed: spec.min_share.is_some()
                || spec.max_share.is_some()
                || spec.extensionless.is_some()
                || spec.double_extension.is_some()
                || spec.named_after_group.is_some(),
        }
    }

    /// Whether every file `later` could match is matched by `self` first.
    pub(super) fn shadows(&self, later: &Self) -> bool {
        let scope_covers = self.task.is_none() || self.task == later.task;
        let source_covers = self.source.is_none() || self.source == later.source;
        let names_cover = match (&self.names, &later.names) {
            (NameCondition::Any, _) => true,
            (
                NameCondition::Globs {
                    patterns: earlier,
                    case_sensitive: earlier_case,
                },
                NameCondition::Globs {
                    patterns: later_patterns,
                    case_sensitive: later_case,
                },
            ) => later_patterns.is_subset(earlier) && (!earlier_case || *later_case),
            _ => false,
        };
        !self.narrowed
            && self.kinds.covers(later.kinds)
            && scope_covers
            && source_covers
            && names_cover
            && self.min <= later.min
            && self.max >= later.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::compile_glob;

    fn glob_warnings_of(pattern: &str) -> Vec<String> {
        glob_warnings(pattern, false)
    }

    #[test]
    fn a_bracketed_tag_is_flagged_with_the_escaped_form() {
        let warning = bracket_warning("[SubsPlease]*", false).unwrap();
        assert_eq!(
            warning,
            r#"[SubsPlease] is a character class: it matches one character (one of s, u, b, p, l, e, a), not the text "SubsPlease"; to match the brackets and the text, write '\[SubsPlease\]*'"#
        );
        // The suggested form is a valid glob that matches the tag, and the original is not.
        let escaped = compile_glob(r"\[SubsPlease\]*", false)
            .unwrap()
            .compile_matcher();
        let original = compile_glob("[SubsPlease]*", false)
            .unwrap()
            .compile_matcher();
        assert!(escaped.is_match("[SubsPlease] Show - 01 (1080p)"));
        assert!(!escaped.is_match("Some.Show.S01"));
        assert!(original.is_match("Some.Show.S01"));
        assert!(!original.is_match("[SubsPlease] Show - 01 (1080p)"));
    }

    #[test]
    fn what_reads_as_a_tag_and_what_as_a_class() {
        for tag in [
            "[SubsPlease]*",
            "*[1080p]*",
            "**/[Erai-raws]*/**",
            "[rar]*",
            "*[Some Group]*",
            "*[A B]*",
            "*[YTS.MX]*",
            "*[abcd]*",
        ] {
            assert!(
                bracket_warning(tag, false).is_some(),
                "{tag} reads as a tag"
            );
        }
        for class in [
            "*.[ch]",
            "[Ss]ample*",
            "*[0-9][0-9]*",
            "[a-zA-Z]*",
            "*[._-]*",
            "*S01[ ._]E01*",
            "*[ a]*",
            "*[abc]*",
            "*[!SubsPlease]*",
            r"\[SubsPlease\]*",
            "[]]*",
            "*.mkv",
        ] {
            assert_eq!(bracket_warning(class, false), None, "{class} is a class");
        }
    }

    #[test]
    fn every_tag_is_escaped_and_quotes_survive_toml() {
        let warning = bracket_warning("[Group] Show [1080p]*", true).unwrap();
        assert!(
            warning.contains(r"one of G, r, o, u, p)")
                && warning.ends_with(r"write '\[Group\] Show \[1080p\]*'"),
            "{warning}"
        );
        let warning = bracket_warning("[Group's]*", false).unwrap();
        assert!(warning.ends_with(r#"write "\\[Group's\\]*""#), "{warning}");
    }

    #[test]
    fn glob_ending_in_a_slash_never_matches() {
        let warnings = glob_warnings_of("**/Sample/");
        assert!(warnings[0].contains("never matches"), "{warnings:?}");
    }

    #[test]
    fn top_level_folder_glob_is_flagged() {
        let warnings = glob_warnings_of("Sample/*");
        assert!(
            warnings[0].contains("write \"**/Sample/*\""),
            "{warnings:?}"
        );
        assert!(glob_warnings_of("**/Sample/*").is_empty());
        assert!(glob_warnings_of("*.S01*/Extras/*").is_empty());
    }

    #[test]
    fn regex_in_a_glob_is_flagged() {
        for pattern in [".*\\.exe", "^sample", "movie\\d+.mkv", "x$"] {
            let warnings = glob_warnings_of(pattern);
            assert!(
                warnings.iter().any(|w| w.contains("regular expression")),
                "{pattern}: {warnings:?}"
            );
        }
        assert!(glob_warnings_of("*.exe").is_empty());
    }
}
