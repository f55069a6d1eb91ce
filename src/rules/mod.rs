//! The rule set: validated rules and the matcher that finds, for one file, the first rule that
//! decides it. Pure: no I/O, no async, no logging.
//!
//! Matching semantics (the README documents the same):
//! - A glob with no `/` matches the file's base name at any depth; a glob with a `/` matches the
//!   whole path (which includes the torrent's root folder). In a path glob `*` does not cross `/`
//!   and `**` spans folders.
//! - Rules are tried top to bottom; the first rule whose every condition holds decides the file.
//! - `task` scopes a rule to tasks whose name matches its glob, `source` to tasks whose source
//!   URL or magnet matches (there `*` crosses `/`).
//! - `regex` is matched against the whole path, with one `RegexSet` for all rules.
//! - `min_share`/`max_share` compare a file's size with the task's total size (all files,
//!   selected or not); `extensionless` and `double_extension` look at the base name.
//!
//! - A rule may take its name patterns from a shared list (`list`, Cleanuparr's format): those
//!   match the base name; see [`blocklist`].
//!
//! Every glob of every rule is compiled into a set, so a file costs one look-up per set however
//! many rules there are (two when it matches: whether any glob matches, then which do): one
//! `globset::GlobSet` for the base-name globs, one for the path globs, one for the lowercased
//! globs of lists that ignore case (matched against the lowercased base name), and one
//! `regex::RegexSet` each for the rules' regexes (on the path) and the lists' regexes (on the
//! base name). Globs that ignore case do so through globset's own `case_insensitive`.

pub mod blocklist;
pub mod budget;
pub mod preset;
pub mod profile;
pub mod size;

use std::fmt;

use globset::{Candidate, Glob, GlobBuilder, GlobMatcher, GlobSet, GlobSetBuilder};

pub use preset::RuleOrigin;
pub use profile::{Kind, KindSet, Profile};
pub use size::{ByteSize, Share, SizeError};

/// A rule's unique name, as written in the rules file. Shared, not copied: every file a rule
/// decides names it, so a clone costs a reference count, not an allocation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RuleName(std::sync::Arc<str>);

impl RuleName {
    /// Wraps a name.
    pub fn new(name: impl AsRef<str>) -> Self {
        Self(std::sync::Arc::from(name.as_ref()))
    }

    /// The name as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RuleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a rule does to the files it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Deselect: do not download.
    Skip,
    /// Select: download (and protect from later rules).
    Keep,
    /// Include-only: within a task where any file matches an `only` rule, matching files are
    /// kept and files no rule decides are skipped.
    Only,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Skip => "skip",
            Self::Keep => "keep",
            Self::Only => "only",
        })
    }
}

/// A rule as the config layer hands it over: globs already compiled and checked one by one.
#[derive(Debug, Clone)]
pub struct RuleSpec {
    /// Unique name.
    pub name: RuleName,
    /// What to do with matching files.
    pub action: Action,
    /// File globs; empty means "any file" (unless `regexes` is set).
    pub globs: Vec<Glob>,
    /// Regular expressions on the whole path, already checked one by one; `(?i)` is added
    /// here unless the rule is case-sensitive.
    pub regexes: Vec<String>,
    /// Inclusive lower size bound.
    pub min_size: Option<ByteSize>,
    /// Inclusive upper size bound.
    pub max_size: Option<ByteSize>,
    /// Inclusive lower bound of the file's share of the task's total size.
    pub min_share: Option<Share>,
    /// Inclusive upper bound of the file's share of the task's total size.
    pub max_share: Option<Share>,
    /// `Some(true)`: the base name has no extension; `Some(false)`: it has one.
    pub extensionless: Option<bool>,
    /// `Some(true)`: a media extension followed by an executable one (`movie.mkv.exe`).
    pub double_extension: Option<bool>,
    /// `Some(true)`: the base name, without its extension, is the task's release group
    /// ([`profile::release_group`]).
    pub named_after_group: Option<bool>,
    /// Of the files this rule matches, keep the N largest and skip the rest (`skip` rules only).
    pub keep_largest: Option<usize>,
    /// Glob on the task (torrent) name.
    pub task: Option<Glob>,
    /// Glob on the task's source URL or magnet.
    pub source: Option<Glob>,
    /// The kinds of task the rule applies to (`kind`, `not_kind`; see [`profile`]).
    pub kinds: KindSet,
    /// Where the rule was written: the rules file or a preset.
    pub origin: RuleOrigin,
    /// The rule's name patterns come from a shared list (an empty list matches nothing).
    pub from_list: bool,
    /// Base-name globs from the rule's list.
    pub list_globs: Vec<Glob>,
    /// `list_globs` are lowercased and match the lowercased base name (`blocklist::CompiledBlocklist`).
    pub list_folded: bool,
    /// Base-name regexes from the rule's list (`blocklist::CompiledBlocklist::regexes`).
    pub list_regexes: Vec<String>,
    /// How many usable lines the rule's list has.
    pub list_patterns: usize,
    /// The rule never matches: its list could not be read or was never fetched.
    pub inactive: bool,
}

impl RuleSpec {
    /// A rule with a name and an action and no condition yet.
    pub fn new(name: &str, action: Action) -> Self {
        Self {
            name: RuleName::new(name),
            action,
            globs: Vec::new(),
            regexes: Vec::new(),
            min_size: None,
            max_size: None,
            min_share: None,
            max_share: None,
            extensionless: None,
            double_extension: None,
            named_after_group: None,
            keep_largest: None,
            task: None,
            source: None,
            kinds: KindSet::ANY,
            origin: RuleOrigin::File { line: 0 },
            from_list: false,
            list_globs: Vec::new(),
            list_folded: false,
            list_regexes: Vec::new(),
            list_patterns: 0,
            inactive: false,
        }
    }
}

/// What to do when the rules would deselect every file of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnAllJunk {
    /// Send nothing; the task is left as it is.
    #[default]
    Leave,
    /// Keep the largest file selected and deselect the rest.
    KeepLargest,
}

/// Compiles one file or task glob with the rules file's options.
///
/// `*` never crosses `/` (it matters only for globs that contain a `/`), and `\` escapes.
pub fn compile_glob(pattern: &str, case_sensitive: bool) -> Result<Glob, globset::Error> {
    GlobBuilder::new(pattern)
        .case_insensitive(!case_sensitive)
        .literal_separator(true)
        .backslash_escape(true)
        .empty_alternates(true)
        .build()
}

/// Compiles a `source` glob: like `compile_glob`, but `*` crosses `/` (sources are URLs).
pub fn compile_source_glob(pattern: &str, case_sensitive: bool) -> Result<Glob, globset::Error> {
    GlobBuilder::new(pattern)
        .case_insensitive(!case_sensitive)
        .literal_separator(false)
        .backslash_escape(true)
        .empty_alternates(true)
        .build()
}

/// The regex source as the `RegexSet` gets it: case-insensitive unless asked otherwise.
pub fn regex_source(pattern: &str, case_sensitive: bool) -> String {
    if case_sensitive {
        pattern.to_owned()
    } else {
        format!("(?i:{pattern})")
    }
}

/// Extensions of media and documents, for `double_extension`.
const MEDIA_EXTENSIONS: &[&str] = &[
    "mkv", "mp4", "avi", "mov", "wmv", "m4v", "mpg", "mpeg", "ts", "m2ts", "webm", "flv", "mp3",
    "flac", "wav", "aac", "ogg", "m4a", "opus", "jpg", "jpeg", "png", "gif", "bmp", "pdf", "doc",
    "docx", "txt", "srt", "iso", "zip", "rar", "7z", "epub",
];
/// Extensions of executables and shortcuts, for `double_extension`.
const EXECUTABLE_EXTENSIONS: &[&str] = &[
    "exe", "scr", "bat", "cmd", "com", "pif", "lnk", "vbs", "vbe", "js", "jse", "wsf", "msi",
    "ps1", "jar", "hta", "cpl", "url", "apk", "sh",
];

/// Whether a base name has an extension (a dot after its first character).
pub fn has_extension(base_name: &str) -> bool {
    base_name.char_indices().skip(1).any(|(_, c)| c == '.')
}

/// Whether a base name hides an executable behind a media extension: `movie.mkv.exe`,
/// `.mkv.lnk`.
pub fn has_double_extension(base_name: &str) -> bool {
    let lower = base_name.to_ascii_lowercase();
    let mut parts = lower.rsplit('.');
    let (Some(last), Some(inner), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    MEDIA_EXTENSIONS.contains(&inner) && EXECUTABLE_EXTENSIONS.contains(&last)
}

/// A path's folders (empty at the top) and its base name.
pub fn split_path(path: &str) -> (&str, &str) {
    split_last(path, b'/').unwrap_or(("", path))
}

/// `text` before and after its last `separator` (an ASCII byte), as `str::rsplit_once` splits
/// it, but found as a byte: matching and the profile look at every file of every task, and
/// `rsplit_once` costs a `memrchr` call per look.
pub fn split_last(text: &str, separator: u8) -> Option<(&str, &str)> {
    debug_assert!(separator.is_ascii());
    let at = text.as_bytes().iter().rposition(|&b| b == separator)?;
    // An ASCII byte sits on a character boundary, and so does the byte after it.
    let (before, from_separator) = text.split_at_checked(at)?;
    Some((before, from_separator.get(1..)?))
}

/// Whether a glob is matched against the whole path (it contains `/`) or the base name.
pub fn is_path_glob(pattern: &str) -> bool {
    pattern.contains('/')
}

/// A validated rule, ready to match.
#[derive(Debug, Clone)]
pub struct Rule {
    name: RuleName,
    action: Action,
    patterns: Vec<String>,
    has_name_condition: bool,
    min_size: Option<ByteSize>,
    max_size: Option<ByteSize>,
    min_share: Option<Share>,
    max_share: Option<Share>,
    extensionless: Option<bool>,
    double_extension: Option<bool>,
    named_after_group: Option<bool>,
    keep_largest: Option<usize>,
    task: Option<GlobMatcher>,
    source: Option<GlobMatcher>,
    kinds: KindSet,
    origin: RuleOrigin,
    list_patterns: usize,
    inactive: bool,
}

impl Rule {
    /// The rule's name.
    pub fn name(&self) -> &RuleName {
        &self.name
    }

    /// The rule's action.
    pub fn action(&self) -> Action {
        self.action
    }

    /// Whether the rule has a glob or regex condition on the file name.
    pub fn has_name_condition(&self) -> bool {
        self.has_name_condition
    }

    /// The glob patterns as written, then the regexes prefixed with `regex `; patterns from a
    /// list are not repeated here (see `blocklist_pattern_count`).
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// How many patterns the rule's list contributes.
    pub fn blocklist_pattern_count(&self) -> usize {
        self.list_patterns
    }

    /// Whether the rule is switched off (its list could not be read or was never fetched).
    pub fn is_inactive(&self) -> bool {
        self.inactive
    }

    /// Inclusive lower size bound.
    pub fn min_size(&self) -> Option<ByteSize> {
        self.min_size
    }

    /// Inclusive upper size bound.
    pub fn max_size(&self) -> Option<ByteSize> {
        self.max_size
    }

    /// The task-name glob, if any.
    pub fn task_pattern(&self) -> Option<&str> {
        self.task.as_ref().map(|m| m.glob().glob())
    }

    /// The kinds of task the rule applies to.
    pub fn kinds(&self) -> KindSet {
        self.kinds
    }

    /// Where the rule was written.
    pub fn origin(&self) -> &RuleOrigin {
        &self.origin
    }

    /// Of the files this rule matches, how many of the largest to keep.
    pub fn keep_largest(&self) -> Option<usize> {
        self.keep_largest
    }

    /// Every condition but the name globs and regexes.
    fn other_conditions_hold(&self, base_name: &str, size: u64, scope: &TaskScope) -> bool {
        let task_total = scope.task_total;
        self.min_size.is_none_or(|min| size >= min.bytes())
            && self.max_size.is_none_or(|max| size <= max.bytes())
            && self
                .min_share
                .is_none_or(|min| min.at_most(size, task_total))
            && self
                .max_share
                .is_none_or(|max| max.at_least(size, task_total))
            && self
                .extensionless
                .is_none_or(|want| want != has_extension(base_name))
            && self
                .double_extension
                .is_none_or(|want| want == has_double_extension(base_name))
            && self.named_after_group.is_none_or(|want| {
                want == profile::is_named_after(base_name, scope.group.as_deref())
            })
    }
}

/// The set of rules could not be compiled as a whole.
#[derive(Debug, thiserror::Error)]
#[error("could not compile the rules' patterns into one set: {source}")]
pub struct RuleSetError {
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl RuleSetError {
    fn new(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            source: Box::new(source),
        }
    }
}

/// All rules of a rules file, in order, with their globs compiled into sets by match target.
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<Rule>,
    /// Rules with no glob condition, ascending.
    globless: Vec<usize>,
    /// Base-name globs (the rules file's and the lists' that keep case), on the base name.
    basename_set: Owned<GlobSet>,
    /// Path globs, on the whole path.
    path_set: Owned<GlobSet>,
    /// Lowercased list globs, on the (Unicode-)lowercased base name: globset folds ASCII only,
    /// and a list that ignores case compares by Unicode lowercasing (see [`list`]).
    folded_set: Owned<GlobSet>,
    /// The rules' regexes, on the whole path.
    regex_set: Owned<regex::RegexSet>,
    /// Regexes from lists, on the base name.
    basename_regex_set: Owned<regex::RegexSet>,
    on_all_junk: OnAllJunk,
}

impl RuleSet {
    /// Builds the set. Fails only if globset or regex cannot combine the (individually
    /// valid) patterns, for example past the regex size limit.
    pub fn new(specs: Vec<RuleSpec>, on_all_junk: OnAllJunk) -> Result<Self, RuleSetError> {
        let mut basename = Vec::new();
        let mut path = Vec::new();
        let mut folded = Vec::new();
        let mut regexes = Vec::new();
        let mut basename_regexes = Vec::new();
        let mut globless = Vec::new();
        let mut rules = Vec::with_capacity(specs.len());
        for (rule_idx, spec) in specs.into_iter().enumerate() {
            let has_name_condition =
                !spec.globs.is_empty() || !spec.regexes.is_empty() || spec.from_list;
            if !has_name_condition {
                globless.push(rule_idx);
            }
            let mut patterns = Vec::with_capacity(spec.globs.len() + spec.regexes.len());
            for glob in spec.globs {
                patterns.push(glob.glob().to_owned());
                if is_path_glob(glob.glob()) {
                    path.push((glob, rule_idx));
                } else {
                    basename.push((glob, rule_idx));
                }
            }
            for regex in spec.regexes {
                patterns.push(format!("regex {regex}"));
                regexes.push((regex, rule_idx));
            }
            let list_patterns = spec.list_patterns;
            for glob in spec.list_globs {
                if spec.list_folded {
                    folded.push((glob, rule_idx));
                } else {
                    basename.push((glob, rule_idx));
                }
            }
            for regex in spec.list_regexes {
                basename_regexes.push((regex, rule_idx));
            }
            rules.push(Rule {
                name: spec.name,
                action: spec.action,
                patterns,
                has_name_condition,
                min_size: spec.min_size,
                max_size: spec.max_size,
                min_share: spec.min_share,
                max_share: spec.max_share,
                extensionless: spec.extensionless,
                double_extension: spec.double_extension,
                named_after_group: spec.named_after_group,
                keep_largest: spec.keep_largest,
                task: spec.task.map(|glob| glob.compile_matcher()),
                source: spec.source.map(|glob| glob.compile_matcher()),
                kinds: spec.kinds,
                origin: spec.origin,
                list_patterns,
                inactive: spec.inactive,
            });
        }
        Ok(Self {
            rules,
            globless,
            basename_set: Owned::globs(basename)?,
            path_set: Owned::globs(path)?,
            folded_set: Owned::globs(folded)?,
            regex_set: Owned::regexes(regexes, 1)?,
            basename_regex_set: Owned::regexes(basename_regexes, usize::MAX)?,
            on_all_junk,
        })
    }

    /// What to do when the rules would deselect every file of a task.
    pub fn on_all_junk(&self) -> OnAllJunk {
        self.on_all_junk
    }

    /// The rules, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The same rules with another `[safety] on_all_junk` policy.
    #[must_use]
    pub fn with_on_all_junk(mut self, on_all_junk: OnAllJunk) -> Self {
        self.on_all_junk = on_all_junk;
        self
    }

    /// The number of globs across all rules, list patterns included.
    pub fn glob_count(&self) -> usize {
        self.basename_set.len() + self.path_set.len() + self.folded_set.len()
    }

    /// The number of regexes across all rules, list regexes included.
    pub fn regex_count(&self) -> usize {
        self.regex_set.len() + self.basename_regex_set.len()
    }

    /// Which rules apply to a task with this name, source and total size (all files), of no
    /// known kind: rules scoped by `kind` do not.
    pub fn scope(&self, task_name: &str, source: &str, task_total: u64) -> TaskScope {
        self.scope_of(task_name, source, task_total, None)
    }

    /// Which rules apply to a task with this name, source, total size (all files) and kind (its
    /// `Profile`'s).
    pub fn scope_of(
        &self,
        task_name: &str,
        source: &str,
        task_total: u64,
        kind: Option<Kind>,
    ) -> TaskScope {
        TaskScope {
            active: self
                .rules
                .iter()
                .map(|rule| {
                    !rule.inactive
                        && (rule.kinds == KindSet::ANY
                            || kind.is_some_and(|kind| rule.kinds.contains(kind)))
                        && rule.task.as_ref().is_none_or(|m| m.is_match(task_name))
                        && rule.source.as_ref().is_none_or(|m| m.is_match(source))
                })
                .collect(),
            task_total,
            group: profile::release_group(task_name).map(str::to_owned),
        }
    }

    /// The index of the first rule (in file order) whose every condition holds for this file.
    pub fn first_match(
        &self,
        scope: &TaskScope,
        path: &str,
        size: u64,
        scratch: &mut MatchScratch,
    ) -> Option<usize> {
        let candidates = &mut scratch.candidates;
        candidates.clear();
        let (_, base_name) = split_path(path);
        let hits = &mut scratch.hits;
        self.basename_set.glob_hits(base_name, hits, candidates);
        self.path_set.glob_hits(path, hits, candidates);
        if !self.folded_set.is_empty() {
            let lowered = &mut scratch.lowered;
            lowered.clear();
            if base_name.is_ascii() {
                lowered.push_str(base_name);
                lowered.make_ascii_lowercase();
            } else {
                lowered.extend(base_name.chars().flat_map(char::to_lowercase));
            }
            self.folded_set.glob_hits(lowered, hits, candidates);
        }
        self.regex_set.regex_hits(path, candidates);
        self.basename_regex_set.regex_hits(base_name, candidates);
        candidates.extend_from_slice(&self.globless);
        candidates.sort_unstable();
        candidates.dedup();
        candidates.iter().copied().find(|&rule_idx| {
            scope.active.get(rule_idx).copied().unwrap_or(false)
                && self.rules[rule_idx].other_conditions_hold(base_name, size, scope)
        })
    }
}

/// The rules that apply to one task, after its `task` scopes were checked.
#[derive(Debug, Clone)]
pub struct TaskScope {
    active: Vec<bool>,
    task_total: u64,
    /// The task's release group, for `named_after_group`.
    group: Option<String>,
}

/// Reusable buffers for `RuleSet::first_match`, so matching a file allocates nothing (but
/// the `RegexSet`s' answers, when rules use regexes).
#[derive(Debug, Default)]
pub struct MatchScratch {
    hits: Vec<usize>,
    candidates: Vec<usize>,
    lowered: String,
}

impl MatchScratch {
    /// Empty buffers (usable in a `const` context, such as a thread-local).
    pub const fn new() -> Self {
        Self {
            hits: Vec::new(),
            candidates: Vec::new(),
            lowered: String::new(),
        }
    }
}

/// One set of patterns (a `GlobSet` or a `RegexSet`) with the index of the rule that owns each.
#[derive(Debug, Clone)]
struct Owned<S> {
    set: S,
    owner: Vec<usize>,
    /// Globs that end in `.`, each alone, for names that end in `.` (see `glob_hits`).
    trailing_dot: Vec<(GlobMatcher, usize)>,
}

impl<S> Owned<S> {
    fn len(&self) -> usize {
        self.owner.len()
    }

    fn is_empty(&self) -> bool {
        self.owner.is_empty()
    }
}

impl Owned<GlobSet> {
    fn globs(globs: Vec<(Glob, usize)>) -> Result<Self, RuleSetError> {
        let mut set = GlobSetBuilder::new();
        let mut owner = Vec::with_capacity(globs.len());
        let mut trailing_dot = Vec::new();
        for (glob, rule_idx) in globs {
            if glob.glob().ends_with('.') {
                trailing_dot.push((glob.compile_matcher(), rule_idx));
            }
            set.add(glob);
            owner.push(rule_idx);
        }
        Ok(Self {
            set: set.build().map_err(RuleSetError::new)?,
            owner,
            trailing_dot,
        })
    }

    /// Appends the owner of every glob that matches `subject` to `owners`.
    ///
    /// A `GlobSet` reads a name ending in `.` as having no base name nor extension (as
    /// `Path::file_name` does), so its extension and base-name look-ups miss such a name where
    /// the glob alone (its regex) matches it: `*.` on `a.` when case-sensitive, for one. Only
    /// a glob ending in `.` can match such a name through those look-ups, so those globs (in
    /// most rules files none) are also tried one by one on such names.
    fn glob_hits(&self, subject: &str, hits: &mut Vec<usize>, owners: &mut Vec<usize>) {
        if self.is_empty() {
            return;
        }
        let candidate = Candidate::new(subject);
        // Most files match no glob. Asking first whether any matches (a search that stops at
        // the first match) costs about half of asking which do (an overlapping search).
        if self.set.is_match_candidate(&candidate) {
            self.set.matches_candidate_into(&candidate, hits);
            owners.extend(hits.iter().map(|&glob| self.owner[glob]));
        }
        if subject.ends_with('.') {
            owners.extend(
                self.trailing_dot
                    .iter()
                    .filter(|(glob, _)| glob.is_match(subject))
                    .map(|&(_, owner)| owner),
            );
        }
    }
}

impl Owned<regex::RegexSet> {
    /// `groups`: how many groups of these regexes each passed the compile budget
    /// (`budget::within_nfa_budget`) on its own: the rules file's are one group, each list line
    /// of a shared list one (`usize::MAX` means one per regex).
    fn regexes(regexes: Vec<(String, usize)>, groups: usize) -> Result<Self, RuleSetError> {
        let (sources, owner): (Vec<String>, Vec<usize>) = regexes.into_iter().unzip();
        let groups = groups.min(sources.len());
        Ok(Self {
            set: budget::regex_set(&sources, groups).map_err(RuleSetError::new)?,
            owner,
            trailing_dot: Vec::new(),
        })
    }

    /// Appends the owner of every regex that matches `subject` to `owners`.
    fn regex_hits(&self, subject: &str, owners: &mut Vec<usize>) {
        if self.is_empty() {
            return;
        }
        owners.extend(
            self.set
                .matches(subject)
                .iter()
                .map(|regex| self.owner[regex]),
        );
    }
}

#[cfg(test)]
mod tests;
