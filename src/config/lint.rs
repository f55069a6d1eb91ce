//! `check --lint`: rule-writing mistakes that are valid TOML and valid globs but almost
//! certainly not what the user meant. Pure; the config layer attaches locations.

use std::collections::BTreeSet;

use crate::rules::{RuleSpec, is_path_glob};

use super::RawRule;

/// Warnings about one glob pattern.
pub(super) fn glob_warnings(pattern: &str) -> Vec<String> {
    let mut warnings = Vec::new();
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
            narrowed: spec.min_share.is_some()
                || spec.max_share.is_some()
                || spec.extensionless.is_some()
                || spec.double_extension.is_some(),
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

    #[test]
    fn glob_ending_in_a_slash_never_matches() {
        let warnings = glob_warnings("**/Sample/");
        assert!(warnings[0].contains("never matches"), "{warnings:?}");
    }

    #[test]
    fn top_level_folder_glob_is_flagged() {
        let warnings = glob_warnings("Sample/*");
        assert!(
            warnings[0].contains("write \"**/Sample/*\""),
            "{warnings:?}"
        );
        assert!(glob_warnings("**/Sample/*").is_empty());
        assert!(glob_warnings("*.S01*/Extras/*").is_empty());
    }

    #[test]
    fn regex_in_a_glob_is_flagged() {
        for pattern in [".*\\.exe", "^sample", "movie\\d+.mkv", "x$"] {
            let warnings = glob_warnings(pattern);
            assert!(
                warnings.iter().any(|w| w.contains("regular expression")),
                "{pattern}: {warnings:?}"
            );
        }
        assert!(glob_warnings("*.exe").is_empty());
    }
}
