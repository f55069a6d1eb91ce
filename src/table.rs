//! Plain-text tables whose columns are as wide as their widest cell, for `explain` and the dry
//! run. Pure: no I/O.
//!
//! Width is counted in characters, which lines up every Latin, Cyrillic or Greek name; a wide
//! (East Asian) character counts as one, so such a cell may push its row by a column or two.

/// How the cells of a column line up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Padded on the right (text).
    Left,
    /// Padded on the left (numbers).
    Right,
}

/// A header row and data rows. Columns are separated by two spaces; the last column is never
/// padded, so a long path leaves no trailing blanks.
#[derive(Debug, Clone)]
pub struct Table {
    headers: Vec<String>,
    aligns: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers and alignments.
    pub fn new(columns: &[(&str, Align)]) -> Self {
        Self {
            headers: columns.iter().map(|(h, _)| (*h).to_owned()).collect(),
            aligns: columns.iter().map(|(_, a)| *a).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; cells beyond the columns are dropped, missing ones are empty.
    pub fn push(&mut self, cells: Vec<String>) {
        let mut cells = cells;
        cells.resize(self.headers.len(), String::new());
        self.rows.push(cells);
    }

    /// The header and every row, each line ending in `\n`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(&mut out);
        out
    }

    /// [`Self::render`] appended to `out`, with no allocation per cell or line.
    pub fn render_into(&self, out: &mut String) {
        let widths: Vec<usize> = (0..self.headers.len())
            .map(|column| {
                std::iter::once(&self.headers)
                    .chain(&self.rows)
                    .filter_map(|row| row.get(column))
                    .map(|cell| cell.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let pad = |out: &mut String, n: usize| out.extend(std::iter::repeat_n(' ', n));
        for row in std::iter::once(&self.headers).chain(&self.rows) {
            let start = out.len();
            for (column, cell) in row.iter().enumerate() {
                let last = column + 1 == row.len();
                let width = widths.get(column).copied().unwrap_or(0);
                let padding = width.saturating_sub(cell.chars().count());
                if column > 0 {
                    out.push_str("  ");
                }
                match self.aligns.get(column) {
                    Some(Align::Right) => {
                        pad(out, padding);
                        out.push_str(cell);
                    }
                    _ if last => out.push_str(cell),
                    _ => {
                        out.push_str(cell);
                        pad(out, padding);
                    }
                }
            }
            // No trailing blanks, as when the last cells are empty.
            let kept = out[start..].trim_end().len();
            out.truncate(start + kept);
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell() {
        let mut table = Table::new(&[
            ("n", Align::Right),
            ("rule", Align::Left),
            ("size", Align::Right),
            ("path", Align::Left),
        ]);
        table.push(vec!["1".into(), "-".into(), "31 B".into(), "a".into()]);
        table.push(vec![
            "12".into(),
            "disguised-executables".into(),
            "1.3 GiB".into(),
            "b/c".into(),
        ]);
        table.push(vec!["3".into(), "süß".into()]);
        let expected = [
            " n  rule                      size  path",
            " 1  -                         31 B  a",
            "12  disguised-executables  1.3 GiB  b/c",
            " 3  süß",
        ];
        assert_eq!(table.render(), format!("{}\n", expected.join("\n")));
    }

    #[test]
    fn an_empty_table_is_its_header() {
        let table = Table::new(&[("index", Align::Right), ("path", Align::Left)]);
        assert_eq!(table.render(), "index  path\n");
    }
}
