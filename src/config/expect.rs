//! `[[expect]]` tables, in the rules file or in a file of their own (`check --expect FILE`),
//! checked into `expect::Expectation`s with every problem located like the rules' own.

use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::expect::{Expectation, ExpectedVerdict};
use crate::rules::{ByteSize, RuleName, RuleSet};

use super::{Checker, ConfigError, SizeLiteral, locate};

/// One `[[expect]]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawExpect {
    path: Option<Spanned<String>>,
    size: Option<Spanned<SizeLiteral>>,
    task: Option<String>,
    source: Option<String>,
    verdict: Option<Spanned<String>>,
    rule: Option<Spanned<String>>,
}

/// A file holding only `[[expect]]` tables.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpectFile {
    #[serde(default)]
    expect: Vec<Spanned<RawExpect>>,
}

impl Checker<'_> {
    /// Checks `[[expect]]` tables against the names of `rules`.
    pub(super) fn expectations(
        &mut self,
        raw: &[Spanned<RawExpect>],
        rules: &[RuleName],
    ) -> Vec<Expectation> {
        let mut out = Vec::with_capacity(raw.len());
        for (idx, spanned) in raw.iter().enumerate() {
            if let Some(expectation) =
                self.expectation(idx, spanned.span(), spanned.get_ref(), rules)
            {
                out.push(expectation);
            }
        }
        out
    }

    fn expectation(
        &mut self,
        idx: usize,
        span: Range<usize>,
        raw: &RawExpect,
        rules: &[RuleName],
    ) -> Option<Expectation> {
        let key = |field: &str| format!("expect[{idx}].{field}");
        let before = self.problems.len();
        let path = match &raw.path {
            Some(path) if !path.get_ref().trim().is_empty() => Some(path.get_ref().clone()),
            Some(path) => {
                self.problem(path.span(), &key("path"), "", "empty path".to_owned());
                None
            }
            None => {
                self.problem(
                    span.clone(),
                    &format!("expect[{idx}]"),
                    "",
                    "missing `path`: the file's path inside the torrent, root folder included"
                        .to_owned(),
                );
                None
            }
        };
        let size = self
            .size(raw.size.as_ref(), &key("size"))
            .map_or(0, ByteSize::bytes);
        let verdict = match raw.verdict.as_ref().map(|v| (v, v.get_ref().as_str())) {
            Some((_, "skip")) => Some(ExpectedVerdict::Skip),
            Some((_, "keep")) => Some(ExpectedVerdict::Keep),
            Some((_, "untouched")) => Some(ExpectedVerdict::Untouched),
            Some((verdict, other)) => {
                self.problem(
                    verdict.span(),
                    &key("verdict"),
                    other,
                    "expected \"skip\", \"keep\" or \"untouched\"".to_owned(),
                );
                None
            }
            None => {
                self.problem(
                    span.clone(),
                    &format!("expect[{idx}]"),
                    "",
                    "missing `verdict`: \"skip\", \"keep\" or \"untouched\"".to_owned(),
                );
                None
            }
        };
        let rule = raw.rule.as_ref().map(|rule| {
            let name = RuleName::new(rule.get_ref().clone());
            if verdict == Some(ExpectedVerdict::Untouched) {
                self.problem(
                    rule.span(),
                    &key("rule"),
                    "",
                    "an untouched file is decided by no rule; remove `rule` or change `verdict`"
                        .to_owned(),
                );
            } else if !rules.contains(&name) {
                let known: Vec<&str> = rules.iter().map(RuleName::as_str).collect();
                self.problem(
                    rule.span(),
                    &key("rule"),
                    rule.get_ref(),
                    format!("no rule has this name; the rules are {}", known.join(", ")),
                );
            }
            name
        });
        let line = locate(self.text, span, "", String::new()).line;
        (self.problems.len() == before).then(|| Expectation {
            path: path.unwrap_or_default(),
            size,
            task: raw.task.clone(),
            source: raw.source.clone(),
            verdict: verdict.unwrap_or(ExpectedVerdict::Untouched),
            rule,
            location: format!("{}:{line}", self.path.display()),
        })
    }
}

/// Reads the `[[expect]]` tables of a file of their own, checked against `rules`.
pub fn parse_expect_file(
    text: &str,
    path: &Path,
    rules: &RuleSet,
) -> Result<Vec<Expectation>, ConfigError> {
    let invalid = |problems| ConfigError::Invalid {
        path: path.to_owned(),
        problems,
    };
    let raw: RawExpectFile = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let message = e.message().trim_end_matches('.').to_owned();
        invalid(vec![locate(text, span, "", message)])
    })?;
    let no_lists = |_: &super::blocklists::BlocklistSource| Err(String::new());
    let mut checker = Checker::new(text, path, &no_lists);
    let names: Vec<RuleName> = rules.rules().iter().map(|r| r.name().clone()).collect();
    let expectations = checker.expectations(&raw.expect, &names);
    if checker.problems.is_empty() {
        Ok(expectations)
    } else {
        Err(invalid(checker.problems))
    }
}

/// Reads `check --expect FILE`.
pub fn load_expect_file(path: &Path, rules: &RuleSet) -> Result<Vec<Expectation>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_expect_file(&text, path, rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> RuleSet {
        let text = "[server]\nurl = \"https://c.example\"\nemail = \"a@b.c\"\n[[rule]]\nname = \"junk\"\naction = \"skip\"\nglob = \"*.exe\"\n";
        super::super::parse(text, Path::new("r.toml"), &|_| None)
            .unwrap()
            .rules
    }

    #[test]
    fn an_expect_file_is_checked_against_the_rule_names() {
        let text = "[[expect]]\npath = \"a/b.exe\"\nverdict = \"skip\"\nrule = \"junk\"\nsize = \"1 KiB\"\n\n[[expect]]\npath = \"a/c.mkv\"\nverdict = \"untouched\"\n";
        let expectations = parse_expect_file(text, Path::new("e.toml"), &rules()).unwrap();
        assert_eq!(expectations.len(), 2);
        assert_eq!(expectations[0].size, 1024);
        assert_eq!(expectations[0].location, "e.toml:1");
        assert_eq!(expectations[1].location, "e.toml:7");
    }

    #[test]
    fn every_problem_of_an_expect_file_is_reported() {
        let text = "[[expect]]\nverdict = \"skip\"\n[[expect]]\npath = \"a\"\nverdict = \"deselect\"\n[[expect]]\npath = \"a\"\nverdict = \"skip\"\nrule = \"junkk\"\n[[expect]]\npath = \"a\"\nverdict = \"untouched\"\nrule = \"junk\"\n";
        let message = parse_expect_file(text, Path::new("e.toml"), &rules())
            .unwrap_err()
            .to_string();
        assert!(message.contains("4 problems"), "{message}");
        assert!(message.contains("expect[0]: missing `path`"), "{message}");
        assert!(message.contains("expect[1].verdict: expected"), "{message}");
        assert!(
            message.contains(
                "expect[2].rule: no rule has this name; the rules are junk (got \"junkk\")"
            ),
            "{message}"
        );
        assert!(
            message.contains("expect[3].rule: an untouched file"),
            "{message}"
        );
        let unknown = parse_expect_file(
            "[[expect]]\npath = \"a\"\nverdit = \"skip\"\n",
            Path::new("e.toml"),
            &rules(),
        )
        .unwrap_err()
        .to_string();
        assert!(unknown.contains("unknown field `verdit`"), "{unknown}");
    }
}
