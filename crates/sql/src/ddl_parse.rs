//! Forms of PostgreSQL's DDL grammar the pinned parser does not read, recognised by a small,
//! strict parser of their own before the rest of the text goes to `sqlparser`:
//!
//! ```text
//!   ALTER TABLE [IF EXISTS] [ONLY] name SET SCHEMA schema
//!   ALTER VIEW [IF EXISTS] name SET SCHEMA schema
//!   ALTER SEQUENCE [IF EXISTS] name SET SCHEMA schema
//!   CREATE SCHEMA [IF NOT EXISTS] name [AUTHORIZATION role] element [...]
//!   CREATE SCHEMA AUTHORIZATION role element [...]
//!        element: CREATE TABLE … | CREATE VIEW … | CREATE INDEX … | CREATE SEQUENCE … | GRANT …
//! ```
//!
//! Each travels to the session as a `CALL` of a function whose name (with its spaces) no parsed
//! CALL can have, holding the statement's text (as ALTER SEQUENCE does); the session reads it
//! again with [`SetSchema::parse`] or [`SchemaElements::parse`]. A text that is not exactly one
//! of these forms is left to `sqlparser` (and its errors). The schema elements themselves are
//! ordinary statements, each parsed by [`crate::session::parse`].

use crate::error::{SqlError, SqlResult};
use sqlparser::ast;

/// The carrier function of `ALTER … SET SCHEMA`.
pub const SET_SCHEMA_CARRIER: &str = "ALTER SET SCHEMA";
/// The carrier function of `CREATE SCHEMA … element …`.
pub const SCHEMA_ELEMENTS_CARRIER: &str = "CREATE SCHEMA ELEMENTS";
/// Most schema elements one CREATE SCHEMA may hold.
const ELEMENTS_MAX: usize = 4096;

/// A token of the statement text, with the byte offset it starts at.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
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
fn tokens(text: &str) -> Option<Vec<(Token, usize)>> {
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

/// Which ALTER moves a relation: it moves only relations of its kind (ALTER TABLE any).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelKind {
    Table,
    View,
    Sequence,
}

impl RelKind {
    /// The statement's command tag.
    #[must_use]
    pub fn tag(self) -> &'static str {
        match self {
            RelKind::Table => "ALTER TABLE",
            RelKind::View => "ALTER VIEW",
            RelKind::Sequence => "ALTER SEQUENCE",
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
    if head.starts_with("create") && SchemaElements::parse(text)?.is_some() {
        return Ok(Some(carrier(SCHEMA_ELEMENTS_CARRIER, text.trim())));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

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
