//! The checking layer: `Checker` turns the raw tables into validated values, collecting every
//! problem (file, line, column, key, value) instead of stopping at the first.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::rules::budget;
use toml::Spanned;
use url::Url;

#[allow(
    clippy::wildcard_imports,
    reason = "the checker works on every raw type and result type"
)]
use super::raw::*;
#[allow(
    clippy::wildcard_imports,
    reason = "the checker builds the module's result types"
)]
use super::*;

/// Whether the URL's host is this machine.
pub(super) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

pub(super) struct Checker<'a> {
    pub(super) text: &'a str,
    pub(super) problems: Vec<Problem>,
    pub(super) lints: Vec<Problem>,
    /// The rules file (messages, relative `list_file`s).
    pub(super) path: &'a Path,
    /// Where fetched lists are cached beside.
    pub(super) state_file: PathBuf,
    pub(super) blocklists: blocklists::BlocklistLookup<'a>,
    pub(super) blocklist_infos: Vec<blocklists::BlocklistInfo>,
}

impl<'a> Checker<'a> {
    pub(super) fn new(
        text: &'a str,
        path: &'a Path,
        blocklists: blocklists::BlocklistLookup<'a>,
    ) -> Self {
        Self {
            text,
            problems: Vec::new(),
            lints: Vec::new(),
            path,
            state_file: PathBuf::from("cloudreve-autoselect-state.json"),
            blocklists,
            blocklist_infos: Vec::new(),
        }
    }

    pub(super) fn problem(&mut self, span: Range<usize>, key: &str, value: &str, message: String) {
        let message = if value.is_empty() {
            message
        } else {
            format!("{message} (got {:?})", redact_userinfo(value))
        };
        self.problems.push(locate(self.text, span, key, message));
    }

    pub(super) fn duration(
        &mut self,
        raw: Option<&Spanned<String>>,
        key: &str,
        default: Duration,
    ) -> Duration {
        let Some(raw) = raw else { return default };
        match humantime::parse_duration(raw.get_ref()) {
            Ok(duration) => duration,
            Err(e) => {
                self.problem(
                    raw.span(),
                    key,
                    raw.get_ref(),
                    format!("invalid duration: {e}; write e.g. \"30s\", \"2m\" or \"1h 30m\""),
                );
                default
            }
        }
    }

    pub(super) fn server(&mut self, raw: Spanned<RawServer>) -> Option<ServerConfig> {
        let raw = raw.into_inner();
        let url = self.base_url(&raw.url);
        let email = raw.email.get_ref().trim().to_owned();
        if email.is_empty() || !email.contains('@') {
            self.problem(
                raw.email.span(),
                "server.email",
                raw.email.get_ref(),
                "not an email address; Cloudreve signs in by email".to_owned(),
            );
        }
        let password = self.password(&raw);
        let oauth = self.oauth(&raw);
        let refresh_token_file =
            self.path(raw.refresh_token_file.as_ref(), "server.refresh_token_file");
        let ca_file = self.path(raw.ca_file.as_ref(), "server.ca_file");
        if let Some((parsed, _)) = &url {
            self.insecure_transport(&raw, parsed);
        }
        let timeout = self.duration(
            raw.timeout.as_ref(),
            "server.timeout",
            Duration::from_secs(30),
        );
        let connect_timeout = self.duration(
            raw.connect_timeout.as_ref(),
            "server.connect_timeout",
            Duration::from_secs(10),
        );
        for (value, raw_value, key) in [
            (timeout, &raw.timeout, "server.timeout"),
            (
                connect_timeout,
                &raw.connect_timeout,
                "server.connect_timeout",
            ),
        ] {
            if value.is_zero()
                && let Some(raw_value) = raw_value
            {
                self.problem(
                    raw_value.span(),
                    key,
                    raw_value.get_ref(),
                    format!(
                        "{} must be more than zero",
                        key.trim_start_matches("server.")
                    ),
                );
            }
        }
        let retries = match &raw.retries {
            None => 3,
            Some(r) => match u32::try_from(*r.get_ref()) {
                Ok(n) if n <= 10 => n,
                _ => {
                    self.problem(
                        r.span(),
                        "server.retries",
                        &r.get_ref().to_string(),
                        "retries must be between 0 and 10".to_owned(),
                    );
                    3
                }
            },
        };
        let (url, api_base) = url?;
        Some(ServerConfig {
            url,
            api_base,
            email,
            password: password?,
            timeout,
            connect_timeout,
            retries,
            refresh_token_file,
            oauth,
            ca_file,
            accept_invalid_certs: raw
                .accept_invalid_certs
                .as_ref()
                .is_some_and(|a| *a.get_ref()),
        })
    }

    /// A path-valued key; empty is a problem.
    pub(super) fn path(&mut self, raw: Option<&Spanned<String>>, key: &str) -> Option<PathBuf> {
        let raw = raw?;
        if raw.get_ref().trim().is_empty() {
            self.problem(raw.span(), key, "", "empty path".to_owned());
            return None;
        }
        Some(PathBuf::from(raw.get_ref()))
    }

    /// Where the password comes from; at most one of the password keys and the refresh token.
    pub(super) fn password(&mut self, raw: &RawServer) -> Option<PasswordSetting> {
        if let (Some(token), true) = (
            &raw.refresh_token_file,
            raw.password.is_some() || raw.password_file.is_some(),
        ) {
            self.problem(
                token.span(),
                "server.refresh_token_file",
                "",
                "set either a password or server.refresh_token_file, not both".to_owned(),
            );
        }
        match (&raw.password, &raw.password_file) {
            (Some(inline), Some(_)) => {
                self.problem(
                    inline.span(),
                    "server.password",
                    "",
                    "set either server.password or server.password_file, not both".to_owned(),
                );
                None
            }
            (Some(inline), None) if inline.get_ref().is_empty() => {
                self.problem(
                    inline.span(),
                    "server.password",
                    "",
                    "empty password".to_owned(),
                );
                None
            }
            (Some(inline), None) => Some(PasswordSetting::Inline(SecretString::from(
                inline.get_ref().clone(),
            ))),
            (None, Some(_)) => self
                .path(raw.password_file.as_ref(), "server.password_file")
                .map(PasswordSetting::File),
            (None, None) => Some(PasswordSetting::FromEnvironment),
        }
    }

    /// Credentials in clear or to an unverified server need `allow_insecure = true`.
    pub(super) fn insecure_transport(&mut self, raw: &RawServer, url: &Url) {
        if raw.allow_insecure.unwrap_or(false) {
            return;
        }
        if url.scheme() == "http" && !is_loopback(url) {
            self.problem(
                raw.url.span(),
                "server.url",
                raw.url.get_ref(),
                "plain http:// to a host that is not this machine would send the password or token in clear; use https://, or set server.allow_insecure = true if this network is trusted".to_owned(),
            );
        }
        if let Some(flag) = raw.accept_invalid_certs.as_ref().filter(|a| *a.get_ref()) {
            self.problem(
                flag.span(),
                "server.accept_invalid_certs",
                "",
                "accepting any certificate lets whoever sits between here and the server read the password or token; prefer server.ca_file, or set server.allow_insecure = true as well".to_owned(),
            );
        }
    }

    pub(super) fn base_url(&mut self, raw: &Spanned<String>) -> Option<(Url, Url)> {
        let text = raw.get_ref().trim();
        let parsed = match Url::parse(text) {
            Ok(url) => url,
            Err(e) => {
                self.problem(
                    raw.span(),
                    "server.url",
                    text,
                    format!("invalid URL: {e}; write e.g. \"https://cloud.example.com\""),
                );
                return None;
            }
        };
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            self.problem(
                raw.span(),
                "server.url",
                text,
                "the URL must be http:// or https:// with a host".to_owned(),
            );
            return None;
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            self.problem(
                raw.span(),
                "server.url",
                text,
                "the URL must not hold a user name or password: put the account in server.email and the password in server.password_file (or another password source)".to_owned(),
            );
            return None;
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            self.problem(
                raw.span(),
                "server.url",
                text,
                "the URL must not have a query or fragment".to_owned(),
            );
            return None;
        }
        let mut base = parsed;
        let path = base.path().trim_end_matches('/').to_owned();
        if path.ends_with("/api/v4") {
            self.problem(
                raw.span(),
                "server.url",
                text,
                "give the site's base URL; the client appends /api/v4 itself".to_owned(),
            );
            return None;
        }
        base.set_path(&format!("{path}/"));
        match base.join("api/v4/") {
            Ok(api) => Some((base, api)),
            Err(e) => {
                self.problem(raw.span(), "server.url", text, format!("invalid URL: {e}"));
                None
            }
        }
    }

    pub(super) fn daemon(
        &mut self,
        raw: &RawDaemon,
        config_path: &Path,
        env: EnvLookup<'_>,
    ) -> Option<DaemonConfig> {
        let schedule = match &raw.schedule {
            None => Schedule::parse(DEFAULT_SCHEDULE).ok(),
            Some(pattern) => match Schedule::parse(pattern.get_ref()) {
                // A date that never comes (`0 0 12 31 2 *`): the service would never tick.
                Ok(schedule) if schedule.next_runs(chrono::Utc::now(), 1).is_empty() => {
                    self.problem(
                        pattern.span(),
                        "daemon.schedule",
                        pattern.get_ref(),
                        "the schedule never fires (no such date in the coming years); the service would never tick".to_owned(),
                    );
                    None
                }
                Ok(schedule) => {
                    for warning in lint::schedule_warnings(pattern.get_ref()) {
                        self.lint(pattern.span(), "daemon.schedule", &warning);
                    }
                    Some(schedule)
                }
                Err(message) => {
                    self.problem(
                        pattern.span(),
                        "daemon.schedule",
                        pattern.get_ref(),
                        message,
                    );
                    None
                }
            },
        };
        let state_file = match &raw.state_file {
            Some(file) if file.get_ref().trim().is_empty() => {
                self.problem(
                    file.span(),
                    "daemon.state_file",
                    "",
                    "empty path".to_owned(),
                );
                PathBuf::new()
            }
            // A relative path is relative to the rules file, not to wherever a command runs.
            Some(file) => config_path
                .parent()
                .unwrap_or(Path::new(""))
                .join(file.get_ref()),
            None => default_state_file(env),
        };
        let metadata_recheck = self.duration(
            raw.metadata_recheck.as_ref(),
            "daemon.metadata_recheck",
            Duration::from_secs(5),
        );
        Some(DaemonConfig {
            schedule: schedule?,
            dry_run: raw.dry_run.unwrap_or(false),
            state_file,
            metadata_recheck,
        })
    }

    pub(super) fn rules(&mut self, raw_rules: &[Spanned<RawRule>]) -> Vec<RuleSpec> {
        if raw_rules.is_empty() {
            self.lint(self.text.len()..self.text.len(), "rule", lint::NO_RULES);
        }
        let mut checked = presets::Checked::default();
        for (rule_idx, spanned) in raw_rules.iter().enumerate() {
            if let Some(name) = &spanned.get_ref().use_preset {
                self.use_preset(rule_idx, spanned, name, &mut checked);
                continue;
            }
            if let Some((spec, shape)) = self.one_rule(rule_idx, spanned, &mut checked.seen) {
                self.push_rule(spec, shape, spanned, &mut checked);
            }
        }
        let regexes: Vec<String> = checked
            .specs
            .iter()
            .flat_map(|s| s.regexes.clone())
            .collect();
        if let Err(e) = budget::within_nfa_budget(&regexes) {
            let first = raw_rules.iter().enumerate().find_map(|(idx, rule)| {
                let regex = rule.get_ref().regex.as_ref()?;
                Some((idx, regex.span()))
            });
            if let Some((idx, span)) = first {
                self.problem(
                    span,
                    &format!("rule[{idx}].regex"),
                    "",
                    format!(
                        "the rules' {} regexes together are too large: {e}; simplify them (a `\\w` or `.` repeated many times costs most)",
                        regexes.len()
                    ),
                );
            }
        }
        checked.specs
    }

    pub(super) fn lint(&mut self, span: Range<usize>, key: &str, message: &str) {
        self.lints
            .push(locate(self.text, span, key, message.to_owned()));
    }

    pub(super) fn rule_name(
        &mut self,
        rule_idx: usize,
        spanned: &Spanned<RawRule>,
        seen: &mut Vec<(String, usize)>,
    ) -> Option<RuleName> {
        let key = format!("rule[{rule_idx}].name");
        match &spanned.get_ref().name {
            None => {
                self.problem(
                    spanned.span(),
                    &format!("rule[{rule_idx}]"),
                    "",
                    "missing `name`; every rule needs a unique name".to_owned(),
                );
                None
            }
            Some(name) if name.get_ref().trim().is_empty() => {
                self.problem(name.span(), &key, "", "empty rule name".to_owned());
                None
            }
            Some(name) => {
                if let Some(&(_, first)) = seen
                    .iter()
                    .find(|(seen_name, _)| seen_name == name.get_ref())
                {
                    self.problem(
                        name.span(),
                        &key,
                        name.get_ref(),
                        format!("duplicate rule name; rule[{first}] already uses it"),
                    );
                } else {
                    seen.push((name.get_ref().clone(), rule_idx));
                }
                Some(RuleName::new(name.get_ref().clone()))
            }
        }
    }

    /// Validates one rule's conditions; its name is checked by `rule_name`.
    pub(super) fn rule(
        &mut self,
        rule_idx: usize,
        rule_span: Range<usize>,
        raw: &RawRule,
    ) -> Option<RuleSpec> {
        let key = |field: &str| format!("rule[{rule_idx}].{field}");
        let problems_before = self.problems.len();
        let action = self.action(rule_idx, rule_span.clone(), raw.action.as_ref());
        let case_sensitive = raw.case_sensitive.unwrap_or(false);
        let globs = self.globs(rule_idx, raw.glob.as_ref(), case_sensitive);
        let regexes = self.regexes(rule_idx, raw.regex.as_ref(), case_sensitive);
        if let (Some(_), Some(regex)) = (&raw.glob, &raw.regex) {
            self.problem(
                regex.span(),
                &key("regex"),
                "",
                "a rule has either `glob` or `regex`, not both; split it into two rules".to_owned(),
            );
        }

        let min_size = self.size(raw.min_size.as_ref(), &key("min_size"));
        let max_size = self.size(raw.max_size.as_ref(), &key("max_size"));
        if let (Some(min), Some(max), Some(raw_max)) = (min_size, max_size, &raw.max_size)
            && min > max
        {
            self.problem(
                raw_max.span(),
                &key("max_size"),
                "",
                format!("max_size ({max}) is below min_size ({min}); no file could ever match"),
            );
        }
        let min_share = self.share(raw.min_share.as_ref(), &key("min_share"));
        let max_share = self.share(raw.max_share.as_ref(), &key("max_share"));
        if let (Some(min), Some(max), Some(raw_max)) = (min_share, max_share, &raw.max_share)
            && min > max
        {
            self.problem(
                raw_max.span(),
                &key("max_share"),
                "",
                format!("max_share ({max}) is below min_share ({min}); no file could ever match"),
            );
        }
        let keep_largest =
            self.keep_largest(raw.keep_largest.as_ref(), action, &key("keep_largest"));
        let kinds = self.kinds(rule_idx, raw);
        let has_condition = raw.glob.is_some()
            || raw.regex.is_some()
            || raw.list_file.is_some()
            || raw.list_url.is_some()
            || raw.min_size.is_some()
            || raw.max_size.is_some()
            || raw.min_share.is_some()
            || raw.max_share.is_some()
            || raw.extensionless.is_some()
            || raw.double_extension.is_some()
            || raw.named_after_group.is_some();
        if !has_condition {
            self.problem(
                rule_span,
                &format!("rule[{rule_idx}]"),
                "",
                "a rule needs at least one condition: `glob`, `regex`, `min_size`, `max_size`, `min_share`, `max_share`, `extensionless`, `double_extension`, `named_after_group`, `list_file` or `list_url`".to_owned(),
            );
        }
        let task = raw.task.as_ref().and_then(|task| {
            let glob = task.get_ref();
            if !glob.contains(['*', '?', '[', '{']) {
                self.lint(
                    task.span(),
                    &key("task"),
                    &format!("matches only a task named exactly {glob:?}; write \"*{glob}*\" to match names containing it"),
                );
            }
            if let Some(warning) = lint::bracket_warning(glob, case_sensitive) {
                self.lint(task.span(), &key("task"), &warning);
            }
            self.compiled(task, &key("task"), compile_glob(glob, case_sensitive))
        });
        let source = raw.source.as_ref().and_then(|source| {
            self.compiled(
                source,
                &key("source"),
                compile_source_glob(source.get_ref(), case_sensitive),
            )
        });
        (self.problems.len() == problems_before).then(|| RuleSpec {
            globs,
            regexes,
            min_size,
            max_size,
            min_share,
            max_share,
            extensionless: raw.extensionless,
            double_extension: raw.double_extension,
            named_after_group: raw.named_after_group,
            keep_largest,
            task,
            source,
            kinds,
            ..RuleSpec::new("", action)
        })
    }

    pub(super) fn action(
        &mut self,
        rule_idx: usize,
        rule_span: Range<usize>,
        raw: Option<&Spanned<String>>,
    ) -> Action {
        let Some(action) = raw else {
            self.problem(
                rule_span,
                &format!("rule[{rule_idx}]"),
                "",
                "missing `action`; write action = \"skip\", \"keep\" or \"only\"".to_owned(),
            );
            return Action::Skip;
        };
        match action.get_ref().as_str() {
            "skip" => Action::Skip,
            "keep" => Action::Keep,
            "only" => Action::Only,
            other => {
                self.problem(
                    action.span(),
                    &format!("rule[{rule_idx}].action"),
                    other,
                    "unknown action; expected \"skip\" (deselect), \"keep\" (select) or \"only\" (keep these, skip the rest of the task)".to_owned(),
                );
                Action::Skip
            }
        }
    }

    pub(super) fn keep_largest(
        &mut self,
        raw: Option<&Spanned<i64>>,
        action: Action,
        key: &str,
    ) -> Option<usize> {
        let n = raw?;
        if action != Action::Skip {
            self.problem(
                n.span(),
                key,
                "",
                "keep_largest works with action = \"skip\": the rule keeps the N largest files it matches and skips the others".to_owned(),
            );
            return None;
        }
        match usize::try_from(*n.get_ref()) {
            Ok(count) if count >= 1 => Some(count),
            _ => {
                self.problem(
                    n.span(),
                    key,
                    &n.get_ref().to_string(),
                    "keep_largest must be 1 or more".to_owned(),
                );
                None
            }
        }
    }

    pub(super) fn compiled(
        &mut self,
        raw: &Spanned<String>,
        key: &str,
        glob: Result<globset::Glob, globset::Error>,
    ) -> Option<globset::Glob> {
        glob.map_err(|e| {
            self.problem(
                raw.span(),
                key,
                raw.get_ref(),
                format!("invalid glob: {}", e.kind()),
            );
        })
        .ok()
    }

    /// Each element of a `glob` or `regex` list with its own key and span.
    pub(super) fn list_items<'l>(
        &mut self,
        rule_idx: usize,
        field: &str,
        list: &'l Spanned<GlobList>,
    ) -> Vec<(String, Range<usize>, &'l str)> {
        let items = &list.get_ref().0;
        if items.is_empty() {
            self.problem(
                list.span(),
                &format!("rule[{rule_idx}].{field}"),
                "",
                format!("empty {field} list; remove the key or add a pattern"),
            );
        }
        let mut out = Vec::with_capacity(items.len());
        for (item_idx, (pattern, span)) in items.iter().enumerate() {
            let span = span.clone().unwrap_or_else(|| list.span());
            let key = if items.len() > 1 || span != list.span() {
                format!("rule[{rule_idx}].{field}[{item_idx}]")
            } else {
                format!("rule[{rule_idx}].{field}")
            };
            if pattern.is_empty() {
                self.problem(span, &key, "", format!("empty {field}"));
                continue;
            }
            out.push((key, span, pattern.as_str()));
        }
        out
    }

    pub(super) fn globs(
        &mut self,
        rule_idx: usize,
        list: Option<&Spanned<GlobList>>,
        case_sensitive: bool,
    ) -> Vec<globset::Glob> {
        let Some(list) = list else { return Vec::new() };
        let mut globs = Vec::new();
        for (key, span, pattern) in self.list_items(rule_idx, "glob", list) {
            for warning in lint::glob_warnings(pattern, case_sensitive) {
                self.lint(span.clone(), &key, &warning);
            }
            match compile_glob(pattern, case_sensitive) {
                Ok(glob) => globs.push(glob),
                Err(e) => self.problem(span, &key, pattern, format!("invalid glob: {}", e.kind())),
            }
        }
        globs
    }

    pub(super) fn regexes(
        &mut self,
        rule_idx: usize,
        list: Option<&Spanned<GlobList>>,
        case_sensitive: bool,
    ) -> Vec<String> {
        let Some(list) = list else { return Vec::new() };
        let mut regexes = Vec::new();
        for (key, span, pattern) in self.list_items(rule_idx, "regex", list) {
            let source = regex_source(pattern, case_sensitive);
            if pattern.len() > budget::REGEX_MAX_BYTES {
                self.problem(
                    span,
                    &key,
                    "",
                    format!("a regex is at most {} bytes", budget::REGEX_MAX_BYTES),
                );
                continue;
            }
            // Syntax alone: what all regexes cost compiled is judged once, in `rules`.
            match budget::syntax(&source) {
                Ok(()) => regexes.push(source),
                Err(detail) => {
                    self.problem(span, &key, pattern, format!("invalid regex: {detail}"));
                }
            }
        }
        regexes
    }

    pub(super) fn share(&mut self, raw: Option<&Spanned<String>>, key: &str) -> Option<Share> {
        let raw = raw?;
        Share::parse(raw.get_ref())
            .map_err(|e| {
                self.problem(
                    raw.span(),
                    key,
                    raw.get_ref(),
                    format!("invalid share: {e}"),
                );
            })
            .ok()
    }

    pub(super) fn safety(&mut self, raw: Option<&RawSafety>) -> OnAllJunk {
        let Some(value) = raw.and_then(|r| r.on_all_junk.as_ref()) else {
            return OnAllJunk::Leave;
        };
        match value.get_ref().as_str() {
            "leave" => OnAllJunk::Leave,
            "keep_largest" => OnAllJunk::KeepLargest,
            other => {
                self.problem(
                    value.span(),
                    "safety.on_all_junk",
                    other,
                    "expected \"leave\" (send nothing) or \"keep_largest\" (keep the largest file, skip the rest)".to_owned(),
                );
                OnAllJunk::Leave
            }
        }
    }

    pub(super) fn size(
        &mut self,
        raw: Option<&Spanned<SizeLiteral>>,
        key: &str,
    ) -> Option<ByteSize> {
        let raw = raw?;
        let (parsed, shown) = match raw.get_ref() {
            SizeLiteral::Bytes(n) => (ByteSize::from_integer(*n), n.to_string()),
            SizeLiteral::Text(text) => (ByteSize::parse(text), text.clone()),
        };
        match parsed {
            Ok(size) => Some(size),
            Err(e) => {
                self.problem(raw.span(), key, &shown, format!("invalid size: {e}"));
                None
            }
        }
    }
}
