//! One-dimensional arrays: their text and binary forms, ordering and the array functions.
//!
//! An array value is a [`Value::Array`] holding its elements in order, each either NULL or a
//! value of the element type; its type is [`DataType::Array`] over that element type. Every
//! array has one dimension with lower bound 1, or none when empty (`{}`), as PostgreSQL's
//! `array_in` builds them from a one-dimensional literal. Multi-dimensional input (`{{1,2}}`,
//! `ARRAY[[1],[2]]`, a binary array with more than one dimension) and lower bounds other than
//! 1 (`[0:1]={1,2}`) are refused with 0A000 rather than flattened.
//!
//! Text form, as PostgreSQL reads and writes it:
//!
//! ```text
//!   {}                      empty
//!   {1,2,NULL}              unquoted elements; unquoted NULL (any case) is a NULL element
//!   {"a b","NULL","x\"y"}   quoted elements keep spaces and may be the string NULL;
//!                           a backslash takes the next character literally (also unquoted)
//! ```
//!
//! Output quotes an element that is empty, reads as NULL, or holds `"`, `\`, `{`, `}`, `,` or
//! white space, escaping `"` and `\` with a backslash.
//!
//! Binary form (PostgreSQL's `array_send`), all integers big-endian:
//!
//! ```text
//!   i32 ndim (0 or 1) │ i32 has-null flag │ u32 element OID │ ndim × (i32 length, i32 lower
//!   bound 1) │ per element: i32 byte length (-1 for NULL) then the element's binary form
//! ```
//!
//! Comparison is PostgreSQL's `btarraycmp`: element by element, a NULL element above every
//! value and equal to another NULL, then the shorter array first. Two arrays are equal when
//! this says so, so `ARRAY[1,NULL] = ARRAY[1,NULL]` is true.

use crate::error::{SqlError, SqlResult};
use crate::types::{DataType, Value};
use std::cmp::Ordering;

/// Elements an array may hold (PostgreSQL's `MaxArraySize` is far larger; this bounds what
/// one untrusted input can make us allocate up front).
pub const ELEMENTS_MAX: usize = 64 * 1024 * 1024;

/// Whether `c` is white space to the array parser (PostgreSQL's `array_isspace`).
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{b}' | '\u{c}')
}

fn malformed(s: &str, detail: &str) -> SqlError {
    SqlError::MalformedArray {
        value: s.to_string(),
        detail: detail.to_string(),
    }
}

fn multidimensional() -> SqlError {
    SqlError::FeatureNotSupported("multidimensional arrays".into())
}

/// Splits the text form of a one-dimensional array into its elements' texts, `None` for
/// NULL elements.
pub fn split(s: &str) -> SqlResult<Vec<Option<String>>> {
    let mut chars = s.char_indices().peekable();
    let skip_space = |chars: &mut std::iter::Peekable<std::str::CharIndices>| {
        while chars.peek().is_some_and(|&(_, c)| is_space(c)) {
            chars.next();
        }
    };
    skip_space(&mut chars);
    // Dimension decoration: `[lo:hi]=` or `[hi]=`, one of them for one dimension.
    let mut declared: Option<usize> = None;
    if chars.peek().is_some_and(|&(_, c)| c == '[') {
        let mut dims = 0;
        while chars.peek().is_some_and(|&(_, c)| c == '[') {
            chars.next();
            let mut text = String::new();
            loop {
                match chars.next() {
                    Some((_, ']')) => break,
                    Some((_, c)) => text.push(c),
                    None => return Err(malformed(s, "Unexpected end of input.")),
                }
            }
            dims += 1;
            let (lo, hi) = match text.split_once(':') {
                Some((lo, hi)) => (lo.trim().parse::<i64>(), hi.trim().parse::<i64>()),
                None => (Ok(1), text.trim().parse::<i64>()),
            };
            let (Ok(lo), Ok(hi)) = (lo, hi) else {
                return Err(malformed(
                    s,
                    "\"[\" must introduce explicitly-specified array dimensions.",
                ));
            };
            if hi < lo {
                return Err(malformed(s, "Upper bound cannot be less than lower bound."));
            }
            if lo != 1 {
                return Err(SqlError::FeatureNotSupported(
                    "array lower bounds other than 1".into(),
                ));
            }
            declared = usize::try_from(hi - lo + 1).ok();
            skip_space(&mut chars);
        }
        if dims > 1 {
            return Err(multidimensional());
        }
        if chars.next().map(|(_, c)| c) != Some('=') {
            return Err(malformed(s, "Missing \"=\" after array dimensions."));
        }
        skip_space(&mut chars);
    }
    if chars.next().map(|(_, c)| c) != Some('{') {
        return Err(malformed(
            s,
            "Array value must start with \"{\" or dimension information.",
        ));
    }
    let mut items = Vec::new();
    skip_space(&mut chars);
    if chars.peek().is_some_and(|&(_, c)| c == '}') {
        chars.next();
    } else {
        loop {
            skip_space(&mut chars);
            let Some(&(_, first)) = chars.peek() else {
                return Err(malformed(s, "Unexpected end of input."));
            };
            match first {
                '{' => {
                    return Err(if items.is_empty() {
                        multidimensional()
                    } else {
                        malformed(s, "Unexpected \"{\" character.")
                    });
                }
                ',' => return Err(malformed(s, "Unexpected \",\" character.")),
                '}' => return Err(malformed(s, "Unexpected \"}\" character.")),
                _ => {}
            }
            let mut item = String::new();
            let mut quoted = false;
            // Bytes of `item` up to the last character that was quoted or escaped: trailing
            // white space after it is kept.
            let mut kept = 0;
            let mut after_quote = false;
            let end = loop {
                let Some((_, c)) = chars.next() else {
                    return Err(malformed(s, "Unexpected end of input."));
                };
                match c {
                    '\\' => {
                        let Some((_, e)) = chars.next() else {
                            return Err(malformed(s, "Unexpected end of input."));
                        };
                        if after_quote {
                            return Err(malformed(s, "Unexpected array element."));
                        }
                        item.push(e);
                        kept = item.len();
                    }
                    '"' if item.is_empty() && !quoted => {
                        quoted = true;
                        loop {
                            match chars.next() {
                                None => return Err(malformed(s, "Unexpected end of input.")),
                                Some((_, '"')) => break,
                                Some((_, '\\')) => match chars.next() {
                                    Some((_, e)) => item.push(e),
                                    None => {
                                        return Err(malformed(s, "Unexpected end of input."));
                                    }
                                },
                                Some((_, c)) => item.push(c),
                            }
                        }
                        kept = item.len();
                        after_quote = true;
                    }
                    '"' => return Err(malformed(s, "Unexpected array element.")),
                    '{' => return Err(malformed(s, "Unexpected \"{\" character.")),
                    ',' | '}' => break c,
                    c if is_space(c) => item.push(c),
                    c => {
                        if after_quote {
                            return Err(malformed(s, "Unexpected array element."));
                        }
                        item.push(c);
                    }
                }
            };
            // Unquoted, unescaped trailing white space is not part of the element.
            let trimmed = item[kept..].trim_end_matches(is_space).len();
            item.truncate(kept + trimmed);
            let null = !quoted && kept == 0 && item.eq_ignore_ascii_case("null");
            items.push((!null).then_some(item));
            if items.len() > ELEMENTS_MAX {
                return Err(SqlError::ProgramLimitExceeded(format!(
                    "array size exceeds the maximum allowed ({ELEMENTS_MAX})"
                )));
            }
            if end == '}' {
                break;
            }
        }
    }
    if chars.any(|(_, c)| !is_space(c)) {
        return Err(malformed(s, "Junk after closing right brace."));
    }
    if let Some(n) = declared
        && n != items.len()
    {
        return Err(malformed(
            s,
            "Specified array dimensions do not match array contents.",
        ));
    }
    Ok(items)
}

/// Parses PostgreSQL's text form of an array of `elem`.
pub fn parse(s: &str, elem: DataType) -> SqlResult<Vec<Value>> {
    split(s)?
        .into_iter()
        .map(|item| match item {
            None => Ok(Value::Null),
            Some(t) => crate::types::parse_text(&t, elem),
        })
        .collect()
}

/// Appends one element's text to an array's text form, quoted when it must be.
pub(crate) fn push_element(out: &mut String, t: &str) {
    let plain = !t.is_empty()
        && !t.eq_ignore_ascii_case("null")
        && !t
            .chars()
            .any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || is_space(c));
    if plain {
        out.push_str(t);
        return;
    }
    out.push('"');
    for c in t.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// PostgreSQL's text form of an array of `items`.
#[must_use]
pub fn format(items: &[Value]) -> String {
    let mut out = String::with_capacity(2 + 4 * items.len());
    out.push('{');
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match v {
            Value::Null => out.push_str("NULL"),
            Value::Text(t) => push_element(&mut out, t),
            v => push_element(&mut out, &v.to_text().unwrap_or_default()),
        }
    }
    out.push('}');
    out
}

/// The text form of an array of the element texts `items` (`None` a NULL).
#[must_use]
pub fn format_texts<'a>(items: impl Iterator<Item = Option<&'a str>>) -> String {
    let mut out = String::from("{");
    for (i, v) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        match v {
            None => out.push_str("NULL"),
            Some(t) => push_element(&mut out, t),
        }
    }
    out.push('}');
    out
}

/// The elements' texts of an array value, or of a string in array text form (how arrays
/// arrive from an untyped literal); `None` for NULL elements.
pub fn element_texts(v: &Value) -> SqlResult<Vec<Option<String>>> {
    match v {
        Value::Array(items) => Ok(items.iter().map(Value::to_text).collect()),
        Value::Null => Ok(Vec::new()),
        v => split(&v.to_text().unwrap_or_default()),
    }
}

/// The elements of an array value, reading a string in array text form as an array of
/// `elem`.
pub fn elements(v: Value, elem: DataType) -> SqlResult<Vec<Value>> {
    match v {
        Value::Array(items) => Ok(items),
        Value::Null => Ok(Vec::new()),
        Value::Text(s) => parse(&s, elem),
        v => Err(SqlError::DatatypeMismatch(format!(
            "cannot use {} as an array",
            v.to_text().unwrap_or_default()
        ))),
    }
}

/// PostgreSQL's array order (see the module documentation).
#[must_use]
pub fn compare(a: &[Value], b: &[Value]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = match (x, y) {
            (Value::Null, Value::Null) => Ordering::Equal,
            (Value::Null, _) => Ordering::Greater,
            (_, Value::Null) => Ordering::Less,
            (x, y) => x.compare(y).ok().flatten().unwrap_or(Ordering::Equal),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

/// The element type of `ty` for casts into an array: `None` when `ty` is not an array.
#[must_use]
pub fn element_of(ty: DataType) -> Option<DataType> {
    ty.element()
}

/// Converts every element to `elem` as a cast does.
pub fn cast_elements(items: Vec<Value>, elem: DataType) -> SqlResult<Vec<Value>> {
    items.into_iter().map(|v| v.cast(elem)).collect()
}

// ---- functions and operators ----

/// The result type of the array function `name` (an `arr_` name the binder chose) over
/// arguments of `types`.
#[must_use]
pub fn function_type(name: &str, types: &[Option<DataType>]) -> Option<DataType> {
    let first_array = || {
        types
            .iter()
            .flatten()
            .find(|t| t.is_array())
            .copied()
            .or_else(|| Some(DataType::Text.array_of()))
    };
    let arg = |i: usize| types.get(i).copied().flatten();
    match name {
        "arr_build" => Some(
            types
                .iter()
                .flatten()
                .next()
                .copied()
                .unwrap_or(DataType::Text)
                .array_of(),
        ),
        "arr_subscript" => Some(arg(0).and_then(DataType::element).unwrap_or(DataType::Text)),
        "arr_slice" | "arr_concat" | "arr_append" | "arr_prepend" | "arr_remove"
        | "arr_replace" => first_array(),
        "arr_fill" => Some(arg(0).unwrap_or(DataType::Text).array_of()),
        "arr_contains" | "arr_contained" | "arr_overlap" => Some(DataType::Bool),
        "arr_length" | "arr_upper" | "arr_lower" | "arr_ndims" | "arr_cardinality"
        | "arr_position" => Some(DataType::Int4),
        "arr_positions" => Some(DataType::Int4.array_of()),
        "arr_dims" | "arr_to_string" => Some(DataType::Text),
        "arr_string_to_array" => Some(DataType::Text.array_of()),
        _ => None,
    }
}

/// The elements of an argument: an array, or an array in text form (a catalog column that
/// carries one as text) read as text elements.
fn items_of(v: &Value) -> SqlResult<std::borrow::Cow<'_, [Value]>> {
    Ok(match v {
        Value::Array(items) => std::borrow::Cow::Borrowed(items.as_slice()),
        v => std::borrow::Cow::Owned(
            split(&v.to_text().unwrap_or_default())?
                .into_iter()
                .map(|i| i.map_or(Value::Null, Value::Text))
                .collect(),
        ),
    })
}

fn int_arg(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::Numeric(n) => n.to_i64_rounded("integer").ok().flatten(),
        Value::Float(f) => Some(f.round() as i64),
        Value::Text(t) => t.trim().parse().ok(),
        _ => None,
    }
}

/// `IS NOT DISTINCT FROM` between elements, as the array functions search.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Null, _) | (_, Value::Null) => false,
        (a, b) => a.compare(b).ok().flatten() == Some(Ordering::Equal),
    }
}

/// Element equality for `@>`, `<@` and `&&`: NULL elements never match.
fn equal(a: &Value, b: &Value) -> bool {
    !a.is_null() && !b.is_null() && same(a, b)
}

/// Evaluates the array function `name`; `None` when `name` is not one.
pub fn eval_function(name: &str, vals: &[Value]) -> SqlResult<Option<Value>> {
    if !name.starts_with("arr_") {
        return Ok(None);
    }
    let null_in = |n: usize| vals.iter().take(n).any(Value::is_null);
    let arg = |i: usize| vals.get(i).unwrap_or(&Value::Null);
    Ok(Some(match name {
        "arr_build" => Value::Array(vals.to_vec()),
        "arr_subscript" => {
            if null_in(2) {
                return Ok(Some(Value::Null));
            }
            let items = items_of(arg(0))?;
            match int_arg(arg(1)) {
                Some(i) if i >= 1 => usize::try_from(i - 1)
                    .ok()
                    .and_then(|i| items.get(i))
                    .cloned()
                    .unwrap_or(Value::Null),
                _ => Value::Null,
            }
        }
        "arr_slice" => {
            if null_in(3) {
                return Ok(Some(Value::Null));
            }
            let items = items_of(arg(0))?;
            let lo = int_arg(arg(1)).unwrap_or(1).max(1);
            let hi = int_arg(arg(2)).unwrap_or(i64::MAX).min(items.len() as i64);
            if lo > hi {
                Value::Array(Vec::new())
            } else {
                Value::Array(items[(lo - 1) as usize..hi as usize].to_vec())
            }
        }
        "arr_concat" => match (arg(0), arg(1)) {
            (Value::Null, Value::Null) => Value::Null,
            (Value::Null, b) => Value::Array(items_of(b)?.into_owned()),
            (a, Value::Null) => Value::Array(items_of(a)?.into_owned()),
            (a, b) => {
                let mut out = items_of(a)?.into_owned();
                out.extend(items_of(b)?.iter().cloned());
                Value::Array(out)
            }
        },
        "arr_append" => {
            let mut out = match arg(0) {
                Value::Null => Vec::new(),
                a => items_of(a)?.into_owned(),
            };
            out.push(arg(1).clone());
            Value::Array(out)
        }
        "arr_prepend" => {
            let mut out = vec![arg(0).clone()];
            if !arg(1).is_null() {
                out.extend(items_of(arg(1))?.iter().cloned());
            }
            Value::Array(out)
        }
        "arr_contains" | "arr_contained" | "arr_overlap" => {
            if null_in(2) {
                return Ok(Some(Value::Null));
            }
            let (a, b) = (items_of(arg(0))?, items_of(arg(1))?);
            let (outer, inner) = if name == "arr_contained" {
                (&b, &a)
            } else {
                (&a, &b)
            };
            Value::Bool(if name == "arr_overlap" {
                a.iter().any(|x| b.iter().any(|y| equal(x, y)))
            } else {
                inner.iter().all(|x| outer.iter().any(|y| equal(x, y)))
            })
        }
        "arr_length" | "arr_upper" | "arr_lower" => {
            if null_in(2) {
                return Ok(Some(Value::Null));
            }
            let n = items_of(arg(0))?.len();
            match int_arg(arg(1)) {
                Some(1) if n > 0 => Value::Int(if name == "arr_lower" { 1 } else { n as i64 }),
                _ => Value::Null,
            }
        }
        "arr_ndims" => match arg(0) {
            Value::Null => Value::Null,
            a if items_of(a)?.is_empty() => Value::Null,
            _ => Value::Int(1),
        },
        "arr_dims" => match arg(0) {
            Value::Null => Value::Null,
            a => match items_of(a)?.len() {
                0 => Value::Null,
                n => Value::Text(format!("[1:{n}]")),
            },
        },
        "arr_cardinality" => match arg(0) {
            Value::Null => Value::Null,
            a => Value::Int(items_of(a)?.len() as i64),
        },
        "arr_position" => {
            if arg(0).is_null() {
                return Ok(Some(Value::Null));
            }
            let items = items_of(arg(0))?;
            let start = match vals.get(2) {
                None => 1,
                Some(Value::Null) => return Ok(Some(Value::Null)),
                Some(v) => int_arg(v).unwrap_or(1).max(1),
            };
            let x = arg(1);
            items
                .iter()
                .enumerate()
                .skip((start - 1) as usize)
                .find(|(_, v)| same(v, x))
                .map_or(Value::Null, |(i, _)| Value::Int(i as i64 + 1))
        }
        "arr_positions" => {
            if arg(0).is_null() {
                return Ok(Some(Value::Null));
            }
            let x = arg(1);
            Value::Array(
                items_of(arg(0))?
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| same(v, x))
                    .map(|(i, _)| Value::Int(i as i64 + 1))
                    .collect(),
            )
        }
        "arr_remove" => match arg(0) {
            Value::Null => Value::Null,
            a => Value::Array(
                items_of(a)?
                    .iter()
                    .filter(|v| !same(v, arg(1)))
                    .cloned()
                    .collect(),
            ),
        },
        "arr_replace" => match arg(0) {
            Value::Null => Value::Null,
            a => Value::Array(
                items_of(a)?
                    .iter()
                    .map(|v| {
                        if same(v, arg(1)) {
                            arg(2).clone()
                        } else {
                            v.clone()
                        }
                    })
                    .collect(),
            ),
        },
        "arr_to_string" => {
            if null_in(2) {
                return Ok(Some(Value::Null));
            }
            let sep = arg(1).to_text().unwrap_or_default();
            let null_text = vals.get(2).and_then(Value::to_text);
            let mut out = String::new();
            let mut first = true;
            for v in items_of(arg(0))?.iter() {
                let t = match (v.to_text(), &null_text) {
                    (Some(t), _) => t,
                    (None, Some(n)) => n.clone(),
                    (None, None) => continue,
                };
                if !first {
                    out.push_str(&sep);
                }
                first = false;
                out.push_str(&t);
            }
            Value::Text(out)
        }
        "arr_string_to_array" => {
            let Some(s) = arg(0).to_text() else {
                return Ok(Some(Value::Null));
            };
            let null_text = vals.get(2).and_then(Value::to_text);
            let piece = |p: &str| match &null_text {
                Some(n) if n == p => Value::Null,
                _ => Value::Text(p.to_string()),
            };
            Value::Array(if s.is_empty() {
                Vec::new()
            } else {
                match arg(1).to_text() {
                    // A NULL separator splits into characters.
                    None => s.chars().map(|c| piece(&c.to_string())).collect(),
                    Some(sep) if sep.is_empty() => vec![piece(&s)],
                    Some(sep) => s.split(sep.as_str()).map(piece).collect(),
                }
            })
        }
        "arr_fill" => {
            let dims = match arg(1) {
                Value::Null => {
                    return Err(SqlError::NullValueNotAllowed(
                        "dimension array or low bound array cannot be null".into(),
                    ));
                }
                d => items_of(d)?.into_owned(),
            };
            match dims.as_slice() {
                [] => Value::Array(Vec::new()),
                [n] => {
                    let n = int_arg(n).ok_or_else(|| {
                        SqlError::NullValueNotAllowed("dimension values cannot be null".into())
                    })?;
                    let n = usize::try_from(n).unwrap_or(0);
                    if n > ELEMENTS_MAX {
                        return Err(SqlError::ProgramLimitExceeded(format!(
                            "array size exceeds the maximum allowed ({ELEMENTS_MAX})"
                        )));
                    }
                    Value::Array(vec![arg(0).clone(); n])
                }
                _ => return Err(multidimensional()),
            }
        }
        _ => return Ok(None),
    }))
}

/// The common type of two typed values as PostgreSQL's `select_common_type` resolves it (for
/// `ARRAY[…]`, UNION, VALUES): equal types, or the widest of the numbers (int2 < int4 < int8 <
/// numeric < float4 < float8: each converts implicitly to the ones after it), or of the
/// date/time types (date < timestamp < timestamptz); `None` when neither converts to the other.
#[must_use]
pub fn common_pair(a: DataType, b: DataType) -> Option<DataType> {
    use DataType as T;
    fn rank(t: DataType) -> Option<(u8, u8)> {
        Some(match t {
            T::Int2 => (0, 0),
            T::Int4 => (0, 1),
            T::Int8 => (0, 2),
            T::Numeric => (0, 3),
            T::Float4 => (0, 4),
            T::Float8 => (0, 5),
            T::Date => (1, 0),
            T::Timestamp => (1, 1),
            T::TimestampTz => (1, 2),
            _ => return None,
        })
    }
    if a == b {
        return Some(a);
    }
    match (rank(a), rank(b)) {
        (Some((ca, ra)), Some((cb, rb))) if ca == cb => Some(if ra >= rb { a } else { b }),
        _ => None,
    }
}

/// The common element type of `ARRAY[…]` over elements of `types` (`None` an untyped
/// literal or NULL), as [`common_pair`] resolves each pair; anything else cannot be matched
/// (42804).
pub fn common_type(types: &[Option<DataType>]) -> SqlResult<Option<DataType>> {
    let mut out: Option<DataType> = None;
    for t in types.iter().flatten() {
        out = Some(match out {
            None => *t,
            Some(o) => common_pair(o, *t).ok_or_else(|| {
                SqlError::DatatypeMismatch(format!(
                    "ARRAY types {} and {} cannot be matched",
                    o.name(),
                    t.name()
                ))
            })?,
        });
    }
    Ok(out)
}

// ---- binary form ----

fn bad_binary(what: &str) -> SqlError {
    SqlError::InvalidBinaryRepresentation(what.to_string())
}

/// Appends the binary wire form of a non-NULL scalar `v` of type `ty`.
pub fn scalar_to_binary(v: &Value, ty: DataType, out: &mut Vec<u8>) {
    use crate::datetime as dt;
    match (v, ty) {
        (Value::Null, _) => {}
        (Value::Bool(b), _) => out.push(u8::from(*b)),
        (Value::Int(x), DataType::Int2) => out.extend_from_slice(&(*x as i16).to_be_bytes()),
        (Value::Int(x), DataType::Int4) => out.extend_from_slice(&(*x as i32).to_be_bytes()),
        (Value::Int(x), _) => out.extend_from_slice(&x.to_be_bytes()),
        (Value::Float4(f), _) => out.extend_from_slice(&f.to_be_bytes()),
        (Value::Float(f), DataType::Float4) => out.extend_from_slice(&(*f as f32).to_be_bytes()),
        (Value::Float(f), _) => out.extend_from_slice(&f.to_be_bytes()),
        (Value::Text(s) | Value::Bpchar(s) | Value::Json(s), _) => {
            out.extend_from_slice(s.as_bytes());
        }
        // jsonpath's binary form is a version byte (1) and the canonical text.
        (Value::JsonPath(s), _) => {
            out.push(1);
            out.extend_from_slice(s.as_bytes());
        }
        (Value::Timestamp(t) | Value::TimestampTz(t), _) => {
            out.extend_from_slice(&dt::ts_to_wire(*t).to_be_bytes());
        }
        (Value::Time(t), _) => out.extend_from_slice(&t.to_be_bytes()),
        (Value::Date(d), _) => out.extend_from_slice(&dt::date_to_wire(*d).to_be_bytes()),
        (Value::TimeTz(t, e), _) => out.extend_from_slice(&dt::timetz_to_wire(*t, *e)),
        (Value::Interval(iv), _) => out.extend_from_slice(&dt::interval_to_wire(iv)),
        (Value::Bytes(b), _) => out.extend_from_slice(b),
        (Value::Uuid(u), _) => out.extend_from_slice(&u.to_be_bytes()),
        (Value::Numeric(n), _) => out.extend_from_slice(&n.to_wire()),
        (Value::Jsonb(j), _) => {
            out.push(1);
            out.extend_from_slice(j.to_string().as_bytes());
        }
        (Value::Array(items), DataType::Array(e)) => to_binary(items, *e, out),
        (Value::Array(items), e) => to_binary(items, e, out),
        (Value::Record(r), _) => crate::record::to_binary(r, out),
    }
}

/// Reads the binary wire form of a scalar of type `ty`; `None` when the bytes are not one.
pub fn scalar_from_binary(raw: &[u8], ty: DataType) -> SqlResult<Option<Value>> {
    use crate::datetime as dt;
    fn fixed<const N: usize>(raw: &[u8]) -> Option<[u8; N]> {
        raw.try_into().ok()
    }
    Ok(match ty {
        DataType::Bool => match raw {
            [b] => Some(Value::Bool(*b != 0)),
            _ => None,
        },
        DataType::Int2 => fixed::<2>(raw).map(|b| Value::Int(i64::from(i16::from_be_bytes(b)))),
        DataType::Int4 => fixed::<4>(raw).map(|b| Value::Int(i64::from(i32::from_be_bytes(b)))),
        DataType::Int8 => fixed::<8>(raw).map(|b| Value::Int(i64::from_be_bytes(b))),
        DataType::Float4 => fixed::<4>(raw).map(|b| Value::Float4(f32::from_be_bytes(b))),
        DataType::Float8 => fixed::<8>(raw).map(|b| Value::Float(f64::from_be_bytes(b))),
        DataType::Text => String::from_utf8(raw.to_vec()).ok().map(Value::Text),
        DataType::Timestamp => fixed::<8>(raw)
            .and_then(|b| dt::ts_from_wire(i64::from_be_bytes(b)))
            .map(Value::Timestamp),
        DataType::TimestampTz => fixed::<8>(raw)
            .and_then(|b| dt::ts_from_wire(i64::from_be_bytes(b)))
            .map(Value::TimestampTz),
        DataType::Numeric => crate::numeric::Numeric::from_wire(raw).map(Value::Numeric),
        DataType::Bytea => Some(Value::Bytes(raw.to_vec())),
        DataType::Uuid => fixed::<16>(raw).map(|b| Value::Uuid(u128::from_be_bytes(b))),
        DataType::Date => {
            fixed::<4>(raw).map(|b| Value::Date(dt::date_from_wire(i32::from_be_bytes(b))))
        }
        DataType::Time => fixed::<8>(raw).map(|b| Value::Time(i64::from_be_bytes(b))),
        DataType::TimeTz => dt::timetz_from_wire(raw).map(|(t, e)| Value::TimeTz(t, e)),
        DataType::Interval => dt::interval_from_wire(raw).map(Value::Interval),
        DataType::Json => match std::str::from_utf8(raw) {
            Ok(text) => Some(crate::types::parse_text(text, DataType::Json)?),
            Err(_) => None,
        },
        DataType::Jsonb => match raw.split_first() {
            Some((1, rest)) => match std::str::from_utf8(rest) {
                Ok(text) => Some(crate::types::parse_text(text, DataType::Jsonb)?),
                Err(_) => None,
            },
            _ => None,
        },
        DataType::Array(e) => Some(Value::Array(from_binary(raw, *e)?)),
        DataType::Record => None,
        DataType::JsonPath => match raw.split_first() {
            Some((1, rest)) => match std::str::from_utf8(rest) {
                Ok(text) => Some(crate::types::parse_text(text, DataType::JsonPath)?),
                Err(_) => None,
            },
            _ => None,
        },
    })
}

/// Appends the binary form of an array of `elem` holding `items`.
pub fn to_binary(items: &[Value], elem: DataType, out: &mut Vec<u8>) {
    let ndim: i32 = i32::from(!items.is_empty());
    out.extend_from_slice(&ndim.to_be_bytes());
    let has_null = items.iter().any(Value::is_null);
    out.extend_from_slice(&i32::from(has_null).to_be_bytes());
    out.extend_from_slice(&elem.oid().to_be_bytes());
    if ndim == 1 {
        out.extend_from_slice(&(items.len() as i32).to_be_bytes());
        out.extend_from_slice(&1i32.to_be_bytes());
    }
    for v in items {
        if v.is_null() {
            out.extend_from_slice(&(-1i32).to_be_bytes());
            continue;
        }
        let at = out.len();
        out.extend_from_slice(&[0; 4]);
        scalar_to_binary(v, elem, out);
        let len = (out.len() - at - 4) as i32;
        out[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }
}

/// Reads the binary form of an array of `elem`. Every length is checked against the bytes
/// that remain, so corrupt input is an error, never a panic or a large allocation.
pub fn from_binary(raw: &[u8], elem: DataType) -> SqlResult<Vec<Value>> {
    let mut r = raw;
    let mut i32_of = |what: &str| -> SqlResult<i32> {
        let (head, rest) = r
            .split_first_chunk::<4>()
            .ok_or_else(|| bad_binary(&format!("insufficient data left in message ({what})")))?;
        r = rest;
        Ok(i32::from_be_bytes(*head))
    };
    let ndim = i32_of("ndim")?;
    let flags = i32_of("flags")?;
    let oid = i32_of("element type")? as u32;
    if !(0..=6).contains(&ndim) {
        return Err(bad_binary(&format!("invalid number of dimensions: {ndim}")));
    }
    if ndim > 1 {
        return Err(multidimensional());
    }
    if flags != 0 && flags != 1 {
        return Err(bad_binary("invalid array flags"));
    }
    // Character types all arrive as text.
    let text_like = elem == DataType::Text && matches!(oid, 19 | 1042 | 1043);
    if oid != elem.oid() && !text_like {
        let name =
            DataType::from_oid(oid).map_or_else(|| "unknown".to_string(), |t| t.name().to_string());
        return Err(SqlError::DatatypeMismatch(format!(
            "binary data has array element type {oid} ({name}) instead of expected {} ({})",
            elem.oid(),
            elem.name()
        )));
    }
    let mut n = 0usize;
    if ndim == 1 {
        let len = i32_of("dimension")?;
        let lower = i32_of("lower bound")?;
        if len < 0 {
            return Err(bad_binary("invalid array dimension"));
        }
        if lower != 1 {
            return Err(SqlError::FeatureNotSupported(
                "array lower bounds other than 1".into(),
            ));
        }
        n = len as usize;
    }
    // Each element takes at least its four length bytes.
    if n > r.len() / 4 || n > ELEMENTS_MAX {
        return Err(bad_binary("insufficient data left in message"));
    }
    let mut items = Vec::with_capacity(n);
    for _ in 0..n {
        let (head, rest) = r
            .split_first_chunk::<4>()
            .ok_or_else(|| bad_binary("insufficient data left in message"))?;
        r = rest;
        let len = i32::from_be_bytes(*head);
        if len == -1 {
            items.push(Value::Null);
            continue;
        }
        let len =
            usize::try_from(len).map_err(|_| bad_binary("insufficient data left in message"))?;
        if len > r.len() {
            return Err(bad_binary("insufficient data left in message"));
        }
        let (bytes, rest) = r.split_at(len);
        r = rest;
        let v = scalar_from_binary(bytes, elem)?.ok_or_else(|| {
            bad_binary(&format!(
                "incorrect binary data format in array element of type {}",
                elem.name()
            ))
        })?;
        items.push(v);
    }
    if !r.is_empty() {
        return Err(bad_binary("incorrect binary data format in array"));
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(s: &str) -> Vec<Option<String>> {
        split(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn detail(s: &str) -> String {
        match split(s) {
            Err(SqlError::MalformedArray { detail, .. }) => detail,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn text_input_follows_postgresql() {
        assert_eq!(texts("{}"), Vec::<Option<String>>::new());
        assert_eq!(texts("  { }  "), Vec::<Option<String>>::new());
        assert_eq!(
            texts("{ a , b c ,NULL,null,\"NULL\",\"\"}"),
            vec![
                Some("a".into()),
                Some("b c".into()),
                None,
                None,
                Some("NULL".into()),
                Some(String::new())
            ]
        );
        assert_eq!(
            texts("{a\\,b,\\ x\\ }"),
            vec![Some("a,b".into()), Some(" x ".into())]
        );
        assert_eq!(
            texts("{\"a\\\"b\", \"c\\\\\" }"),
            vec![Some("a\"b".into()), Some("c\\".into())]
        );
        assert_eq!(texts("{N\\ULL}"), vec![Some("NULL".into())]);
        assert_eq!(texts("[1:2]={1,2}").len(), 2);
        assert_eq!(
            detail("1,2"),
            "Array value must start with \"{\" or dimension information."
        );
        assert_eq!(detail("{1,2"), "Unexpected end of input.");
        assert_eq!(detail("{1,,2}"), "Unexpected \",\" character.");
        assert_eq!(detail("{,}"), "Unexpected \",\" character.");
        assert_eq!(detail("{1,}"), "Unexpected \"}\" character.");
        assert_eq!(detail("{1,2}x"), "Junk after closing right brace.");
        assert_eq!(detail("{\"a}"), "Unexpected end of input.");
        assert_eq!(detail("{a\"b}"), "Unexpected array element.");
        assert_eq!(detail("{\"a\" b}"), "Unexpected array element.");
        assert_eq!(detail("{1,{2}}"), "Unexpected \"{\" character.");
        assert_eq!(detail("{a\\"), "Unexpected end of input.");
        assert_eq!(
            detail("[1:3]={1,2}"),
            "Specified array dimensions do not match array contents."
        );
        assert!(matches!(
            split("{{1,2},{3,4}}"),
            Err(SqlError::FeatureNotSupported(_))
        ));
        assert!(matches!(
            split("[0:1]={1,2}"),
            Err(SqlError::FeatureNotSupported(_))
        ));
        assert!(matches!(
            split("[1:1][1:1]={{1}}"),
            Err(SqlError::FeatureNotSupported(_))
        ));
    }

    #[test]
    fn text_output_quotes_what_it_must() {
        let items = vec![
            Value::Text("a".into()),
            Value::Text(String::new()),
            Value::Text("null".into()),
            Value::Null,
            Value::Text("a b".into()),
            Value::Text("x\"y\\z".into()),
            Value::Text("{,}".into()),
            Value::Text("é".into()),
        ];
        assert_eq!(
            format(&items),
            "{a,\"\",\"null\",NULL,\"a b\",\"x\\\"y\\\\z\",\"{,}\",é}"
        );
        assert_eq!(format(&[]), "{}");
    }

    /// A small deterministic generator (xorshift), so a failure replays.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn random_text_round_trips() {
        const PIECES: [&str; 14] = [
            "a", "\"", "\\", "{", "}", ",", " ", "\t", "NULL", "null", "x y", "é", "[", "=",
        ];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..2000 {
            let n = (rng.next() % 6) as usize;
            let items: Vec<Value> = (0..n)
                .map(|_| {
                    if rng.next().is_multiple_of(7) {
                        return Value::Null;
                    }
                    let k = (rng.next() % 4) as usize;
                    Value::Text(
                        (0..k)
                            .map(|_| PIECES[(rng.next() % PIECES.len() as u64) as usize])
                            .collect(),
                    )
                })
                .collect();
            let text = format(&items);
            let back =
                parse(&text, DataType::Text).unwrap_or_else(|e| panic!("{round}: {text}: {e}"));
            assert_eq!(back, items, "round {round}: {text}");
        }
    }

    #[test]
    fn binary_round_trips_and_refuses_corrupt_input() {
        let items = vec![Value::Int(1), Value::Null, Value::Int(-7)];
        let mut b = Vec::new();
        to_binary(&items, DataType::Int4, &mut b);
        assert_eq!(from_binary(&b, DataType::Int4).unwrap(), items);
        let mut empty = Vec::new();
        to_binary(&[], DataType::Text, &mut empty);
        assert_eq!(empty.len(), 12);
        assert!(from_binary(&empty, DataType::Text).unwrap().is_empty());
        // Every truncation is an error.
        for cut in 0..b.len() {
            assert!(from_binary(&b[..cut], DataType::Int4).is_err(), "cut {cut}");
        }
        // Trailing bytes.
        let mut long = b.clone();
        long.push(0);
        assert!(from_binary(&long, DataType::Int4).is_err());
        // Wrong element type.
        assert!(matches!(
            from_binary(&b, DataType::Int8),
            Err(SqlError::DatatypeMismatch(_))
        ));
        // Two dimensions.
        let mut two = b.clone();
        two[..4].copy_from_slice(&2i32.to_be_bytes());
        assert!(matches!(
            from_binary(&two, DataType::Int4),
            Err(SqlError::FeatureNotSupported(_))
        ));
        // A negative element length other than -1, a negative dimension, a huge one.
        let mut neg = b.clone();
        neg[20..24].copy_from_slice(&(-5i32).to_be_bytes());
        assert!(from_binary(&neg, DataType::Int4).is_err());
        let mut dim = b.clone();
        dim[12..16].copy_from_slice(&(-1i32).to_be_bytes());
        assert!(from_binary(&dim, DataType::Int4).is_err());
        dim[12..16].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(from_binary(&dim, DataType::Int4).is_err());
        // A wrong element width.
        let mut wide = b.clone();
        wide[20..24].copy_from_slice(&3i32.to_be_bytes());
        assert!(from_binary(&wide, DataType::Int4).is_err());
        // Random corruption never panics.
        let mut rng = Rng(42);
        for _ in 0..5000 {
            let mut c = b.clone();
            let i = (rng.next() % c.len() as u64) as usize;
            c[i] = rng.next() as u8;
            let _ = from_binary(&c, DataType::Int4);
        }
    }

    #[test]
    fn order_is_element_wise_then_length() {
        let a = |v: &[Option<i64>]| -> Vec<Value> {
            v.iter()
                .map(|x| x.map_or(Value::Null, Value::Int))
                .collect()
        };
        assert_eq!(
            compare(&a(&[Some(1), Some(2)]), &a(&[Some(1), Some(3)])),
            Ordering::Less
        );
        assert_eq!(
            compare(&a(&[Some(1)]), &a(&[Some(1), Some(0)])),
            Ordering::Less
        );
        assert_eq!(
            compare(&a(&[Some(2)]), &a(&[Some(1), Some(9)])),
            Ordering::Greater
        );
        assert_eq!(compare(&a(&[None]), &a(&[Some(5)])), Ordering::Greater);
        assert_eq!(
            compare(&a(&[Some(1), None]), &a(&[Some(1), None])),
            Ordering::Equal
        );
    }
}
