//! What patterns may cost to compile: a shared list is written by someone else, and one long
//! line (`*aaa…*`, 4 MB) once took 1.47 GB and several seconds to compile, and 2,000 lines of
//! `regex:^xN\w{50}y` 29 seconds, on every start. Pure: patterns in, a verdict out.
//!
//! The budget, for a shared list (fetched or `list_file`) and for the rules file's regexes:
//! - a list line is at most [`LINE_MAX_BYTES`] and a rules-file regex at most
//!   [`REGEX_MAX_BYTES`] (a longer one is a problem of its own, found before anything compiles);
//! - a list has at most [`LIST_PATTERNS_MAX`] usable patterns, and its `regex:` and `*x*` lines
//!   at most [`LIST_REGEX_TEXT_MAX`] bytes together (the case-insensitive `*x*` alternation
//!   grows about 40-fold when compiled);
//! - the regexes of one list, and those of the rules file, compile to at most
//!   [`NFA_MAX_BYTES`] (`regex`'s own size limit: checked by building only the Thompson NFA
//!   under that limit, which stops as soon as it is crossed, rather than each whole regex);
//! - every regex is checked for syntax alone, line by line (a whole regex each took 15 ms for
//!   `\w{50}`: the budget is the one build above).
//!
//! The `RuleSet` then builds its regex sets with [`regex_set`], whose limits admit everything
//! these checks passed, so a list that passed can never make loading the rules fail.

/// The longest list line (after trimming).
pub const LINE_MAX_BYTES: usize = 1024;
/// The longest regex of the rules file.
pub const REGEX_MAX_BYTES: usize = 4096;
/// The most usable patterns one list may have.
pub const LIST_PATTERNS_MAX: usize = 100_000;
/// The most bytes of `regex:` and `*x*` text one list may have.
pub const LIST_REGEX_TEXT_MAX: usize = 256 * 1024;
/// The most a list's regexes, or the rules file's, may take compiled.
pub const NFA_MAX_BYTES: usize = 8 * 1024 * 1024;
/// The lazy DFA's cache per regex set (`regex`'s default).
pub const DFA_MAX_BYTES: usize = 2 * 1024 * 1024;

/// Checks one regex's syntax, without compiling it: the error's last line, as
/// `regex` words it.
pub fn syntax(pattern: &str) -> Result<(), String> {
    regex_automata::util::syntax::parse(pattern)
        .map(|_| ())
        .map_err(|e| {
            let detail = e.to_string();
            detail
                .lines()
                .last()
                .unwrap_or(&detail)
                .trim()
                .trim_start_matches("error: ")
                .to_owned()
        })
}

/// Checks that `sources`, compiled together, stay within [`NFA_MAX_BYTES`].
pub fn within_nfa_budget(sources: &[String]) -> Result<(), String> {
    if sources.is_empty() {
        return Ok(());
    }
    let config = regex_automata::nfa::thompson::Config::new().nfa_size_limit(Some(NFA_MAX_BYTES));
    regex_automata::nfa::thompson::NFA::compiler()
        .configure(config)
        .build_many(sources)
        .map(|_| ())
        .map_err(|e| {
            if e.to_string().contains("exceeded limit") {
                format!(
                    "they compile to more than {} MiB",
                    NFA_MAX_BYTES / (1024 * 1024)
                )
            } else {
                format!("they cannot be compiled: {e}")
            }
        })
}

/// A `RegexSet` of `sources`, each group of which passed [`within_nfa_budget`]: its limit is
/// that budget for each of `groups` groups, with room to spare.
pub fn regex_set(sources: &[String], groups: usize) -> Result<regex::RegexSet, regex::Error> {
    regex::RegexSetBuilder::new(sources)
        .size_limit(NFA_MAX_BYTES.saturating_mul(2 * groups.max(1)))
        .dfa_size_limit(DFA_MAX_BYTES)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_is_checked_without_compiling() {
        assert_eq!(syntax(r"^x\w{50}y"), Ok(()));
        assert_eq!(syntax("a(b"), Err("unclosed group".to_owned()));
    }

    #[test]
    fn a_regex_too_large_compiled_is_refused_fast() {
        let many: Vec<String> = (0..2000).map(|i| format!(r"^x{i}\w{{50}}y")).collect();
        let started = std::time::Instant::now();
        assert_eq!(
            within_nfa_budget(&many),
            Err("they compile to more than 8 MiB".to_owned())
        );
        // Far from the 29 s of compiling each (debug build, slow machine: generous); under
        // qemu-user (`ci/arm64 test` sets QEMU_LD_PREFIX) several times slower, so wider there.
        let bound = if std::env::var_os("QEMU_LD_PREFIX").is_some() {
            90
        } else {
            10
        };
        assert!(
            started.elapsed() < std::time::Duration::from_secs(bound),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(within_nfa_budget(&many[..3]), Ok(()));
        assert!(regex_set(&many[..3], 1).is_ok());
    }
}
