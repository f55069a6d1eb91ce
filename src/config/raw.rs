//! The raw layer: serde types that mirror the rules file (`deny_unknown_fields`, a span kept on
//! every value checked later). Nothing here is validated; `check.rs` turns it into `Config`.

use std::fmt;
use std::ops::Range;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use toml::Spanned;

use super::{account, expect, metrics, notify};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub(super) server: Option<Spanned<RawServer>>,
    #[serde(default, rename = "account")]
    pub(super) accounts: Vec<Spanned<account::RawAccount>>,
    #[serde(default)]
    pub(super) daemon: Option<RawDaemon>,
    #[serde(default)]
    pub(super) safety: Option<RawSafety>,
    #[serde(default, rename = "rule")]
    pub(super) rules: Vec<Spanned<RawRule>>,
    #[serde(default)]
    pub(super) notify: Vec<Spanned<notify::RawNotify>>,
    #[serde(default)]
    pub(super) metrics: Option<metrics::RawMetrics>,
    #[serde(default)]
    pub(super) expect: Vec<Spanned<expect::RawExpect>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    pub(super) url: Spanned<String>,
    pub(super) email: Spanned<String>,
    pub(super) password: Option<Spanned<String>>,
    pub(super) password_file: Option<Spanned<String>>,
    pub(super) refresh_token_file: Option<Spanned<String>>,
    pub(super) timeout: Option<Spanned<String>>,
    pub(super) connect_timeout: Option<Spanned<String>>,
    pub(super) retries: Option<Spanned<i64>>,
    pub(super) ca_file: Option<Spanned<String>>,
    pub(super) accept_invalid_certs: Option<Spanned<bool>>,
    pub(super) allow_insecure: Option<bool>,
    pub(super) oauth_client_id: Option<Spanned<String>>,
    pub(super) oauth_client_secret_file: Option<Spanned<String>>,
    pub(super) oauth_redirect_port: Option<Spanned<i64>>,
    pub(super) token_file: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDaemon {
    pub(super) schedule: Option<Spanned<String>>,
    pub(super) dry_run: Option<bool>,
    pub(super) state_file: Option<Spanned<String>>,
    pub(super) metadata_recheck: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    pub(super) name: Option<Spanned<String>>,
    pub(super) action: Option<Spanned<String>>,
    pub(super) glob: Option<Spanned<GlobList>>,
    pub(super) regex: Option<Spanned<GlobList>>,
    pub(super) min_size: Option<Spanned<SizeLiteral>>,
    pub(super) max_size: Option<Spanned<SizeLiteral>>,
    pub(super) min_share: Option<Spanned<String>>,
    pub(super) max_share: Option<Spanned<String>>,
    pub(super) extensionless: Option<bool>,
    pub(super) double_extension: Option<bool>,
    pub(super) named_after_group: Option<bool>,
    pub(super) keep_largest: Option<Spanned<i64>>,
    pub(super) task: Option<Spanned<String>>,
    pub(super) source: Option<Spanned<String>>,
    pub(super) case_sensitive: Option<bool>,
    pub(super) list_file: Option<Spanned<String>>,
    pub(super) list_url: Option<Spanned<String>>,
    pub(super) refresh: Option<Spanned<String>>,
    /// The kinds of task the rule applies to (`rules::profile::Kind`).
    pub(super) kind: Option<Spanned<GlobList>>,
    /// The kinds of task the rule does not apply to.
    pub(super) not_kind: Option<Spanned<GlobList>>,
    /// Pulls in a preset's rules here instead (`config/presets.rs`).
    #[serde(rename = "use")]
    pub(super) use_preset: Option<Spanned<String>>,
    /// With `use`: the preset's rules to leave out, by their short names.
    pub(super) disable: Option<Spanned<GlobList>>,
}

/// A preset file (`src/rules/presets/*.toml`): its version, what it is for, and its rules.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPreset {
    pub(super) version: u32,
    pub(super) description: String,
    #[serde(default, rename = "rule")]
    pub(super) rules: Vec<Spanned<RawRule>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSafety {
    pub(super) on_all_junk: Option<Spanned<String>>,
}

/// `glob = "x"` or `glob = ["x", "y"]`, keeping each element's span where TOML gives one.
pub(super) struct GlobList(pub(super) Vec<(String, Option<Range<usize>>)>);

impl<'de> Deserialize<'de> for GlobList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct GlobListVisitor;
        impl<'de> Visitor<'de> for GlobListVisitor {
            type Value = GlobList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a glob string or an array of glob strings")
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<GlobList, E> {
                Ok(GlobList(vec![(value.to_owned(), None)]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<GlobList, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<String>>()? {
                    let span = item.span();
                    items.push((item.into_inner(), Some(span)));
                }
                Ok(GlobList(items))
            }
        }
        deserializer.deserialize_any(GlobListVisitor)
    }
}

/// A size as written: a string with a unit, or a bare integer (bytes).
#[derive(Deserialize)]
#[serde(
    untagged,
    expecting = "a size: a string such as \"5 MiB\" or an integer number of bytes"
)]
pub(super) enum SizeLiteral {
    Bytes(i64),
    Text(String),
}
