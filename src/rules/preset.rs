//! Presets: named, versioned rule sets compiled into the binary, which a rules file pulls in
//! with a `[[rule]]` entry `use = "<name>"` (the config layer expands them in place, through
//! the same parser and checks as the user's own rules; see `config/presets.rs`).
//!
//! The judgement ships in the binary because the rules file is a dpkg conffile: once a user
//! edits it, an upgrade never replaces it, but a preset it uses improves with the binary.
//! Each preset's rules are named `<preset>/<rule>` wherever a rule name appears (`check`,
//! `explain`, `[[expect]]`, logs, metrics, `stats`).

use std::fmt;

/// One preset: its name and its TOML text (`src/rules/presets/<name>.toml`).
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    /// The name a rules file uses (`use = "adverts"`).
    pub name: &'static str,
    /// Where its text lives in the source tree, for messages.
    pub path: &'static str,
    /// The TOML text: `version`, `description` and `[[rule]]` tables.
    pub text: &'static str,
}

/// Every preset, in the order `rules.example.toml` uses them.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "litter",
        path: "src/rules/presets/litter.toml",
        text: include_str!("presets/litter.toml"),
    },
    Preset {
        name: "structures",
        path: "src/rules/presets/structures.toml",
        text: include_str!("presets/structures.toml"),
    },
    Preset {
        name: "adverts",
        path: "src/rules/presets/adverts.toml",
        text: include_str!("presets/adverts.toml"),
    },
    Preset {
        name: "media-extras",
        path: "src/rules/presets/media-extras.toml",
        text: include_str!("presets/media-extras.toml"),
    },
];

/// The preset of this name, if there is one.
pub fn find(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|preset| preset.name == name)
}

/// The names of every preset, for messages.
pub fn names() -> String {
    PRESETS
        .iter()
        .map(|preset| preset.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where a rule comes from: the rules file, or a preset it pulled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleOrigin {
    /// Written in the rules file, at this 1-based line (0: built in code, as tests do).
    File {
        /// The line of the `[[rule]]` table.
        line: usize,
    },
    /// From a preset, pulled in by the `use` entry at this line of the rules file.
    Preset {
        /// The preset's name.
        preset: &'static str,
        /// The preset's version.
        version: u32,
        /// The line of the `use` entry in the rules file.
        used_at: usize,
    },
}

impl RuleOrigin {
    /// Whether the rule comes from a preset.
    pub fn is_preset(&self) -> bool {
        matches!(self, Self::Preset { .. })
    }
}

impl fmt::Display for RuleOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File { line } => write!(f, "rules file, line {line}"),
            Self::Preset {
                preset,
                version,
                used_at,
            } => write!(f, "preset {preset} v{version}, used at line {used_at}"),
        }
    }
}
