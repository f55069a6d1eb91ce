//! Where a rule's shared list comes from (`list_file`, `list_url`), where a fetched list is
//! cached, and how the rules file reads them. The parsing itself is pure (`rules::blocklist`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;

use crate::rules::RuleName;
use crate::rules::blocklist::BlocklistProblem;

/// How often a `list_url` is fetched again unless the rule says `refresh`.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(4 * 3600);
/// The largest list accepted, from a file or a URL.
pub const MAX_BLOCKLIST_BYTES: usize = 4 * 1024 * 1024;

/// Where a rule's list comes from. `Debug` and `Display` hide a password in the URL.
#[derive(Clone, PartialEq, Eq)]
pub enum BlocklistSource {
    /// `list_file`: read when the rules are loaded (a relative path is relative to the rules
    /// file's folder).
    File(PathBuf),
    /// `list_url`: fetched by the daemon, kept in `cache`, read from there when the rules load.
    Url {
        /// The list's address.
        url: Url,
        /// How often to fetch it again.
        refresh: Duration,
        /// The last good copy.
        cache: PathBuf,
    },
}

impl std::fmt::Debug for BlocklistSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
            Self::Url {
                url,
                refresh,
                cache,
            } => f
                .debug_struct("Url")
                .field("url", &crate::cloudreve::redacted(url))
                .field("refresh", refresh)
                .field("cache", cache)
                .finish(),
        }
    }
}

impl std::fmt::Display for BlocklistSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Url { url, .. } => f.write_str(&crate::cloudreve::redacted(url)),
        }
    }
}

/// What became of one rule's list when the rules were loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlocklistStatus {
    /// Read and compiled.
    Loaded {
        /// Usable patterns.
        patterns: usize,
        /// Lines skipped because they cannot be used (only for `list_url`; a `list_file` with
        /// such lines is an invalid rules file).
        skipped: Vec<BlocklistProblem>,
    },
    /// Not available: the rule is inactive until it is.
    Unavailable(String),
}

/// A rule's list and its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlocklistInfo {
    /// The rule that uses the list.
    pub rule: RuleName,
    /// Where the list comes from.
    pub source: BlocklistSource,
    /// What became of it.
    pub status: BlocklistStatus,
}

impl BlocklistInfo {
    /// Whether the rule is inactive because its list is not available.
    pub fn is_unavailable(&self) -> bool {
        matches!(self.status, BlocklistStatus::Unavailable(_))
    }
}

/// Reads a list's text: a `list_file` from disk, a `list_url` from its cache. The error says
/// why in words fit for a log line.
pub type BlocklistLookup<'a> = &'a dyn Fn(&BlocklistSource) -> Result<String, String>;

/// The lookup `load` and `parse` use: the disk.
pub fn read_from_disk(source: &BlocklistSource) -> Result<String, String> {
    match source {
        BlocklistSource::File(path) => {
            read_capped(path).map_err(|e| format!("cannot read it: {e}"))
        }
        BlocklistSource::Url { cache, .. } => match read_copy(cache) {
            Ok(text) => Ok(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(format!(
                "never fetched (no copy at {}); the rule stays inactive until the daemon fetches it",
                cache.display()
            )),
            Err(e) => Err(format!("cannot read the copy at {}: {e}", cache.display())),
        },
    }
}

/// A fetched list's copy: the daemon's own file, so never through a link, and only a regular
/// file.
fn read_copy(path: &Path) -> std::io::Result<String> {
    let bytes =
        crate::durable::read_capped(path, u64::try_from(MAX_BLOCKLIST_BYTES).unwrap_or(u64::MAX))?;
    String::from_utf8(bytes)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
}

fn read_capped(path: &Path) -> std::io::Result<String> {
    use std::io::Read as _;
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(u64::try_from(MAX_BLOCKLIST_BYTES).unwrap_or(u64::MAX) + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() > MAX_BLOCKLIST_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {} MiB",
            MAX_BLOCKLIST_BYTES / (1024 * 1024)
        )));
    }
    String::from_utf8(bytes)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
}

/// The folder beside the state file that holds fetched lists: `<state_file>.blocklists`.
pub fn cache_dir(state_file: &Path) -> PathBuf {
    let mut name = state_file.as_os_str().to_owned();
    name.push(".blocklists");
    PathBuf::from(name)
}

/// The cache file of one URL: a stable hash of the URL, so renaming the rule keeps the copy.
pub fn cache_file(state_file: &Path, url: &Url) -> PathBuf {
    cache_dir(state_file).join(format!("{:016x}.txt", fnv1a(url.as_str().as_bytes())))
}

/// 64-bit FNV-1a: stable across builds and platforms (unlike `DefaultHasher`).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A `list_file` path as written, made absolute against the rules file's folder.
pub fn resolve_file(rules_file: &Path, written: &str) -> PathBuf {
    let path = Path::new(written);
    if path.is_absolute() {
        return path.to_owned();
    }
    rules_file
        .parent()
        .map_or_else(|| path.to_owned(), |dir| dir.join(path))
}

// ---------------------------------------------------------------------------------------------
// The rules file's `list_file`, `list_url` and `refresh` keys.

/// A rule's list, compiled for its `RuleSpec`.
pub(super) struct RuleBlocklist {
    pub(super) info: BlocklistInfo,
    pub(super) globs: Vec<globset::Glob>,
    pub(super) folded: bool,
    pub(super) regexes: Vec<String>,
    pub(super) patterns: usize,
}

impl super::Checker<'_> {
    /// Reads and compiles a rule's `list_file` or `list_url`; `None` when the rule has neither
    /// or the keys are invalid (problems recorded).
    pub(super) fn rule_blocklist(
        &mut self,
        rule_idx: usize,
        raw: &super::RawRule,
        name: &RuleName,
    ) -> Option<RuleBlocklist> {
        let key = |field: &str| format!("rule[{rule_idx}].{field}");
        let case_sensitive = raw.case_sensitive.unwrap_or(false);
        self.list_key_problems(rule_idx, raw);
        let (source, span, field) = match (&raw.list_file, &raw.list_url) {
            (None, None) => return None,
            (Some(file), Some(url)) => {
                self.problem(
                    url.span(),
                    &key("list_url"),
                    "",
                    "a rule has either `list_file` or `list_url`, not both; split it into two rules"
                        .to_owned(),
                );
                let _ = file;
                return None;
            }
            (Some(file), None) => {
                if file.get_ref().trim().is_empty() {
                    self.problem(file.span(), &key("list_file"), "", "empty path".to_owned());
                    return None;
                }
                (
                    BlocklistSource::File(resolve_file(self.path, file.get_ref())),
                    file.span(),
                    "list_file",
                )
            }
            (None, Some(url)) => (
                self.list_url_source(rule_idx, url, raw.refresh.as_ref())?,
                url.span(),
                "list_url",
            ),
        };
        let text = match (self.blocklists)(&source) {
            Ok(text) => text,
            Err(reason) => return self.unavailable(name, source, span, &key(field), reason),
        };
        let compiled = crate::rules::blocklist::compile(&text, case_sensitive);
        if let Some(reason) = &compiled.over_budget {
            // Never a reason to refuse the whole rules file for a fetched copy: only its rule
            // goes inactive, as for a list never fetched.
            let reason = match &source {
                BlocklistSource::File(_) => format!("exceeds the compile budget: {reason}"),
                BlocklistSource::Url { cache, .. } => format!(
                    "the copy at {} exceeds the compile budget: {reason}; the rule stays inactive until a copy within the budget is fetched",
                    cache.display()
                ),
            };
            return self.unavailable(name, source, span, &key(field), reason);
        }
        if let BlocklistSource::File(path) = &source {
            for problem in &compiled.problems {
                self.problem(
                    span.clone(),
                    &key(field),
                    &problem.text,
                    format!("{}:{}: {}", path.display(), problem.line, problem.message),
                );
            }
            if !compiled.problems.is_empty() {
                return None;
            }
        }
        let status = if compiled.pattern_count() == 0 && !compiled.problems.is_empty() {
            BlocklistStatus::Unavailable(format!(
                "no usable pattern; {} line(s) cannot be used",
                compiled.problems.len()
            ))
        } else {
            BlocklistStatus::Loaded {
                patterns: compiled.pattern_count(),
                skipped: compiled.problems,
            }
        };
        Some(RuleBlocklist {
            info: BlocklistInfo {
                rule: name.clone(),
                source,
                status,
            },
            globs: compiled.globs,
            folded: compiled.folded,
            patterns: compiled.patterns,
            regexes: compiled.regexes,
        })
    }

    /// A list that cannot be used: a problem for a `list_file`, an inactive rule for a
    /// `list_url`.
    fn unavailable(
        &mut self,
        name: &RuleName,
        source: BlocklistSource,
        span: std::ops::Range<usize>,
        key: &str,
        reason: String,
    ) -> Option<RuleBlocklist> {
        if let BlocklistSource::File(path) = &source {
            self.problem(span, key, "", format!("list {}: {reason}", path.display()));
            return None;
        }
        Some(RuleBlocklist {
            info: BlocklistInfo {
                rule: name.clone(),
                source,
                status: BlocklistStatus::Unavailable(reason),
            },
            globs: Vec::new(),
            folded: false,
            regexes: Vec::new(),
            patterns: 0,
        })
    }

    /// Problems of the list keys with the rule's other keys.
    fn list_key_problems(&mut self, rule_idx: usize, raw: &super::RawRule) {
        let key = |field: &str| format!("rule[{rule_idx}].{field}");
        if let (true, Some(list)) = (
            raw.glob.is_some() || raw.regex.is_some(),
            raw.list_file.as_ref().or(raw.list_url.as_ref()),
        ) {
            self.problem(
                list.span(),
                &key(if raw.list_file.is_some() { "list_file" } else { "list_url" }),
                "",
                "a rule takes its patterns from `glob`, `regex` or a list, only one of them; split it into two rules".to_owned(),
            );
        }
        if let (Some(refresh), None) = (&raw.refresh, &raw.list_url) {
            self.problem(
                refresh.span(),
                &key("refresh"),
                "",
                "`refresh` goes with `list_url`: it says how often the list is fetched again"
                    .to_owned(),
            );
        }
    }

    /// Checks `list_url` and `refresh`.
    fn list_url_source(
        &mut self,
        rule_idx: usize,
        url: &toml::Spanned<String>,
        raw_refresh: Option<&toml::Spanned<String>>,
    ) -> Option<BlocklistSource> {
        let key = |field: &str| format!("rule[{rule_idx}].{field}");
        let refresh = self.duration(raw_refresh, &key("refresh"), DEFAULT_REFRESH);
        if let Some(raw_refresh) = raw_refresh
            && refresh < Duration::from_secs(60)
        {
            self.problem(
                raw_refresh.span(),
                &key("refresh"),
                raw_refresh.get_ref(),
                "refresh must be at least 1 minute; lists change rarely and their hosts deserve a pause".to_owned(),
            );
        }
        let parsed = match Url::parse(url.get_ref()) {
            Ok(parsed) if parsed.scheme() == "https" => parsed,
            Ok(parsed) if parsed.scheme() == "http" && super::is_loopback(&parsed) => parsed,
            Ok(_) => {
                self.problem(
                    url.span(),
                    &key("list_url"),
                    url.get_ref(),
                    "a list is fetched over https (plain http only from this machine), so nobody on the way can change what it deselects".to_owned(),
                );
                return None;
            }
            Err(e) => {
                self.problem(
                    url.span(),
                    &key("list_url"),
                    url.get_ref(),
                    format!("invalid URL: {e}"),
                );
                return None;
            }
        };
        let cache = cache_file(&self.state_file, &parsed);
        Some(BlocklistSource::Url {
            url: parsed,
            refresh,
            cache,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_files_are_stable_and_distinct() {
        let a = Url::parse("https://lists.example/a.txt").unwrap();
        let b = Url::parse("https://lists.example/b.txt").unwrap();
        let state = Path::new("/var/lib/x/state.json");
        assert_eq!(cache_file(state, &a), cache_file(state, &a));
        assert_ne!(cache_file(state, &a), cache_file(state, &b));
        assert!(
            cache_file(state, &a).starts_with("/var/lib/x/state.json.blocklists"),
            "{}",
            cache_file(state, &a).display()
        );
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn a_password_in_a_list_url_is_never_shown() {
        let source = BlocklistSource::Url {
            url: Url::parse("https://bot:hunter22@lists.example/a.txt").unwrap(),
            refresh: DEFAULT_REFRESH,
            cache: PathBuf::from("/x"),
        };
        assert_eq!(source.to_string(), "https://bot:***@lists.example/a.txt");
        assert!(!format!("{source:?}").contains("hunter22"), "{source:?}");
    }

    #[test]
    fn relative_list_files_are_beside_the_rules_file() {
        assert_eq!(
            resolve_file(Path::new("/config/rules.toml"), "block.txt"),
            PathBuf::from("/config/block.txt")
        );
        assert_eq!(
            resolve_file(Path::new("/config/rules.toml"), "/etc/block.txt"),
            PathBuf::from("/etc/block.txt")
        );
    }

    const SERVER: &str = "[server]\nurl = \"https://cloud.example.com\"\nemail = \"bot@example.com\"\n[daemon]\nstate_file = \"/var/lib/x/state.json\"\n";

    fn parse_with(
        rules: &str,
        blocklists: super::BlocklistLookup<'_>,
    ) -> Result<super::super::Config, String> {
        super::super::parse_with_blocklists(
            &format!("{SERVER}{rules}"),
            Path::new("/config/rules.toml"),
            &|_| None,
            blocklists,
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn a_list_file_compiles_and_its_bad_lines_are_errors_with_line_numbers() {
        let lookup = |source: &BlocklistSource| match source {
            BlocklistSource::File(path) if path == Path::new("/config/block.txt") => {
                Ok("# junk\n*.exe\n*\nregex:(a\n".to_owned())
            }
            other => Err(format!("unexpected {other}")),
        };
        let rule = "[[rule]]\nname = \"community\"\naction = \"skip\"\nlist_file = \"block.txt\"\n";
        let message = parse_with(rule, &lookup).unwrap_err();
        assert!(message.contains("2 problems"), "{message}");
        assert!(
            message.contains("rule[0].list_file: /config/block.txt:3: matches every file name"),
            "{message}"
        );
        assert!(
            message.contains("/config/block.txt:4: invalid regular expression"),
            "{message}"
        );
        let good = |_: &BlocklistSource| Ok("*.exe\n*.scr\n".to_owned());
        let config = parse_with(rule, &good).unwrap();
        assert_eq!(config.rules.glob_count(), 2);
        assert_eq!(
            config.blocklists[0].status,
            BlocklistStatus::Loaded {
                patterns: 2,
                skipped: Vec::new()
            }
        );
    }

    #[test]
    fn a_list_url_without_a_copy_leaves_its_rule_inactive() {
        let rule = "[[rule]]\nname = \"community\"\naction = \"skip\"\nlist_url = \"https://lists.example/block.txt\"\nrefresh = \"2h\"\n";
        let config = parse_with(rule, &read_from_disk).unwrap();
        assert!(config.rules.rules()[0].is_inactive());
        assert!(config.blocklists[0].is_unavailable());
        let BlocklistSource::Url { refresh, cache, .. } = &config.blocklists[0].source else {
            panic!("{:?}", config.blocklists[0].source)
        };
        assert_eq!(*refresh, Duration::from_secs(7200));
        assert!(cache.starts_with("/var/lib/x/state.json.blocklists"));
        let skipped = |_: &BlocklistSource| Ok("*.exe\n*\n".to_owned());
        let config = parse_with(rule, &skipped).unwrap();
        assert!(!config.rules.rules()[0].is_inactive());
        assert!(
            config.warnings[0].contains("line 2: matches every file name"),
            "{:?}",
            config.warnings
        );
    }

    #[test]
    fn list_keys_are_checked() {
        let no = |_: &BlocklistSource| Err("no".to_owned());
        for (rule, wanted) in [
            ("list_url = \"http://lists.example/a\"", "over https"),
            (
                "list_url = \"https://lists.example/a\"\nrefresh = \"10s\"",
                "at least 1 minute",
            ),
            (
                "list_file = \"a\"\nrefresh = \"1h\"",
                "`refresh` goes with `list_url`",
            ),
            ("list_file = \"a\"\nglob = \"*.exe\"", "only one of them"),
            ("list_file = \"a\"\nlist_url = \"https://x/\"", "not both"),
        ] {
            let message = parse_with(
                &format!("[[rule]]\nname = \"r\"\naction = \"skip\"\n{rule}\n"),
                &no,
            )
            .unwrap_err();
            assert!(message.contains(wanted), "{rule}: {message}");
        }
    }

    #[test]
    fn a_missing_cache_says_never_fetched() {
        let dir = tempfile::tempdir().unwrap();
        let source = BlocklistSource::Url {
            url: Url::parse("https://lists.example/a.txt").unwrap(),
            refresh: DEFAULT_REFRESH,
            cache: dir.path().join("none.txt"),
        };
        assert!(
            read_from_disk(&source)
                .unwrap_err()
                .contains("never fetched")
        );
        let big = dir.path().join("big.txt");
        std::fs::write(&big, vec![b'a'; MAX_BLOCKLIST_BYTES + 1]).unwrap();
        assert!(
            read_from_disk(&BlocklistSource::File(big))
                .unwrap_err()
                .contains("larger than")
        );
    }
}
