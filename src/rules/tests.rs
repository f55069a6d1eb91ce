//! Tests of the rule set: rule order and conditions, and the matcher checked against a naive
//! one that tries each glob (compiled alone) and each list line in turn.

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
    let compiled = blocklist::compile("*.exe\nsample*\nregex:^RARBG\n", false);
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
    let accents = blocklist::compile("Café*\n", false);
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
    assert_eq!(rules.rules()[1].blocklist_pattern_count(), 3);
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

mod matching_forms {
    use super::*;
    use proptest::prelude::*;

    /// Whether a glob alone matches a path: its own `GlobMatcher` on the base name or the path.
    fn alone(pattern: &str, case_sensitive: bool, path: &str) -> Option<bool> {
        let glob = compile_glob(pattern, case_sensitive).ok()?;
        let subject = if is_path_glob(pattern) {
            path
        } else {
            path.rsplit('/').next().unwrap_or(path)
        };
        Some(glob.compile_matcher().is_match(subject))
    }

    /// Whether one list line alone matches a path's base name, by the list format's own words
    /// (ends with, starts with, contains, is; a regex searched in the base name): `None` for a
    /// line the list does not use.
    fn line_alone(line: &str, case_sensitive: bool, path: &str) -> Option<bool> {
        let base = path.rsplit('/').next().unwrap_or(path);
        let fold = |text: &str| {
            if case_sensitive {
                text.to_owned()
            } else {
                text.to_lowercase()
            }
        };
        let name = fold(base);
        Some(match blocklist::parse_line(line)?.ok()? {
            blocklist::BlocklistPattern::EndsWith(x) => name.ends_with(&fold(&x)),
            blocklist::BlocklistPattern::StartsWith(x) => name.starts_with(&fold(&x)),
            blocklist::BlocklistPattern::Contains(x) => name.contains(&fold(&x)),
            blocklist::BlocklistPattern::Exact(x) => name == fold(&x),
            blocklist::BlocklistPattern::Regex(x) => regex::Regex::new(&x).ok()?.is_match(base),
        })
    }

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

    /// A list line: a wildcard form of some text, an exact name, a regex, a comment or a
    /// line the list refuses (a lone `*`).
    fn arb_line() -> impl Strategy<Value = String> {
        let text = prop::collection::vec(
            prop::sample::select(vec![
                "a", "A", "b", "s", "S", ".", "-", "ä", "Ä", "sample", "SAMPLE", ".srt", "[a]",
                "?", "*",
            ]),
            1..4,
        )
        .prop_map(|pieces| pieces.concat());
        let regex = prop::sample::select(vec![
            "regex:^a",
            "regex:(?i)sample",
            "regex:\\.srt$",
            "regex:[A-z]b",
            "regex:^Ä",
        ]);
        prop_oneof![
            text.clone().prop_map(|x| format!("*{x}")),
            text.clone().prop_map(|x| format!("{x}*")),
            text.clone().prop_map(|x| format!("*{x}*")),
            text,
            regex.prop_map(str::to_owned),
            Just("# comment".to_owned()),
            Just("*".to_owned()),
        ]
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
                let rules = set(vec![rule("r", Action::Skip, &[pattern], case_sensitive)]);
                for name in names {
                    assert_eq!(
                        decide(&rules, "t", name, 1).is_some(),
                        alone(pattern, case_sensitive, name).unwrap(),
                        "{pattern} (case-sensitive: {case_sensitive}) on {name}"
                    );
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5_000))]
        /// The set matches exactly what the glob alone matches (base name or whole path).
        #[test]
        fn a_glob_in_the_set_matches_what_it_matches_alone(
            pattern in arb_pattern(),
            path in arb_path(),
            case_sensitive in any::<bool>(),
        ) {
            let Some(expected) = alone(&pattern, case_sensitive, &path) else {
                return Ok(());
            };
            let rules = set(vec![rule("r", Action::Skip, &[&pattern], case_sensitive)]);
            prop_assert_eq!(decide(&rules, "t", &path, 1).is_some(), expected);
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
                if expected.is_none() && n != off && alone(pattern, *case_sensitive, &path).unwrap() {
                    expected = Some(format!("r{n}"));
                }
                specs.push(RuleSpec {
                    min_size: (n == off).then_some(ByteSize(2)),
                    ..rule(&format!("r{n}"), Action::Skip, &[pattern], *case_sensitive)
                });
            }
            let rules = set(specs);
            prop_assert_eq!(decide(&rules, "t", &path, 1), expected);
        }

        /// Several rules of several globs each, base-name and path globs of both cases mixed
        /// in the same sets: the first rule with a glob that matches alone decides.
        #[test]
        fn the_first_rule_whose_glob_matches_alone_decides(
            rules in prop::collection::vec(
                prop::collection::vec(arb_pattern(), 1..4).prop_flat_map(|globs| (Just(globs), any::<bool>())),
                1..5,
            ),
            path in arb_path(),
        ) {
            let mut specs = Vec::new();
            let mut expected = None;
            for (n, (patterns, case_sensitive)) in rules.iter().enumerate() {
                let usable: Vec<&str> = patterns
                    .iter()
                    .map(String::as_str)
                    .filter(|pattern| compile_glob(pattern, *case_sensitive).is_ok())
                    .collect();
                if usable.is_empty() {
                    continue;
                }
                let matched = usable
                    .iter()
                    .any(|pattern| alone(pattern, *case_sensitive, &path) == Some(true));
                if expected.is_none() && matched {
                    expected = Some(format!("r{n}"));
                }
                specs.push(rule(&format!("r{n}"), Action::Skip, &usable, *case_sensitive));
            }
            let rules = set(specs);
            prop_assert_eq!(decide(&rules, "t", &path, 1), expected);
        }

        /// Lists (both cases) beside the rules file's globs: a list rule decides exactly when
        /// one of its lines alone matches the base name and no rule above it matched.
        #[test]
        fn list_rules_match_what_their_lines_match_alone(
            above in prop::option::of((arb_pattern(), any::<bool>())),
            lines in prop::collection::vec(arb_line(), 0..8),
            list_case_sensitive in any::<bool>(),
            below in prop::option::of((arb_pattern(), any::<bool>())),
            path in arb_path(),
        ) {
            let mut specs = Vec::new();
            let mut expected = None;
            if let Some((pattern, case_sensitive)) = &above
                && let Some(matched) = alone(pattern, *case_sensitive, &path)
            {
                if matched {
                    expected = Some("above".to_owned());
                }
                specs.push(rule("above", Action::Keep, &[pattern], *case_sensitive));
            }
            let compiled = blocklist::compile(&lines.join("\n"), list_case_sensitive);
            let list_matches = lines
                .iter()
                .any(|line| line_alone(line, list_case_sensitive, &path) == Some(true));
            if expected.is_none() && list_matches {
                expected = Some("list".to_owned());
            }
            specs.push(RuleSpec {
                from_list: true,
                list_folded: compiled.folded,
                list_patterns: compiled.pattern_count(),
                list_globs: compiled.globs,
                list_regexes: compiled.regexes,
                ..RuleSpec::new("list", Action::Skip)
            });
            if let Some((pattern, case_sensitive)) = &below
                && let Some(matched) = alone(pattern, *case_sensitive, &path)
            {
                if expected.is_none() && matched {
                    expected = Some("below".to_owned());
                }
                specs.push(rule("below", Action::Skip, &[pattern], *case_sensitive));
            }
            let rules = set(specs);
            prop_assert_eq!(decide(&rules, "t", &path, 1), expected);
        }
    }
}
