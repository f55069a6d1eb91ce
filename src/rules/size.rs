//! Byte sizes as written in the rules file: `"5 MiB"`, `"1.5 GB"`, `"700"`, or a bare TOML integer.
//!
//! Units: B, KB, MB, GB, TB (powers of 1000) and KiB, MiB, GiB, TiB (powers of 1024), matched
//! without regard to case. Arithmetic is checked: a size that does not fit in 64 bits is an
//! error, never a silently saturated value. A fraction of a byte is rounded down.

use std::fmt;

/// A size in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

/// Why a size string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    /// Nothing but white space.
    #[error("empty size; write a number with an optional unit, e.g. \"5 MiB\"")]
    Empty,
    /// The number part is missing or malformed.
    #[error("invalid number {0:?}; write digits with an optional fraction, e.g. \"1.5 GiB\"")]
    Number(String),
    /// The unit is not one of the known ones.
    #[error("unknown unit {0:?}; expected one of B, KB, KiB, MB, MiB, GB, GiB, TB, TiB")]
    Unit(String),
    /// The size does not fit in 64 bits.
    #[error("size is too large; the largest is 18446744073709551615 bytes (16 EiB)")]
    Overflow,
    /// A negative integer was given.
    #[error("size cannot be negative")]
    Negative,
}

const UNITS: &[(&str, u64)] = &[
    ("b", 1),
    ("kb", 1_000),
    ("kib", 1 << 10),
    ("mb", 1_000_000),
    ("mib", 1 << 20),
    ("gb", 1_000_000_000),
    ("gib", 1 << 30),
    ("tb", 1_000_000_000_000),
    ("tib", 1 << 40),
];

impl ByteSize {
    /// Parses a size string such as `"5 MiB"`.
    pub fn parse(text: &str) -> Result<Self, SizeError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(SizeError::Empty);
        }
        let number_end = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(number_end);
        let unit = unit.trim_start();
        let multiplier = if unit.is_empty() {
            1
        } else {
            UNITS
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(unit))
                .map(|&(_, multiplier)| multiplier)
                .ok_or_else(|| {
                    if text.starts_with('-') {
                        SizeError::Negative
                    } else {
                        SizeError::Unit(unit.to_owned())
                    }
                })?
        };
        if number.is_empty() {
            return Err(if text.starts_with('-') {
                SizeError::Negative
            } else {
                SizeError::Number(text.to_owned())
            });
        }
        let number = number.replace('_', "");
        let (whole, fraction) = match number.split_once('.') {
            Some((whole, fraction)) => (whole, fraction),
            None => (number.as_str(), ""),
        };
        if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
            return Err(SizeError::Number(number.clone()));
        }
        let whole: u64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| SizeError::Overflow)?
        };
        let mut bytes = whole.checked_mul(multiplier).ok_or(SizeError::Overflow)?;
        if !fraction.is_empty() {
            // Exact for up to 18 fraction digits; more digits than that cannot matter for a
            // multiplier of at most 2^40, so they are cut off.
            let digits = &fraction[..fraction.len().min(18)];
            let numerator: u128 = digits
                .parse()
                .map_err(|_| SizeError::Number(number.clone()))?;
            let denominator = 10u128.pow(u32::try_from(digits.len()).unwrap_or(18));
            let extra = numerator * u128::from(multiplier) / denominator;
            let extra = u64::try_from(extra).map_err(|_| SizeError::Overflow)?;
            bytes = bytes.checked_add(extra).ok_or(SizeError::Overflow)?;
        }
        Ok(Self(bytes))
    }

    /// Converts a bare TOML integer (bytes).
    pub fn from_integer(value: i64) -> Result<Self, SizeError> {
        u64::try_from(value)
            .map(Self)
            .map_err(|_| SizeError::Negative)
    }

    /// The size in bytes.
    pub fn bytes(self) -> u64 {
        self.0
    }
}

impl ByteSize {
    /// The human form's parts: the whole number, the tenth (none for plain bytes) and the
    /// binary unit; `1.4 GiB` is `(1, Some(4), "GiB")`, `31 B` is `(31, None, "B")`.
    pub fn human_parts(self) -> (u64, Option<u8>, &'static str) {
        const NAMES: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
        let mut unit = 0;
        let mut scaled = self.0;
        while scaled >= 1024 && unit + 1 < NAMES.len() {
            scaled /= 1024;
            unit += 1;
        }
        if unit == 0 {
            return (self.0, None, "B");
        }
        // Tenths, rounded to the nearest (half up), computed in integers so that the output is
        // exact and deterministic: 1,503,238,553 B is 1.4 GiB, not 1.3.
        let rounded = |unit: usize| {
            let divisor = 1u128 << (10 * unit);
            (u128::from(self.0) * 10 + divisor / 2) / divisor
        };
        let mut tenths = rounded(unit);
        // 1,073,741,823 B rounds to 1024.0 MiB: that is 1.0 GiB.
        if tenths >= 10_240 && unit + 1 < NAMES.len() {
            unit += 1;
            tenths = rounded(unit);
        }
        let whole = u64::try_from(tenths / 10).unwrap_or(u64::MAX);
        let tenth = u8::try_from(tenths % 10).unwrap_or(0);
        (whole, Some(tenth), NAMES[unit])
    }
}

impl fmt::Display for ByteSize {
    /// Human form with binary units and one decimal, e.g. `1.4 GiB`, `31 B`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.human_parts() {
            (whole, None, unit) => write!(f, "{whole} {unit}"),
            (whole, Some(tenth), unit) => write!(f, "{whole}.{tenth} {unit}"),
        }
    }
}

impl ByteSize {
    /// How many characters the human form has, without writing it.
    pub fn human_len(self) -> usize {
        let (whole, tenth, unit) = self.human_parts();
        let digits = whole.checked_ilog10().map_or(1, |log| log as usize + 1);
        digits + if tenth.is_some() { 2 } else { 0 } + 1 + unit.len()
    }

    /// Appends the human form to `out`, as `Display` writes it, without the formatting
    /// machinery (a table of 50,000 rows draws one per row).
    pub fn push_human(self, out: &mut String) {
        let (whole, tenth, unit) = self.human_parts();
        out.push_str(itoa::Buffer::new().format(whole));
        if let Some(tenth) = tenth {
            out.push('.');
            out.push(char::from(b'0' + tenth));
        }
        out.push(' ');
        out.push_str(unit);
    }
}

/// A share of a task's total size, such as `"2%"`, kept exactly in millionths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Share {
    millionths: u64,
}

impl Share {
    /// Parses `"2%"`, `"0.5 %"`, `"100%"`: a percentage between 0 and 100 with at most four
    /// decimals.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let Some(number) = text.strip_suffix('%') else {
            return Err(format!("a share ends with %, e.g. \"2%\"; got {text:?}"));
        };
        let number = number.trim_end();
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() && fraction.is_empty() || !digits_only(whole) || !digits_only(fraction)
        {
            return Err(format!("invalid percentage {number:?}"));
        }
        if fraction.len() > 4 {
            return Err(format!("at most four decimals in a share; got {number:?}"));
        }
        let whole: u64 = if whole.is_empty() {
            0
        } else {
            whole
                .parse()
                .map_err(|_| format!("invalid percentage {number:?}"))?
        };
        let mut scaled_fraction: u64 = if fraction.is_empty() {
            0
        } else {
            fraction
                .parse()
                .map_err(|_| format!("invalid percentage {number:?}"))?
        };
        for _ in fraction.len()..4 {
            scaled_fraction *= 10;
        }
        let millionths = whole
            .checked_mul(10_000)
            .and_then(|w| w.checked_add(scaled_fraction))
            .filter(|&m| m <= 1_000_000)
            .ok_or_else(|| format!("a share is at most 100%; got {number:?}%"))?;
        Ok(Self { millionths })
    }

    /// Whether `size` is at least this share of `total` (false when `total` is zero).
    pub fn at_most(self, size: u64, total: u64) -> bool {
        total > 0 && u128::from(size) * 1_000_000 >= u128::from(self.millionths) * u128::from(total)
    }

    /// Whether `size` is at most this share of `total` (false when `total` is zero).
    pub fn at_least(self, size: u64, total: u64) -> bool {
        total > 0 && u128::from(size) * 1_000_000 <= u128::from(self.millionths) * u128::from(total)
    }
}

impl fmt::Display for Share {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.millionths / 10_000;
        let fraction = self.millionths % 10_000;
        if fraction == 0 {
            write!(f, "{whole}%")
        } else {
            let fraction = format!("{fraction:04}");
            write!(f, "{whole}.{}%", fraction.trim_end_matches('0'))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_human_length_and_the_pushed_form_match_display() {
        for bytes in [
            0,
            9,
            31,
            1023,
            1024,
            1536,
            10 * 1024 * 1024 - 1,
            1_503_238_553,
            u64::MAX,
        ] {
            let size = ByteSize(bytes);
            assert_eq!(size.human_len(), size.to_string().len(), "{bytes}");
            let mut pushed = String::new();
            size.push_human(&mut pushed);
            assert_eq!(pushed, size.to_string(), "{bytes}");
        }
    }

    #[test]
    fn shares_parse_exactly_and_compare_inclusively() {
        assert_eq!(Share::parse("2%").unwrap().to_string(), "2%");
        assert_eq!(Share::parse("0.5 %").unwrap().to_string(), "0.5%");
        assert_eq!(Share::parse("100%").unwrap().to_string(), "100%");
        assert!(Share::parse("2").unwrap_err().contains("ends with %"));
        assert!(Share::parse("101%").unwrap_err().contains("at most 100%"));
        assert!(
            Share::parse("1.23456%")
                .unwrap_err()
                .contains("four decimals")
        );
        assert!(Share::parse("-1%").is_err());
        let two = Share::parse("2%").unwrap();
        assert!(
            two.at_least(2, 100) && two.at_most(2, 100),
            "inclusive both ways"
        );
        assert!(!two.at_least(3, 100));
        assert!(!two.at_most(1, 100));
        assert!(!two.at_least(0, 0), "no share of an empty task");
        assert!(two.at_least(u64::MAX / 100, u64::MAX), "no overflow");
    }

    macro_rules! parses {
        ($($name:ident: $input:expr => $expected:expr,)*) => {$(
            #[test]
            fn $name() {
                assert_eq!(ByteSize::parse($input), $expected, "input {:?}", $input);
            }
        )*};
    }

    parses! {
        bare_number: "700" => Ok(ByteSize(700)),
        zero: "0" => Ok(ByteSize(0)),
        bytes_unit: "31 B" => Ok(ByteSize(31)),
        kb_is_decimal: "1 KB" => Ok(ByteSize(1_000)),
        kib_is_binary: "1 KiB" => Ok(ByteSize(1_024)),
        mib: "5 MiB" => Ok(ByteSize(5 * 1024 * 1024)),
        mb: "5MB" => Ok(ByteSize(5_000_000)),
        gib: "2 GiB" => Ok(ByteSize(2 << 30)),
        gb_fraction: "1.5 GB" => Ok(ByteSize(1_500_000_000)),
        gib_fraction: "1.5 GiB" => Ok(ByteSize(3 << 29)),
        tb: "1 TB" => Ok(ByteSize(1_000_000_000_000)),
        tib: "1 TiB" => Ok(ByteSize(1 << 40)),
        lowercase_unit: "500 mib" => Ok(ByteSize(500 << 20)),
        underscores: "1_000 KB" => Ok(ByteSize(1_000_000)),
        surrounding_space: "  10 KiB  " => Ok(ByteSize(10_240)),
        leading_dot: ".5 KiB" => Ok(ByteSize(512)),
        fraction_rounds_down: "0.0001 KiB" => Ok(ByteSize(0)),
        plural_unit_rejected: "5 MiBs" => Err(SizeError::Unit("MiBs".into())),
        unknown_unit: "5 parsecs" => Err(SizeError::Unit("parsecs".into())),
        empty: "   " => Err(SizeError::Empty),
        only_unit: "MiB" => Err(SizeError::Number("MiB".into())),
        negative: "-5 MiB" => Err(SizeError::Negative),
        two_dots: "1.2.3 MB" => Err(SizeError::Number("1.2.3".into())),
        lone_dot: ". MB" => Err(SizeError::Number(".".into())),
        overflow_whole: "99999999999999999999" => Err(SizeError::Overflow),
        overflow_product: "99999999999 TiB" => Err(SizeError::Overflow),
        max_fits: "18446744073709551615" => Ok(ByteSize(u64::MAX)),
        fraction_near_max: "16777215.99999999 TiB" => Ok(ByteSize(18_446_744_073_709_540_620)),
        overflow_by_fraction: "16777216.5 TiB" => Err(SizeError::Overflow),
    }

    #[test]
    fn integers_must_not_be_negative() {
        assert_eq!(ByteSize::from_integer(42), Ok(ByteSize(42)));
        assert_eq!(ByteSize::from_integer(-1), Err(SizeError::Negative));
    }

    #[test]
    fn display_is_human_and_exact() {
        assert_eq!(ByteSize(31).to_string(), "31 B");
        assert_eq!(ByteSize(1536).to_string(), "1.5 KiB");
        assert_eq!(ByteSize(1_503_238_553).to_string(), "1.4 GiB");
        assert_eq!(ByteSize(1_073_741_823).to_string(), "1.0 GiB");
        assert_eq!(ByteSize(1_048_575).to_string(), "1.0 MiB");
        assert_eq!(ByteSize(1_153).to_string(), "1.1 KiB");
        assert_eq!(ByteSize(1_075).to_string(), "1.0 KiB");
        assert_eq!(ByteSize(u64::MAX).to_string(), "16384.0 PiB");
        // Tenths are rounded to the nearest at every unit, into the next unit when they reach it.
        assert_eq!(ByteSize(1023).to_string(), "1023 B");
        assert_eq!(ByteSize(1024).to_string(), "1.0 KiB");
        assert_eq!(ByteSize(10 * 1024 * 1024 - 1).to_string(), "10.0 MiB");
        assert_eq!(ByteSize((1 << 40) * 3 / 2 - 1).to_string(), "1.5 TiB");
        assert_eq!(ByteSize((1 << 40) * 29 / 20 - 1).to_string(), "1.4 TiB");
        assert_eq!(ByteSize(1 << 50).to_string(), "1.0 PiB");
    }

    #[test]
    fn overflow_message_names_the_limit() {
        let message = ByteSize::parse("99999999999 TiB").unwrap_err().to_string();
        assert!(message.contains("too large"), "{message}");
    }
}
