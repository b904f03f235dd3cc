//! Rows for people and for spreadsheets: a [`Table`] aligned in columns for
//! a terminal or a plain-text report, and [`csv_record`], one CSV line with
//! formulas made inert. The command line's listings and the reports (CSV
//! and text) print through these, so a row reads the same in both.

use std::io::Write;

/// A table with columns as wide as their widest cell, two spaces between
/// them and no trailing spaces, printed once every row is in.
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these column headers.
    pub fn new(headers: &[&'static str]) -> Table {
        Table {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row, one cell per header.
    pub fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    /// Whether no row has been added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Writes the header line, then one line per row in the order added.
    pub fn print(&self, out: &mut impl Write) -> std::io::Result<()> {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |cells: &mut dyn Iterator<Item = &str>| {
            let mut text = String::new();
            for (i, (cell, width)) in cells.zip(&widths).enumerate() {
                if i + 1 == widths.len() {
                    text.push_str(cell);
                } else {
                    text.push_str(&format!("{cell:<width$}  "));
                }
            }
            text.trim_end().to_string()
        };
        writeln!(out, "{}", line(&mut self.headers.iter().copied()))?;
        for row in &self.rows {
            writeln!(out, "{}", line(&mut row.iter().map(String::as_str)))?;
        }
        Ok(())
    }
}

/// One CSV record (RFC 4180): fields with commas, quotes or line breaks
/// are quoted, and text a spreadsheet would run as a formula (`=`, `+`,
/// `-`, `@` first) is made inert with a leading apostrophe.
pub fn csv_record(fields: &[&str]) -> String {
    let mut line = String::new();
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        let guarded;
        let field = if field.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            guarded = format!("'{field}");
            guarded.as_str()
        } else {
            field
        };
        if field.contains([',', '"', '\n', '\r']) {
            line.push('"');
            line.push_str(&field.replace('"', "\"\""));
            line.push('"');
        } else {
            line.push_str(field);
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses() {
        assert_eq!(csv_record(&["a", "b c", ""]), "a,b c,");
        assert_eq!(
            csv_record(&["x,y", "say \"hi\""]),
            "\"x,y\",\"say \"\"hi\"\"\""
        );
        assert_eq!(
            csv_record(&["=HYPERLINK(\"x\")"]),
            "\"'=HYPERLINK(\"\"x\"\")\""
        );
        assert_eq!(csv_record(&["-1", "@a"]), "'-1,'@a");
    }

    #[test]
    fn tables_align() {
        let mut table = Table::new(&["ID", "NAME"]);
        table.push(vec!["1".into(), "example.com".into()]);
        table.push(vec!["100".into(), "a".into()]);
        let mut out = Vec::new();
        table.print(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "ID   NAME\n1    example.com\n100  a\n"
        );
    }
}
