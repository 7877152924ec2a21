//! `json` and `jsonb`: a JSON reader and writer, and the operators and functions over them,
//! with PostgreSQL 15's semantics.
//!
//! The two types differ the way PostgreSQL's do:
//!
//! * A `json` value is its input text, kept exactly (whitespace, key order, duplicate keys),
//!   once checked to be valid JSON. Operators on it parse the text again into a [`Node`] tree
//!   that remembers each value's span, so `->` answers with the sub-value's original text.
//! * A `jsonb` value is a [`Jsonb`] tree: strings de-escaped, numbers read as `numeric` (so
//!   `1.50` keeps its scale), object keys de-duplicated (the last one wins) and sorted by
//!   (length, bytes) as PostgreSQL stores them. Its text form is normalised:
//!   `{"a": 1, "b": [1, 2]}`.
//!
//! ```text
//!   text ──parse()──► Node (spans into the text) ──to_jsonb()──► Jsonb ──Display──► text
//!                       │                                           │
//!                       └─ json operators slice the text             └─ rows, keys, wire
//! ```
//!
//! Invariants of a [`Jsonb`]: an object's keys are unique and sorted by [`key_order`]; no
//! string holds U+0000 (PostgreSQL's text cannot); numbers are finite. Nesting is at most
//! [`JSON_DEPTH_MAX`] levels deep: the reader refuses deeper input with a clear error, which
//! bounds every recursive walk in this module (comparison, containment, printing, key
//! encoding) on untrusted input.
//!
//! Ordering (`jsonb`'s btree order) is PostgreSQL's: object > array > boolean > number >
//! string > null; containers of one kind compare first by their number of members, then
//! member by member (keys in storage order); at the top level a scalar sorts below every
//! non-empty array and above the empty array (PostgreSQL keeps a top-level scalar as a
//! one-element pseudo-array). [`encode_key`] is a memcomparable form of that order.
//!
//! Containment (`@>`) follows PostgreSQL: an object contains another when every key of the
//! other is present with a contained value; an array contains another when every element of
//! the other is matched by some element (scalars by equality, containers recursively); and, at
//! the top level only, an array contains a bare scalar that is one of its elements.

use crate::error::{SqlError, SqlResult};
use crate::types::{Numeric, Value};
use std::cmp::Ordering;
use std::fmt::{self, Write as _};

/// Deepest nesting of arrays and objects accepted. PostgreSQL is bounded only by its stack;
/// Borealis bounds it explicitly so that hostile input cannot overflow a thread's stack in
/// any of the recursive walks over a value.
///
/// The reader is iterative; the walks over a parsed value recurse, and in an unoptimised build
/// the heaviest (reading text into a [`Jsonb`]) takes about 1.6 KiB of stack a level: 256
/// levels stay far inside a 2 MiB thread stack together with the executor's own frames (a unit
/// test runs every walk at this depth on a 1 MiB stack).
pub const JSON_DEPTH_MAX: usize = 256;

/// Longest path (`#>`, `jsonb_set`, `jsonb_extract_path`) a function walks.
pub const JSON_PATH_ELEMENTS_MAX: usize = 1000;

/// A `jsonb` value (see the module comment for its invariants).
#[derive(Clone, Debug, PartialEq)]
pub enum Jsonb {
    Null,
    Bool(bool),
    Number(Numeric),
    String(String),
    Array(Vec<Jsonb>),
    /// Keys unique and sorted by [`key_order`].
    Object(Vec<(String, Jsonb)>),
}

/// PostgreSQL's storage order of object keys: shorter keys first, then bytewise.
#[must_use]
pub fn key_order(a: &str, b: &str) -> Ordering {
    a.len()
        .cmp(&b.len())
        .then_with(|| a.as_bytes().cmp(b.as_bytes()))
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

/// A parsed JSON value with the byte span of its text.
#[derive(Clone, Debug)]
pub struct Node {
    pub kind: NodeKind,
    pub start: usize,
    pub end: usize,
}

/// What a [`Node`] is. Object members stay in input order, duplicates included.
#[derive(Clone, Debug)]
pub enum NodeKind {
    Null,
    Bool(bool),
    /// A number; its text is the node's span.
    Number,
    String(String),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

/// How strictly strings are read: `jsonb` de-escapes every `\u` escape and refuses what text
/// cannot hold; `json` only checks that the escapes are well formed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Strictness {
    Json,
    Jsonb,
}

fn syntax(detail: impl Into<String>) -> SqlError {
    SqlError::InvalidJson {
        detail: detail.into(),
    }
}

/// A token, as the messages name them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tok {
    ObjectStart,
    ObjectEnd,
    ArrayStart,
    ArrayEnd,
    Comma,
    Colon,
    String,
    Number,
    True,
    False,
    Null,
    End,
}

struct Parser<'a> {
    text: &'a str,
    b: &'a [u8],
    pos: usize,
    strict: Strictness,
    /// The current token: kind, span, and a string's decoded value.
    tok: Tok,
    tok_start: usize,
    tok_end: usize,
    tok_string: String,
}

/// JSON's "alphanumeric" characters, which PostgreSQL's lexer gathers into one token when
/// reporting a bad one.
fn is_word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

impl<'a> Parser<'a> {
    fn new(text: &'a str, strict: Strictness) -> Self {
        Parser {
            text,
            b: text.as_bytes(),
            pos: 0,
            strict,
            tok: Tok::End,
            tok_start: 0,
            tok_end: 0,
            tok_string: String::new(),
        }
    }

    /// The text of the current token, for messages.
    fn tok_text(&self) -> &str {
        self.text.get(self.tok_start..self.tok_end).unwrap_or("")
    }

    fn invalid_token(&self, start: usize, end: usize) -> SqlError {
        syntax(format!(
            "Token \"{}\" is invalid.",
            self.text.get(start..end).unwrap_or("")
        ))
    }

    /// The end of the character starting at `i`.
    fn char_end(&self, i: usize) -> usize {
        let mut j = i + 1;
        while j < self.b.len() && !self.text.is_char_boundary(j) {
            j += 1;
        }
        j
    }

    /// Reads the next token.
    fn lex(&mut self) -> SqlResult<()> {
        while self.pos < self.b.len() && matches!(self.b[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let s = self.pos;
        self.tok_start = s;
        if s >= self.b.len() {
            self.tok = Tok::End;
            self.tok_end = s;
            return Ok(());
        }
        let single = match self.b[s] {
            b'{' => Some(Tok::ObjectStart),
            b'}' => Some(Tok::ObjectEnd),
            b'[' => Some(Tok::ArrayStart),
            b']' => Some(Tok::ArrayEnd),
            b',' => Some(Tok::Comma),
            b':' => Some(Tok::Colon),
            _ => None,
        };
        if let Some(t) = single {
            self.tok = t;
            self.pos = s + 1;
            self.tok_end = self.pos;
            return Ok(());
        }
        match self.b[s] {
            b'"' => self.lex_string(),
            b'-' | b'0'..=b'9' => self.lex_number(),
            _ => {
                let mut p = s;
                while p < self.b.len() && is_word_byte(self.b[p]) {
                    p += 1;
                }
                if p == s {
                    return Err(self.invalid_token(s, self.char_end(s)));
                }
                self.tok = match &self.text[s..p] {
                    "true" => Tok::True,
                    "false" => Tok::False,
                    "null" => Tok::Null,
                    _ => return Err(self.invalid_token(s, p)),
                };
                self.pos = p;
                self.tok_end = p;
                Ok(())
            }
        }
    }

    fn lex_number(&mut self) -> SqlResult<()> {
        let b = self.b;
        let s = self.pos;
        let mut i = s;
        let mut bad = false;
        if b[i] == b'-' {
            i += 1;
        }
        let digits = |i: &mut usize| {
            let st = *i;
            while *i < b.len() && b[*i].is_ascii_digit() {
                *i += 1;
            }
            *i > st
        };
        if i < b.len() && b[i] == b'0' {
            i += 1;
        } else if i < b.len() && (b'1'..=b'9').contains(&b[i]) {
            digits(&mut i);
        } else {
            bad = true;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            if !digits(&mut i) {
                bad = true;
            }
        }
        if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
            i += 1;
            if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
                i += 1;
            }
            if !digits(&mut i) {
                bad = true;
            }
        }
        while i < b.len() && is_word_byte(b[i]) {
            bad = true;
            i += 1;
        }
        if bad {
            return Err(self.invalid_token(s, i));
        }
        self.tok = Tok::Number;
        self.pos = i;
        self.tok_end = i;
        Ok(())
    }

    fn hex4(&self, i: usize) -> Option<u32> {
        let h = self.b.get(i..i + 4)?;
        let mut v = 0u32;
        for &c in h {
            v = v * 16 + char::from(c).to_digit(16)?;
        }
        Some(v)
    }

    fn lex_string(&mut self) -> SqlResult<()> {
        let b = self.b;
        let s = self.pos;
        let mut i = s + 1;
        let mut out = String::new();
        let mut high: Option<u32> = None;
        let strict = self.strict == Strictness::Jsonb;
        let low_must_follow = || syntax("Unicode low surrogate must follow a high surrogate.");
        loop {
            if i >= b.len() {
                return Err(self.invalid_token(s, b.len()));
            }
            let c = b[i];
            if c == b'"' {
                i += 1;
                break;
            }
            if c < 0x20 {
                return Err(syntax(format!(
                    "Character with value 0x{c:02x} must be escaped."
                )));
            }
            if c != b'\\' {
                if high.is_some() && strict {
                    return Err(low_must_follow());
                }
                let e = self.char_end(i);
                out.push_str(&self.text[i..e]);
                i = e;
                continue;
            }
            // An escape.
            i += 1;
            if i >= b.len() {
                return Err(self.invalid_token(s, b.len()));
            }
            let e = b[i];
            if e == b'u' {
                let Some(code) = self.hex4(i + 1) else {
                    return Err(syntax(
                        "\"\\u\" must be followed by four hexadecimal digits.",
                    ));
                };
                i += 5;
                if !strict {
                    // `json` keeps the text; the value is decoded loosely for operators.
                    out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                    continue;
                }
                if (0xD800..0xDC00).contains(&code) {
                    if high.is_some() {
                        return Err(syntax(
                            "Unicode high surrogate must not follow a high surrogate.",
                        ));
                    }
                    high = Some(code);
                    continue;
                }
                if (0xDC00..0xE000).contains(&code) {
                    let Some(h) = high.take() else {
                        return Err(low_must_follow());
                    };
                    let full = 0x10000 + ((h - 0xD800) << 10) + (code - 0xDC00);
                    out.push(char::from_u32(full).unwrap_or('\u{fffd}'));
                    continue;
                }
                if high.is_some() {
                    return Err(low_must_follow());
                }
                if code == 0 {
                    return Err(SqlError::UnsupportedUnicodeEscape {
                        detail: "\\u0000 cannot be converted to text.".into(),
                    });
                }
                out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                continue;
            }
            if high.is_some() && strict {
                return Err(low_must_follow());
            }
            let ch = match e {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                _ => {
                    let end = self.char_end(i);
                    return Err(syntax(format!(
                        "Escape sequence \"\\{}\" is invalid.",
                        &self.text[i..end]
                    )));
                }
            };
            out.push(ch);
            i += 1;
        }
        if high.is_some() {
            return Err(low_must_follow());
        }
        self.tok = Tok::String;
        self.pos = i;
        self.tok_end = i;
        self.tok_string = out;
        Ok(())
    }

    fn expected(&self, what: &str) -> SqlError {
        if self.tok == Tok::End {
            return syntax("The input string ended unexpectedly.");
        }
        syntax(format!(
            "Expected {what}, but found \"{}\".",
            self.tok_text()
        ))
    }

    /// Reads a member key and its colon; leaves the first token of the value current.
    fn key(&mut self) -> SqlResult<String> {
        let key = std::mem::take(&mut self.tok_string);
        self.lex()?;
        if self.tok != Tok::Colon {
            return Err(self.expected("\":\""));
        }
        self.lex()?;
        Ok(key)
    }

    /// Parses a whole document. Iterative, with an explicit stack of open containers bounded
    /// by [`JSON_DEPTH_MAX`]: input cannot drive the reader's own recursion.
    fn document(&mut self) -> SqlResult<Node> {
        /// An open array or object: its start, members so far, and an object's pending key.
        enum Open {
            Array(usize, Vec<Node>),
            Object(usize, Vec<(String, Node)>, String),
        }
        let mut stack: Vec<Open> = Vec::new();
        self.lex()?;
        loop {
            // A value starts at the current token.
            let start = self.tok_start;
            let scalar = match self.tok {
                Tok::Null => Some(NodeKind::Null),
                Tok::True => Some(NodeKind::Bool(true)),
                Tok::False => Some(NodeKind::Bool(false)),
                Tok::Number => Some(NodeKind::Number),
                Tok::String => Some(NodeKind::String(std::mem::take(&mut self.tok_string))),
                Tok::ArrayStart | Tok::ObjectStart => None,
                _ => return Err(self.expected("JSON value")),
            };
            let mut node = match scalar {
                Some(kind) => {
                    let end = self.tok_end;
                    self.lex()?;
                    Node { kind, start, end }
                }
                None => {
                    if stack.len() >= JSON_DEPTH_MAX {
                        return Err(SqlError::StackDepthExceeded(format!(
                            "JSON value nested more than {JSON_DEPTH_MAX} levels deep"
                        )));
                    }
                    let array = self.tok == Tok::ArrayStart;
                    self.lex()?;
                    let close = if array { Tok::ArrayEnd } else { Tok::ObjectEnd };
                    if self.tok == close {
                        let end = self.tok_end;
                        self.lex()?;
                        let kind = if array {
                            NodeKind::Array(Vec::new())
                        } else {
                            NodeKind::Object(Vec::new())
                        };
                        Node { kind, start, end }
                    } else if array {
                        if self.tok == Tok::End {
                            return Err(self.expected("array element or \"]\""));
                        }
                        stack.push(Open::Array(start, Vec::new()));
                        continue;
                    } else {
                        if self.tok != Tok::String {
                            return Err(self.expected("string or \"}\""));
                        }
                        let key = self.key()?;
                        stack.push(Open::Object(start, Vec::new(), key));
                        continue;
                    }
                }
            };
            // A value is complete: add it to its container, closing containers that end.
            loop {
                match stack.last_mut() {
                    None => {
                        if self.tok != Tok::End {
                            return Err(self.expected("end of input"));
                        }
                        return Ok(node);
                    }
                    Some(Open::Array(_, items)) => {
                        items.push(node);
                        match self.tok {
                            Tok::Comma => {
                                self.lex()?;
                                break;
                            }
                            Tok::ArrayEnd => {}
                            _ => return Err(self.expected("\",\" or \"]\"")),
                        }
                    }
                    Some(Open::Object(_, members, key)) => {
                        members.push((std::mem::take(key), node));
                        match self.tok {
                            Tok::Comma => {
                                self.lex()?;
                                if self.tok != Tok::String {
                                    return Err(self.expected("string"));
                                }
                                *key = self.key()?;
                                break;
                            }
                            Tok::ObjectEnd => {}
                            _ => return Err(self.expected("\",\" or \"}\"")),
                        }
                    }
                }
                // The container's closing bracket is current.
                let end = self.tok_end;
                self.lex()?;
                node = match stack.pop() {
                    Some(Open::Array(start, items)) => Node {
                        kind: NodeKind::Array(items),
                        start,
                        end,
                    },
                    Some(Open::Object(start, members, _)) => Node {
                        kind: NodeKind::Object(members),
                        start,
                        end,
                    },
                    None => return Err(SqlError::Internal("json reader lost its stack".into())),
                };
            }
        }
    }
}

/// Parses `json` text (loose string rules, as `json` input checks them).
pub fn parse_json(text: &str) -> SqlResult<Node> {
    Parser::new(text, Strictness::Json).document()
}

/// Checks `json` input: the text is kept as it is once it is valid.
pub fn validate_json(text: &str) -> SqlResult<()> {
    parse_json(text).map(|_| ())
}

/// Parses `jsonb` input into its normalised form.
pub fn parse_jsonb(text: &str) -> SqlResult<Jsonb> {
    let n = Parser::new(text, Strictness::Jsonb).document()?;
    node_to_jsonb(&n, text)
}

/// Converts a parsed node (of `text`) to `jsonb`: numbers as numerics, keys de-duplicated
/// (the last wins) and sorted.
pub fn node_to_jsonb(n: &Node, text: &str) -> SqlResult<Jsonb> {
    // Containers recurse; the scalars' work sits in its own frame, keeping this one small.
    Ok(match &n.kind {
        NodeKind::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for i in items {
                out.push(node_to_jsonb(i, text)?);
            }
            Jsonb::Array(out)
        }
        NodeKind::Object(members) => {
            let mut out = Vec::with_capacity(members.len());
            for (k, v) in members {
                out.push((k.clone(), node_to_jsonb(v, text)?));
            }
            Jsonb::object(out)
        }
        _ => scalar_to_jsonb(n, text)?,
    })
}

#[inline(never)]
fn scalar_to_jsonb(n: &Node, text: &str) -> SqlResult<Jsonb> {
    Ok(match &n.kind {
        NodeKind::Null => Jsonb::Null,
        NodeKind::Bool(b) => Jsonb::Bool(*b),
        NodeKind::Number => Jsonb::Number(Numeric::parse(node_text(n, text))?),
        NodeKind::String(s) => {
            if s.contains('\0') {
                return Err(SqlError::UnsupportedUnicodeEscape {
                    detail: "\\u0000 cannot be converted to text.".into(),
                });
            }
            Jsonb::String(s.clone())
        }
        NodeKind::Array(_) | NodeKind::Object(_) => {
            return Err(SqlError::Internal("a container is not a scalar".into()));
        }
    })
}

/// The text of a node.
#[must_use]
pub fn node_text<'t>(n: &Node, text: &'t str) -> &'t str {
    text.get(n.start..n.end).unwrap_or("")
}

impl Jsonb {
    /// An object from members in any order: duplicates resolved (the last wins), sorted.
    #[must_use]
    pub fn object(mut members: Vec<(String, Jsonb)>) -> Jsonb {
        // A stable sort keeps duplicates in input order; the last of each run wins.
        members.sort_by(|a, b| key_order(&a.0, &b.0));
        let mut out: Vec<(String, Jsonb)> = Vec::with_capacity(members.len());
        for (k, v) in members {
            match out.last_mut() {
                Some(last) if last.0 == k => last.1 = v,
                _ => out.push((k, v)),
            }
        }
        Jsonb::Object(out)
    }

    /// The value's type as `jsonb_typeof` names it.
    #[must_use]
    pub fn type_name(&self) -> &'static str {
        match self {
            Jsonb::Null => "null",
            Jsonb::Bool(_) => "boolean",
            Jsonb::Number(_) => "number",
            Jsonb::String(_) => "string",
            Jsonb::Array(_) => "array",
            Jsonb::Object(_) => "object",
        }
    }

    fn is_scalar(&self) -> bool {
        !matches!(self, Jsonb::Array(_) | Jsonb::Object(_))
    }

    /// An object member by key.
    #[must_use]
    pub fn field(&self, key: &str) -> Option<&Jsonb> {
        match self {
            Jsonb::Object(m) => m
                .binary_search_by(|(k, _)| key_order(k, key))
                .ok()
                .map(|i| &m[i].1),
            _ => None,
        }
    }

    /// An array element by index, negative from the end. A top-level scalar answers index 0
    /// and -1 with itself, as PostgreSQL's one-element pseudo-array does.
    #[must_use]
    pub fn element(&self, i: i64) -> Option<&Jsonb> {
        match self {
            Jsonb::Array(items) => items.get(index_of(i, items.len())?),
            Jsonb::Object(_) => None,
            scalar => (i == 0 || i == -1).then_some(scalar),
        }
    }

    /// The value `->>` answers: a string's contents, NULL for a JSON null, else the text form.
    #[must_use]
    pub fn to_text_value(&self) -> Value {
        match self {
            Jsonb::Null => Value::Null,
            Jsonb::String(s) => Value::Text(s.clone()),
            other => Value::Text(other.to_string()),
        }
    }
}

/// An index into `len` elements, negative counting from the end.
fn index_of(i: i64, len: usize) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let i = if i < 0 { len + i } else { i };
    if (0..len).contains(&i) {
        usize::try_from(i).ok()
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/// Appends `s` as a JSON string, escaped as PostgreSQL escapes it.
pub fn escape_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl fmt::Display for Jsonb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        write_jsonb(&mut out, self);
        f.write_str(&out)
    }
}

fn write_jsonb(out: &mut String, j: &Jsonb) {
    match j {
        Jsonb::Null => out.push_str("null"),
        Jsonb::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Jsonb::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Jsonb::String(s) => escape_string(out, s),
        Jsonb::Array(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_jsonb(out, x);
            }
            out.push(']');
        }
        Jsonb::Object(members) => {
            out.push('{');
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                escape_string(out, k);
                out.push_str(": ");
                write_jsonb(out, v);
            }
            out.push('}');
        }
    }
}

/// `jsonb_pretty`: four spaces an indent level, an empty container's brackets on two lines.
#[must_use]
pub fn pretty(j: &Jsonb) -> String {
    let mut out = String::new();
    write_pretty(&mut out, j, 0);
    out
}

fn write_pretty(out: &mut String, j: &Jsonb, level: usize) {
    let indent = |out: &mut String, n: usize| out.extend(std::iter::repeat_n("    ", n));
    match j {
        Jsonb::Array(items) => {
            out.push_str("[\n");
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                indent(out, level + 1);
                write_pretty(out, x, level + 1);
            }
            if !items.is_empty() {
                out.push('\n');
            }
            indent(out, level);
            out.push(']');
        }
        Jsonb::Object(members) => {
            out.push_str("{\n");
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                indent(out, level + 1);
                escape_string(out, k);
                out.push_str(": ");
                write_pretty(out, v, level + 1);
            }
            if !members.is_empty() {
                out.push('\n');
            }
            indent(out, level);
            out.push('}');
        }
        scalar => write_jsonb(out, scalar),
    }
}

// ---------------------------------------------------------------------------------------------
// Ordering and keys
// ---------------------------------------------------------------------------------------------

/// The rank of a value's kind in PostgreSQL's order.
fn kind_rank(j: &Jsonb) -> u8 {
    match j {
        Jsonb::Null => 0,
        Jsonb::String(_) => 1,
        Jsonb::Number(_) => 2,
        Jsonb::Bool(_) => 3,
        Jsonb::Array(_) => 4,
        Jsonb::Object(_) => 5,
    }
}

/// The top-level class of a value: the empty array, scalars, non-empty arrays, objects.
fn top_class(j: &Jsonb) -> u8 {
    match j {
        Jsonb::Array(items) if items.is_empty() => 0,
        Jsonb::Array(_) => 2,
        Jsonb::Object(_) => 3,
        _ => 1,
    }
}

/// `jsonb`'s btree order (see the module comment).
#[must_use]
pub fn compare(a: &Jsonb, b: &Jsonb) -> Ordering {
    top_class(a)
        .cmp(&top_class(b))
        .then_with(|| compare_nested(a, b))
}

fn compare_nested(a: &Jsonb, b: &Jsonb) -> Ordering {
    match (a, b) {
        (Jsonb::Null, Jsonb::Null) => Ordering::Equal,
        (Jsonb::String(x), Jsonb::String(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Jsonb::Number(x), Jsonb::Number(y)) => x.total_cmp(y),
        (Jsonb::Bool(x), Jsonb::Bool(y)) => x.cmp(y),
        (Jsonb::Array(x), Jsonb::Array(y)) => x.len().cmp(&y.len()).then_with(|| {
            x.iter()
                .zip(y)
                .map(|(p, q)| compare_nested(p, q))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        }),
        (Jsonb::Object(x), Jsonb::Object(y)) => x.len().cmp(&y.len()).then_with(|| {
            x.iter()
                .zip(y)
                .map(|((kp, vp), (kq, vq))| {
                    kp.as_bytes()
                        .cmp(kq.as_bytes())
                        .then_with(|| compare_nested(vp, vq))
                })
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        }),
        _ => kind_rank(a).cmp(&kind_rank(b)),
    }
}

/// Appends the memcomparable key of a `jsonb` value: byte order is [`compare`]'s order, and
/// equal values (`1.0` and `1`) have equal keys. See docs/formats.md.
pub fn encode_key(j: &Jsonb, out: &mut Vec<u8>) {
    out.push(top_class(j) + 1);
    encode_key_nested(j, out);
}

fn encode_key_nested(j: &Jsonb, out: &mut Vec<u8>) {
    out.push(0x10 + kind_rank(j));
    match j {
        Jsonb::Null => {}
        Jsonb::Bool(b) => out.push(u8::from(*b)),
        Jsonb::Number(n) => n.encode_key(out),
        Jsonb::String(s) => encode_key_string(s, out),
        Jsonb::Array(items) => {
            out.extend_from_slice(&u32::try_from(items.len()).unwrap_or(u32::MAX).to_be_bytes());
            for x in items {
                encode_key_nested(x, out);
            }
        }
        Jsonb::Object(members) => {
            out.extend_from_slice(
                &u32::try_from(members.len())
                    .unwrap_or(u32::MAX)
                    .to_be_bytes(),
            );
            for (k, v) in members {
                encode_key_string(k, out);
                encode_key_nested(v, out);
            }
        }
    }
}

/// A string's bytes with 0x00 escaped as 0x00 0xFF, ended by 0x00 0x00 (prefix-free).
fn encode_key_string(s: &str, out: &mut Vec<u8>) {
    for &b in s.as_bytes() {
        out.push(b);
        if b == 0 {
            out.push(0xff);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

// ---------------------------------------------------------------------------------------------
// Stored form
// ---------------------------------------------------------------------------------------------

/// Appends a value's stored form (inside a row; see docs/formats.md): a tag byte a node
/// (0 null, 1 false, 2 true, 3 number, 4 string, 5 array, 6 object), numbers in numeric's
/// stored form, strings and keys length-prefixed, containers a `u32` member count first.
pub fn encode(j: &Jsonb, out: &mut Vec<u8>) {
    use borealis_common::codec::Put;
    match j {
        Jsonb::Null => out.put_u8(0),
        Jsonb::Bool(b) => out.put_u8(1 + u8::from(*b)),
        Jsonb::Number(n) => {
            out.put_u8(3);
            n.encode(out);
        }
        Jsonb::String(s) => {
            out.put_u8(4);
            out.put_str(s);
        }
        Jsonb::Array(items) => {
            out.put_u8(5);
            out.put_u32(u32::try_from(items.len()).unwrap_or(u32::MAX));
            for x in items {
                encode(x, out);
            }
        }
        Jsonb::Object(members) => {
            out.put_u8(6);
            out.put_u32(u32::try_from(members.len()).unwrap_or(u32::MAX));
            for (k, v) in members {
                out.put_str(k);
                encode(v, out);
            }
        }
    }
}

/// Reads a stored value, checking what the bytes claim: the depth bound, member counts
/// against the bytes left, and that object keys are unique and in storage order.
pub fn decode(
    r: &mut borealis_common::codec::Reader<'_>,
    depth: usize,
) -> borealis_common::codec::DecodeResult<Jsonb> {
    use borealis_common::codec::DecodeError;
    if depth > JSON_DEPTH_MAX {
        return Err(DecodeError("jsonb nested too deeply".into()));
    }
    let tag = r.u8()?;
    if !matches!(tag, 5 | 6) {
        return decode_scalar(r, tag);
    }
    // Every member takes at least one byte: a count beyond the bytes left is corrupt.
    let n = r.count(u32::try_from(r.remaining()).unwrap_or(u32::MAX))?;
    if tag == 5 {
        let mut items = Vec::with_capacity(n as usize);
        for _ in 0..n {
            items.push(decode(r, depth + 1)?);
        }
        return Ok(Jsonb::Array(items));
    }
    let mut members: Vec<(String, Jsonb)> = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let k = decode_key(r, members.last().map(|m| m.0.as_str()))?;
        let v = decode(r, depth + 1)?;
        members.push((k, v));
    }
    Ok(Jsonb::Object(members))
}

#[inline(never)]
fn decode_scalar(
    r: &mut borealis_common::codec::Reader<'_>,
    tag: u8,
) -> borealis_common::codec::DecodeResult<Jsonb> {
    Ok(match tag {
        0 => Jsonb::Null,
        1 => Jsonb::Bool(false),
        2 => Jsonb::Bool(true),
        3 => Jsonb::Number(Numeric::decode(r)?),
        4 => Jsonb::String(r.string(u32::MAX)?),
        t => {
            return Err(borealis_common::codec::DecodeError(format!(
                "unknown jsonb tag {t}"
            )));
        }
    })
}

/// An object key, which must sort after the one before it.
#[inline(never)]
fn decode_key(
    r: &mut borealis_common::codec::Reader<'_>,
    previous: Option<&str>,
) -> borealis_common::codec::DecodeResult<String> {
    let k = r.string(u32::MAX)?;
    if previous.is_some_and(|p| key_order(p, &k) != Ordering::Less) {
        return Err(borealis_common::codec::DecodeError(
            "jsonb object keys out of order".into(),
        ));
    }
    Ok(k)
}

// ---------------------------------------------------------------------------------------------
// Operators
// ---------------------------------------------------------------------------------------------

/// `a @> b`.
#[must_use]
pub fn contains(a: &Jsonb, b: &Jsonb) -> bool {
    match (a, b) {
        // A top-level array contains a bare scalar among its elements.
        (Jsonb::Array(items), s) if s.is_scalar() => items.iter().any(|x| scalar_eq(x, s)),
        (s, Jsonb::Array(_)) if s.is_scalar() => false,
        _ if a.is_scalar() && b.is_scalar() => scalar_eq(a, b),
        _ => deep_contains(a, b),
    }
}

fn scalar_eq(a: &Jsonb, b: &Jsonb) -> bool {
    a.is_scalar() && b.is_scalar() && compare_nested(a, b) == Ordering::Equal
}

fn deep_contains(a: &Jsonb, b: &Jsonb) -> bool {
    match (a, b) {
        (Jsonb::Object(_), Jsonb::Object(want)) => want.iter().all(|(k, wv)| match a.field(k) {
            None => false,
            Some(have) if wv.is_scalar() => scalar_eq(have, wv),
            Some(have) => {
                std::mem::discriminant(have) == std::mem::discriminant(wv)
                    && deep_contains(have, wv)
            }
        }),
        (Jsonb::Array(have), Jsonb::Array(want)) => want.iter().all(|w| {
            if w.is_scalar() {
                have.iter().any(|h| scalar_eq(h, w))
            } else {
                have.iter().any(|h| {
                    std::mem::discriminant(h) == std::mem::discriminant(w) && deep_contains(h, w)
                })
            }
        }),
        _ => false,
    }
}

/// `j ? key`: a top-level key, or a string element of a top-level array (or the string
/// itself).
#[must_use]
pub fn exists(j: &Jsonb, key: &str) -> bool {
    match j {
        Jsonb::Object(_) => j.field(key).is_some(),
        Jsonb::Array(items) => items
            .iter()
            .any(|x| matches!(x, Jsonb::String(s) if s == key)),
        Jsonb::String(s) => s == key,
        _ => false,
    }
}

/// `a || b`: objects merge (the right side wins), anything else concatenates as arrays.
#[must_use]
pub fn concat(a: Jsonb, b: Jsonb) -> Jsonb {
    match (a, b) {
        (Jsonb::Object(mut x), Jsonb::Object(y)) => {
            x.extend(y);
            Jsonb::object(x)
        }
        (a, b) => {
            let as_items = |j: Jsonb| match j {
                Jsonb::Array(items) => items,
                other => vec![other],
            };
            let mut items = as_items(a);
            items.extend(as_items(b));
            Jsonb::Array(items)
        }
    }
}

/// `j - key`: an object without the key, an array without string elements equal to it.
pub fn delete_key(j: Jsonb, key: &str) -> SqlResult<Jsonb> {
    match j {
        Jsonb::Object(m) => Ok(Jsonb::Object(
            m.into_iter().filter(|(k, _)| k != key).collect(),
        )),
        Jsonb::Array(items) => Ok(Jsonb::Array(
            items
                .into_iter()
                .filter(|x| !matches!(x, Jsonb::String(s) if s == key))
                .collect(),
        )),
        _ => Err(SqlError::InvalidParameterValue(
            "cannot delete from scalar".into(),
        )),
    }
}

/// `j - index`.
pub fn delete_index(j: Jsonb, i: i64) -> SqlResult<Jsonb> {
    match j {
        Jsonb::Array(mut items) => {
            if let Some(at) = index_of(i, items.len()) {
                items.remove(at);
            }
            Ok(Jsonb::Array(items))
        }
        Jsonb::Object(_) => Err(SqlError::InvalidParameterValue(
            "cannot delete from object using integer index".into(),
        )),
        _ => Err(SqlError::InvalidParameterValue(
            "cannot delete from scalar".into(),
        )),
    }
}

/// The text array of a path (`'{a,0,b}'`), NULL elements kept as `None`.
pub fn path_of(v: &Value) -> SqlResult<Vec<Option<String>>> {
    let items = crate::array::element_texts(v)?;
    if items.len() > JSON_PATH_ELEMENTS_MAX {
        return Err(SqlError::ProgramLimitExceeded(format!(
            "JSON path longer than {JSON_PATH_ELEMENTS_MAX} elements"
        )));
    }
    Ok(items)
}

/// `j #> path`: the value at a path; array steps must read as integers.
#[must_use]
pub fn get_path<'j>(j: &'j Jsonb, path: &[Option<String>]) -> Option<&'j Jsonb> {
    let mut cur = j;
    for step in path {
        let step = step.as_deref()?;
        cur = match cur {
            Jsonb::Object(_) => cur.field(step)?,
            Jsonb::Array(_) => cur.element(step.trim().parse().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// `jsonb_set(target, path, value, create_missing)`.
pub fn set_path(
    target: Jsonb,
    path: &[Option<String>],
    value: Jsonb,
    create: bool,
) -> SqlResult<Jsonb> {
    if target.is_scalar() {
        return Err(SqlError::InvalidParameterValue(
            "cannot set path in scalar".into(),
        ));
    }
    if path.is_empty() {
        return Ok(target);
    }
    set_at(target, path, 0, value, create)
}

fn set_at(
    cur: Jsonb,
    path: &[Option<String>],
    level: usize,
    value: Jsonb,
    create: bool,
) -> SqlResult<Jsonb> {
    let Some(step) = path.get(level) else {
        return Ok(value);
    };
    let last = level + 1 == path.len();
    let Some(step) = step.as_deref() else {
        return Err(SqlError::NullValueNotAllowed(format!(
            "path element at position {} is null",
            level + 1
        )));
    };
    match cur {
        Jsonb::Object(mut members) => {
            match members.iter().position(|(k, _)| k == step) {
                Some(i) => {
                    let old = std::mem::replace(&mut members[i].1, Jsonb::Null);
                    members[i].1 = set_at(old, path, level + 1, value, create)?;
                }
                None if last && create => members.push((step.to_string(), value)),
                None => {}
            }
            Ok(Jsonb::object(members))
        }
        Jsonb::Array(mut items) => {
            let Ok(i) = step.trim().parse::<i64>() else {
                return Err(SqlError::InvalidInput(format!(
                    "path element at position {} is not an integer: \"{step}\"",
                    level + 1
                )));
            };
            match index_of(i, items.len()) {
                Some(at) => {
                    let old = std::mem::replace(&mut items[at], Jsonb::Null);
                    items[at] = set_at(old, path, level + 1, value, create)?;
                }
                None if last && create => {
                    if i < 0 {
                        items.insert(0, value);
                    } else {
                        items.push(value);
                    }
                }
                None => {}
            }
            Ok(Jsonb::Array(items))
        }
        scalar => Ok(scalar),
    }
}

/// `jsonb_strip_nulls`: object members whose value is null removed, at every level.
#[must_use]
pub fn strip_nulls(j: Jsonb) -> Jsonb {
    match j {
        Jsonb::Object(m) => {
            let mut out = Vec::with_capacity(m.len());
            for (k, v) in m {
                if !matches!(v, Jsonb::Null) {
                    out.push((k, strip_nulls(v)));
                }
            }
            Jsonb::Object(out)
        }
        Jsonb::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for x in items {
                out.push(strip_nulls(x));
            }
            Jsonb::Array(out)
        }
        other => other,
    }
}

// ---------------------------------------------------------------------------------------------
// json (text) operators
// ---------------------------------------------------------------------------------------------

/// `json -> key` (the last member with that key, as PostgreSQL answers).
fn node_field<'n>(n: &'n Node, key: &str) -> Option<&'n Node> {
    match &n.kind {
        NodeKind::Object(m) => m.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
        _ => None,
    }
}

fn node_element(n: &Node, i: i64) -> Option<&Node> {
    match &n.kind {
        NodeKind::Array(items) => items.get(index_of(i, items.len())?),
        _ => None,
    }
}

/// What `->>` answers for a `json` node.
fn node_text_value(n: &Node, text: &str) -> Value {
    match &n.kind {
        NodeKind::Null => Value::Null,
        NodeKind::String(s) => Value::Text(s.clone()),
        _ => Value::Text(node_text(n, text).to_string()),
    }
}

fn node_type_name(n: &Node) -> &'static str {
    match &n.kind {
        NodeKind::Null => "null",
        NodeKind::Bool(_) => "boolean",
        NodeKind::Number => "number",
        NodeKind::String(_) => "string",
        NodeKind::Array(_) => "array",
        NodeKind::Object(_) => "object",
    }
}

// ---------------------------------------------------------------------------------------------
// Conversions from SQL values
// ---------------------------------------------------------------------------------------------

/// `to_jsonb(v)`: numbers as numbers (non-finite ones as strings), booleans, text as strings,
/// date/time values in ISO 8601 form, json as parsed.
pub fn to_jsonb(v: &Value) -> SqlResult<Jsonb> {
    Ok(match v {
        Value::Null => Jsonb::Null,
        Value::Bool(b) => Jsonb::Bool(*b),
        Value::Int(i) => Jsonb::Number(Numeric::from_i64(*i)),
        Value::Numeric(n) if matches!(n, Numeric::Finite(_)) => Jsonb::Number(n.clone()),
        Value::Float(f) if f.is_finite() => {
            Jsonb::Number(Numeric::parse(&crate::types::format_float8(*f))?)
        }
        Value::Float4(f) if f.is_finite() => {
            Jsonb::Number(Numeric::parse(&crate::types::format_float4(*f))?)
        }
        Value::Json(s) => parse_jsonb(s)?,
        Value::Jsonb(j) => j.clone(),
        // An array is a JSON array of its elements.
        Value::Array(items) => Jsonb::Array(items.iter().map(to_jsonb).collect::<SqlResult<_>>()?),
        // A record is an object of its columns (a repeated name keeps its last value).
        Value::Record(r) => Jsonb::object(
            r.pairs()
                .map(|(k, v)| Ok((k.to_string(), to_jsonb(v)?)))
                .collect::<SqlResult<Vec<_>>>()?,
        ),
        other => Jsonb::String(iso_text(other)),
    })
}

/// A value's text as JSON carries it: timestamps with a `T` and a full zone offset.
fn iso_text(v: &Value) -> String {
    let t = v.to_text().unwrap_or_default();
    match v {
        Value::Timestamp(_) if !t.contains("infinity") => t.replacen(' ', "T", 1),
        Value::TimestampTz(_) if !t.contains("infinity") => {
            let t = t.replacen(' ', "T", 1);
            // The zone offset as +hh:mm.
            match t.rfind(['+', '-']) {
                Some(at) if at > 10 && t.len() - at == 3 => format!("{t}:00"),
                _ => t,
            }
        }
        _ => t,
    }
}

/// `to_json(v)`: the value's `json` text.
pub fn to_json_text(v: &Value) -> SqlResult<String> {
    Ok(match v {
        Value::Json(s) => s.clone(),
        Value::Jsonb(j) => j.to_string(),
        // json keeps a float's own text (`1e+20`); jsonb reads it as a numeric.
        Value::Float(f) if f.is_finite() => crate::types::format_float8(*f),
        Value::Float4(f) if f.is_finite() => crate::types::format_float4(*f),
        Value::Record(r) => crate::record::to_json_text(r, false)?,
        Value::Array(items) => {
            let mut out = String::from("[");
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&to_json_text(v)?);
            }
            out.push(']');
            out
        }
        other => to_jsonb(other)?.to_string(),
    })
}

/// Reads a SQL value as `jsonb` (an argument of a jsonb operator or function).
pub fn as_jsonb(v: Value) -> SqlResult<Jsonb> {
    match v {
        Value::Jsonb(j) => Ok(j),
        Value::Json(s) | Value::Text(s) => parse_jsonb(&s),
        other => to_jsonb(&other),
    }
}

/// Casts a `jsonb` value to a SQL scalar type, as PostgreSQL 15's `jsonb::numeric` and
/// friends do: only a JSON number (or boolean, for `bool`) converts.
pub fn cast_jsonb(j: &Jsonb, ty: crate::types::DataType) -> SqlResult<Value> {
    use crate::types::DataType as T;
    let refuse = || {
        SqlError::InvalidParameterValue(format!(
            "cannot cast jsonb {} to type {}",
            j.type_name(),
            ty.name()
        ))
    };
    match (j, ty) {
        (Jsonb::Bool(b), T::Bool) => Ok(Value::Bool(*b)),
        (Jsonb::Number(n), T::Numeric | T::Int2 | T::Int4 | T::Int8 | T::Float4 | T::Float8) => {
            Value::Numeric(n.clone()).cast(ty)
        }
        _ => Err(refuse()),
    }
}

// ---------------------------------------------------------------------------------------------
// Functions
// ---------------------------------------------------------------------------------------------

/// The SQL type of an internal json function's result (`js_*` names, see `expr.rs`).
#[must_use]
pub fn function_type(name: &str) -> Option<crate::types::DataType> {
    use crate::types::DataType as T;
    Some(match name {
        "js_get_jsonb" | "js_path_jsonb" | "js_concat" | "js_delete" | "js_delete_keys"
        | "js_to_jsonb" | "js_build_object_b" | "js_build_array_b" | "js_set"
        | "js_strip_nulls" | "js_agg_item_b" | "js_agg_pair_b" => T::Jsonb,
        "js_get_json" | "js_path_json" | "js_to_json" | "js_row_to_json" | "js_build_object"
        | "js_build_array" | "js_agg_item" | "js_agg_pair" => T::Json,
        "js_contains" | "js_contained" | "js_exists" | "js_exists_any" | "js_exists_all" => T::Bool,
        "js_array_length" | "js_array_length_json" => T::Int4,
        _ => T::Text,
    })
}

/// Evaluates an internal json function (`js_*`); `None` when `name` is not one.
pub fn eval_function(name: &str, vals: &[Value]) -> SqlResult<Option<Value>> {
    if !name.starts_with("js_") {
        return Ok(None);
    }
    // Functions that see NULL arguments.
    match name {
        // json_agg writes a line break before an array or a record that is not its first item;
        // the item carries it and `finish_aggregate` drops the first item's.
        "js_agg_item" => {
            let text = to_json_text(&vals[0])?;
            return Ok(Some(Value::Json(
                if matches!(vals[0], Value::Array(_) | Value::Record(_)) {
                    format!("{AGG_ITEM_BREAK}{text}")
                } else {
                    text
                },
            )));
        }
        "js_agg_item_b" => return Ok(Some(Value::Jsonb(to_jsonb(&vals[0])?))),
        "js_build_object" | "js_build_object_b" | "js_agg_pair" | "js_agg_pair_b" => {
            return build_object(name, vals).map(Some);
        }
        "js_build_array" => {
            let mut out = String::from("[");
            for (i, v) in vals.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&to_json_text(v)?);
            }
            out.push(']');
            return Ok(Some(Value::Json(out)));
        }
        "js_build_array_b" => {
            return Ok(Some(Value::Jsonb(Jsonb::Array(
                vals.iter().map(to_jsonb).collect::<SqlResult<_>>()?,
            ))));
        }
        "js_path_array" | "js_text_array" => {
            return Ok(Some(Value::Text(crate::expr::format_array(
                vals.iter().cloned(),
            ))));
        }
        _ => {}
    }
    if vals.iter().any(Value::is_null) {
        return Ok(Some(Value::Null));
    }
    let text_of = |v: &Value| v.to_text().unwrap_or_default();
    Ok(Some(match name {
        "js_to_json" => Value::Json(to_json_text(&vals[0])?),
        "js_row_to_json" => match &vals[0] {
            Value::Record(r) => Value::Json(crate::record::to_json_text(
                r,
                vals.get(1) == Some(&Value::Bool(true)),
            )?),
            other => Value::Json(to_json_text(other)?),
        },
        "js_to_jsonb" => Value::Jsonb(to_jsonb(&vals[0])?),
        // json (text) access: ->, ->>, #>, #>>, typeof, array length.
        "js_get_json" | "js_get_json_text" | "js_path_json" | "js_path_json_text" => {
            let src = text_of(&vals[0]);
            let root = parse_json(&src)?;
            let found = match name {
                "js_get_json" | "js_get_json_text" => match &vals[1] {
                    Value::Int(i) => node_element(&root, *i),
                    k => node_field(&root, &text_of(k)),
                },
                _ => {
                    let mut cur = Some(&root);
                    for step in path_of(&vals[1])? {
                        cur = match (cur, step) {
                            (
                                Some(
                                    n @ Node {
                                        kind: NodeKind::Object(_),
                                        ..
                                    },
                                ),
                                Some(s),
                            ) => node_field(n, &s),
                            (
                                Some(
                                    n @ Node {
                                        kind: NodeKind::Array(_),
                                        ..
                                    },
                                ),
                                Some(s),
                            ) => s.trim().parse().ok().and_then(|i| node_element(n, i)),
                            _ => None,
                        };
                    }
                    cur
                }
            };
            match found {
                None => Value::Null,
                Some(n) if name.ends_with("_text") => node_text_value(n, &src),
                Some(n) => Value::Json(node_text(n, &src).to_string()),
            }
        }
        "js_typeof" => Value::Text(node_type_name(&parse_json(&text_of(&vals[0]))?).into()),
        "js_array_length_json" => match parse_json(&text_of(&vals[0]))?.kind {
            NodeKind::Array(items) => Value::Int(items.len() as i64),
            NodeKind::Object(_) => {
                return Err(SqlError::InvalidParameterValue(
                    "cannot get array length of a non-array".into(),
                ));
            }
            _ => {
                return Err(SqlError::InvalidParameterValue(
                    "cannot get array length of a scalar".into(),
                ));
            }
        },
        // jsonb.
        "js_get_jsonb" | "js_get_jsonb_text" => {
            let j = as_jsonb(vals[0].clone())?;
            let found = match &vals[1] {
                Value::Int(i) => j.element(*i),
                k => j.field(&text_of(k)),
            };
            match found {
                None => Value::Null,
                Some(x) if name.ends_with("_text") => x.to_text_value(),
                Some(x) => Value::Jsonb(x.clone()),
            }
        }
        "js_path_jsonb" | "js_path_jsonb_text" => {
            let j = as_jsonb(vals[0].clone())?;
            match get_path(&j, &path_of(&vals[1])?) {
                None => Value::Null,
                Some(x) if name.ends_with("_text") => x.to_text_value(),
                Some(x) => Value::Jsonb(x.clone()),
            }
        }
        "js_contains" => Value::Bool(contains(
            &as_jsonb(vals[0].clone())?,
            &as_jsonb(vals[1].clone())?,
        )),
        "js_contained" => Value::Bool(contains(
            &as_jsonb(vals[1].clone())?,
            &as_jsonb(vals[0].clone())?,
        )),
        "js_exists" => Value::Bool(exists(&as_jsonb(vals[0].clone())?, &text_of(&vals[1]))),
        "js_exists_any" | "js_exists_all" => {
            let j = as_jsonb(vals[0].clone())?;
            let keys = crate::array::element_texts(&vals[1])?;
            let mut hits = keys.iter().flatten().map(|k| exists(&j, k));
            Value::Bool(if name == "js_exists_any" {
                hits.any(|h| h)
            } else {
                hits.all(|h| h)
            })
        }
        "js_concat" => Value::Jsonb(concat(
            as_jsonb(vals[0].clone())?,
            as_jsonb(vals[1].clone())?,
        )),
        "js_delete" => {
            let j = as_jsonb(vals[0].clone())?;
            Value::Jsonb(match &vals[1] {
                Value::Int(i) => delete_index(j, *i)?,
                k => delete_key(j, &text_of(k))?,
            })
        }
        "js_delete_keys" => {
            let mut j = as_jsonb(vals[0].clone())?;
            for k in crate::array::element_texts(&vals[1])?.into_iter().flatten() {
                j = delete_key(j, &k)?;
            }
            Value::Jsonb(j)
        }
        "js_typeof_b" => Value::Text(as_jsonb(vals[0].clone())?.type_name().into()),
        "js_array_length" => match as_jsonb(vals[0].clone())? {
            Jsonb::Array(items) => Value::Int(items.len() as i64),
            Jsonb::Object(_) => {
                return Err(SqlError::InvalidParameterValue(
                    "cannot get array length of a non-array".into(),
                ));
            }
            _ => {
                return Err(SqlError::InvalidParameterValue(
                    "cannot get array length of a scalar".into(),
                ));
            }
        },
        "js_set" => {
            let create = !matches!(vals.get(3), Some(Value::Bool(false)));
            Value::Jsonb(set_path(
                as_jsonb(vals[0].clone())?,
                &path_of(&vals[1])?,
                as_jsonb(vals[2].clone())?,
                create,
            )?)
        }
        "js_pretty" => Value::Text(pretty(&as_jsonb(vals[0].clone())?)),
        "js_strip_nulls" => Value::Jsonb(strip_nulls(as_jsonb(vals[0].clone())?)),
        other => {
            return Err(SqlError::UndefinedFunction(format!("{other}()")));
        }
    }))
}

/// `json_build_object` / `jsonb_build_object` and the pairs the object aggregates collect.
fn build_object(name: &str, vals: &[Value]) -> SqlResult<Value> {
    let agg = name.starts_with("js_agg_pair");
    let binary = name.ends_with("_b");
    let mut pairs = Vec::with_capacity(vals.len() / 2);
    for (i, kv) in vals.chunks(2).enumerate() {
        let key = match kv[0].to_text() {
            Some(k) if !matches!(kv[0], Value::Json(_) | Value::Jsonb(_)) => k,
            Some(_) => {
                return Err(SqlError::InvalidParameterValue(
                    "key value must be scalar, not array, composite, or json".into(),
                ));
            }
            None if agg => {
                return Err(SqlError::InvalidParameterValue(
                    "field name must not be null".into(),
                ));
            }
            None => {
                return Err(SqlError::InvalidParameterValue(format!(
                    "argument {}: key must not be null",
                    2 * i + 1
                )));
            }
        };
        pairs.push((key, kv.get(1).cloned().unwrap_or(Value::Null)));
    }
    if binary {
        let members = pairs
            .into_iter()
            .map(|(k, v)| Ok((k, to_jsonb(&v)?)))
            .collect::<SqlResult<Vec<_>>>()?;
        return Ok(Value::Jsonb(if agg {
            Jsonb::Array(
                members
                    .into_iter()
                    .flat_map(|(k, v)| [Jsonb::String(k), v])
                    .collect(),
            )
        } else {
            Jsonb::object(members)
        }));
    }
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        escape_string(&mut out, k);
        out.push_str(" : ");
        out.push_str(&to_json_text(v)?);
    }
    Ok(Value::Json(if agg { out } else { format!("{{{out}}}") }))
}

/// What `json_agg` writes before a structured item (an array or a record) after its first.
const AGG_ITEM_BREAK: &str = "\n ";

/// The result of a json aggregate over its collected items (each made by `js_agg_*`).
/// `distinct`: the inputs were de-duplicated, and (as PostgreSQL sorts them to do that) a
/// `jsonb_agg` lists them in jsonb order.
pub fn finish_aggregate(
    func: crate::expr::AggFunc,
    items: &[Value],
    distinct: bool,
) -> SqlResult<Value> {
    use crate::expr::AggFunc as A;
    let texts = || {
        items
            .iter()
            .map(|v| v.to_text().unwrap_or_default())
            .collect::<Vec<_>>()
            .join(", ")
    };
    Ok(match func {
        A::JsonAgg => {
            let t = texts();
            Value::Json(format!(
                "[{}]",
                t.strip_prefix(AGG_ITEM_BREAK).unwrap_or(&t)
            ))
        }
        A::JsonObjectAgg => Value::Json(format!("{{ {} }}", texts())),
        A::JsonbAgg => {
            let mut out = items
                .iter()
                .map(|v| as_jsonb(v.clone()))
                .collect::<SqlResult<Vec<_>>>()?;
            if distinct {
                out.sort_by(compare);
            }
            Value::Jsonb(Jsonb::Array(out))
        }
        _ => {
            let mut members = Vec::with_capacity(items.len());
            for v in items {
                if let Value::Jsonb(Jsonb::Array(kv)) = v
                    && let [Jsonb::String(k), val] = kv.as_slice()
                {
                    members.push((k.clone(), val.clone()));
                }
            }
            Value::Jsonb(Jsonb::object(members))
        }
    })
}

/// The rows of a json set-returning function in FROM: `jsonb_array_elements`,
/// `jsonb_array_elements_text`, `jsonb_each`, `jsonb_each_text`, `jsonb_object_keys` (and
/// their `json_` forms, which answer `jsonb` values normalised).
pub fn set_rows(name: &str, v: Value) -> SqlResult<Vec<Vec<Value>>> {
    if v.is_null() {
        return Ok(Vec::new());
    }
    let binary = name.starts_with("jsonb_");
    if !binary {
        return json_set_rows(name, &v.to_text().unwrap_or_default());
    }
    let j = as_jsonb(v)?;
    let wrap = |x: &Jsonb, text: bool| -> Value {
        if text {
            x.to_text_value()
        } else if binary {
            Value::Jsonb(x.clone())
        } else {
            Value::Json(x.to_string())
        }
    };
    let base = name
        .trim_start_matches("jsonb_")
        .trim_start_matches("json_");
    match (base, &j) {
        ("array_elements" | "array_elements_text", Jsonb::Array(items)) => Ok(items
            .iter()
            .map(|x| vec![wrap(x, base.ends_with("_text"))])
            .collect()),
        ("array_elements" | "array_elements_text", Jsonb::Object(_)) => Err(
            SqlError::InvalidParameterValue("cannot extract elements from an object".into()),
        ),
        ("array_elements" | "array_elements_text", _) => Err(SqlError::InvalidParameterValue(
            "cannot extract elements from a scalar".into(),
        )),
        ("each" | "each_text", Jsonb::Object(m)) => Ok(m
            .iter()
            .map(|(k, x)| vec![Value::Text(k.clone()), wrap(x, base.ends_with("_text"))])
            .collect()),
        ("each" | "each_text", _) => Err(SqlError::InvalidParameterValue(format!(
            "cannot call {name} on a non-object"
        ))),
        ("object_keys", Jsonb::Object(m)) => Ok(m
            .iter()
            .map(|(k, _)| vec![Value::Text(k.clone())])
            .collect()),
        ("object_keys", Jsonb::Array(_)) => Err(SqlError::InvalidParameterValue(format!(
            "cannot call {name} on an array"
        ))),
        ("object_keys", _) => Err(SqlError::InvalidParameterValue(format!(
            "cannot call {name} on a scalar"
        ))),
        _ => Err(SqlError::UndefinedFunction(format!("{name} in FROM"))),
    }
}

/// [`set_rows`] over `json` text: values keep their text, objects their duplicate keys.
fn json_set_rows(name: &str, text: &str) -> SqlResult<Vec<Vec<Value>>> {
    let root = parse_json(text)?;
    let value = |n: &Node, as_text: bool| {
        if as_text {
            node_text_value(n, text)
        } else {
            Value::Json(node_text(n, text).to_string())
        }
    };
    let base = name.trim_start_matches("json_");
    let as_text = base.ends_with("_text");
    match (base, &root.kind) {
        ("array_elements" | "array_elements_text", NodeKind::Array(items)) => {
            Ok(items.iter().map(|x| vec![value(x, as_text)]).collect())
        }
        ("array_elements" | "array_elements_text", NodeKind::Object(_)) => Err(
            SqlError::InvalidParameterValue("cannot extract elements from an object".into()),
        ),
        ("array_elements" | "array_elements_text", _) => Err(SqlError::InvalidParameterValue(
            "cannot extract elements from a scalar".into(),
        )),
        ("each" | "each_text", NodeKind::Object(m)) => Ok(m
            .iter()
            .map(|(k, x)| vec![Value::Text(k.clone()), value(x, as_text)])
            .collect()),
        ("each" | "each_text", _) => Err(SqlError::InvalidParameterValue(format!(
            "cannot call {name} on a non-object"
        ))),
        ("object_keys", NodeKind::Object(m)) => Ok(m
            .iter()
            .map(|(k, _)| vec![Value::Text(k.clone())])
            .collect()),
        ("object_keys", NodeKind::Array(_)) => Err(SqlError::InvalidParameterValue(format!(
            "cannot call {name} on an array"
        ))),
        ("object_keys", _) => Err(SqlError::InvalidParameterValue(format!(
            "cannot call {name} on a scalar"
        ))),
        _ => Err(SqlError::UndefinedFunction(format!("{name} in FROM"))),
    }
}

/// The columns of a json set-returning function in FROM, or `None` when `name` is not one.
#[must_use]
pub fn set_columns(name: &str) -> Option<Vec<(&'static str, crate::types::DataType)>> {
    use crate::types::DataType as T;
    let value_ty = if name.starts_with("jsonb_") {
        T::Jsonb
    } else {
        T::Json
    };
    let base = name
        .strip_prefix("jsonb_")
        .or_else(|| name.strip_prefix("json_"))?;
    Some(match base {
        "array_elements" => vec![("value", value_ty)],
        "array_elements_text" => vec![("value", T::Text)],
        "each" => vec![("key", T::Text), ("value", value_ty)],
        "each_text" => vec![("key", T::Text), ("value", T::Text)],
        "object_keys" => vec![(name_static(name), T::Text)],
        _ => return None,
    })
}

/// `jsonb_object_keys`' column is named after the function.
fn name_static(name: &str) -> &'static str {
    if name.starts_with("jsonb_") {
        "jsonb_object_keys"
    } else {
        "json_object_keys"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail(text: &str) -> String {
        match parse_jsonb(text) {
            Err(SqlError::InvalidJson { detail }) => detail,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn normalises_objects_and_numbers() {
        let j = parse_jsonb(r#"{"b":1, "a" : 2, "aa":[1, 2.50, 1e2, -0], "a": 3}"#).unwrap();
        assert_eq!(
            j.to_string(),
            r#"{"a": 3, "b": 1, "aa": [1, 2.50, 100, 0]}"#
        );
        assert_eq!(parse_jsonb(" [ ] ").unwrap().to_string(), "[]");
        assert_eq!(parse_jsonb("{}").unwrap().to_string(), "{}");
    }

    #[test]
    fn escapes_and_surrogates() {
        let j = parse_jsonb(r#""a\"b\\c\/d\n\u00e9\ud83d\ude00""#).unwrap();
        assert_eq!(j, Jsonb::String("a\"b\\c/d\né😀".into()));
        assert_eq!(j.to_string(), "\"a\\\"b\\\\c/d\\né😀\"");
        assert_eq!(
            parse_jsonb(r#""\u001f""#).unwrap().to_string(),
            r#""\u001f""#
        );
        assert_eq!(
            detail(r#""\ud83d""#),
            "Unicode low surrogate must follow a high surrogate."
        );
        assert_eq!(
            detail(r#""\ude00""#),
            "Unicode low surrogate must follow a high surrogate."
        );
        assert_eq!(
            detail(r#""\ud83d\ud83d""#),
            "Unicode high surrogate must not follow a high surrogate."
        );
        assert_eq!(
            detail(r#""\u12""#),
            "\"\\u\" must be followed by four hexadecimal digits."
        );
        assert_eq!(detail(r#""\x""#), "Escape sequence \"\\x\" is invalid.");
        assert_eq!(
            detail("\"a\tb\""),
            "Character with value 0x09 must be escaped."
        );
        assert!(matches!(
            parse_jsonb(r#""\u0000""#),
            Err(SqlError::UnsupportedUnicodeEscape { .. })
        ));
        // json keeps what jsonb refuses.
        assert!(validate_json(r#""\u0000""#).is_ok());
        assert!(validate_json(r#""\ud83d""#).is_ok());
    }

    #[test]
    fn syntax_errors_name_the_token() {
        assert_eq!(detail("tru"), "Token \"tru\" is invalid.");
        assert_eq!(detail("01"), "Token \"01\" is invalid.");
        assert_eq!(detail("1."), "Token \"1.\" is invalid.");
        assert_eq!(detail("-"), "Token \"-\" is invalid.");
        assert_eq!(detail("\"abc"), "Token \"\"abc\" is invalid.");
        assert_eq!(detail(""), "The input string ended unexpectedly.");
        assert_eq!(detail("[1,2"), "The input string ended unexpectedly.");
        assert_eq!(detail("[1,]"), "Expected JSON value, but found \"]\".");
        assert_eq!(detail("{\"a\":1,}"), "Expected string, but found \"}\".");
        assert_eq!(
            detail("{1:2}"),
            "Expected string or \"}\", but found \"1\"."
        );
        assert_eq!(detail("{\"a\" 1}"), "Expected \":\", but found \"1\".");
        assert_eq!(detail("[1 2]"), "Expected \",\" or \"]\", but found \"2\".");
        assert_eq!(detail("[1,2]]"), "Expected end of input, but found \"]\".");
    }

    #[test]
    fn huge_numbers_stay_exact() {
        let big = format!("1{}", "0".repeat(400));
        assert_eq!(parse_jsonb(&big).unwrap().to_string(), big);
        assert_eq!(
            parse_jsonb("1e400").unwrap().to_string(),
            format!("1{}", "0".repeat(400))
        );
        assert_eq!(parse_jsonb("1.000").unwrap().to_string(), "1.000");
        assert!(parse_jsonb("1e1000000").is_err());
    }

    #[test]
    fn depth_is_bounded() {
        let ok = format!(
            "{}{}",
            "[".repeat(JSON_DEPTH_MAX),
            "]".repeat(JSON_DEPTH_MAX)
        );
        assert!(parse_jsonb(&ok).is_ok());
        let deep = format!(
            "{}{}",
            "[".repeat(JSON_DEPTH_MAX + 1),
            "]".repeat(JSON_DEPTH_MAX + 1)
        );
        assert!(matches!(
            parse_jsonb(&deep),
            Err(SqlError::StackDepthExceeded(_))
        ));
        // Far deeper input fails the same way, without exhausting the stack.
        let hostile = "[{\"a\":".repeat(100_000);
        assert!(matches!(
            validate_json(&hostile),
            Err(SqlError::StackDepthExceeded(_))
        ));
    }

    #[test]
    fn deepest_values_fit_a_small_stack() {
        let half = JSON_DEPTH_MAX / 2;
        let text = format!("{}null{}", "[{\"a\":".repeat(half), "}]".repeat(half));
        std::thread::Builder::new()
            .stack_size(1 << 20)
            .spawn(move || {
                let j = parse_jsonb(&text).unwrap();
                assert_eq!(j.to_string().len(), text.len() + half);
                let mut k = Vec::new();
                encode_key(&j, &mut k);
                assert_eq!(compare(&j, &j.clone()), Ordering::Equal);
                assert!(contains(&j, &j));
                let mut stored = Vec::new();
                encode(&j, &mut stored);
                let mut r = borealis_common::codec::Reader::new(&stored);
                assert_eq!(decode(&mut r, 0).unwrap(), j);
                assert!(pretty(&j).len() > text.len());
                assert!(!strip_nulls(j.clone()).to_string().contains("null"));
            })
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn order_is_postgresqls() {
        let j = |s: &str| parse_jsonb(s).unwrap();
        let ascending = [
            "[]",
            "null",
            "\"a\"",
            "\"b\"",
            "1",
            "2",
            "false",
            "true",
            "[1]",
            "[\"a\", 1]",
            "[1, 1]",
            "{}",
            "{\"aa\": 1}",
            "{\"b\": 1}",
            "{\"a\": 1, \"b\": 1}",
        ];
        for w in ascending.windows(2) {
            assert_eq!(compare(&j(w[0]), &j(w[1])), Ordering::Less, "{w:?}");
            let (mut ka, mut kb) = (Vec::new(), Vec::new());
            encode_key(&j(w[0]), &mut ka);
            encode_key(&j(w[1]), &mut kb);
            assert!(ka < kb, "{w:?}");
        }
        assert_eq!(compare(&j("1.0"), &j("1")), Ordering::Equal);
        let (mut ka, mut kb) = (Vec::new(), Vec::new());
        encode_key(&j("[1.0]"), &mut ka);
        encode_key(&j("[1]"), &mut kb);
        assert_eq!(ka, kb);
    }

    #[test]
    fn containment_and_existence() {
        let j = |s: &str| parse_jsonb(s).unwrap();
        assert!(contains(&j("[1,2,[3]]"), &j("[[3]]")));
        assert!(!contains(&j("[1,2,[3]]"), &j("[3]")));
        assert!(contains(&j("[1,2]"), &j("1")));
        assert!(!contains(&j("1"), &j("[1]")));
        assert!(!contains(&j(r#"{"a":[1,2]}"#), &j(r#"{"a":1}"#)));
        assert!(contains(&j(r#"{"a":[1,2],"b":2}"#), &j(r#"{"a":[1]}"#)));
        assert!(exists(&j("\"a\""), "a"));
        assert!(!exists(&j("[1]"), "1"));
    }

    #[test]
    fn editing() {
        let j = |s: &str| parse_jsonb(s).unwrap();
        let path = |p: &[&str]| p.iter().map(|s| Some((*s).to_string())).collect::<Vec<_>>();
        assert_eq!(
            set_path(j(r#"{"a":[1,2]}"#), &path(&["a", "0"]), j("\"x\""), true)
                .unwrap()
                .to_string(),
            r#"{"a": ["x", 2]}"#
        );
        assert_eq!(
            set_path(j("[1,2]"), &path(&["-5"]), j("3"), true)
                .unwrap()
                .to_string(),
            "[3, 1, 2]"
        );
        assert_eq!(
            concat(j(r#"{"a":1}"#), j("1")).to_string(),
            r#"[{"a": 1}, 1]"#
        );
        assert_eq!(
            delete_index(j("[1,2,3]"), -1).unwrap().to_string(),
            "[1, 2]"
        );
        assert_eq!(
            pretty(&j(r#"{"a":[1,{}]}"#)),
            "{\n    \"a\": [\n        1,\n        {\n        }\n    ]\n}"
        );
    }

    #[test]
    fn json_text_is_sliced_not_normalised() {
        let v = eval_function(
            "js_get_json",
            &[
                Value::Json(r#"{"a": [1,  2], "a": {"x" : 1}}"#.into()),
                Value::Text("a".into()),
            ],
        )
        .unwrap();
        assert_eq!(v, Some(Value::Json(r#"{"x" : 1}"#.into())));
    }
}
