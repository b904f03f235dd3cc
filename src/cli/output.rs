//! The three shapes every listing command prints: a table for people, one
//! JSON array, or CSV with a header row for spreadsheets. A listing
//! command flattens [`OutputFlags`] into its arguments and prints rows of a
//! type that implements [`Listing`] through a [`ListingWriter`].

use std::io::Write;
use std::marker::PhantomData;

use serde::Serialize;

use crate::service::table::{Table, csv_record};

/// `--json` / `--csv`, taken by every listing command (a table without
/// either).
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct OutputFlags {
    /// Print one JSON array.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print CSV with a header row (for a spreadsheet; formulas made inert).
    #[arg(long)]
    pub csv: bool,
}

/// Which shape a listing is printed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Json,
    Csv,
}

impl OutputFlags {
    pub fn format(self) -> OutputFormat {
        if self.json {
            OutputFormat::Json
        } else if self.csv {
            OutputFormat::Csv
        } else {
            OutputFormat::Table
        }
    }
}

/// One row of a listing command's output. A row says its table headers and
/// cells and its CSV headers and cells; its JSON is its `Serialize` form.
pub trait Listing: Serialize {
    /// The table's column headers, for people.
    const TABLE_HEADERS: &'static [&'static str];
    /// The CSV header row, for spreadsheets (usually more columns).
    const CSV_HEADERS: &'static [&'static str];
    /// What a table prints on stderr when there is no row.
    const EMPTY: &'static str;

    /// One cell per [`Listing::TABLE_HEADERS`].
    fn table_cells(&self) -> Vec<String>;

    /// One cell per [`Listing::CSV_HEADERS`], as text (made inert by
    /// [`csv_record`] when written).
    fn csv_cells(&self) -> Vec<String>;
}

/// Writes rows of `R` in one shape as they come. JSON and CSV stream; a
/// table waits for the last row to size its columns.
pub struct ListingWriter<R: Listing, W: Write> {
    sink: Sink<W>,
    rows: PhantomData<fn(&R)>,
}

enum Sink<W: Write> {
    Table(W, Table),
    Json(JsonArray<W>),
    Csv(W),
}

impl<R: Listing, W: Write> ListingWriter<R, W> {
    /// Starts the listing (the CSV header row, or the JSON array's `[`).
    pub fn start(mut out: W, format: OutputFormat) -> std::io::Result<Self> {
        let sink = match format {
            OutputFormat::Table => Sink::Table(out, Table::new(R::TABLE_HEADERS)),
            OutputFormat::Json => Sink::Json(JsonArray::start(out)?),
            OutputFormat::Csv => {
                writeln!(out, "{}", csv_record(R::CSV_HEADERS))?;
                Sink::Csv(out)
            }
        };
        Ok(ListingWriter {
            sink,
            rows: PhantomData,
        })
    }

    pub fn push(&mut self, row: &R) -> std::io::Result<()> {
        match &mut self.sink {
            Sink::Table(_, table) => table.push(row.table_cells()),
            Sink::Json(array) => array.push(row)?,
            Sink::Csv(out) => {
                let cells = row.csv_cells();
                let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
                writeln!(out, "{}", csv_record(&cells))?;
            }
        }
        Ok(())
    }

    /// Ends the listing: prints the table (or [`Listing::EMPTY`] on stderr
    /// when it has no row), closes the JSON array, flushes.
    pub fn finish(self) -> std::io::Result<()> {
        match self.sink {
            Sink::Table(mut out, table) => {
                if table.is_empty() {
                    eprintln!("{}", R::EMPTY);
                } else {
                    table.print(&mut out)?;
                }
                out.flush()
            }
            Sink::Json(array) => array.finish(),
            Sink::Csv(mut out) => out.flush(),
        }
    }
}

/// Prints `rows` on stdout in the shape `flags` asks for.
pub fn print_listing<R: Listing>(
    rows: impl IntoIterator<Item = R>,
    flags: OutputFlags,
) -> std::io::Result<()> {
    let stdout = std::io::stdout();
    let mut listing = ListingWriter::start(stdout.lock(), flags.format())?;
    for row in rows {
        listing.push(&row)?;
    }
    listing.finish()
}

/// Prints a JSON array one element at a time, so long exports stream.
pub struct JsonArray<W: Write> {
    out: W,
    first: bool,
}

impl<W: Write> JsonArray<W> {
    pub fn start(mut out: W) -> std::io::Result<JsonArray<W>> {
        out.write_all(b"[")?;
        Ok(JsonArray { out, first: true })
    }

    pub fn push(&mut self, value: &impl Serialize) -> std::io::Result<()> {
        if !self.first {
            self.out.write_all(b",")?;
        }
        self.first = false;
        self.out.write_all(b"\n  ")?;
        serde_json::to_writer(&mut self.out, value)?;
        Ok(())
    }

    pub fn finish(mut self) -> std::io::Result<()> {
        self.out
            .write_all(if self.first { b"]\n" } else { b"\n]\n" })?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_arrays_are_valid_empty_or_not() {
        let mut out = Vec::new();
        JsonArray::start(&mut out).unwrap().finish().unwrap();
        assert_eq!(
            serde_json::from_slice::<Vec<u8>>(&out).unwrap(),
            Vec::<u8>::new()
        );
        let mut out = Vec::new();
        let mut array = JsonArray::start(&mut out).unwrap();
        array.push(&serde_json::json!({"a": 1})).unwrap();
        array.push(&serde_json::json!({"a": 2})).unwrap();
        array.finish().unwrap();
        let back: Vec<serde_json::Value> = serde_json::from_slice(&out).unwrap();
        assert_eq!(back.len(), 2);
    }

    #[derive(Serialize)]
    struct Pet {
        name: &'static str,
        legs: u32,
    }

    impl Listing for Pet {
        const TABLE_HEADERS: &'static [&'static str] = &["NAME", "LEGS"];
        const CSV_HEADERS: &'static [&'static str] = &["name", "legs"];
        const EMPTY: &'static str = "no pets";

        fn table_cells(&self) -> Vec<String> {
            vec![self.name.into(), self.legs.to_string()]
        }

        fn csv_cells(&self) -> Vec<String> {
            vec![self.name.into(), self.legs.to_string()]
        }
    }

    fn listed(format: OutputFormat, pets: &[Pet]) -> String {
        let mut out = Vec::new();
        let mut listing = ListingWriter::start(&mut out, format).unwrap();
        for pet in pets {
            listing.push(pet).unwrap();
        }
        listing.finish().unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn listings_take_each_shape() {
        let pets = [
            Pet {
                name: "=cat",
                legs: 4,
            },
            Pet {
                name: "hen",
                legs: 2,
            },
        ];
        assert_eq!(
            listed(OutputFormat::Table, &pets),
            "NAME  LEGS\n=cat  4\nhen   2\n"
        );
        assert_eq!(
            listed(OutputFormat::Csv, &pets),
            "name,legs\n'=cat,4\nhen,2\n"
        );
        let back: Vec<serde_json::Value> =
            serde_json::from_str(&listed(OutputFormat::Json, &pets)).unwrap();
        assert_eq!(back[1]["name"], "hen");
        // Nothing to list: no table (a line on stderr), a bare header, [].
        assert_eq!(listed(OutputFormat::Table, &[]), "");
        assert_eq!(listed(OutputFormat::Csv, &[]), "name,legs\n");
        assert_eq!(listed(OutputFormat::Json, &[]), "[]\n");
    }

    #[test]
    fn flags_choose_the_shape() {
        let flags = |json, csv| OutputFlags { json, csv }.format();
        assert_eq!(flags(false, false), OutputFormat::Table);
        assert_eq!(flags(true, false), OutputFormat::Json);
        assert_eq!(flags(false, true), OutputFormat::Csv);
    }
}
