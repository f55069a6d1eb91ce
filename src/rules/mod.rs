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
//!   match the base name; see [`list`].
//!
//! Every glob of every rule is compiled into a set, so a file costs one look-up per set however
//! many rules there are: base-name globs and path globs each have a `GlobSet` for the
//! case-sensitive ones and one regex pass for those that ignore case (see `OwnedGlobs`); a glob
//! that ignores case is, where that is exact, matched as its lowercased twin against the
//! lowercased name (see `matching_form`); `*.ext` and `**/name/**` globs that ignore case are
//! looked up by the name's extension and by each folder of the path.
//! Patterns from lists join the base-name sets; their regexes form one more `RegexSet`,
//! matched against the base name.

pub mod budget;
pub mod list;
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
    /// `list_globs` are lowercased and match the lowercased base name (`list::CompiledList`).
    pub list_folded: bool,
    /// Base-name regexes from the rule's list (`list::CompiledList::regexes`).
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
    /// list are not repeated here (see `list_pattern_count`).
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// How many patterns the rule's list contributes.
    pub fn list_pattern_count(&self) -> usize {
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
    /// Base-name globs matched against the base name as it is.
    basename_set: OwnedGlobs,
    /// Path globs matched against the path as it is.
    path_set: OwnedGlobs,
    /// Case-insensitive base-name globs, ASCII-lowercased and compiled case-sensitively (see
    /// `matching_form`), matched against the ASCII-lowercased base name.
    ascii_basename_set: OwnedGlobs,
    /// Case-insensitive base-name globs `*.ext`, looked up by the ASCII-lowercased name's
    /// extension.
    ascii_extensions: NameList,
    /// Case-insensitive path globs `**/name/**` (a folder at any depth), looked up by each
    /// folder of the ASCII-lowercased path.
    folders: NameList,
    regex_set: regex::RegexSet,
    regex_owner: Vec<usize>,
    /// Lowercased list globs, matched against the (Unicode-)lowercased base name.
    folded_set: OwnedGlobs,
    /// Regexes from lists, matched against the base name.
    basename_regex_set: regex::RegexSet,
    basename_regex_owner: Vec<usize>,
    on_all_junk: OnAllJunk,
}

impl RuleSet {
    /// Builds the set. Fails only if globset or regex cannot combine the (individually
    /// valid) patterns, for example past the regex size limit.
    pub fn new(specs: Vec<RuleSpec>, on_all_junk: OnAllJunk) -> Result<Self, RuleSetError> {
        let mut basename = OwnedGlobsBuilder::default();
        let mut path = OwnedGlobsBuilder::default();
        let mut ascii_basename = OwnedGlobsBuilder::default();
        let mut ascii_extensions = NameList::default();
        let mut folders = NameList::default();
        let mut basename_forms = Vec::new();
        let mut path_forms = Vec::new();
        let mut folded = OwnedGlobsBuilder::default();
        let mut regexes = Vec::new();
        let mut regex_owner = Vec::new();
        let mut basename_regexes = Vec::new();
        let mut basename_regex_owner = Vec::new();
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
                let on_path = is_path_glob(glob.glob());
                let form = matching_form(&glob, on_path);
                if on_path {
                    path_forms.push((rule_idx, glob, form));
                } else {
                    basename_forms.push((rule_idx, glob, form));
                }
            }
            for regex in spec.regexes {
                patterns.push(format!("regex {regex}"));
                regexes.push(regex);
                regex_owner.push(rule_idx);
            }
            let list_patterns = spec.list_patterns;
            for glob in spec.list_globs {
                if spec.list_folded {
                    folded.add(glob, rule_idx);
                } else {
                    basename.add(glob, rule_idx);
                }
            }
            for regex in spec.list_regexes {
                basename_regexes.push(regex);
                basename_regex_owner.push(rule_idx);
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
        place_base_name_globs(
            basename_forms,
            &mut basename,
            &mut ascii_basename,
            &mut ascii_extensions,
        );
        place_path_globs(path_forms, &mut path, &mut folders);
        Ok(Self {
            rules,
            globless,
            basename_set: basename.build()?,
            path_set: path.build()?,
            ascii_basename_set: ascii_basename.build()?,
            ascii_extensions,
            folders,
            regex_set: budget::regex_set(&regexes, 1).map_err(RuleSetError::new)?,
            regex_owner,
            folded_set: folded.build()?,
            basename_regex_set: budget::regex_set(&basename_regexes, basename_regexes.len())
                .map_err(RuleSetError::new)?,
            basename_regex_owner,
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
        [
            &self.basename_set,
            &self.path_set,
            &self.ascii_basename_set,
            &self.folded_set,
        ]
        .iter()
        .map(|set| set.len())
        .sum::<usize>()
            + self.ascii_extensions.len()
            + self.folders.len()
    }

    /// The number of regexes across all rules, list regexes included.
    pub fn regex_count(&self) -> usize {
        self.regex_owner.len() + self.basename_regex_owner.len()
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
        let base_name = memchr::memrchr(b'/', path.as_bytes())
            .and_then(|slash| path.get(slash + 1..))
            .unwrap_or(path);
        self.basename_set
            .hits_into(base_name, &mut scratch.hits, candidates);
        self.path_set.hits_into(path, &mut scratch.hits, candidates);
        if !self.ascii_basename_set.is_empty()
            || !self.ascii_extensions.is_empty()
            || !self.folders.is_empty()
        {
            // The path, ASCII-lowercased: lowercasing keeps every byte's place, so the base
            // name is its tail.
            let lowered = &mut scratch.ascii_lowered;
            lowered.clear();
            lowered.push_str(path);
            lowered.make_ascii_lowercase();
            let folders_end = lowered.len().saturating_sub(base_name.len());
            let lowered_base = lowered.get(folders_end..).unwrap_or_default();
            self.ascii_basename_set
                .hits_into(lowered_base, &mut scratch.hits, candidates);
            let lowered_base = lowered_base.as_bytes();
            if !self.ascii_extensions.is_empty()
                && let Some(dot) = memchr::memrchr(b'.', lowered_base)
            {
                let ext = lowered_base.get(dot + 1..).unwrap_or_default();
                self.ascii_extensions.hits_into(ext, candidates);
            }
            if !self.folders.is_empty() {
                // Each part of the path followed by `/` is a folder.
                let lowered = lowered.as_bytes();
                let folders = lowered.get(..folders_end).unwrap_or_default();
                let mut start = 0;
                for slash in memchr::memchr_iter(b'/', folders) {
                    self.folders
                        .hits_into(lowered.get(start..slash).unwrap_or_default(), candidates);
                    start = slash + 1;
                }
            }
        }
        if !self.regex_owner.is_empty() {
            candidates.extend(
                self.regex_set
                    .matches(path)
                    .iter()
                    .map(|regex| self.regex_owner[regex]),
            );
        }
        if !self.folded_set.is_empty() {
            scratch.lowered.clear();
            if base_name.is_ascii() {
                scratch.lowered.push_str(base_name);
                scratch.lowered.make_ascii_lowercase();
            } else {
                scratch
                    .lowered
                    .extend(base_name.chars().flat_map(char::to_lowercase));
            }
            self.folded_set
                .hits_into(&scratch.lowered, &mut scratch.hits, candidates);
        }
        if !self.basename_regex_owner.is_empty() {
            candidates.extend(
                self.basename_regex_set
                    .matches(base_name)
                    .iter()
                    .map(|regex| self.basename_regex_owner[regex]),
            );
        }
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

/// Reusable buffers for `RuleSet::first_match`, so matching a file allocates nothing.
#[derive(Debug, Default)]
pub struct MatchScratch {
    hits: GlobScratch,
    candidates: Vec<usize>,
    lowered: String,
    ascii_lowered: String,
}

impl MatchScratch {
    /// Empty buffers (usable in a `const` context, such as a thread-local).
    pub const fn new() -> Self {
        Self {
            hits: GlobScratch::new(),
            candidates: Vec::new(),
            lowered: String::new(),
            ascii_lowered: String::new(),
        }
    }
}

/// Globs of one match target, each with the index of the rule that owns it.
///
/// globset looks a glob up without a regex only when it is case-sensitive and of a plain shape;
/// a glob that ignores case is always matched by its regex, all such regexes in one pass. That
/// pass is made here directly, with globset's own regex configuration, sparing its candidate
/// and strategy machinery (about 40 ns a name); the other globs stay in a `GlobSet`. Which glob
/// goes where changes the cost only: a glob's regex is its definition.
#[derive(Debug, Clone)]
struct OwnedGlobs {
    set: GlobSet,
    set_owner: Vec<usize>,
    regexes: Option<regex_automata::meta::Regex>,
    regex_owner: Vec<usize>,
}

impl OwnedGlobs {
    fn is_empty(&self) -> bool {
        self.set_owner.is_empty() && self.regex_owner.is_empty()
    }

    fn len(&self) -> usize {
        self.set_owner.len() + self.regex_owner.len()
    }

    /// Appends the owner of every glob that matches `subject` to `owners`.
    fn hits_into(&self, subject: &str, scratch: &mut GlobScratch, owners: &mut Vec<usize>) {
        if !self.set_owner.is_empty() {
            self.set
                .matches_candidate_into(&Candidate::new(subject), &mut scratch.hits);
            owners.extend(scratch.hits.iter().map(|&glob| self.set_owner[glob]));
        }
        if let Some(regexes) = &self.regexes {
            let needed = regexes.pattern_len();
            let patterns = match &mut scratch.patterns {
                Some(patterns) if patterns.capacity() >= needed => patterns,
                slot => slot.insert(regex_automata::PatternSet::new(needed)),
            };
            patterns.clear();
            regexes.which_overlapping_matches(
                &regex_automata::Input::new(subject.as_bytes()),
                patterns,
            );
            // The set walks every pattern's slot; it stops once all that matched are found.
            let matched = patterns.len();
            owners.extend(
                patterns
                    .iter()
                    .take(matched)
                    .map(|pattern| self.regex_owner[pattern.as_usize()]),
            );
        }
    }
}

/// Reusable buffers for [`OwnedGlobs::hits_into`].
#[derive(Debug, Default)]
struct GlobScratch {
    hits: Vec<usize>,
    patterns: Option<regex_automata::PatternSet>,
}

impl GlobScratch {
    const fn new() -> Self {
        Self {
            hits: Vec::new(),
            patterns: None,
        }
    }
}

#[derive(Debug)]
struct OwnedGlobsBuilder {
    set: GlobSetBuilder,
    set_owner: Vec<usize>,
    regexes: Vec<String>,
    regex_owner: Vec<usize>,
}

impl Default for OwnedGlobsBuilder {
    fn default() -> Self {
        Self {
            set: GlobSetBuilder::new(),
            set_owner: Vec::new(),
            regexes: Vec::new(),
            regex_owner: Vec::new(),
        }
    }
}

impl OwnedGlobsBuilder {
    fn add(&mut self, glob: Glob, rule_idx: usize) {
        // globset writes a glob that ignores case as `(?-u)(?i)^...$`; any other glob (or
        // another way of writing one) stays with globset, which is exact either way.
        if glob.regex().starts_with("(?-u)(?i)") {
            self.regexes.push(glob.regex().to_owned());
            self.regex_owner.push(rule_idx);
        } else {
            self.set.add(glob);
            self.set_owner.push(rule_idx);
        }
    }

    fn is_empty(&self) -> bool {
        self.set_owner.is_empty() && self.regex_owner.is_empty()
    }

    fn build(self) -> Result<OwnedGlobs, RuleSetError> {
        let regexes = if self.regexes.is_empty() {
            None
        } else {
            // globset's configuration for its regex sets: bytes, `.` matching any byte.
            let syntax = regex_automata::util::syntax::Config::new()
                .utf8(false)
                .dot_matches_new_line(true);
            let config = regex_automata::meta::Regex::config()
                .match_kind(regex_automata::MatchKind::All)
                .utf8_empty(false)
                .nfa_size_limit(Some(10 * (1 << 20)))
                .hybrid_cache_capacity(10 * (1 << 20));
            Some(
                regex_automata::meta::Regex::builder()
                    .syntax(syntax)
                    .configure(config)
                    .build_many(&self.regexes)
                    .map_err(RuleSetError::new)?,
            )
        };
        Ok(OwnedGlobs {
            set: self.set.build().map_err(RuleSetError::new)?,
            set_owner: self.set_owner,
            regexes,
            regex_owner: self.regex_owner,
        })
    }
}

/// Puts the rules file's base-name globs into their sets. A rewritten form pays only when it
/// spares the whole regex pass, that is when every base-name glob has one; otherwise all stay as
/// written, in one regex set (globset's per-glob look-ups beside a regex pass cost more than the
/// pass alone).
fn place_base_name_globs(
    forms: Vec<(usize, Glob, MatchingForm)>,
    as_written: &mut OwnedGlobsBuilder,
    ascii_folded: &mut OwnedGlobsBuilder,
    ascii_extensions: &mut NameList,
) {
    let rewrite = as_written.is_empty()
        && forms
            .iter()
            .all(|(_, _, form)| !matches!(form, MatchingForm::AsIs));
    for (rule_idx, glob, form) in forms {
        match form {
            MatchingForm::Plain(twin) if rewrite => as_written.add(twin, rule_idx),
            MatchingForm::AsciiFolded(twin) if rewrite => ascii_folded.add(twin, rule_idx),
            MatchingForm::AsciiExtension(ext) if rewrite => ascii_extensions.add(&ext, rule_idx),
            _ => as_written.add(glob, rule_idx),
        }
    }
}

/// Puts the rules file's path globs into their sets: into the folder-name list when every one
/// of them is a folder glob (sparing the regex pass), otherwise all as written.
fn place_path_globs(
    forms: Vec<(usize, Glob, MatchingForm)>,
    as_written: &mut OwnedGlobsBuilder,
    folders: &mut NameList,
) {
    let rewrite = forms
        .iter()
        .all(|(_, _, form)| matches!(form, MatchingForm::Folder(_)));
    for (rule_idx, glob, form) in forms {
        match form {
            MatchingForm::Folder(name) if rewrite => folders.add(&name, rule_idx),
            _ => as_written.add(glob, rule_idx),
        }
    }
}

/// Names looked up whole, each with the rule that owns it, kept sorted: the lowercased `ext` of
/// the base-name globs `*.ext` that ignore case, and the lowercased `name` of the path globs
/// `**/name/**` that ignore case.
///
/// `*.ext` (no `.` in `ext`) matches exactly the names whose text after the last `.` is `ext`.
/// `**/name/**` (no `/` in `name`) has the regex `^(?:/?|.*/)name/.*$` (globset's `.` matches
/// any byte, newlines too): the path is `name/...` or has `/name/` inside, exactly when one of
/// its folders (a part of the path followed by `/`) is `name`. So the ASCII-lowercased name's
/// extension, and each folder of the ASCII-lowercased path, is looked up here, where globset
/// would go through its candidate and strategy machinery or a regex set.
#[derive(Debug, Clone, Default)]
struct NameList {
    /// `(name, owning rule)`, sorted by name.
    entries: Vec<(NameKey<Box<[u8]>>, usize)>,
    /// Bit `n` set when an entry is `n` bytes long (bit 127: 127 bytes or more): most names
    /// looked up (a torrent's folders) have no entry of their length and are not searched.
    lengths: u128,
}

impl NameList {
    /// Adds `name` (lowercased), keeping the list sorted.
    fn add(&mut self, name: &str, rule_idx: usize) {
        let key = NameKey::of(name.as_bytes());
        let at = self
            .entries
            .partition_point(|(entry, _)| entry.borrowed() <= key);
        let owned = match key {
            NameKey::Short { len, packed } => NameKey::Short { len, packed },
            NameKey::Long(bytes) => NameKey::Long(bytes.into()),
        };
        self.entries.insert(at, (owned, rule_idx));
        self.lengths |= length_bit(name.len());
    }

    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    /// Appends the owner of every entry that is `name` to `owners`.
    fn hits_into(&self, name: &[u8], owners: &mut Vec<usize>) {
        if self.lengths & length_bit(name.len()) == 0 {
            return;
        }
        let name = NameKey::of(name);
        let start = self
            .entries
            .partition_point(|(entry, _)| entry.borrowed() < name);
        owners.extend(
            self.entries
                .get(start..)
                .unwrap_or_default()
                .iter()
                .take_while(|(entry, _)| entry.borrowed() == name)
                .map(|&(_, owner)| owner),
        );
    }
}

/// The bit of [`NameList::lengths`] for a name of `len` bytes.
fn length_bit(len: usize) -> u128 {
    1 << len.min(127)
}

/// A name as compared in a [`NameList`]: up to 8 bytes packed into an integer (most extensions
/// and many folder names; a comparison is then one instruction, not a call), longer ones as
/// bytes (`B`: owned in the list, borrowed in a look-up).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum NameKey<B> {
    Short { len: u8, packed: u64 },
    Long(B),
}

impl NameKey<Box<[u8]>> {
    fn borrowed(&self) -> NameKey<&[u8]> {
        match self {
            Self::Short { len, packed } => NameKey::Short {
                len: *len,
                packed: *packed,
            },
            Self::Long(bytes) => NameKey::Long(bytes),
        }
    }
}

impl<'a> NameKey<&'a [u8]> {
    fn of(name: &'a [u8]) -> Self {
        match u8::try_from(name.len()) {
            Ok(len @ 0..=8) => {
                let mut packed = [0u8; 8];
                for (slot, &byte) in packed.iter_mut().zip(name) {
                    *slot = byte;
                }
                Self::Short {
                    len,
                    packed: u64::from_be_bytes(packed),
                }
            }
            _ => Self::Long(name),
        }
    }
}

/// `name` when a path glob is `**/name/**` with a plain name: no wildcard, class,
/// alternation, escape or separator in it.
fn folder_name(pattern: &str) -> Option<&str> {
    let name = pattern.strip_prefix("**/")?.strip_suffix("/**")?;
    (is_plain(name) && !name.contains(['/', ','])).then_some(name)
}

/// How one glob is matched: as written, or in a form that matches exactly the same names and
/// that globset (or a [`NameList`]) looks up without a regex.
#[derive(Debug)]
enum MatchingForm {
    /// As written: matched in the regex pass (or by globset's own look-up).
    AsIs,
    /// Case-sensitive, rebuilt without the separator rule: matched against the base name.
    Plain(Glob),
    /// Lowercased and case-sensitive: matched against the ASCII-lowercased base name.
    AsciiFolded(Glob),
    /// `*.ext` ignoring case, as its lowercased `ext`: the ASCII-lowercased base name's
    /// extension (after its last `.`) is looked up.
    AsciiExtension(String),
    /// `**/name/**`, as its lowercased `name`: each folder of the ASCII-lowercased path is
    /// looked up.
    Folder(String),
}

/// The matching form of a glob compiled by [`compile_glob`] (any other glob is kept as it is).
///
/// globset looks a glob up by hash or Aho-Corasick only when it is case-sensitive and of a
/// plain shape: a literal, `*.ext`, `prefix*` or `*suffix` (and, for the first three, only when
/// `*` may cross `/`); every other glob joins one regex set, matched in one pass. A glob that
/// ignores case (the default) always went to the regex set. So a base-name glob of a plain
/// shape is rebuilt:
/// - without the separator rule: a base name has no `/`, so whether `*` may cross it makes
///   no difference there;
/// - if it ignores case and is ASCII, lowercased and case-sensitive, and matched against the
///   ASCII-lowercased base name. globset folds case for ASCII only (`(?-u)(?i)`), so a literal
///   letter stands for both its cases either way. Of these, `*.ext` (no `.` in `ext`) is kept
///   as its lowercased `ext` alone and looked up by the lowered name's extension.
///
/// A folder glob `**/name/**` that ignores case is kept as its lowercased `name` alone.
/// Every other glob stays in the regex set as written: rebuilding such globs as case-sensitive
/// twins would scatter them over globset's per-glob strategies (one regex per glob sharing an
/// extension, for one), which costs more than the one pass.
fn matching_form(glob: &Glob, on_path: bool) -> MatchingForm {
    let pattern = glob.glob();
    let case_sensitive = if compile_glob(pattern, true).ok().as_ref() == Some(glob) {
        true
    } else if compile_glob(pattern, false).ok().as_ref() == Some(glob) {
        false
    } else {
        return MatchingForm::AsIs;
    };
    if on_path {
        return match folder_name(pattern) {
            Some(name) if !case_sensitive && name.is_ascii() => {
                MatchingForm::Folder(name.to_ascii_lowercase())
            }
            _ => MatchingForm::AsIs,
        };
    }
    if !is_plain_shape(pattern) {
        return MatchingForm::AsIs;
    }
    let fold = !case_sensitive && pattern.is_ascii();
    if !case_sensitive && !fold {
        return MatchingForm::AsIs;
    }
    let text = if fold {
        pattern.to_ascii_lowercase()
    } else {
        pattern.to_owned()
    };
    if fold
        && let Some(ext) = text.strip_prefix("*.")
        && !ext.contains('.')
    {
        return MatchingForm::AsciiExtension(ext.to_owned());
    }
    let twin = GlobBuilder::new(&text)
        .case_insensitive(false)
        .literal_separator(false)
        .backslash_escape(true)
        .empty_alternates(true)
        .build();
    match twin {
        Ok(twin) if fold => MatchingForm::AsciiFolded(twin),
        Ok(twin) => MatchingForm::Plain(twin),
        Err(_) => MatchingForm::AsIs,
    }
}

/// Whether text has no glob syntax at all.
fn is_plain(text: &str) -> bool {
    !text.is_empty()
        && !text
            .chars()
            .any(|c| matches!(c, '*' | '?' | '[' | ']' | '{' | '}' | '\\'))
}

/// A base-name glob that globset looks up without a regex once it is case-sensitive and `*`
/// may cross `/`: `literal`, `*.ext` or `*suffix`, `prefix*`.
///
/// Not a pattern ending in `.`: globset reads the extension of a name ending in `.` as none
/// (as `Path::file_name` does), so its extension look-up for `*.` would miss `a.`, which the
/// glob's regex matches.
fn is_plain_shape(pattern: &str) -> bool {
    if pattern.ends_with('.') {
        return false;
    }
    is_plain(pattern)
        || pattern.strip_prefix('*').is_some_and(is_plain)
        || pattern.strip_suffix('*').is_some_and(is_plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(name: &str, action: Action, globs: &[&str], case_sensitive: bool) -> RuleSpec {
        RuleSpec {
            globs: globs
                .iter()
                .map(|g| compile_glob(g, case_sensitive).unwrap())
                .collect(),
            ..RuleSpec::new(name, action)
        }
    }

    fn set(specs: Vec<RuleSpec>) -> RuleSet {
        RuleSet::new(specs, OnAllJunk::Leave).unwrap()
    }

    fn decide(rules: &RuleSet, task: &str, path: &str, size: u64) -> Option<String> {
        decide_in(rules, task, "magnet:?xt=urn:btih:00", 1000, path, size)
    }

    fn decide_in(
        rules: &RuleSet,
        task: &str,
        source: &str,
        total: u64,
        path: &str,
        size: u64,
    ) -> Option<String> {
        let scope = rules.scope(task, source, total);
        rules
            .first_match(&scope, path, size, &mut MatchScratch::default())
            .map(|idx| rules.rules()[idx].name().to_string())
    }

    macro_rules! glob_cases {
        ($($name:ident: ($glob:expr, $case_sensitive:expr, $path:expr) => $matches:expr,)*) => {$(
            #[test]
            fn $name() {
                let rules = set(vec![rule("r", Action::Skip, &[$glob], $case_sensitive)]);
                assert_eq!(decide(&rules, "task", $path, 1).is_some(), $matches, "glob {:?} on {:?}", $glob, $path);
            }
        )*};
    }

    glob_cases! {
        basename_glob_matches_at_any_depth: ("*.nfo", false, "Show/Extras/info.nfo") => true,
        basename_glob_matches_at_top: ("*.nfo", false, "info.nfo") => true,
        basename_glob_is_case_insensitive_by_default: ("*.nfo", false, "Show/Extras/info.NFO") => true,
        basename_glob_case_sensitive_when_asked: ("*.nfo", true, "Show/Extras/info.NFO") => false,
        basename_glob_does_not_see_folders: ("Extras*", false, "Show/Extras/info.nfo") => false,
        path_glob_matches_whole_path: ("Show/*.txt", false, "Show/readme.txt") => true,
        path_glob_star_does_not_cross_slash: ("Show/*.txt", false, "Show/Sub/readme.txt") => false,
        path_glob_double_star_spans_folders: ("**/Sample/**", false, "Show/S01/Sample/x.mkv") => true,
        path_glob_double_star_prefix_any_depth: ("**/sample.mkv", false, "Show/Sample/sample.mkv") => true,
        path_glob_needs_root_folder: ("Sample/*", false, "Show/Sample/x.mkv") => false,
        path_glob_case_insensitive: ("**/sample/*", false, "Show/SAMPLE/x.mkv") => true,
        path_glob_case_sensitive: ("**/sample/*", true, "Show/SAMPLE/x.mkv") => false,
        alternation: ("*.{exe,url}", false, "a/b.URL") => true,
        character_class: ("[abc].txt", false, "d/b.txt") => true,
        escaped_star_is_literal: ("\\*.txt", false, "x/a.txt") => false,
    }

    #[test]
    fn first_matching_rule_in_file_order_wins() {
        let rules = set(vec![
            rule("keep-subs", Action::Keep, &["*.srt"], false),
            rule("junk", Action::Skip, &["*.srt", "*.txt"], false),
            rule("everything", Action::Skip, &[], false),
        ]);
        assert_eq!(
            decide(&rules, "t", "a/b.srt", 5).as_deref(),
            Some("keep-subs")
        );
        assert_eq!(decide(&rules, "t", "a/b.txt", 5).as_deref(), Some("junk"));
        assert_eq!(
            decide(&rules, "t", "a/b.mkv", 5).as_deref(),
            Some("everything")
        );
    }

    #[test]
    fn no_matching_rule_leaves_file_alone() {
        let rules = set(vec![rule("junk", Action::Skip, &["*.exe"], false)]);
        assert_eq!(decide(&rules, "t", "a/b.mkv", 5), None);
    }

    #[test]
    fn size_bounds_are_inclusive_and_combine_with_globs() {
        let mut spec = rule("small-txt", Action::Skip, &["*.txt"], false);
        spec.min_size = Some(ByteSize(10));
        spec.max_size = Some(ByteSize(20));
        let rules = set(vec![spec]);
        assert_eq!(decide(&rules, "t", "a.txt", 9), None);
        assert!(decide(&rules, "t", "a.txt", 10).is_some());
        assert!(decide(&rules, "t", "a.txt", 20).is_some());
        assert_eq!(decide(&rules, "t", "a.txt", 21), None);
        assert_eq!(decide(&rules, "t", "a.mkv", 15), None);
    }

    #[test]
    fn size_only_rule_matches_any_name() {
        let mut spec = rule("tiny", Action::Skip, &[], false);
        spec.max_size = Some(ByteSize(1024));
        let rules = set(vec![spec]);
        assert!(decide(&rules, "t", "x/padding_file_1", 1024).is_some());
        assert_eq!(decide(&rules, "t", "x/movie.mkv", 1025), None);
    }

    #[test]
    fn task_glob_scopes_a_rule() {
        let mut spec = rule("anime-subs", Action::Skip, &["*.ass"], false);
        spec.task = Some(compile_glob("*[Anime]*", false).unwrap());
        let mut spec_escaped = spec.clone();
        spec_escaped.task = Some(compile_glob("*\\[anime\\]*", false).unwrap());
        spec_escaped.name = RuleName::new("escaped");
        let rules = set(vec![spec_escaped]);
        assert!(decide(&rules, "Show [ANIME] 1080p", "Show/e1.ass", 1).is_some());
        assert_eq!(decide(&rules, "Other Show", "Other/e1.ass", 1), None);
    }

    #[test]
    fn share_bounds_use_the_task_total() {
        let mut spec = rule("small-share", Action::Skip, &[], false);
        spec.max_share = Some(Share::parse("2%").unwrap());
        let rules = set(vec![spec]);
        assert!(decide_in(&rules, "t", "", 1000, "a/sample.mkv", 20).is_some());
        assert_eq!(decide_in(&rules, "t", "", 1000, "a/movie.mkv", 21), None);
        let mut spec = rule("main-file", Action::Keep, &[], false);
        spec.min_share = Some(Share::parse("90%").unwrap());
        let rules = set(vec![spec]);
        assert!(decide_in(&rules, "t", "", 1000, "a/movie.mkv", 900).is_some());
        assert_eq!(decide_in(&rules, "t", "", 1000, "a/extra.mkv", 899), None);
    }

    #[test]
    fn regex_matches_the_whole_path_case_insensitively_by_default() {
        let spec = RuleSpec {
            regexes: vec![regex_source(r"(^|/)sample[^/]*\.mkv$", false)],
            ..RuleSpec::new("re", Action::Skip)
        };
        let case_sensitive = RuleSpec {
            regexes: vec![regex_source(r"\.NFO$", true)],
            ..RuleSpec::new("cs", Action::Skip)
        };
        let rules = set(vec![spec, case_sensitive]);
        assert_eq!(
            decide(&rules, "t", "Show/SAMPLE-1.mkv", 1).as_deref(),
            Some("re")
        );
        assert_eq!(decide(&rules, "t", "Show/notsample.mkv", 1), None);
        assert_eq!(decide(&rules, "t", "Show/a.NFO", 1).as_deref(), Some("cs"));
        assert_eq!(decide(&rules, "t", "Show/a.nfo", 1), None);
        assert_eq!(rules.regex_count(), 2);
    }

    #[test]
    fn extension_conditions() {
        for (name, extensionless, double) in [
            ("Show/README", true, false),
            ("Show/.hidden", true, false),
            ("Show/movie.mkv", false, false),
            ("Show/movie.mkv.exe", false, true),
            ("Show/.mkv.lnk", false, true),
            ("Show/Movie.MP4.SCR", false, true),
            ("Show/archive.tar.gz", false, false),
            ("Show/setup.exe", false, false),
        ] {
            let base = name.rsplit('/').next().unwrap();
            assert_eq!(!has_extension(base), extensionless, "{name}");
            assert_eq!(has_double_extension(base), double, "{name}");
        }
        let no_ext = RuleSpec {
            extensionless: Some(true),
            ..RuleSpec::new("no-ext", Action::Skip)
        };
        let double = RuleSpec {
            double_extension: Some(true),
            ..RuleSpec::new("double", Action::Skip)
        };
        let rules = set(vec![no_ext, double]);
        assert_eq!(
            decide(&rules, "t", "Show/README", 1).as_deref(),
            Some("no-ext")
        );
        assert_eq!(
            decide(&rules, "t", "Show/movie.mkv.exe", 1).as_deref(),
            Some("double")
        );
        assert_eq!(decide(&rules, "t", "Show/movie.mkv", 1), None);
    }

    #[test]
    fn source_glob_scopes_a_rule_and_star_crosses_slashes() {
        let spec = RuleSpec {
            source: Some(compile_source_glob("https://tracker.example/*", false).unwrap()),
            ..rule("tracker", Action::Skip, &["*.txt"], false)
        };
        let magnet = RuleSpec {
            source: Some(compile_source_glob("magnet:*", false).unwrap()),
            ..rule("magnets", Action::Skip, &["*.nfo"], false)
        };
        let rules = set(vec![spec, magnet]);
        assert!(
            decide_in(
                &rules,
                "t",
                "https://tracker.example/dl/1/x.torrent",
                9,
                "a/b.txt",
                1
            )
            .is_some()
        );
        assert_eq!(
            decide_in(&rules, "t", "https://other.example/x", 9, "a/b.txt", 1),
            None
        );
        assert!(decide_in(&rules, "t", "magnet:?xt=urn:btih:00", 9, "a/b.nfo", 1).is_some());
        assert_eq!(decide_in(&rules, "t", "", 9, "a/b.nfo", 1), None);
    }

    #[test]
    fn list_patterns_match_the_base_name_in_the_same_sets() {
        let compiled = list::compile("*.exe\nsample*\nregex:^RARBG\n", false);
        let spec = RuleSpec {
            from_list: true,
            list_folded: compiled.folded,
            list_patterns: compiled.pattern_count(),
            list_globs: compiled.globs,
            list_regexes: compiled.regexes,
            ..RuleSpec::new("community", Action::Skip)
        };
        let rules = set(vec![
            rule("keep-subs", Action::Keep, &["*.srt"], false),
            spec,
        ]);
        assert_eq!(
            decide(&rules, "t", "Show/Sample.Clip/setup.EXE", 1).as_deref(),
            Some("community")
        );
        assert_eq!(
            decide(&rules, "t", "Show/sample.mkv", 1).as_deref(),
            Some("community")
        );
        // `sample*` looks at the base name, not at the folder.
        assert_eq!(decide(&rules, "t", "sample.show/movie.mkv", 1), None);
        // The regex is case-sensitive and sees the base name only.
        assert_eq!(
            decide(&rules, "t", "Show/RARBG.txt", 1).as_deref(),
            Some("community")
        );
        assert_eq!(decide(&rules, "t", "Show/rarbg.txt", 1), None);
        let accents = list::compile("Café*\n", false);
        let accents = set(vec![RuleSpec {
            from_list: true,
            list_folded: accents.folded,
            list_globs: accents.globs,
            ..RuleSpec::new("accents", Action::Skip)
        }]);
        assert!(decide(&accents, "t", "Show/CAFÉ.mkv", 1).is_some());
        assert!(decide(&accents, "t", "Show/cafe.mkv", 1).is_none());
        assert_eq!(decide(&rules, "t", "RARBG/x.txt", 1), None);
        assert_eq!(rules.glob_count(), 3);
        assert_eq!(rules.regex_count(), 1);
        assert_eq!(rules.rules()[1].list_pattern_count(), 3);
    }

    #[test]
    fn an_empty_list_matches_nothing_and_an_inactive_rule_never_matches() {
        let empty = RuleSpec {
            from_list: true,
            max_size: Some(ByteSize(100)),
            ..RuleSpec::new("empty-list", Action::Skip)
        };
        let inactive = RuleSpec {
            inactive: true,
            ..rule("inactive", Action::Skip, &["*.exe"], false)
        };
        let rules = set(vec![empty, inactive]);
        assert_eq!(decide(&rules, "t", "a/b.exe", 1), None);
        assert!(rules.rules()[1].is_inactive());
    }

    #[test]
    fn glob_count_counts_every_pattern() {
        let rules = set(vec![
            rule("a", Action::Skip, &["*.exe", "**/Sample/**"], false),
            rule("b", Action::Skip, &["*.txt"], true),
        ]);
        assert_eq!(rules.glob_count(), 3);
    }

    /// A name list finds names of every length, those of 127 bytes and more included (their
    /// lengths share one bit), and only the names it holds.
    #[test]
    fn a_name_list_finds_names_of_every_length() {
        let names: Vec<String> = [0, 1, 7, 8, 9, 16, 126, 127, 128, 300]
            .iter()
            .map(|&len| "x".repeat(len))
            .collect();
        let mut list = NameList::default();
        for (owner, name) in names.iter().enumerate() {
            list.add(name, owner);
        }
        for (owner, name) in names.iter().enumerate() {
            let mut owners = Vec::new();
            list.hits_into(name.as_bytes(), &mut owners);
            assert_eq!(owners, [owner], "{} bytes", name.len());
        }
        for len in [2, 129, 200] {
            let mut owners = Vec::new();
            list.hits_into("x".repeat(len).as_bytes(), &mut owners);
            assert!(owners.is_empty(), "{len} bytes");
        }
        let mut owners = Vec::new();
        list.hits_into(b"y", &mut owners);
        assert!(owners.is_empty());
    }

    /// Globs that ignore case are matched by regex in any case; they skip globset's machinery
    /// (a performance choice that a change in globset's regex syntax would silently undo),
    /// while the case-sensitive ones beside them stay in the `GlobSet`.
    #[test]
    fn globs_that_ignore_case_are_matched_in_one_direct_pass() {
        let rules = set(vec![
            rule("a", Action::Skip, &["*sample*.mkv", "**/Extras*/*"], false),
            rule("b", Action::Skip, &["*Proof*.JPG", "Shots/*.png"], true),
        ]);
        assert_eq!(rules.basename_set.regex_owner, [0]);
        assert_eq!(rules.basename_set.set_owner, [1]);
        assert_eq!(rules.path_set.regex_owner, [0]);
        assert_eq!(rules.path_set.set_owner, [1]);
        let decided = |path: &str| decide(&rules, "t", path, 1);
        assert_eq!(decided("T/My.SAMPLE.mkv").as_deref(), Some("a"));
        assert_eq!(decided("T/extras1/x.nfo").as_deref(), Some("a"));
        assert_eq!(decided("T/the.Proof.JPG").as_deref(), Some("b"));
        assert_eq!(decided("T/the.proof.jpg"), None);
        assert_eq!(decided("Shots/a.png").as_deref(), Some("b"));
        assert_eq!(rules.glob_count(), 4);
    }

    mod matching_forms {
        use super::*;
        use proptest::prelude::*;

        /// Pieces of globs: letters of both cases, separators, wildcards, classes (ranges too,
        /// `[A-z]` among them), alternations and escapes.
        fn arb_pattern() -> impl Strategy<Value = String> {
            let piece = prop::sample::select(vec![
                "a",
                "A",
                "b",
                "B",
                "s",
                "S",
                "_",
                ".",
                "-",
                "/",
                "*",
                "?",
                "**/",
                "/**",
                "[ab]",
                "[AB]",
                "[!a]",
                "[a-c]",
                "[A-z]",
                "[_-]",
                "{a,B}",
                "{,x}",
                "\\*",
                "\\A",
                "ä",
                "Ä",
                "sample",
                "Sample",
                ".srt",
                ".SRT",
                "[.]",
                "*.srt",
                "*.b",
                "**/sample/**",
                "**/SaMple/**",
                "**/a/**",
                "**/a.b/**",
            ]);
            prop::collection::vec(piece, 1..5).prop_map(|pieces| pieces.concat())
        }

        fn arb_path() -> impl Strategy<Value = String> {
            let piece = prop::sample::select(vec![
                "a",
                "A",
                "b",
                "B",
                "s",
                "_",
                ".",
                "-",
                "/",
                "`",
                "*",
                "ä",
                "Ä",
                "sample",
                "SAMPLE",
                ".srt",
                ".Srt",
                "x/",
                "\n",
                "/sample/",
                "a/",
                "/A/",
                "a.b/",
                "/LongFolderName/",
            ]);
            prop::collection::vec(piece, 1..6).prop_map(|pieces| pieces.concat())
        }

        /// Names globset treats specially (ending in a dot, dot files, no extension), for each
        /// plain shape, both cases.
        #[test]
        fn plain_shapes_match_odd_names_as_written() {
            let patterns = [
                "*.",
                "*.srt",
                "*.SRT",
                "*srt",
                "a*",
                "A.*",
                ".*",
                "*..",
                "..",
                "a.",
                "*.tar.gz",
                "*.b",
                "*.longextension",
            ];
            let names = [
                "a.",
                "..",
                ".",
                "x.srt",
                "x.SRT.",
                "x.srt.",
                ".srt",
                "srt",
                "a",
                "A.b",
                ".hidden",
                "b.tar.gz",
                "a..",
                "dir/a.",
                "a.b.srt",
                "a.srt.b",
                "a.SRT.B",
                "x.LongExtension",
                "x.y.longextension",
                "x.longextensio",
            ];
            for pattern in patterns {
                for case_sensitive in [false, true] {
                    let glob = compile_glob(pattern, case_sensitive).unwrap();
                    let mut alone = GlobSetBuilder::new();
                    alone.add(glob.clone());
                    let alone = alone.build().unwrap();
                    let rules = set(vec![RuleSpec {
                        globs: vec![glob],
                        ..RuleSpec::new("r", Action::Skip)
                    }]);
                    for name in names {
                        let base = name.rsplit('/').next().unwrap();
                        assert_eq!(
                            decide(&rules, "t", name, 1).is_some(),
                            alone.is_match(base),
                            "{pattern} (case-sensitive: {case_sensitive}) on {name}"
                        );
                    }
                }
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(5_000))]
            /// The set matches exactly what the glob alone matches (base name or whole path),
            /// whatever twin the set built for it.
            #[test]
            fn a_glob_in_the_set_matches_what_it_matches_alone(
                pattern in arb_pattern(),
                path in arb_path(),
                case_sensitive in any::<bool>(),
            ) {
                let Ok(glob) = compile_glob(&pattern, case_sensitive) else {
                    return Ok(());
                };
                let subject = if is_path_glob(&pattern) {
                    path.as_str()
                } else {
                    path.rsplit('/').next().unwrap_or(&path)
                };
                // The glob alone in a set of its own, as the rules file wrote it.
                let mut alone = GlobSetBuilder::new();
                alone.add(glob.clone());
                let alone = alone.build().unwrap().is_match(subject);
                let rules = set(vec![RuleSpec {
                    globs: vec![glob],
                    ..RuleSpec::new("r", Action::Skip)
                }]);
                prop_assert_eq!(decide(&rules, "t", &path, 1).is_some(), alone);
            }

            /// Folder globs, one or many (some sharing a name): every rule whose folder glob
            /// matches alone is found, so the first of them decides.
            #[test]
            fn folder_globs_find_every_match(
                patterns in prop::collection::vec(
                    (
                        prop::sample::select(vec![
                            "**/sample/**", "**/SaMple/**", "**/a/**", "**/a.b/**", "**/b/**",
                            "**/A/**", "**/s/**", "**/x/**", "**/longfoldername/**",
                        ]),
                        any::<bool>(),
                    ),
                    1..10,
                ),
                path in arb_path(),
                active in any::<prop::sample::Index>(),
            ) {
                // One rule is switched off by a size bound (the file has 1 byte): when its
                // glob is the first to match, the next matching rule must have been found too.
                let off = active.index(patterns.len());
                let mut specs = Vec::new();
                let mut expected = None;
                for (n, (pattern, case_sensitive)) in patterns.iter().enumerate() {
                    let glob = compile_glob(pattern, *case_sensitive).unwrap();
                    let mut alone = GlobSetBuilder::new();
                    alone.add(glob.clone());
                    if expected.is_none() && n != off && alone.build().unwrap().is_match(&path) {
                        expected = Some(format!("r{n}"));
                    }
                    specs.push(RuleSpec {
                        globs: vec![glob],
                        min_size: (n == off).then_some(ByteSize(2)),
                        ..RuleSpec::new(&format!("r{n}"), Action::Skip)
                    });
                }
                let rules = set(specs);
                prop_assert_eq!(decide(&rules, "t", &path, 1), expected);
            }

            /// With several rules, whichever sets their globs land in (rewritten or as
            /// written), the first rule whose glob matches alone decides.
            #[test]
            fn the_first_rule_whose_glob_matches_alone_decides(
                patterns in prop::collection::vec((arb_pattern(), any::<bool>()), 1..4),
                path in arb_path(),
            ) {
                let mut specs = Vec::new();
                let mut expected = None;
                for (n, (pattern, case_sensitive)) in patterns.iter().enumerate() {
                    let Ok(glob) = compile_glob(pattern, *case_sensitive) else {
                        continue;
                    };
                    let subject = if is_path_glob(pattern) {
                        path.as_str()
                    } else {
                        path.rsplit('/').next().unwrap_or(&path)
                    };
                    let mut alone = GlobSetBuilder::new();
                    alone.add(glob.clone());
                    if expected.is_none() && alone.build().unwrap().is_match(subject) {
                        expected = Some(format!("r{n}"));
                    }
                    specs.push(RuleSpec {
                        globs: vec![glob],
                        ..RuleSpec::new(&format!("r{n}"), Action::Skip)
                    });
                }
                let rules = set(specs);
                prop_assert_eq!(decide(&rules, "t", &path, 1), expected);
            }
        }
    }
}
