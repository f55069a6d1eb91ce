//! Names from the server or a torrent, made safe to print: a task or file name may hold ESC
//! sequences that rewrite the terminal, CR/LF that forge a log line, NUL, or bidirectional
//! overrides that show a name backwards. [`Escaped`] writes such characters as escapes, and
//! everything else as it is. Pure: no I/O.
//!
//! Escaped: C0 controls (tab, LF and CR as `\t`, `\n`, `\r`, the others as `\u{1b}`), DEL, C1
//! controls, and the bidirectional marks, embeddings, overrides and isolates (U+061C, U+200E,
//! U+200F, U+202A to U+202E, U+2066 to U+2069). JSON logs escape controls themselves; the text
//! logs, the tables of `explain` and the dry run, and error messages go through this.

use std::fmt::{self, Write as _};

/// Displays a name with its control and bidirectional-override characters escaped.
#[derive(Debug, Clone, Copy)]
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !needs_escaping(self.0) {
            return f.write_str(self.0);
        }
        let mut rest = self.0;
        while let Some((at, c)) = rest.char_indices().find(|(_, c)| is_unsafe(*c)) {
            f.write_str(rest.get(..at).unwrap_or_default())?;
            write_escape(f, c)?;
            rest = rest.get(at + c.len_utf8()..).unwrap_or_default();
        }
        f.write_str(rest)
    }
}

/// Whether `c` is escaped.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

fn write_escape(out: &mut impl fmt::Write, c: char) -> fmt::Result {
    match c {
        '\t' => out.write_str("\\t"),
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        _ => write!(out, "\\u{{{:x}}}", u32::from(c)),
    }
}

/// Whether `text` holds anything [`Escaped`] would change. A name of printable ASCII (nearly
/// all) takes one pass over its bytes; others are looked at character by character only if
/// they hold a byte that can start an escaped character.
pub fn needs_escaping(text: &str) -> bool {
    // Printable ASCII (nearly every name) is told apart in one pass that does not stop early,
    // so that it runs over many bytes at once.
    if text
        .bytes()
        .fold(true, |printable, b| printable & (0x20..0x7f).contains(&b))
    {
        return false;
    }
    // C1 controls start with 0xC2, U+061C with 0xD8, the other marks with 0xE2: only a name
    // with one of these bytes is looked at character by character.
    text.bytes()
        .any(|b| b < 0x20 || b == 0x7f || b == 0xc2 || b == 0xd8 || b == 0xe2)
        && text.chars().any(is_unsafe)
}

/// Appends `text`, escaped, to `out`.
pub fn push_escaped(out: &mut String, text: &str) {
    if needs_escaping(text) {
        let _ = write!(out, "{}", Escaped(text));
    } else {
        out.push_str(text);
    }
}

/// The width in characters of `text` once escaped.
pub fn escaped_width(text: &str) -> usize {
    if !needs_escaping(text) {
        return if text.is_ascii() {
            text.len()
        } else {
            text.chars().count()
        };
    }
    text.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => 2,
            c if is_unsafe(c) => {
                // `\u{` + hex digits + `}`
                let digits = (u32::from(c).max(1).ilog2() / 4 + 1) as usize;
                4 + digits
            }
            _ => 1,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_overrides_are_escaped_and_the_rest_is_kept() {
        let cases = [
            ("plain name.mkv", "plain name.mkv"),
            ("süß/日本語.srt", "süß/日本語.srt"),
            ("a\nINFO forged\r\tx", "a\\nINFO forged\\r\\tx"),
            (
                "\u{1b}[2J\u{1b}]0;title\u{7}",
                "\\u{1b}[2J\\u{1b}]0;title\\u{7}",
            ),
            (
                "nul\0del\u{7f}c1\u{85}\u{9b}",
                "nul\\u{0}del\\u{7f}c1\\u{85}\\u{9b}",
            ),
            ("evil\u{202e}vkm.exe", "evil\\u{202e}vkm.exe"),
            (
                "\u{2066}x\u{2069}\u{200f}\u{61c}",
                "\\u{2066}x\\u{2069}\\u{200f}\\u{61c}",
            ),
            // Characters sharing a lead byte with the escaped ones are kept.
            ("©\u{2014}\u{2019}", "©\u{2014}\u{2019}"),
        ];
        for (name, shown) in cases {
            assert_eq!(Escaped(name).to_string(), shown, "{name:?}");
            let mut pushed = String::from(">");
            push_escaped(&mut pushed, name);
            assert_eq!(pushed, format!(">{shown}"));
            assert_eq!(escaped_width(name), shown.chars().count(), "{name:?}");
            assert_eq!(needs_escaping(name), name != shown, "{name:?}");
        }
    }

    #[test]
    fn nothing_escaped_holds_a_control_or_an_override() {
        let every: String = (0..=0x3000_u32).filter_map(char::from_u32).collect();
        let shown = Escaped(&every).to_string();
        assert!(!shown.chars().any(is_unsafe));
        assert_eq!(escaped_width(&every), shown.chars().count());
    }
}
