//! Shared pattern lists in the format of Cleanuparr's Malware Blocker lists. Pure: text in,
//! compiled patterns and located problems out.
//!
//! One pattern per line, matched against the file's **base name**:
//! - `*x` ends with `x`, `x*` starts with `x`, `*x*` contains `x`, a bare `x` is exactly `x`;
//!   a `*` anywhere else is a literal star. These ignore case (Cleanuparr compares with
//!   `InvariantCultureIgnoreCase`), unless the rule says `case_sensitive = true`.
//! - `regex:<expression>` is a regular expression searched anywhere in the base name
//!   (unanchored) and, as in Cleanuparr, case-sensitive: write `(?i)` to ignore case. The
//!   `regex:` prefix itself is case-sensitive; `Regex:x` is an exact name.
//! - Blank lines and lines starting with `#` are ignored, and each line is trimmed.
//!
//! Where this differs from Cleanuparr (its `FilenameEvaluator` and `BlocklistProvider`):
//! Cleanuparr reads `#` lines and untrimmed lines as patterns; it throws on a lone `*`
//! (here: a problem) and matches every file on `**` (here: a problem too); its regular
//! expressions are .NET's (lookaround and backreferences exist there, not here: such a line is a
//! problem); and its qBittorrent and Transmission clients compare the whole path inside the
//! torrent where Deluge and rTorrent compare the base name. Here it is always the base name.
//!
//! Every pattern becomes one glob (or one regex) that the `RuleSet` compiles into a set beside
//! the inline patterns: a list costs no loop per pattern per file. Patterns that ignore case are
//! lowercased and compiled case-sensitively, and matched against the lowercased base name, so
//! that globset can use its fast literal, prefix, suffix and extension strategies (a
//! case-insensitive glob always goes to its regex strategy); case is thus compared by Unicode
//! lowercasing, which for file names is what `InvariantCultureIgnoreCase` does.

use globset::Glob;

use super::budget;

/// The prefix that marks a regular expression line.
pub const REGEX_PREFIX: &str = "regex:";

/// One usable pattern of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlocklistPattern {
    /// `*x`: the base name ends with `x`.
    EndsWith(String),
    /// `x*`: the base name starts with `x`.
    StartsWith(String),
    /// `*x*`: the base name contains `x`.
    Contains(String),
    /// `x`: the base name is `x`.
    Exact(String),
    /// `regex:x`: the regular expression finds a match in the base name.
    Regex(String),
}

/// A line of a list that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlocklistProblem {
    /// 1-based line number.
    pub line: usize,
    /// The line as written (trimmed).
    pub text: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for BlocklistProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}: {} (got {:?})",
            self.line, self.message, self.text
        )
    }
}

/// A list compiled for a `RuleSpec`: globs for a base-name `GlobSet`, regex sources for the
/// base-name `RegexSet`, and the lines that could not be used.
///
/// All `regex:` lines of a list become one alternation, and all `*x*` lines another (a literal
/// alternation, which the regex crate searches with Aho-Corasick): a list adds at most two
/// entries to the `RegexSet`, since they all belong to one rule anyway. (globset would turn
/// each `*x*` into a regex of its own.)
#[derive(Debug, Clone, Default)]
pub struct CompiledBlocklist {
    /// One glob per ends-with, starts-with or exact line; lowercased when `folded`.
    pub globs: Vec<Glob>,
    /// The globs are lowercased and must be matched against the lowercased base name (the list
    /// ignores case).
    pub folded: bool,
    /// At most two regex sources: the `regex:` lines, and the `*x*` lines.
    pub regexes: Vec<String>,
    /// How many usable lines the list has.
    pub patterns: usize,
    /// Lines that could not be used, in line order.
    pub problems: Vec<BlocklistProblem>,
    /// Why the list as a whole exceeds its compile budget (`super::budget`): such a list is
    /// not used at all.
    pub over_budget: Option<String>,
}

impl CompiledBlocklist {
    /// How many usable patterns the list has.
    pub fn pattern_count(&self) -> usize {
        self.patterns
    }
}

/// Reads one line: `None` for blank lines and comments.
pub fn parse_line(line: &str) -> Option<Result<BlocklistPattern, String>> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    if let Some(regex) = line.strip_prefix(REGEX_PREFIX) {
        if regex.is_empty() {
            return Some(Err("empty regular expression after `regex:`".to_owned()));
        }
        return Some(Ok(BlocklistPattern::Regex(regex.to_owned())));
    }
    let starts = line.starts_with('*');
    let ends = line.ends_with('*');
    let pattern = match (starts, ends) {
        (true, true) => {
            let inner = line.get(1..line.len().saturating_sub(1)).unwrap_or("");
            if inner.is_empty() {
                return Some(Err(
                    "matches every file name; a list pattern needs text besides `*`".to_owned(),
                ));
            }
            BlocklistPattern::Contains(inner.to_owned())
        }
        (true, false) => BlocklistPattern::EndsWith(line.get(1..).unwrap_or("").to_owned()),
        (false, true) => {
            BlocklistPattern::StartsWith(line.get(..line.len() - 1).unwrap_or("").to_owned())
        }
        (false, false) => BlocklistPattern::Exact(line.to_owned()),
    };
    Some(Ok(pattern))
}

impl BlocklistPattern {
    /// The case-sensitive glob that matches what this pattern matches; with `fold`, the glob
    /// of the lowercased pattern, for the lowercased base name. `None` for a regex.
    pub fn glob(&self, fold: bool) -> Option<Result<Glob, globset::Error>> {
        let escaped =
            |x: &str| globset::escape(&if fold { x.to_lowercase() } else { x.to_owned() });
        let glob = match self {
            Self::EndsWith(x) => format!("*{}", escaped(x)),
            Self::StartsWith(x) => format!("{}*", escaped(x)),
            Self::Contains(x) => format!("*{}*", escaped(x)),
            Self::Exact(x) => escaped(x),
            Self::Regex(_) => return None,
        };
        // `*` may cross `/` here: a base name has none, and only then does globset use its
        // literal, prefix, suffix and extension strategies instead of its regex one.
        Some(
            globset::GlobBuilder::new(&glob)
                .literal_separator(false)
                .backslash_escape(true)
                .build(),
        )
    }

    /// The text the pattern looks for (for messages).
    fn text(&self) -> &str {
        match self {
            Self::EndsWith(x)
            | Self::StartsWith(x)
            | Self::Contains(x)
            | Self::Exact(x)
            | Self::Regex(x) => x,
        }
    }
}

/// Compiles a whole list. Wildcard and exact lines ignore case unless `case_sensitive`;
/// `regex:` lines are case-sensitive as written.
pub fn compile(text: &str, case_sensitive: bool) -> CompiledBlocklist {
    let mut list = CompiledBlocklist {
        folded: !case_sensitive,
        ..CompiledBlocklist::default()
    };
    let mut regexes: Vec<String> = Vec::new();
    let mut contains: Vec<String> = Vec::new();
    let mut regex_text = 0;
    for (idx, raw_line) in text.lines().enumerate() {
        let line = idx + 1;
        let Some(parsed) = parse_line(raw_line) else {
            continue;
        };
        let problem = |message: String| BlocklistProblem {
            line,
            text: shortened(raw_line.trim()),
            message,
        };
        if raw_line.trim().len() > budget::LINE_MAX_BYTES {
            list.problems.push(problem(format!(
                "longer than {} bytes",
                budget::LINE_MAX_BYTES
            )));
            continue;
        }
        let pattern = match parsed {
            Ok(pattern) => pattern,
            Err(message) => {
                list.problems.push(problem(message));
                continue;
            }
        };
        if pattern.text().contains('/') {
            list.problems.push(problem(
                "contains `/`, but list patterns match the file's base name, which never does"
                    .to_owned(),
            ));
            continue;
        }
        if let BlocklistPattern::Contains(x) = &pattern {
            regex_text += x.len();
            contains.push(regex::escape(x));
            list.patterns += 1;
            continue;
        }
        match pattern.glob(!case_sensitive) {
            Some(Ok(glob)) => {
                list.globs.push(glob);
                list.patterns += 1;
            }
            Some(Err(e)) => list
                .problems
                .push(problem(format!("cannot be compiled: {}", e.kind()))),
            // Syntax alone here: what the lines cost compiled is judged once, together, below.
            None => match budget::syntax(pattern.text()) {
                Ok(()) => {
                    regex_text += pattern.text().len();
                    regexes.push(format!("(?:{})", pattern.text()));
                    list.patterns += 1;
                }
                Err(detail) => {
                    list.problems
                        .push(problem(format!("invalid regular expression: {detail}")));
                }
            },
        }
    }
    if !regexes.is_empty() {
        list.regexes.push(regexes.join("|"));
    }
    if !contains.is_empty() {
        let flags = if case_sensitive { "" } else { "(?i)" };
        list.regexes
            .push(format!("{flags}(?:{})", contains.join("|")));
    }
    list.over_budget = if list.patterns > budget::LIST_PATTERNS_MAX {
        Some(format!(
            "{} usable patterns, more than the {} a list may have",
            list.patterns,
            budget::LIST_PATTERNS_MAX
        ))
    } else if regex_text > budget::LIST_REGEX_TEXT_MAX {
        Some(format!(
            "its `regex:` and `*x*` lines hold {regex_text} bytes, more than the {} KiB a list may have",
            budget::LIST_REGEX_TEXT_MAX / 1024
        ))
    } else {
        budget::within_nfa_budget(&list.regexes)
            .err()
            .map(|e| format!("its `regex:` and `*x*` lines are too large: {e}"))
    };
    if list.over_budget.is_some() {
        list.globs.clear();
        list.regexes.clear();
    }
    list
}

/// A line as a problem quotes it: at most 80 characters of it.
fn shortened(line: &str) -> String {
    match line.char_indices().nth(80) {
        Some((at, _)) => format!("{}…", line.get(..at).unwrap_or(line)),
        None => line.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(line: &str, name: &str) -> bool {
        let list = compile(line, false);
        assert!(list.problems.is_empty(), "{:?}", list.problems);
        assert_eq!(list.pattern_count(), 1);
        if let Some(glob) = list.globs.first() {
            return glob.compile_matcher().is_match(name.to_lowercase());
        }
        regex::Regex::new(&list.regexes[0]).unwrap().is_match(name)
    }

    #[test]
    fn a_list_over_its_compile_budget_is_refused_whole_and_fast() {
        let started = std::time::Instant::now();
        // The issue's 2,000 lines of `regex:^xN\w{50}y` (29 s to compile, line by line).
        let regexes: String = (0..2000)
            .map(|i| format!("regex:^x{i}\\w{{50}}y\n"))
            .collect::<Vec<_>>()
            .concat();
        // 100,001 exact names, and 300 KB of `*x*` text.
        let many: String = (0..=budget::LIST_PATTERNS_MAX)
            .map(|i| format!("n{i}\n"))
            .collect::<Vec<_>>()
            .concat();
        let contains: String = (0..3000)
            .map(|i| format!("*{i}{}*\n", "c".repeat(100)))
            .collect::<Vec<_>>()
            .concat();
        for (text, why) in [
            (&regexes, "compile to more than 8 MiB"),
            (&many, "100001 usable patterns, more than the 100000"),
            (&contains, "more than the 256 KiB"),
        ] {
            let list = compile(text, false);
            let reason = list.over_budget.unwrap_or_default();
            assert!(reason.contains(why), "{reason}");
            assert!(list.globs.is_empty() && list.regexes.is_empty());
        }
        // One long `*aaa…*` line (1.47 GB to compile): a problem of its own line.
        let long = compile(&format!("*{}*\n*.exe\n", "a".repeat(4_000_000)), false);
        assert_eq!(long.pattern_count(), 1);
        assert_eq!(long.over_budget, None);
        assert_eq!(long.problems[0].line, 1);
        assert_eq!(long.problems[0].message, "longer than 1024 bytes");
        assert!(long.problems[0].text.chars().count() <= 81);
        // Under qemu-user (`ci/arm64 test` sets QEMU_LD_PREFIX) the bound is wider: the same work
        // runs several times slower there.
        let bound = if std::env::var_os("QEMU_LD_PREFIX").is_some() {
            120
        } else {
            20
        };
        assert!(started.elapsed() < std::time::Duration::from_secs(bound));
    }

    #[test]
    fn regex_lines_and_contains_lines_become_one_alternation_each() {
        let list = compile("regex:^a\nregex:(?i)b$\n*x.y*\n*z*\n*.exe\n", false);
        assert_eq!(list.pattern_count(), 5);
        assert_eq!(list.regexes, ["(?:^a)|(?:(?i)b$)", "(?i)(?:x\\.y|z)"]);
        let lines = regex::Regex::new(&list.regexes[0]).unwrap();
        assert!(lines.is_match("abc") && lines.is_match("xB") && !lines.is_match("xa"));
        // The flag of one line does not leak into the next.
        assert!(!regex::Regex::new(&list.regexes[0]).unwrap().is_match("A"));
        let contains = regex::Regex::new(&list.regexes[1]).unwrap();
        assert!(contains.is_match("aX.Yb") && contains.is_match("xzy."));
        assert!(!contains.is_match("x-y"));
    }

    #[test]
    fn the_four_wildcard_forms_match_like_cleanuparr() {
        assert!(matches("*.exe", "setup.EXE"));
        assert!(!matches("*.exe", "setup.exe.txt"));
        assert!(matches("sample*", "Sample-clip.mkv"));
        assert!(!matches("sample*", "the sample.mkv"));
        assert!(matches("*sample*", "The.SAMPLE.mkv"));
        assert!(!matches("*sample*", "samp.mkv"));
        assert!(matches("readme.txt", "README.TXT"));
        assert!(!matches("readme.txt", "readme.txt.exe"));
    }

    #[test]
    fn a_star_inside_is_literal_and_glob_syntax_is_not_special() {
        assert!(matches("a*b", "A*B"));
        assert!(!matches("a*b", "axb"));
        assert!(matches("*[x]?{y}", "name[X]?{Y}"));
        assert!(!matches("*[x]", "namex"));
        assert!(matches("*\\x", "a\\x"));
    }

    #[test]
    fn regex_lines_are_case_sensitive_and_unanchored() {
        assert!(matches(r"regex:\.scr$", "movie.scr"));
        assert!(!matches(r"regex:\.scr$", "movie.SCR"));
        assert!(matches(r"regex:(?i)\.scr$", "movie.SCR"));
        assert!(matches("regex:ampl", "sample.mkv"));
        // The prefix is case-sensitive: this is an exact name.
        assert!(matches("Regex:x", "regex:X"));
    }

    #[test]
    fn case_sensitive_rules_make_wildcards_case_sensitive() {
        let list = compile("*.exe", true);
        let glob = list.globs[0].compile_matcher();
        assert!(glob.is_match("a.exe"));
        assert!(!glob.is_match("a.EXE"));
    }

    #[test]
    fn blank_lines_comments_and_whitespace() {
        let list = compile(
            "\n# a comment\n   \n  *.exe  \r\n\t# indented comment\n*.url",
            false,
        );
        assert_eq!(list.pattern_count(), 2);
        assert!(list.problems.is_empty());
        assert!(list.globs[0].compile_matcher().is_match("x.exe"));
        assert!(list.folded);
    }

    #[test]
    fn malformed_lines_are_named_by_line_number() {
        let list = compile(
            "*.exe\n*\n**\nregex:(?<=a)b\nregex:\n*Sample/*\n*.url\n",
            false,
        );
        assert_eq!(list.pattern_count(), 2);
        let lines: Vec<usize> = list.problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, [2, 3, 4, 5, 6]);
        assert!(list.problems[0].message.contains("every file name"));
        assert!(
            list.problems[2]
                .message
                .contains("invalid regular expression"),
            "{}",
            list.problems[2]
        );
        assert!(list.problems[4].message.contains("base name"));
        assert_eq!(
            list.problems[0].to_string(),
            "line 2: matches every file name; a list pattern needs text besides `*` (got \"*\")"
        );
    }
}
