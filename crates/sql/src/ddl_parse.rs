//! Forms of PostgreSQL's DDL grammar the pinned parser does not read, recognised by a small,
//! strict parser of their own before the rest of the text goes to `sqlparser`:
//!
//! ```text
//!   ALTER TABLE [IF EXISTS] [ONLY] name SET SCHEMA schema
//!   ALTER VIEW [IF EXISTS] name SET SCHEMA schema
//!   ALTER SEQUENCE [IF EXISTS] name SET SCHEMA schema
//!   ALTER TABLE | VIEW | INDEX | SEQUENCE [IF EXISTS] name RENAME TO new
//!   ALTER TABLE [IF EXISTS] [ONLY] name RENAME CONSTRAINT c TO new
//!   ALTER TABLE | VIEW [IF EXISTS] [ONLY] name RENAME [COLUMN] a TO b
//!   CREATE SCHEMA [IF NOT EXISTS] name [AUTHORIZATION role] element [...]
//!   CREATE SCHEMA AUTHORIZATION role element [...]
//!        element: CREATE TABLE … | CREATE VIEW … | CREATE INDEX … | CREATE SEQUENCE … | GRANT …
//!   DECLARE name [options] CURSOR [{WITH | WITHOUT} HOLD] FOR query
//!   FETCH | MOVE [direction] [FROM | IN] name,   CLOSE {name | ALL}     (see `cursor.rs`)
//! ```
//!
//! Each travels to the session as a `CALL` of a function whose name (with its spaces) no parsed
//! CALL can have, holding the statement's text (as ALTER SEQUENCE does); the session reads it
//! again with [`SetSchema::parse`], [`Rename::parse`] or [`SchemaElements::parse`]. A text that is not exactly one
//! of these forms is left to `sqlparser` (and its errors). The schema elements themselves are
//! ordinary statements, each parsed by [`crate::session::parse`].

use crate::error::{SqlError, SqlResult};
use sqlparser::ast;

/// The carrier function of `ALTER … SET SCHEMA`.
pub const SET_SCHEMA_CARRIER: &str = "ALTER SET SCHEMA";
/// The carrier function of `ALTER … RENAME`.
pub const RENAME_CARRIER: &str = "ALTER RENAME";
/// The carrier function of `CREATE SCHEMA … element …`.
pub const SCHEMA_ELEMENTS_CARRIER: &str = "CREATE SCHEMA ELEMENTS";
/// Most schema elements one CREATE SCHEMA may hold.
const ELEMENTS_MAX: usize = 4096;

/// A token of the statement text, with the byte offset it starts at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Token {
    /// An unquoted word, lower-cased.
    Word(String),
    /// A `"quoted"` identifier, as written inside the quotes.
    Quoted(String),
    /// Any other single character outside literals and comments (`.`, `(`, `;`, …).
    Punct(char),
    /// A string, number or other literal: only skipped over.
    Literal,
}

/// Splits `text` into tokens; `None` on an unterminated quote or comment.
pub(crate) fn tokens(text: &str) -> Option<Vec<(Token, usize)>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
        } else if text[i..].starts_with("--") {
            i = text[i..].find('\n').map_or(b.len(), |n| i + n);
        } else if text[i..].starts_with("/*") {
            i += 2 + text[i + 2..].find("*/")? + 2;
        } else if c == b'\'' {
            // A string; '' inside is a quote.
            i += 1;
            loop {
                let n = text[i..].find('\'')?;
                i += n + 1;
                if b.get(i) == Some(&b'\'') {
                    i += 1;
                } else {
                    break;
                }
            }
            out.push((Token::Literal, start));
        } else if c == b'"' {
            let mut name = String::new();
            i += 1;
            loop {
                let n = text[i..].find('"')?;
                name.push_str(&text[i..i + n]);
                i += n + 1;
                if b.get(i) == Some(&b'"') {
                    name.push('"');
                    i += 1;
                } else {
                    break;
                }
            }
            out.push((Token::Quoted(name), start));
        } else if c == b'$' {
            // $tag$ … $tag$, or a parameter ($1).
            let tag_end = text[i + 1..].find(|ch: char| !(ch.is_alphanumeric() || ch == '_'));
            match tag_end {
                Some(n) if b[i + 1 + n] == b'$' => {
                    let tag = &text[i..i + n + 2];
                    let body = i + n + 2;
                    i = body + text[body..].find(tag)? + tag.len();
                }
                _ => {
                    i += 1;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            out.push((Token::Literal, start));
        } else if c.is_ascii_digit() {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                i += 1;
            }
            out.push((Token::Literal, start));
        } else if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$')
                || (i < b.len() && b[i] >= 0x80)
            {
                i += 1;
            }
            out.push((Token::Word(text[start..i].to_lowercase()), start));
        } else {
            let ch = text[i..].chars().next()?;
            i += ch.len_utf8();
            out.push((Token::Punct(ch), start));
        }
    }
    Some(out)
}

/// Reads the statement's tokens in order.
struct Cursor {
    toks: Vec<(Token, usize)>,
    at: usize,
}

impl Cursor {
    fn new(text: &str) -> Option<Cursor> {
        let mut toks = tokens(text)?;
        while matches!(toks.last(), Some((Token::Punct(';'), _))) {
            toks.pop();
        }
        Some(Cursor { toks, at: 0 })
    }

    fn word(&mut self, w: &str) -> bool {
        match self.toks.get(self.at) {
            Some((Token::Word(x), _)) if x == w => {
                self.at += 1;
                true
            }
            _ => false,
        }
    }

    fn words(&mut self, ws: &[&str]) -> bool {
        let at = self.at;
        if ws.iter().all(|w| self.word(w)) {
            return true;
        }
        self.at = at;
        false
    }

    fn ident(&mut self) -> Option<ast::Ident> {
        let id = match self.toks.get(self.at)? {
            (Token::Word(w), _) => ast::Ident::new(w.clone()),
            (Token::Quoted(q), _) => ast::Ident::with_quote('"', q.clone()),
            _ => return None,
        };
        self.at += 1;
        Some(id)
    }

    /// `a`, `a.b` or `a.b.c`.
    fn name(&mut self) -> Option<ast::ObjectName> {
        let mut parts = vec![self.ident()?];
        while parts.len() < 3 && matches!(self.toks.get(self.at), Some((Token::Punct('.'), _))) {
            self.at += 1;
            parts.push(self.ident()?);
        }
        Some(ast::ObjectName::from(parts))
    }

    fn done(&self) -> bool {
        self.at == self.toks.len()
    }

    /// The byte offset of the current token (the text's length at the end).
    fn offset(&self, text_len: usize) -> usize {
        self.toks.get(self.at).map_or(text_len, |t| t.1)
    }
}

/// Which ALTER moves or renames a relation: ALTER VIEW and ALTER SEQUENCE take only relations
/// of their kind; ALTER TABLE, and for a rename ALTER INDEX, any (as PostgreSQL's do).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelKind {
    Table,
    View,
    Sequence,
    /// Only in [`Rename`].
    Index,
}

impl RelKind {
    /// The statement's command tag.
    #[must_use]
    pub fn tag(self) -> &'static str {
        match self {
            RelKind::Table => "ALTER TABLE",
            RelKind::View => "ALTER VIEW",
            RelKind::Sequence => "ALTER SEQUENCE",
            RelKind::Index => "ALTER INDEX",
        }
    }
}

/// `ALTER TABLE | VIEW | SEQUENCE [IF EXISTS] name SET SCHEMA schema`.
#[derive(Clone, Debug, PartialEq)]
pub struct SetSchema {
    pub kind: RelKind,
    pub if_exists: bool,
    pub name: ast::ObjectName,
    pub schema: ast::Ident,
}

impl SetSchema {
    /// The statement, if `text` is exactly one.
    #[must_use]
    pub fn parse(text: &str) -> Option<SetSchema> {
        let mut c = Cursor::new(text)?;
        if !c.word("alter") {
            return None;
        }
        let kind = if c.word("table") {
            RelKind::Table
        } else if c.word("view") {
            RelKind::View
        } else if c.word("sequence") {
            RelKind::Sequence
        } else {
            return None;
        };
        let if_exists = c.words(&["if", "exists"]);
        if kind == RelKind::Table {
            c.word("only");
        }
        let name = c.name()?;
        if !c.words(&["set", "schema"]) {
            return None;
        }
        let schema = c.ident()?;
        c.done().then_some(SetSchema {
            kind,
            if_exists,
            name,
            schema,
        })
    }
}

/// What an `ALTER … RENAME` renames.
#[derive(Clone, Debug, PartialEq)]
pub enum RenameTarget {
    /// `RENAME TO new`: the relation itself.
    Relation(ast::Ident),
    /// `RENAME [COLUMN] old TO new`.
    Column(ast::Ident, ast::Ident),
    /// `RENAME CONSTRAINT old TO new`.
    Constraint(ast::Ident, ast::Ident),
}

/// `ALTER TABLE | VIEW | INDEX | SEQUENCE [IF EXISTS] name RENAME …`.
#[derive(Clone, Debug, PartialEq)]
pub struct Rename {
    pub kind: RelKind,
    pub if_exists: bool,
    pub name: ast::ObjectName,
    pub target: RenameTarget,
}

impl Rename {
    /// The statement, if `text` is exactly one. Forms PostgreSQL's grammar lacks (a column
    /// of an index or a sequence, a constraint of a view) are left to the parser's error.
    #[must_use]
    pub fn parse(text: &str) -> Option<Rename> {
        let mut c = Cursor::new(text)?;
        if !c.word("alter") {
            return None;
        }
        let kind = if c.word("table") {
            RelKind::Table
        } else if c.word("view") {
            RelKind::View
        } else if c.word("sequence") {
            RelKind::Sequence
        } else if c.word("index") {
            RelKind::Index
        } else {
            return None;
        };
        let if_exists = c.words(&["if", "exists"]);
        if kind == RelKind::Table {
            c.word("only");
        }
        let name = c.name()?;
        if !c.word("rename") {
            return None;
        }
        let target = if c.word("to") {
            RenameTarget::Relation(c.ident()?)
        } else if c.word("constraint") {
            if kind != RelKind::Table {
                return None;
            }
            let old = c.ident()?;
            if !c.word("to") {
                return None;
            }
            RenameTarget::Constraint(old, c.ident()?)
        } else {
            if !matches!(kind, RelKind::Table | RelKind::View) {
                return None;
            }
            c.word("column");
            let old = c.ident()?;
            if !c.word("to") {
                return None;
            }
            RenameTarget::Column(old, c.ident()?)
        };
        c.done().then_some(Rename {
            kind,
            if_exists,
            name,
            target,
        })
    }
}

/// `CREATE SCHEMA … element [...]`: the schema's header and its elements' texts.
#[derive(Clone, Debug, PartialEq)]
pub struct SchemaElements {
    pub if_not_exists: bool,
    /// The schema's name; `None`: named after the role.
    pub name: Option<ast::Ident>,
    pub role: Option<ast::Ident>,
    /// Each element's text, in the order written.
    pub elements: Vec<String>,
    /// Byte offset of the first element (where PostgreSQL points at an IF NOT EXISTS with
    /// elements).
    pub elements_at: usize,
}

impl SchemaElements {
    /// The statement, if `text` is a CREATE SCHEMA with at least one element; a word other
    /// than CREATE or GRANT where an element starts is the syntax error PostgreSQL gives.
    pub fn parse(text: &str) -> SqlResult<Option<SchemaElements>> {
        let Some(mut c) = Cursor::new(text) else {
            return Ok(None);
        };
        if !c.words(&["create", "schema"]) {
            return Ok(None);
        }
        let if_not_exists = c.words(&["if", "not", "exists"]);
        let (name, role) = if c.word("authorization") {
            match c.ident() {
                Some(r) => (None, Some(r)),
                None => return Ok(None),
            }
        } else {
            let Some(n) = c.ident() else { return Ok(None) };
            let role = if c.word("authorization") {
                match c.ident() {
                    Some(r) => Some(r),
                    None => return Ok(None),
                }
            } else {
                None
            };
            (Some(n), role)
        };
        if c.done() || c.toks.iter().any(|(t, _)| *t == Token::Punct(';')) {
            return Ok(None);
        }
        let elements_at = c.offset(text.len());
        // The first element starts right after the header.
        if !matches!(&c.toks[c.at].0, Token::Word(w) if w == "create" || w == "grant") {
            let word = text[elements_at..]
                .split(|ch: char| ch.is_whitespace() || ch == '(')
                .next()
                .filter(|w| !w.is_empty())
                .unwrap_or("(");
            return Err(SqlError::Syntax(format!(
                "syntax error at or near \"{word}\""
            )));
        }
        // Elements start at CREATE or GRANT outside parentheses.
        let mut starts = Vec::new();
        let mut depth = 0usize;
        for (i, (t, at)) in c.toks.iter().enumerate().skip(c.at) {
            match t {
                Token::Punct('(') => depth += 1,
                Token::Punct(')') => depth = depth.saturating_sub(1),
                Token::Word(w) if depth == 0 && (w == "create" || w == "grant") => {
                    if w == "create" {
                        check_element_kind(text, &c.toks[i + 1..])?;
                    }
                    starts.push(*at);
                }
                _ => {}
            }
        }
        if starts.len() > ELEMENTS_MAX {
            return Err(SqlError::NotSupported(format!(
                "more than {ELEMENTS_MAX} schema elements"
            )));
        }
        let end = text.trim_end().trim_end_matches(';').len();
        let mut elements = Vec::with_capacity(starts.len());
        for (k, &s) in starts.iter().enumerate() {
            let e = starts.get(k + 1).copied().unwrap_or(end).max(s);
            elements.push(text[s..e].trim().to_string());
        }
        Ok(Some(SchemaElements {
            if_not_exists,
            name,
            role,
            elements,
            elements_at,
        }))
    }
}

/// After an element's CREATE: the kinds of object a schema element may create (PostgreSQL's
/// `schema_stmt`), else the syntax error PostgreSQL reports at the word.
fn check_element_kind(text: &str, rest: &[(Token, usize)]) -> SqlResult<()> {
    for (t, at) in rest {
        let Token::Word(w) = t else {
            break;
        };
        match w.as_str() {
            "or" | "replace" | "temp" | "temporary" | "unlogged" | "unique" | "recursive"
            | "global" | "local" => continue,
            "table" | "index" | "sequence" | "view" | "trigger" => return Ok(()),
            _ => {
                return Err(SqlError::Syntax(format!(
                    "syntax error at or near \"{}\"",
                    &text[*at..*at + w.len()]
                )));
            }
        }
    }
    match rest.first() {
        Some((_, at)) => Err(SqlError::Syntax(format!(
            "syntax error at or near \"{}\"",
            text[*at..].split_whitespace().next().unwrap_or_default()
        ))),
        None => Err(SqlError::Syntax("syntax error at end of input".into())),
    }
}

/// The carrier function of `DECLARE … CURSOR`, `FETCH`, `MOVE` and `CLOSE`.
pub const CURSOR_CARRIER: &str = "CURSOR STATEMENT";

/// `DECLARE name [BINARY] [ASENSITIVE | INSENSITIVE] [[NO] SCROLL] CURSOR [{WITH | WITHOUT}
/// HOLD] FOR query`, `FETCH [direction] [FROM | IN] name`, `MOVE [direction] [FROM | IN] name`
/// and `CLOSE {name | ALL}`, read whole: the parser's own forms of these lack PostgreSQL's
/// directions (MOVE, bare counts, `FETCH name`). `Ok(None)` when `text` is not one of them (a
/// DECLARE of another dialect, several statements), a syntax error when it starts like one
/// but is malformed. The query of a DECLARE is only delimited here; the session parses it.
pub fn parse_cursor_statement(text: &str) -> SqlResult<Option<crate::cursor::CursorStatement>> {
    use crate::cursor::{Count, CursorStatement, Direction};
    let Some(mut c) = Cursor::new(text) else {
        return Ok(None);
    };
    if c.toks.iter().any(|(t, _)| *t == Token::Punct(';')) {
        return Ok(None);
    }
    let near = |c: &Cursor| match c.toks.get(c.at) {
        Some((_, at)) => SqlError::Syntax(format!(
            "syntax error at or near \"{}\"",
            text[*at..]
                .split(|ch: char| ch.is_whitespace() || ch == ';')
                .next()
                .unwrap_or_default()
        )),
        None => SqlError::Syntax("syntax error at end of input".into()),
    };
    if c.word("declare") {
        let Some(name) = c.ident() else {
            return Ok(None);
        };
        let (mut binary, mut scroll) = (false, None);
        loop {
            if c.word("binary") {
                binary = true;
            } else if c.word("insensitive") || c.word("asensitive") {
            } else if c.word("scroll") {
                scroll = Some(true);
            } else if c.words(&["no", "scroll"]) {
                scroll = Some(false);
            } else {
                break;
            }
        }
        if !c.word("cursor") {
            // Another dialect's DECLARE (a variable): not ours.
            return Ok(None);
        }
        let hold = if c.words(&["with", "hold"]) {
            true
        } else {
            c.words(&["without", "hold"]);
            false
        };
        if !c.word("for") || c.done() {
            return Err(near(&c));
        }
        let at = c.offset(text.len());
        let query = text[at..].trim().trim_end_matches(';').trim().to_string();
        return Ok(Some(CursorStatement::Declare {
            name: name.value,
            binary,
            scroll,
            hold,
            query,
        }));
    }
    if c.word("close") {
        let stmt = match c.toks.get(c.at) {
            Some((Token::Word(w), _)) if w == "all" => {
                c.at += 1;
                CursorStatement::Close { name: None }
            }
            _ => match c.ident() {
                Some(n) => CursorStatement::Close {
                    name: Some(n.value),
                },
                None => return Err(near(&c)),
            },
        };
        return if c.done() {
            Ok(Some(stmt))
        } else {
            Err(near(&c))
        };
    }
    let move_only = if c.word("move") {
        true
    } else if c.word("fetch") {
        false
    } else {
        return Ok(None);
    };
    // The name is the last token; what comes before it is the direction and FROM/IN.
    let last = c.toks.len();
    if last <= c.at {
        return Err(near(&c));
    }
    let name = match &c.toks[last - 1].0 {
        Token::Word(w) => w.clone(),
        Token::Quoted(q) => q.clone(),
        _ => {
            c.at = last - 1;
            return Err(near(&c));
        }
    };
    let mut end = last - 1;
    if end > c.at && matches!(&c.toks[end - 1].0, Token::Word(w) if w == "from" || w == "in") {
        end -= 1;
    }
    // A signed integer starting at token `i`: its value and the token after it.
    let count = |i: usize| -> Option<(i64, usize)> {
        let (neg, i) = match c.toks.get(i) {
            Some((Token::Punct('-'), _)) => (true, i + 1),
            Some((Token::Punct('+'), _)) => (false, i + 1),
            _ => (false, i),
        };
        let (Token::Literal, at) = c.toks.get(i)? else {
            return None;
        };
        let digits: &str = text[*at..]
            .split(|ch: char| !ch.is_ascii_digit())
            .next()
            .unwrap_or_default();
        let next_at = c.toks.get(i + 1).map_or(text.len(), |t| t.1);
        if digits.is_empty() || text[*at + digits.len()..next_at].trim() != "" {
            return None;
        }
        let v: i64 = digits.parse().ok()?;
        Some((if neg { -v } else { v }, i + 1))
    };
    let word_at = |i: usize| match c.toks.get(i) {
        Some((Token::Word(w), _)) if i < end => Some(w.as_str()),
        _ => None,
    };
    let start = c.at;
    let (direction, used) = match word_at(start) {
        _ if start == end => (Direction::Forward(Count::Rows(1)), start),
        Some("next") => (Direction::Forward(Count::Rows(1)), start + 1),
        Some("prior") => (Direction::Backward(Count::Rows(1)), start + 1),
        Some("first") => (Direction::Absolute(1), start + 1),
        Some("last") => (Direction::Absolute(-1), start + 1),
        Some("all") => (Direction::Forward(Count::All), start + 1),
        Some(w @ ("absolute" | "relative")) => match count(start + 1) {
            Some((n, next)) if w == "absolute" => (Direction::Absolute(n), next),
            Some((n, next)) => (Direction::Relative(n), next),
            None => {
                c.at = start + 1;
                return Err(near(&c));
            }
        },
        Some(w @ ("forward" | "backward")) => {
            let wrap = |n: Count| {
                if w == "forward" {
                    Direction::Forward(n)
                } else {
                    Direction::Backward(n)
                }
            };
            if word_at(start + 1) == Some("all") {
                (wrap(Count::All), start + 2)
            } else if let Some((n, next)) = count(start + 1).filter(|(_, next)| *next <= end) {
                (wrap(Count::Rows(n)), next)
            } else {
                (wrap(Count::Rows(1)), start + 1)
            }
        }
        _ => match count(start) {
            Some((n, next)) => (Direction::Forward(Count::Rows(n)), next),
            None => return Err(near(&c)),
        },
    };
    if used != end {
        c.at = used;
        return Err(near(&c));
    }
    Ok(Some(CursorStatement::Fetch {
        name,
        direction,
        move_only,
    }))
}

/// A statement that carries `text` to the session under `carrier`'s name.
#[must_use]
pub fn carrier(carrier: &str, text: &str) -> ast::Statement {
    ast::Statement::Call(ast::Function {
        name: ast::ObjectName::from(vec![ast::Ident::new(carrier)]),
        uses_odbc_syntax: false,
        parameters: ast::FunctionArguments::None,
        args: ast::FunctionArguments::List(ast::FunctionArgumentList {
            duplicate_treatment: None,
            args: vec![ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(
                ast::Expr::Value(ast::Value::SingleQuotedString(text.to_string()).into()),
            ))],
            clauses: Vec::new(),
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: Vec::new(),
    })
}

/// The text `stmt` carries, if it is `carrier`'s.
#[must_use]
pub fn carried<'a>(stmt: &'a ast::Statement, carrier: &str) -> Option<&'a str> {
    let ast::Statement::Call(f) = stmt else {
        return None;
    };
    let [ast::ObjectNamePart::Identifier(id)] = f.name.0.as_slice() else {
        return None;
    };
    if id.quote_style.is_some() || id.value != carrier {
        return None;
    }
    let ast::FunctionArguments::List(l) = &f.args else {
        return None;
    };
    match l.args.as_slice() {
        [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(ast::Expr::Value(v)))] => {
            match &v.value {
                ast::Value::SingleQuotedString(t) => Some(t),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The statements of `text` (split at `;` outside literals, quoted names and comments), when
/// one of them is one of this module's forms: the parser reads the others one by one. `None`
/// otherwise.
#[must_use]
pub fn split_statements(text: &str) -> Option<Vec<&str>> {
    let toks = tokens(text)?;
    let mut pieces = Vec::new();
    let mut start = 0;
    for (t, at) in &toks {
        if *t == Token::Punct(';') {
            pieces.push(&text[start..*at]);
            start = at + 1;
        }
    }
    pieces.push(&text[start..]);
    pieces.retain(|p| !p.trim().is_empty());
    let ours = pieces
        .iter()
        .any(|p| matches!(recognise(p), Ok(Some(_)) | Err(_)));
    (pieces.len() > 1 && ours).then_some(pieces)
}

/// The statement `text` is, when it is one of this module's forms.
pub fn recognise(text: &str) -> SqlResult<Option<ast::Statement>> {
    let head: String = text
        .trim_start()
        .chars()
        .take(16)
        .collect::<String>()
        .to_lowercase();
    if head.starts_with("alter") && SetSchema::parse(text).is_some() {
        return Ok(Some(carrier(SET_SCHEMA_CARRIER, text.trim())));
    }
    if head.starts_with("alter") && Rename::parse(text).is_some() {
        return Ok(Some(carrier(RENAME_CARRIER, text.trim())));
    }
    if head.starts_with("create") && SchemaElements::parse(text)?.is_some() {
        return Ok(Some(carrier(SCHEMA_ELEMENTS_CARRIER, text.trim())));
    }
    if ["declare", "fetch", "move", "close"]
        .iter()
        .any(|w| head.starts_with(w))
        && parse_cursor_statement(text)?.is_some()
    {
        return Ok(Some(carrier(CURSOR_CARRIER, text.trim())));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_statements_read_every_direction() {
        use crate::cursor::{Count, CursorStatement as S, Direction as D};
        let fetch = |t: &str| match parse_cursor_statement(t).unwrap().unwrap() {
            S::Fetch {
                name,
                direction,
                move_only,
            } => (name, direction, move_only),
            other => panic!("{other:?}"),
        };
        for (text, want) in [
            ("FETCH c", D::Forward(Count::Rows(1))),
            ("fetch from c;", D::Forward(Count::Rows(1))),
            ("FETCH NEXT IN c", D::Forward(Count::Rows(1))),
            ("FETCH PRIOR c", D::Backward(Count::Rows(1))),
            ("FETCH FIRST FROM c", D::Absolute(1)),
            ("FETCH LAST c", D::Absolute(-1)),
            ("FETCH ABSOLUTE -3 c", D::Absolute(-3)),
            ("FETCH RELATIVE +2 FROM c", D::Relative(2)),
            ("FETCH 5 c", D::Forward(Count::Rows(5))),
            ("FETCH -5 IN c", D::Forward(Count::Rows(-5))),
            ("FETCH ALL c", D::Forward(Count::All)),
            ("FETCH FORWARD c", D::Forward(Count::Rows(1))),
            ("FETCH FORWARD 0 FROM c", D::Forward(Count::Rows(0))),
            ("FETCH FORWARD ALL c", D::Forward(Count::All)),
            ("FETCH BACKWARD c", D::Backward(Count::Rows(1))),
            ("FETCH BACKWARD 7 c", D::Backward(Count::Rows(7))),
            ("FETCH BACKWARD ALL FROM c", D::Backward(Count::All)),
        ] {
            assert_eq!(fetch(text), ("c".into(), want, false), "{text}");
        }
        assert_eq!(
            fetch("MOVE FORWARD 10 IN \"My C\""),
            ("My C".into(), D::Forward(Count::Rows(10)), true)
        );
        for bad in [
            "FETCH",
            "FETCH ABSOLUTE c",
            "FETCH 1.5 c",
            "FETCH FORWARD 2 3 c",
            "CLOSE",
        ] {
            assert!(parse_cursor_statement(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_cursor_statement(
                "DECLARE \"X\" BINARY INSENSITIVE NO SCROLL CURSOR WITH HOLD FOR SELECT 1;"
            )
            .unwrap(),
            Some(S::Declare {
                name: "X".into(),
                binary: true,
                scroll: Some(false),
                hold: true,
                query: "SELECT 1".into(),
            })
        );
        assert_eq!(
            parse_cursor_statement("close ALL").unwrap(),
            Some(S::Close { name: None })
        );
        assert_eq!(
            parse_cursor_statement("CLOSE \"all\"").unwrap(),
            Some(S::Close {
                name: Some("all".into())
            })
        );
        // Not ours: a variable's DECLARE, several statements.
        assert_eq!(parse_cursor_statement("DECLARE x INT").unwrap(), None);
        assert_eq!(parse_cursor_statement("FETCH c; FETCH d").unwrap(), None);
        assert!(parse_cursor_statement("DECLARE c CURSOR").is_err());
    }

    #[test]
    fn set_schema_is_read_strictly() {
        let s = SetSchema::parse("ALTER TABLE IF EXISTS \"My\".t SET SCHEMA s2;").unwrap();
        assert_eq!(s.kind, RelKind::Table);
        assert!(s.if_exists);
        assert_eq!(s.name.to_string(), "\"My\".t");
        assert_eq!(s.schema.value, "s2");
        let v = SetSchema::parse("alter view v set schema \"S\"").unwrap();
        assert_eq!((v.kind, v.schema.quote_style), (RelKind::View, Some('"')));
        assert!(SetSchema::parse("ALTER SEQUENCE q SET SCHEMA s").is_some());
        assert!(SetSchema::parse("ALTER TABLE ONLY t SET SCHEMA s").is_some());
        // Anything more or less is left to the parser.
        for t in [
            "ALTER TABLE t SET SCHEMA s, ADD COLUMN z int",
            "ALTER TABLE t SET SCHEMA",
            "ALTER TABLE t SET TABLESPACE s",
            "ALTER INDEX i SET SCHEMA s",
            "ALTER TABLE t SET SCHEMA s; SELECT 1",
            "ALTER TABLE 't' SET SCHEMA s",
        ] {
            assert!(SetSchema::parse(t).is_none(), "{t}");
        }
    }

    #[test]
    fn renames_are_read_strictly() {
        let r = Rename::parse("ALTER TABLE IF EXISTS ONLY s.\"T\" RENAME TO t2;").unwrap();
        assert_eq!((r.kind, r.if_exists), (RelKind::Table, true));
        assert_eq!(r.name.to_string(), "s.\"T\"");
        assert_eq!(r.target, RenameTarget::Relation(ast::Ident::new("t2")));
        let i = Rename::parse("alter index i rename to \"J\"").unwrap();
        assert_eq!(i.kind, RelKind::Index);
        assert_eq!(
            i.target,
            RenameTarget::Relation(ast::Ident::with_quote('"', "J"))
        );
        assert_eq!(
            Rename::parse("ALTER TABLE t RENAME CONSTRAINT c TO d")
                .unwrap()
                .target,
            RenameTarget::Constraint(ast::Ident::new("c"), ast::Ident::new("d"))
        );
        for t in [
            "ALTER VIEW v RENAME COLUMN a TO b",
            "ALTER VIEW v RENAME a TO b",
        ] {
            assert_eq!(
                Rename::parse(t).unwrap().target,
                RenameTarget::Column(ast::Ident::new("a"), ast::Ident::new("b")),
                "{t}"
            );
        }
        assert!(Rename::parse("ALTER SEQUENCE IF EXISTS q RENAME TO r").is_some());
        // Anything more or less, or a form PostgreSQL's grammar lacks, is left to the parser.
        for t in [
            "ALTER TABLE t RENAME TO s.t2",
            "ALTER TABLE t RENAME TO",
            "ALTER TABLE t RENAME TO a, ADD COLUMN z int",
            "ALTER VIEW v RENAME CONSTRAINT c TO d",
            "ALTER INDEX i RENAME COLUMN a TO b",
            "ALTER SEQUENCE q RENAME a TO b",
            "ALTER TABLE t RENAME a b",
            "ALTER TABLE t RENAME TO 'x'",
        ] {
            assert!(Rename::parse(t).is_none(), "{t}");
        }
        assert!(matches!(
            recognise("ALTER VIEW v RENAME TO w"),
            Ok(Some(s)) if carried(&s, RENAME_CARRIER) == Some("ALTER VIEW v RENAME TO w")
        ));
    }

    #[test]
    fn schema_elements_split_at_create_and_grant() {
        let e = SchemaElements::parse(
            "CREATE SCHEMA s AUTHORIZATION bob CREATE TABLE t (a int, b text DEFAULT 'create') \
             CREATE VIEW v AS SELECT a FROM t WHERE a IN (SELECT 1) GRANT SELECT ON t TO PUBLIC;",
        )
        .unwrap()
        .unwrap();
        assert_eq!(e.name.unwrap().value, "s");
        assert_eq!(e.role.unwrap().value, "bob");
        assert_eq!(
            e.elements,
            vec![
                "CREATE TABLE t (a int, b text DEFAULT 'create')",
                "CREATE VIEW v AS SELECT a FROM t WHERE a IN (SELECT 1)",
                "GRANT SELECT ON t TO PUBLIC",
            ]
        );
        let a = SchemaElements::parse("create schema authorization bob create sequence q")
            .unwrap()
            .unwrap();
        assert!(a.name.is_none());
        assert_eq!(a.elements, vec!["create sequence q"]);
        // No elements: the parser's own CREATE SCHEMA.
        assert!(SchemaElements::parse("CREATE SCHEMA s").unwrap().is_none());
        assert!(
            SchemaElements::parse("CREATE SCHEMA IF NOT EXISTS s AUTHORIZATION bob")
                .unwrap()
                .is_none()
        );
        assert!(matches!(
            SchemaElements::parse("CREATE SCHEMA s SELECT 1"),
            Err(SqlError::Syntax(m)) if m == "syntax error at or near \"SELECT\""
        ));
        assert!(matches!(
            SchemaElements::parse("CREATE SCHEMA s (a int)"),
            Err(SqlError::Syntax(m)) if m == "syntax error at or near \"(\""
        ));
        assert!(tokens("SELECT 'open").is_none());
        assert_eq!(
            split_statements("SELECT ';'; ALTER TABLE t SET SCHEMA s; -- x;\nSELECT \"a;\""),
            Some(vec![
                "SELECT ';'",
                " ALTER TABLE t SET SCHEMA s",
                " -- x;\nSELECT \"a;\""
            ])
        );
        assert_eq!(split_statements("SELECT 1; SELECT 2"), None);
    }
}
