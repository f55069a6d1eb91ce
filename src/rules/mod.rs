//! The rule set: validated rules and the matcher that finds, for one file, the first rule that
//! decides it. Pure: no I/O, no async, no logging.
//!
//! Matching semantics (the README documents the same):
//! - A glob with no `/` matches the file's base name at any depth; a glob with a `/` matches the
//!   whole path (which includes the torrent's root folder). In a path glob `*` does not cross `/`
//!   and `**` spans folders.
//! - Rules are tried top to bottom; the first rule whose every condition holds decides the file.
//! - `task` scopes a rule to tasks whose name matches its glob.
//!
//! Every glob of every rule is compiled into one of two `GlobSet`s, one for base-name globs and
//! one for path globs, so a file costs two set look-ups however many rules there are. Case
//! sensitivity is a per-glob flag inside a `GlobSet`, so one set holds both kinds.

pub mod size;

use std::fmt;

use globset::{Candidate, Glob, GlobBuilder, GlobMatcher, GlobSet, GlobSetBuilder};

pub use size::{ByteSize, SizeError};

/// A rule's unique name, as written in the rules file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RuleName(String);

impl RuleName {
    /// Wraps a name.
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
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
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Skip => "skip",
            Self::Keep => "keep",
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
    /// File globs; empty means "any file".
    pub globs: Vec<Glob>,
    /// Inclusive lower size bound.
    pub min_size: Option<ByteSize>,
    /// Inclusive upper size bound.
    pub max_size: Option<ByteSize>,
    /// Glob on the task (torrent) name.
    pub task: Option<Glob>,
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
    min_size: Option<ByteSize>,
    max_size: Option<ByteSize>,
    task: Option<GlobMatcher>,
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

    /// The glob patterns as written.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
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

    fn size_holds(&self, size: u64) -> bool {
        self.min_size.is_none_or(|min| size >= min.bytes())
            && self.max_size.is_none_or(|max| size <= max.bytes())
    }
}

/// The set of rules could not be compiled as a whole.
#[derive(Debug, thiserror::Error)]
#[error("could not compile the rules' globs into one set: {source}")]
pub struct RuleSetError {
    #[source]
    source: globset::Error,
}

/// All rules of a rules file, in order, with their globs compiled into two `GlobSet`s.
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<Rule>,
    /// Rules with no glob condition, ascending.
    globless: Vec<usize>,
    basename_set: GlobSet,
    /// For each glob of `basename_set`, the index of the rule that owns it.
    basename_owner: Vec<usize>,
    path_set: GlobSet,
    path_owner: Vec<usize>,
}

impl RuleSet {
    /// Builds the set. Fails only if globset cannot combine the (individually valid) globs.
    pub fn new(specs: Vec<RuleSpec>) -> Result<Self, RuleSetError> {
        let mut basename = GlobSetBuilder::new();
        let mut path = GlobSetBuilder::new();
        let mut basename_owner = Vec::new();
        let mut path_owner = Vec::new();
        let mut globless = Vec::new();
        let mut rules = Vec::with_capacity(specs.len());
        for (rule_idx, spec) in specs.into_iter().enumerate() {
            if spec.globs.is_empty() {
                globless.push(rule_idx);
            }
            let mut patterns = Vec::with_capacity(spec.globs.len());
            for glob in spec.globs {
                patterns.push(glob.glob().to_owned());
                if is_path_glob(glob.glob()) {
                    path.add(glob);
                    path_owner.push(rule_idx);
                } else {
                    basename.add(glob);
                    basename_owner.push(rule_idx);
                }
            }
            rules.push(Rule {
                name: spec.name,
                action: spec.action,
                patterns,
                min_size: spec.min_size,
                max_size: spec.max_size,
                task: spec.task.map(|glob| glob.compile_matcher()),
            });
        }
        Ok(Self {
            rules,
            globless,
            basename_set: basename.build().map_err(|source| RuleSetError { source })?,
            basename_owner,
            path_set: path.build().map_err(|source| RuleSetError { source })?,
            path_owner,
        })
    }

    /// The rules, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The number of globs across all rules.
    pub fn glob_count(&self) -> usize {
        self.basename_owner.len() + self.path_owner.len()
    }

    /// Which rules apply to a task with this name.
    pub fn scope(&self, task_name: &str) -> TaskScope {
        TaskScope {
            active: self
                .rules
                .iter()
                .map(|rule| rule.task.as_ref().is_none_or(|m| m.is_match(task_name)))
                .collect(),
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
        let base_name = path.rsplit('/').next().unwrap_or(path);
        if !self.basename_set.is_empty() {
            self.basename_set
                .matches_candidate_into(&Candidate::new(base_name), &mut scratch.hits);
            candidates.extend(scratch.hits.iter().map(|&glob| self.basename_owner[glob]));
        }
        if !self.path_set.is_empty() {
            self.path_set
                .matches_candidate_into(&Candidate::new(path), &mut scratch.hits);
            candidates.extend(scratch.hits.iter().map(|&glob| self.path_owner[glob]));
        }
        candidates.extend_from_slice(&self.globless);
        candidates.sort_unstable();
        candidates.dedup();
        candidates.iter().copied().find(|&rule_idx| {
            scope.active.get(rule_idx).copied().unwrap_or(false)
                && self.rules[rule_idx].size_holds(size)
        })
    }
}

/// The rules that apply to one task, after its `task` scopes were checked.
#[derive(Debug, Clone)]
pub struct TaskScope {
    active: Vec<bool>,
}

/// Reusable buffers for `RuleSet::first_match`, so matching a file allocates nothing.
#[derive(Debug, Default)]
pub struct MatchScratch {
    hits: Vec<usize>,
    candidates: Vec<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(name: &str, action: Action, globs: &[&str], case_sensitive: bool) -> RuleSpec {
        RuleSpec {
            name: RuleName::new(name),
            action,
            globs: globs
                .iter()
                .map(|g| compile_glob(g, case_sensitive).unwrap())
                .collect(),
            min_size: None,
            max_size: None,
            task: None,
        }
    }

    fn decide(rules: &RuleSet, task: &str, path: &str, size: u64) -> Option<String> {
        let scope = rules.scope(task);
        rules
            .first_match(&scope, path, size, &mut MatchScratch::default())
            .map(|idx| rules.rules()[idx].name().to_string())
    }

    macro_rules! glob_cases {
        ($($name:ident: ($glob:expr, $case_sensitive:expr, $path:expr) => $matches:expr,)*) => {$(
            #[test]
            fn $name() {
                let rules = RuleSet::new(vec![rule("r", Action::Skip, &[$glob], $case_sensitive)]).unwrap();
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
        let rules = RuleSet::new(vec![
            rule("keep-subs", Action::Keep, &["*.srt"], false),
            rule("junk", Action::Skip, &["*.srt", "*.txt"], false),
            rule("everything", Action::Skip, &[], false),
        ])
        .unwrap();
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
        let rules = RuleSet::new(vec![rule("junk", Action::Skip, &["*.exe"], false)]).unwrap();
        assert_eq!(decide(&rules, "t", "a/b.mkv", 5), None);
    }

    #[test]
    fn size_bounds_are_inclusive_and_combine_with_globs() {
        let mut spec = rule("small-txt", Action::Skip, &["*.txt"], false);
        spec.min_size = Some(ByteSize(10));
        spec.max_size = Some(ByteSize(20));
        let rules = RuleSet::new(vec![spec]).unwrap();
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
        let rules = RuleSet::new(vec![spec]).unwrap();
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
        let rules = RuleSet::new(vec![spec_escaped]).unwrap();
        assert!(decide(&rules, "Show [ANIME] 1080p", "Show/e1.ass", 1).is_some());
        assert_eq!(decide(&rules, "Other Show", "Other/e1.ass", 1), None);
    }

    #[test]
    fn glob_count_counts_every_pattern() {
        let rules = RuleSet::new(vec![
            rule("a", Action::Skip, &["*.exe", "**/Sample/**"], false),
            rule("b", Action::Skip, &["*.txt"], true),
        ])
        .unwrap();
        assert_eq!(rules.glob_count(), 3);
    }
}
