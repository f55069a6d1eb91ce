//! Plain-text tables whose columns are as wide as their widest cell, for `explain` and the dry
//! run. Pure: no I/O.
//!
//! Text cells are written through [`crate::escape`]: a path from a torrent cannot move the
//! cursor or forge a line. Width is counted in characters of the escaped text, which lines up every Latin, Cyrillic or Greek name; a wide
//! (East Asian) character counts as one, so such a cell may push its row by a column or two.

use crate::rules::ByteSize;

/// How the cells of a column line up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Padded on the right (text).
    Left,
    /// Padded on the left (numbers).
    Right,
}

/// One cell: borrowed text, or a number or size drawn when the table is.
#[derive(Debug, Clone)]
pub enum Cell<'a> {
    /// Text that outlives the table (a path, a rule name, a fixed word).
    Text(&'a str),
    /// An unsigned number, drawn in decimal without separators.
    Number(u64),
    /// A size in its human form (`1.4 GiB`, `31 B`), as [`ByteSize`] displays it.
    Size(ByteSize),
}

impl Cell<'_> {
    /// The width in characters.
    fn width(&self) -> usize {
        match self {
            Self::Text(text) => crate::escape::escaped_width(text),
            Self::Number(n) => n.checked_ilog10().map_or(1, |log| log as usize + 1),
            Self::Size(size) => size.human_len(),
        }
    }

    fn write_into(&self, out: &mut String) {
        match self {
            Self::Text(text) => crate::escape::push_escaped(out, text),
            Self::Number(n) => out.push_str(itoa::Buffer::new().format(*n)),
            Self::Size(size) => size.push_human(out),
        }
    }
}

impl<'a> From<&'a str> for Cell<'a> {
    fn from(text: &'a str) -> Self {
        Self::Text(text)
    }
}

fn text_width(text: &str) -> usize {
    if text.is_ascii() {
        text.len()
    } else {
        text.chars().count()
    }
}

/// A header row and data rows. Columns are separated by two spaces; the last column is never
/// padded, so a long path leaves no trailing blanks.
///
/// Cells borrow what they show, so a table of 50,000 rows allocates its cell list (and, to draw
/// it, one list of the cells' widths) and nothing per cell.
#[derive(Debug, Clone)]
pub struct Table<'a> {
    headers: Vec<&'a str>,
    aligns: Vec<Align>,
    /// Row after row, `headers.len()` cells each.
    cells: Vec<Cell<'a>>,
}

impl<'a> Table<'a> {
    /// A table with these column headers and alignments.
    pub fn new(columns: &[(&'a str, Align)]) -> Self {
        Self {
            headers: columns.iter().map(|(h, _)| *h).collect(),
            aligns: columns.iter().map(|(_, a)| *a).collect(),
            cells: Vec::new(),
        }
    }

    /// A table with room for `rows` rows.
    pub fn with_capacity(columns: &[(&'a str, Align)], rows: usize) -> Self {
        let mut table = Self::new(columns);
        table
            .cells
            .reserve_exact(rows.saturating_mul(columns.len()));
        table
    }

    /// Adds a row; cells beyond the columns are dropped, missing ones are empty.
    pub fn push<I>(&mut self, cells: I)
    where
        I: IntoIterator,
        I::Item: Into<Cell<'a>>,
    {
        let columns = self.headers.len();
        let before = self.cells.len();
        self.cells
            .extend(cells.into_iter().take(columns).map(Into::into));
        let pushed = self.cells.len() - before;
        self.cells
            .extend(std::iter::repeat_n(Cell::Text(""), columns - pushed));
    }

    fn rows(&self) -> impl Iterator<Item = &[Cell<'a>]> {
        self.cells.chunks(self.headers.len().max(1))
    }

    /// The header and every row, each line ending in `\n`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(&mut out);
        out
    }

    /// [`Self::render`] appended to `out`, with no allocation per cell or line.
    pub fn render_into(&self, out: &mut String) {
        let columns = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| text_width(h)).collect();
        // A last column aligned left is never padded: its width is not needed.
        let measured = match self.aligns.last() {
            Some(Align::Left) => columns.saturating_sub(1),
            _ => columns,
        };
        // Each measured cell's width, measured once (a size is drawn to be measured).
        let mut cell_widths = Vec::with_capacity(self.cells.len());
        // The text's length: the padded columns, the separators, the unpadded last cells.
        let mut length = 0;
        for row in self.rows() {
            for (column, cell) in row.iter().enumerate() {
                if column < measured {
                    let width = cell.width();
                    cell_widths.push(width);
                    if let Some(widest) = widths.get_mut(column) {
                        *widest = (*widest).max(width);
                    }
                } else if let Cell::Text(text) = cell {
                    length += text.len();
                } else {
                    length += cell.width();
                }
            }
        }
        let line: usize = widths.iter().take(measured).sum::<usize>() + 2 * columns;
        out.reserve(length + line * (self.cells.len() / columns.max(1) + 1));
        let header: Vec<Cell<'a>> = self.headers.iter().map(|h| Cell::Text(h)).collect();
        let header_widths: Vec<usize> = self.headers.iter().map(|h| text_width(h)).collect();
        let measured_rows =
            std::iter::once(header_widths.as_slice()).chain(cell_widths.chunks(measured.max(1)));
        for (row, row_widths) in std::iter::once(header.as_slice())
            .chain(self.rows())
            .zip(measured_rows.chain(std::iter::repeat(&[][..])))
        {
            let start = out.len();
            for (column, cell) in row.iter().enumerate() {
                let last = column + 1 == row.len();
                let padding = || {
                    let width = row_widths
                        .get(column)
                        .copied()
                        .unwrap_or_else(|| cell.width());
                    widths
                        .get(column)
                        .copied()
                        .unwrap_or(0)
                        .saturating_sub(width)
                };
                if column > 0 {
                    out.push_str("  ");
                }
                match self.aligns.get(column) {
                    Some(Align::Right) => {
                        pad(out, padding());
                        cell.write_into(out);
                    }
                    _ if last => cell.write_into(out),
                    _ => {
                        cell.write_into(out);
                        pad(out, padding());
                    }
                }
            }
            // No trailing blanks, as when the last cells are empty (looked for only after a
            // byte that may end one: most lines end in a letter).
            if out
                .as_bytes()
                .last()
                .is_some_and(|&byte| byte == b' ' || byte.is_ascii_control() || !byte.is_ascii())
            {
                let kept = out.get(start..).map_or(0, |line| line.trim_end().len());
                out.truncate(start + kept);
            }
            out.push('\n');
        }
    }
}

/// Appends `n` spaces.
fn pad(out: &mut String, n: usize) {
    const SPACES: &str = "                                ";
    let mut left = n;
    while left > 0 {
        let chunk = left.min(SPACES.len());
        out.push_str(&SPACES[..chunk]);
        left -= chunk;
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
        table.push(["1", "-", "31 B", "a"]);
        table.push([
            Cell::Number(12),
            Cell::Text("disguised-executables"),
            Cell::Text("1.3 GiB"),
            Cell::Text("b/c"),
        ]);
        table.push([Cell::Number(3), Cell::Text("süß")]);
        table.push([
            Cell::Number(0),
            Cell::Text(""),
            Cell::Size(ByteSize(1024 * 1024 * 3 / 2)),
        ]);
        let expected = [
            " n  rule                      size  path",
            " 1  -                         31 B  a",
            "12  disguised-executables  1.3 GiB  b/c",
            " 3  süß",
            " 0                         1.5 MiB",
        ];
        assert_eq!(table.render(), format!("{}\n", expected.join("\n")));
    }

    #[test]
    fn a_name_with_controls_is_escaped_and_measured_escaped() {
        let mut table = Table::new(&[("path", Align::Left), ("n", Align::Right)]);
        table.push([Cell::Text("a\u{1b}[2J\rb\nINFO x"), Cell::Number(1)]);
        table.push([Cell::Text("plain"), Cell::Number(22)]);
        let expected = [
            "path                    n",
            "a\\u{1b}[2J\\rb\\nINFO x   1",
            "plain                  22",
        ];
        assert_eq!(table.render(), format!("{}\n", expected.join("\n")));
    }

    #[test]
    fn an_empty_table_is_its_header() {
        let table = Table::new(&[("index", Align::Right), ("path", Align::Left)]);
        assert_eq!(table.render(), "index  path\n");
    }
}
