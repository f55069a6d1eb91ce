//! `kind`/`not_kind` on a rule, and `use = "<preset>"`: a `[[rule]]` entry that pulls in a
//! preset's rules (`rules::preset`) at its place in the file.
//!
//! A preset's text is parsed and checked by the same code as the rules file; a problem in it is
//! a bug of this program, reported against the preset's source path (the tests check every
//! preset without problems or warnings). Its rules are named `<preset>/<rule>`, carry their
//! origin for `check`, and join the shadowing check of the file's own rules. `disable` leaves
//! out preset rules by their short names.

use std::path::Path;

use toml::Spanned;

use super::check::Checker;
use super::lint;
use super::lint::RuleShape;
use super::raw::{GlobList, RawPreset, RawRule};
use super::{Problem, locate};
use crate::rules::preset::{self, Preset};
use crate::rules::{Kind, KindSet, RuleName, RuleOrigin, RuleSpec};

/// The rules checked so far, with what the shadowing and duplicate-name checks need.
#[derive(Default)]
pub(super) struct Checked {
    pub(super) specs: Vec<RuleSpec>,
    pub(super) shapes: Vec<RuleShape>,
    pub(super) seen: Vec<(String, usize)>,
}

/// A preset checked on its own: its version and its rules, with short names.
struct CheckedPreset {
    version: u32,
    rules: Vec<(RuleSpec, RuleShape)>,
    problems: Vec<Problem>,
}

/// Parses and checks a preset's text (no lists: a preset is self-contained).
fn check_preset(preset: &Preset) -> CheckedPreset {
    let path = Path::new(preset.path);
    let no_lists: super::blocklists::BlocklistLookup<'_> =
        &|_| Err("a preset reads no list".to_owned());
    let raw: RawPreset = match toml::from_str(preset.text) {
        Ok(raw) => raw,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            return CheckedPreset {
                version: 0,
                rules: Vec::new(),
                problems: vec![locate(preset.text, span, "", e.message().to_owned())],
            };
        }
    };
    let mut checker = Checker::new(preset.text, path, no_lists);
    let mut seen = Vec::new();
    let mut rules = Vec::new();
    for (rule_idx, spanned) in raw.rules.iter().enumerate() {
        let raw_rule = spanned.get_ref();
        if raw_rule.use_preset.is_some()
            || raw_rule.list_file.is_some()
            || raw_rule.list_url.is_some()
        {
            checker.problem(
                spanned.span(),
                &format!("rule[{rule_idx}]"),
                "",
                "a preset rule uses neither other presets nor lists".to_owned(),
            );
            continue;
        }
        if let Some(checked) = checker.one_rule(rule_idx, spanned, &mut seen) {
            rules.push(checked);
        }
    }
    // `description` documents the preset's file; it is required so every preset has one.
    let _ = raw.description;
    let mut problems = checker.problems;
    problems.extend(checker.lints);
    CheckedPreset {
        version: raw.version,
        rules,
        problems,
    }
}

/// A preset's problems and warnings: empty for every shipped preset (tests check it).
#[cfg(test)]
fn preset_problems(preset: &Preset) -> Vec<String> {
    check_preset(preset)
        .problems
        .iter()
        .map(|p| p.render(Path::new(preset.path)))
        .collect()
}

impl Checker<'_> {
    /// Checks one `[[rule]]` table into a spec and its shape (for shadowing), with its name
    /// recorded in `seen`.
    pub(super) fn one_rule(
        &mut self,
        rule_idx: usize,
        spanned: &Spanned<RawRule>,
        seen: &mut Vec<(String, usize)>,
    ) -> Option<(RuleSpec, lint::RuleShape)> {
        let raw = spanned.get_ref();
        let name = self.rule_name(rule_idx, spanned, seen);
        let spec = self.rule(rule_idx, spanned.span(), raw)?;
        let name = name?;
        let spec = match self.rule_blocklist(rule_idx, raw, &name) {
            Some(list) => {
                let inactive = list.info.is_unavailable();
                self.blocklist_infos.push(list.info);
                RuleSpec {
                    from_list: true,
                    list_globs: list.globs,
                    list_folded: list.folded,
                    list_patterns: list.patterns,
                    list_regexes: list.regexes,
                    inactive,
                    ..spec
                }
            }
            None => spec,
        };
        let shape = lint::RuleShape::of(rule_idx, name.as_str(), raw, &spec);
        let line = locate(self.text, spanned.span(), "", String::new()).line;
        Some((
            RuleSpec {
                name,
                origin: RuleOrigin::File { line },
                ..spec
            },
            shape,
        ))
    }

    /// Adds a checked rule to the list, warning when an earlier rule shadows it.
    pub(super) fn push_rule(
        &mut self,
        spec: RuleSpec,
        shape: lint::RuleShape,
        spanned: &Spanned<RawRule>,
        checked: &mut Checked,
    ) {
        if let Some(earlier) = checked
            .shapes
            .iter()
            .find(|earlier| earlier.shadows(&shape))
        {
            let raw = spanned.get_ref();
            let span = raw
                .name
                .as_ref()
                .or(raw.use_preset.as_ref())
                .map_or_else(|| spanned.span(), Spanned::span);
            let never = if raw.use_preset.is_some() {
                format!("its rule {:?} never decides a file", shape.name)
            } else {
                "this rule never decides a file".to_owned()
            };
            let message = format!(
                "{never}: rule[{}] ({:?}) comes first and matches every file it matches",
                earlier.index, earlier.name
            );
            self.lint(span, &format!("rule[{}]", shape.index), &message);
        }
        checked.shapes.push(shape);
        checked.specs.push(spec);
    }

    /// `kind` and `not_kind`: the kinds of task a rule applies to.
    pub(super) fn kinds(&mut self, rule_idx: usize, raw: &RawRule) -> KindSet {
        let mut kinds = match &raw.kind {
            Some(list) => self
                .kind_names(rule_idx, "kind", list)
                .into_iter()
                .fold(KindSet::NONE, KindSet::with),
            None => KindSet::ANY,
        };
        if let Some(list) = &raw.not_kind {
            for kind in self.kind_names(rule_idx, "not_kind", list) {
                kinds = kinds.without(kind);
            }
        }
        if kinds == KindSet::NONE
            && let Some(list) = raw.not_kind.as_ref().or(raw.kind.as_ref())
        {
            self.problem(
                list.span(),
                &format!("rule[{rule_idx}].kind"),
                "",
                "`kind` and `not_kind` leave no kind of task; the rule could never decide a file"
                    .to_owned(),
            );
        }
        kinds
    }

    fn kind_names(&mut self, rule_idx: usize, field: &str, list: &Spanned<GlobList>) -> Vec<Kind> {
        let mut kinds = Vec::new();
        for (key, span, name) in self.list_items(rule_idx, field, list) {
            if let Some(kind) = Kind::parse(name) {
                kinds.push(kind);
            } else {
                let known: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
                self.problem(
                    span,
                    &key,
                    name,
                    format!("unknown kind; one of {}", known.join(", ")),
                );
            }
        }
        kinds
    }

    /// Expands a `use = "<preset>"` entry into the preset's rules, minus those it disables.
    pub(super) fn use_preset(
        &mut self,
        rule_idx: usize,
        spanned: &Spanned<RawRule>,
        name: &Spanned<String>,
        checked: &mut Checked,
    ) {
        let key = format!("rule[{rule_idx}].use");
        let raw = spanned.get_ref();
        let others = other_keys(raw);
        if !others.is_empty() {
            self.problem(
                spanned.span(),
                &format!("rule[{rule_idx}]"),
                "",
                format!(
                    "a `use` entry pulls in a preset and takes only `disable`, not {}; write your own rules in tables of their own, before or after it",
                    others.join(", ")
                ),
            );
        }
        let Some(preset) = preset::find(name.get_ref()) else {
            self.problem(
                name.span(),
                &key,
                name.get_ref(),
                format!("unknown preset; one of {}", preset::names()),
            );
            return;
        };
        let expanded = check_preset(preset);
        for problem in &expanded.problems {
            // A shipped preset never has one (tested); should it, the file cannot be trusted.
            self.problem(
                name.span(),
                &key,
                name.get_ref(),
                format!(
                    "preset is broken: {}",
                    problem.render(Path::new(preset.path))
                ),
            );
        }
        let disabled = self.disabled(rule_idx, raw, &expanded);
        let used_at = locate(self.text, spanned.span(), "", String::new()).line;
        for (spec, mut shape) in expanded.rules {
            if disabled.iter().any(|d| d == spec.name.as_str()) {
                continue;
            }
            let qualified = format!("{}/{}", preset.name, spec.name);
            if let Some(&(_, first)) = checked.seen.iter().find(|(seen, _)| *seen == qualified) {
                self.problem(
                    name.span(),
                    &key,
                    name.get_ref(),
                    format!("duplicate rule name {qualified:?}; rule[{first}] already uses it (a preset is used once)"),
                );
                continue;
            }
            checked.seen.push((qualified.clone(), rule_idx));
            shape.index = rule_idx;
            shape.name.clone_from(&qualified);
            let spec = RuleSpec {
                name: RuleName::new(&qualified),
                origin: RuleOrigin::Preset {
                    preset: preset.name,
                    version: expanded.version,
                    used_at,
                },
                ..spec
            };
            self.push_rule(spec, shape, spanned, checked);
        }
    }

    /// The short names `disable` lists, each checked against the preset's rules.
    fn disabled(&mut self, rule_idx: usize, raw: &RawRule, preset: &CheckedPreset) -> Vec<String> {
        let Some(list) = &raw.disable else {
            return Vec::new();
        };
        let mut names = Vec::new();
        for (key, span, name) in self.list_items(rule_idx, "disable", list) {
            let short = name.rsplit('/').next().unwrap_or(name);
            if preset
                .rules
                .iter()
                .any(|(spec, _)| spec.name.as_str() == short)
            {
                names.push(short.to_owned());
            } else {
                let known: Vec<&str> = preset.rules.iter().map(|(s, _)| s.name.as_str()).collect();
                self.problem(
                    span,
                    &key,
                    name,
                    format!("the preset has no such rule; it has {}", known.join(", ")),
                );
            }
        }
        names
    }
}

/// The keys of a `use` entry other than `use` and `disable`.
fn other_keys(raw: &RawRule) -> Vec<&'static str> {
    let set: [(&'static str, bool); 20] = [
        ("name", raw.name.is_some()),
        ("action", raw.action.is_some()),
        ("glob", raw.glob.is_some()),
        ("regex", raw.regex.is_some()),
        ("min_size", raw.min_size.is_some()),
        ("max_size", raw.max_size.is_some()),
        ("min_share", raw.min_share.is_some()),
        ("max_share", raw.max_share.is_some()),
        ("extensionless", raw.extensionless.is_some()),
        ("double_extension", raw.double_extension.is_some()),
        ("named_after_group", raw.named_after_group.is_some()),
        ("keep_largest", raw.keep_largest.is_some()),
        ("task", raw.task.is_some()),
        ("source", raw.source.is_some()),
        ("case_sensitive", raw.case_sensitive.is_some()),
        ("list_file", raw.list_file.is_some()),
        ("list_url", raw.list_url.is_some()),
        ("refresh", raw.refresh.is_some()),
        ("kind", raw.kind.is_some()),
        ("not_kind", raw.not_kind.is_some()),
    ];
    set.into_iter()
        .filter(|(_, set)| *set)
        .map(|(key, _)| key)
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::rules::Action;

    const SERVER: &str =
        "[server]\nurl = \"https://cloud.example.com\"\nemail = \"bot@example.com\"\n";

    fn parse(rules: &str) -> Result<super::super::Config, String> {
        super::super::parse(
            &format!("{SERVER}{rules}"),
            Path::new("rules.toml"),
            &|_| None,
        )
        .map_err(|e| e.to_string())
    }

    fn names(config: &super::super::Config) -> Vec<String> {
        config
            .rules
            .rules()
            .iter()
            .map(|r| r.name().to_string())
            .collect()
    }

    #[test]
    fn every_preset_checks_without_problems_or_warnings() {
        for preset in preset::PRESETS {
            assert_eq!(
                preset_problems(preset),
                Vec::<String>::new(),
                "{}",
                preset.name
            );
            let checked = check_preset(preset);
            assert!(checked.version >= 1, "{}", preset.name);
            assert!(!checked.rules.is_empty(), "{}", preset.name);
        }
    }

    #[test]
    fn a_preset_expands_in_place_with_qualified_names_and_origins() {
        let config = parse(
            "[[rule]]\nname = \"mine\"\naction = \"keep\"\nglob = \"*.url\"\n\n[[rule]]\nuse = \"adverts\"\n\n[[rule]]\nname = \"after\"\naction = \"skip\"\nglob = \"*.tmp\"\n",
        )
        .unwrap();
        let names = names(&config);
        assert_eq!(names.first().map(String::as_str), Some("mine"));
        assert_eq!(names.last().map(String::as_str), Some("after"));
        assert!(
            names.contains(&"adverts/link-files".to_owned()),
            "{names:?}"
        );
        let rules = config.rules.rules();
        assert_eq!(rules[0].origin(), &RuleOrigin::File { line: 4 });
        assert!(matches!(
            rules[1].origin(),
            RuleOrigin::Preset {
                preset: "adverts",
                version: 1,
                used_at: 9
            }
        ));
        // A keep of *.url does not cover every glob of adverts/link-files: no shadowing lint.
        assert!(config.lints.is_empty(), "{:?}", config.lints);
        // The user's rule before the preset overrides its decision on .url files only.
        let plan = crate::plan::plan(
            &task(&[
                ("F/F.mkv", 1 << 30),
                ("F/site.url", 100),
                ("F/site.webloc", 100),
            ]),
            &config.rules,
            &crate::plan::Decided::new(),
        );
        assert_eq!(
            plan.files[1].verdict,
            crate::plan::Verdict::Keep(RuleName::new("mine"))
        );
        assert_eq!(
            plan.files[2].verdict,
            crate::plan::Verdict::Skip(RuleName::new("adverts/link-files"))
        );
    }

    #[test]
    fn disable_leaves_out_one_preset_rule() {
        let config = parse("[[rule]]\nuse = \"adverts\"\ndisable = [\"link-files\"]\n").unwrap();
        let names = names(&config);
        assert!(
            !names.contains(&"adverts/link-files".to_owned()),
            "{names:?}"
        );
        assert!(
            names.contains(&"adverts/advert-markers".to_owned()),
            "{names:?}"
        );
    }

    #[test]
    fn use_entries_are_checked() {
        let err = parse("[[rule]]\nuse = \"advert\"\n").unwrap_err();
        assert!(err.contains("rules.toml:5:7: rule[0].use: unknown preset; one of litter, structures, adverts, media-extras (got \"advert\")"), "{err}");
        let err = parse("[[rule]]\nuse = \"adverts\"\naction = \"skip\"\n").unwrap_err();
        assert!(err.contains("takes only `disable`, not action"), "{err}");
        let err = parse("[[rule]]\nuse = \"adverts\"\ndisable = \"nope\"\n").unwrap_err();
        assert!(
            err.contains("rules.toml:6:11: rule[0].disable: the preset has no such rule"),
            "{err}"
        );
        let err = parse("[[rule]]\nuse = \"adverts\"\n[[rule]]\nuse = \"adverts\"\n").unwrap_err();
        assert!(
            err.contains("duplicate rule name \"adverts/link-files\""),
            "{err}"
        );
    }

    #[test]
    fn kinds_are_checked() {
        let rule = |kinds: &str| {
            parse(&format!(
                "[[rule]]\nname = \"r\"\naction = \"skip\"\nglob = \"*.exe\"\n{kinds}\n"
            ))
        };
        let config = rule("kind = [\"video\", \"audio\"]").unwrap();
        let kinds = config.rules.rules()[0].kinds();
        assert!(kinds.contains(Kind::Video) && kinds.contains(Kind::Audio));
        assert!(!kinds.contains(Kind::Software));
        let config = rule("not_kind = \"software\"").unwrap();
        assert!(!config.rules.rules()[0].kinds().contains(Kind::Software));
        assert_eq!(config.rules.rules()[0].action(), Action::Skip);
        let err = rule("kind = \"films\"").unwrap_err();
        assert!(err.contains("rules.toml:8:8: rule[0].kind: unknown kind; one of video, audio, book, image, software, disc-image, game, archive, mixed (got \"films\")"), "{err}");
        let err = rule("kind = \"video\"\nnot_kind = \"video\"").unwrap_err();
        assert!(err.contains("leave no kind of task"), "{err}");
    }

    #[test]
    fn an_earlier_rule_that_covers_a_preset_rule_is_a_lint() {
        let config = parse(
            "[[rule]]\nname = \"keep-links\"\naction = \"keep\"\nglob = [\"*.url\", \"*.lnk\", \"*.website\", \"*.webloc\"]\n\n[[rule]]\nuse = \"adverts\"\n",
        )
        .unwrap();
        assert_eq!(config.lints.len(), 1, "{:?}", config.lints);
        assert!(
            config.lints[0].message.contains(
                "its rule \"adverts/link-files\" never decides a file: rule[0] (\"keep-links\")"
            ),
            "{:?}",
            config.lints
        );
    }

    fn task(files: &[(&str, u64)]) -> crate::task::DownloadTask {
        use crate::task::{
            DownloadState, DownloadStatus, DownloadTask, FilePath, Phase, TaskFile, TaskId,
            TaskKind, TaskStatus,
        };
        DownloadTask {
            id: TaskId::new("t"),
            kind: TaskKind::RemoteDownload,
            status: TaskStatus::Processing,
            phase: Phase::Monitor,
            source: String::new(),
            download: Some(DownloadStatus {
                name: "T".to_owned(),
                state: DownloadState::Downloading,
                files: Some(
                    files
                        .iter()
                        .enumerate()
                        .map(|(i, (path, size))| TaskFile {
                            index: i as u64 + 1,
                            path: FilePath::new(path),
                            size: *size,
                            selected: true,
                        })
                        .collect(),
                ),
            }),
        }
    }

    #[test]
    fn a_kind_scope_follows_the_tasks_profile() {
        use crate::plan::{Decided, Verdict, plan};
        let config = parse(
            "[[rule]]\nname = \"programs-in-films\"\naction = \"skip\"\nglob = \"*.exe\"\nkind = \"video\"\n\n[[rule]]\nname = \"nfo\"\naction = \"skip\"\nglob = \"*.nfo\"\n",
        )
        .unwrap();
        let film = plan(
            &task(&[
                ("F/F.mkv", 4 << 30),
                ("F/setup.exe", 1 << 20),
                ("F/F.nfo", 10),
            ]),
            &config.rules,
            &Decided::new(),
        );
        assert_eq!(film.profile.kind(), Kind::Video);
        assert_eq!(
            film.files[1].verdict,
            Verdict::Skip(RuleName::new("programs-in-films"))
        );
        let app = plan(
            &task(&[
                ("A/setup.exe", 1 << 20),
                ("A/data.cab", 4 << 20),
                ("A/A.nfo", 10),
            ]),
            &config.rules,
            &Decided::new(),
        );
        assert_eq!(app.profile.kind(), Kind::Archive);
        assert_eq!(app.files[0].verdict, Verdict::Untouched);
        // A rule without `kind` decides the same in both.
        assert_eq!(film.files[2].verdict, app.files[2].verdict);
    }
}
