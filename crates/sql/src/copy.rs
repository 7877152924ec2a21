//! COPY's data formats: PostgreSQL's text format and CSV, in both directions.
//!
//! ```text
//!  COPY t FROM STDIN:  CopyData chunks ─▶ CopyIn::feed ─▶ complete lines ─▶ fields ─▶ rows ─▶ txn
//!                      (a partial line waits, bounded by LINE_BYTES_MAX, for the next chunk)
//!  COPY t TO STDOUT:   rows ─▶ encode_row ─▶ one CopyData per line
//! ```
//!
//! Input is consumed as it arrives: only the unfinished last line of a chunk is kept, so memory
//! stays bounded by one line however big the input is. (The rows themselves go into the
//! transaction's write set, which the engine bounds.) Text format: fields separated by the
//! delimiter (tab), `\N` is NULL, backslash escapes (`\t`, `\n`, `\\`, octal, `\x` hex); a line
//! `\.` ends the data. CSV: quoted fields with doubled quotes, an unquoted empty field is NULL,
//! an optional header line, and quoted fields may span lines.

use crate::error::{SqlError, SqlResult};
use crate::types::Value;
use sqlparser::ast;

/// Longest line (a row) accepted from COPY input: bounds what one partial line may hold.
pub const LINE_BYTES_MAX: usize = 64 * 1024 * 1024;

/// The options of one COPY statement.
#[derive(Clone, Debug, PartialEq)]
pub struct CopyFormat {
    pub csv: bool,
    pub delimiter: char,
    pub null: String,
    pub header: bool,
    pub quote: char,
    pub escape: char,
}

impl CopyFormat {
    /// Reads the WITH options (both the modern and the pre-9.0 forms).
    pub fn from_options(
        options: &[ast::CopyOption],
        legacy: &[ast::CopyLegacyOption],
    ) -> SqlResult<CopyFormat> {
        let mut csv = false;
        let mut delimiter = None;
        let mut null = None;
        let mut header = false;
        let mut quote = '"';
        let mut escape = None;
        for o in options {
            match o {
                ast::CopyOption::Format(f) => match f.value.to_lowercase().as_str() {
                    "csv" => csv = true,
                    "text" => csv = false,
                    other => {
                        return Err(SqlError::FeatureNotSupported(format!(
                            "COPY format \"{other}\""
                        )));
                    }
                },
                ast::CopyOption::Freeze(_) | ast::CopyOption::Encoding(_) => {}
                ast::CopyOption::Delimiter(c) => delimiter = Some(*c),
                ast::CopyOption::Null(s) => null = Some(s.clone()),
                ast::CopyOption::Header(h) => header = *h,
                ast::CopyOption::Quote(c) => quote = *c,
                ast::CopyOption::Escape(c) => escape = Some(*c),
                other => {
                    return Err(SqlError::FeatureNotSupported(format!(
                        "COPY option {other}"
                    )));
                }
            }
        }
        for o in legacy {
            match o {
                ast::CopyLegacyOption::Csv(opts) => {
                    csv = true;
                    for c in opts {
                        match c {
                            ast::CopyLegacyCsvOption::Header => header = true,
                            ast::CopyLegacyCsvOption::Quote(q) => quote = *q,
                            ast::CopyLegacyCsvOption::Escape(e) => escape = Some(*e),
                            other => {
                                return Err(SqlError::FeatureNotSupported(format!(
                                    "COPY option {other}"
                                )));
                            }
                        }
                    }
                }
                ast::CopyLegacyOption::Delimiter(c) => delimiter = Some(*c),
                ast::CopyLegacyOption::Null(s) => null = Some(s.clone()),
                ast::CopyLegacyOption::Header => header = true,
                other => {
                    return Err(SqlError::FeatureNotSupported(format!(
                        "COPY option {other}"
                    )));
                }
            }
        }
        if header && !csv {
            return Err(SqlError::FeatureNotSupported(
                "COPY HEADER available only in CSV mode".into(),
            ));
        }
        Ok(CopyFormat {
            csv,
            delimiter: delimiter.unwrap_or(if csv { ',' } else { '\t' }),
            null: null.unwrap_or_else(|| if csv { String::new() } else { "\\N".into() }),
            header,
            quote,
            escape: escape.unwrap_or(quote),
        })
    }

    /// Splits one text-format line into fields (`None` = NULL).
    fn text_fields(&self, line: &str) -> SqlResult<Vec<Option<String>>> {
        let mut out = Vec::new();
        for raw in line.split(self.delimiter) {
            if raw == self.null {
                out.push(None);
                continue;
            }
            let mut s = String::with_capacity(raw.len());
            let mut chars = raw.chars().peekable();
            while let Some(c) = chars.next() {
                if c != '\\' {
                    s.push(c);
                    continue;
                }
                match chars.next() {
                    None => {
                        return Err(SqlError::BadCopyFileFormat(
                            "end-of-copy marker corrupt".into(),
                        ));
                    }
                    Some('b') => s.push('\u{8}'),
                    Some('f') => s.push('\u{c}'),
                    Some('n') => s.push('\n'),
                    Some('r') => s.push('\r'),
                    Some('t') => s.push('\t'),
                    Some('v') => s.push('\u{b}'),
                    Some('x') => {
                        let mut v = 0u32;
                        let mut n = 0;
                        while n < 2
                            && let Some(d) = chars.peek().and_then(|c| c.to_digit(16))
                        {
                            v = v * 16 + d;
                            chars.next();
                            n += 1;
                        }
                        if n == 0 {
                            s.push('x');
                        } else {
                            s.push(char::from_u32(v).unwrap_or('\u{fffd}'));
                        }
                    }
                    Some(d @ '0'..='7') => {
                        let mut v = d.to_digit(8).unwrap_or(0);
                        for _ in 0..2 {
                            match chars.peek().and_then(|c| c.to_digit(8)) {
                                Some(x) => {
                                    v = v * 8 + x;
                                    chars.next();
                                }
                                None => break,
                            }
                        }
                        s.push(char::from_u32(v).unwrap_or('\u{fffd}'));
                    }
                    Some(other) => s.push(other),
                }
            }
            out.push(Some(s));
        }
        Ok(out)
    }

    /// Splits one CSV record (which may span lines) into fields; `None` when the record is not
    /// complete yet (an open quote).
    fn csv_fields(&self, record: &str) -> Option<Vec<Option<String>>> {
        let mut out = Vec::new();
        let mut field = String::new();
        let mut quoted = false;
        let mut in_quotes = false;
        let mut chars = record.chars().peekable();
        loop {
            let c = chars.next();
            if in_quotes {
                match c {
                    None => return None,
                    Some(c) if c == self.escape && chars.peek() == Some(&self.quote) => {
                        chars.next();
                        field.push(self.quote);
                    }
                    Some(c) if c == self.quote => in_quotes = false,
                    Some(c) => field.push(c),
                }
                continue;
            }
            match c {
                Some(c) if c == self.quote => {
                    quoted = true;
                    in_quotes = true;
                }
                Some(c) if c == self.delimiter => {
                    out.push(csv_value(std::mem::take(&mut field), quoted, &self.null));
                    quoted = false;
                }
                Some(c) => field.push(c),
                None => {
                    out.push(csv_value(field, quoted, &self.null));
                    return Some(out);
                }
            }
        }
    }

    /// Appends one row in this format, with its line end.
    pub fn encode_row(&self, row: &[Value], out: &mut String) {
        for (i, v) in row.iter().enumerate() {
            if i > 0 {
                out.push(self.delimiter);
            }
            let Some(t) = v.to_text() else {
                out.push_str(&self.null);
                continue;
            };
            if self.csv {
                let needs = t.is_empty() && !self.null.is_empty()
                    || t == self.null
                    || t.contains([self.delimiter, self.quote, '\n', '\r'])
                    || t.starts_with(' ')
                    || t.ends_with(' ');
                if needs {
                    out.push(self.quote);
                    for c in t.chars() {
                        if c == self.quote || c == self.escape {
                            out.push(self.escape);
                        }
                        out.push(c);
                    }
                    out.push(self.quote);
                } else {
                    out.push_str(&t);
                }
            } else {
                for c in t.chars() {
                    match c {
                        '\\' => out.push_str("\\\\"),
                        '\n' => out.push_str("\\n"),
                        '\r' => out.push_str("\\r"),
                        '\t' if self.delimiter == '\t' => out.push_str("\\t"),
                        c if c == self.delimiter => {
                            out.push('\\');
                            out.push(c);
                        }
                        c => out.push(c),
                    }
                }
            }
        }
        out.push('\n');
    }

    /// The header line of a CSV COPY TO.
    pub fn encode_header(&self, names: &[String], out: &mut String) {
        let row: Vec<Value> = names.iter().map(|n| Value::Text(n.clone())).collect();
        self.encode_row(&row, out);
    }
}

fn csv_value(field: String, quoted: bool, null: &str) -> Option<String> {
    if !quoted && field == null {
        None
    } else {
        Some(field)
    }
}

/// Splits COPY input into records as chunks arrive, keeping only an unfinished record.
#[derive(Debug)]
pub struct LineSplitter {
    format: CopyFormat,
    pending: Vec<u8>,
    /// A header line still to skip.
    skip_header: bool,
    /// The `\.` end marker was seen: everything after it is ignored.
    pub ended: bool,
    /// Line number of the last record returned (for error context).
    pub line: u64,
}

impl LineSplitter {
    #[must_use]
    pub fn new(format: CopyFormat) -> LineSplitter {
        let skip_header = format.header;
        LineSplitter {
            format,
            pending: Vec::new(),
            skip_header,
            ended: false,
            line: 0,
        }
    }

    /// Feeds a chunk; calls `row` with the fields of every complete record in it.
    pub fn feed(
        &mut self,
        chunk: &[u8],
        mut row: impl FnMut(Vec<Option<String>>) -> SqlResult<()>,
    ) -> SqlResult<()> {
        if self.ended {
            return Ok(());
        }
        self.pending.extend_from_slice(chunk);
        let mut start = 0;
        let mut search_from = 0;
        while let Some(nl) = self.pending[search_from..].iter().position(|b| *b == b'\n') {
            let end = search_from + nl;
            let mut line = &self.pending[start..end];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            let text = std::str::from_utf8(line).map_err(|_| {
                SqlError::BadCopyFileFormat("invalid byte sequence for encoding \"UTF8\"".into())
            })?;
            if self.format.csv {
                // A quoted field may hold a newline: wait for the rest of the record.
                let Some(fields) = self.format.csv_fields(text) else {
                    search_from = end + 1;
                    continue;
                };
                self.line += 1;
                start = end + 1;
                search_from = start;
                if text == "\\." {
                    self.ended = true;
                    break;
                }
                if std::mem::take(&mut self.skip_header) {
                    continue;
                }
                row(fields)?;
            } else {
                self.line += 1;
                start = end + 1;
                search_from = start;
                if text == "\\." {
                    self.ended = true;
                    break;
                }
                row(self.format.text_fields(text)?)?;
            }
        }
        self.pending.drain(..start);
        if self.ended {
            self.pending.clear();
        }
        if self.pending.len() > LINE_BYTES_MAX {
            return Err(SqlError::ProgramLimitExceeded(format!(
                "COPY line longer than {LINE_BYTES_MAX} bytes"
            )));
        }
        Ok(())
    }

    /// Ends the input: a last record without a line end still counts.
    pub fn finish(
        &mut self,
        row: impl FnMut(Vec<Option<String>>) -> SqlResult<()>,
    ) -> SqlResult<()> {
        if !self.pending.is_empty() && !self.ended {
            self.pending.push(b'\n');
            let rest = std::mem::take(&mut self.pending);
            self.feed(&rest, row)?;
            if !self.pending.is_empty() {
                return Err(SqlError::BadCopyFileFormat(
                    "unterminated CSV quoted field".into(),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text() -> CopyFormat {
        CopyFormat::from_options(&[], &[]).unwrap()
    }

    fn csv(header: bool) -> CopyFormat {
        CopyFormat {
            header,
            ..CopyFormat::from_options(&[], &[ast::CopyLegacyOption::Csv(vec![])]).unwrap()
        }
    }

    fn split(f: CopyFormat, chunks: &[&str]) -> Vec<Vec<Option<String>>> {
        let mut s = LineSplitter::new(f);
        let mut rows = Vec::new();
        for c in chunks {
            s.feed(c.as_bytes(), |r| {
                rows.push(r);
                Ok(())
            })
            .unwrap();
        }
        s.finish(|r| {
            rows.push(r);
            Ok(())
        })
        .unwrap();
        rows
    }

    fn f(v: &[Option<&str>]) -> Vec<Option<String>> {
        v.iter().map(|x| x.map(str::to_string)).collect()
    }

    #[test]
    fn text_lines_split_across_chunks_with_escapes_and_nulls() {
        let rows = split(
            text(),
            &["1\ta\\tb\t\\N\n2\t", "x\\\\y\tz\n", "3\tlast\t\\101"],
        );
        assert_eq!(
            rows,
            vec![
                f(&[Some("1"), Some("a\tb"), None]),
                f(&[Some("2"), Some("x\\y"), Some("z")]),
                f(&[Some("3"), Some("last"), Some("A")]),
            ]
        );
        let rows = split(text(), &["1\n\\.\n2\n"]);
        assert_eq!(rows, vec![f(&[Some("1")])], "\\. ends the data");
    }

    #[test]
    fn csv_quotes_span_lines_and_headers_are_skipped() {
        let rows = split(csv(true), &["a,b\n1,\"x,\"\"y\"\"\n", "z\"\n2,\n3,\"\"\n"]);
        assert_eq!(
            rows,
            vec![
                f(&[Some("1"), Some("x,\"y\"\nz")]),
                f(&[Some("2"), None]),
                f(&[Some("3"), Some("")]),
            ]
        );
    }

    #[test]
    fn encoding_round_trips() {
        for fmt in [text(), csv(false)] {
            let row = vec![
                Value::Int(1),
                Value::Null,
                Value::Text("a\tb,\"c\"\nd\\".into()),
                Value::Text(String::new()),
            ];
            let mut out = String::new();
            fmt.encode_row(&row, &mut out);
            let rows = split(fmt.clone(), &[&out]);
            assert_eq!(
                rows,
                vec![f(&[Some("1"), None, Some("a\tb,\"c\"\nd\\"), Some("")])],
                "{fmt:?}: {out:?}"
            );
        }
    }
}
