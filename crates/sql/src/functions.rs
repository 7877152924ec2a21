//! PostgreSQL 15's everyday scalar functions that the rest of the binder does not own: string
//! functions (`substr`, `overlay`, `trim` and its spellings, `translate`, `format`, `to_hex`,
//! `encode`/`decode`, `starts_with`, `octet_length`/`bit_length`), `GREATEST`/`LEAST`, the
//! regular-expression functions and `SIMILAR TO`, trigonometry and `cbrt`, `random`/`setseed`,
//! `width_bucket`, numeric scale functions, `num_nulls`/`num_nonnulls`, `gen_random_uuid`, the
//! hashes (`md5`, the SHA-2 family) and `to_char`/`to_number` for numbers.
//!
//! ```text
//!  Binder::function ──▶ bind(name, args) ──▶ Expr::Func { name: "fn_…", args coerced }
//!  SQL syntax forms (SUBSTRING … FROM, TRIM, OVERLAY, POSITION, SIMILAR TO) ──▶ bind_syntax
//!  Expr::eval ──▶ eval("fn_…", values, session) ──▶ Value
//!  Binder::type_of ──▶ function_type("fn_…", argument types)
//! ```
//!
//! Every bound name starts with `fn_`, so the evaluator and `type_of` hand the whole family to
//! this module in one call each. Binding settles PostgreSQL's overload choice once: untyped
//! arguments (string literals, parameters) are given the type the chosen signature takes, so
//! evaluation sees values of known types.
//!
//! Invariants and choices:
//! - Strict functions return NULL when any argument is NULL; `GREATEST`/`LEAST` skip NULLs,
//!   `num_nulls` counts them, `format` prints a NULL `%s` as nothing and `%L` as `NULL`.
//! - Regular expressions are PostgreSQL's ARE dialect, run on the `regex-lite` engine. The
//!   translation (`translate_are`) maps the escapes whose meaning differs (`\y`, `\Y`, `\Z`,
//!   `\b` as backspace, `\e`, `\uXXXX`) and refuses with 2201B what the engine cannot express
//!   (back-references, `\m`/`\M`, collating elements) rather than answer differently. ARE's `.`
//!   and bracket expressions match a newline unless the `n` flag is given, as PostgreSQL's do.
//!   One difference is known and documented rather than refused: an alternation prefers its
//!   first matching branch (`a|ab` on `ab` matches `a`), where ARE prefers the longest match.
//! - `random()` is PostgreSQL's own generator (xoroshiro128** seeded by splitmix64), one per
//!   session, so `setseed(x)` followed by `random()` gives the numbers PostgreSQL gives; an
//!   unseeded session seeds it from the operating system's random source, which also supplies
//!   the 122 random bits of every `gen_random_uuid()`.
//! - `to_char`/`to_number` follow PostgreSQL's number templates (`9`, `0`, `.`, `D`, `,`, `G`,
//!   `S`, `MI`, `PL`, `SG`, `PR`, `FM`, `V`, `EEEE`, `RN`, `TH`) in the C locale, the only one
//!   the server runs in: `D` is `.`, `G` is `,`, and `L` (the currency symbol) is a space.

use std::cmp::Ordering;
use std::io::Read as _;
use std::sync::Mutex;

use sqlparser::ast;

use crate::error::{SqlError, SqlResult};
use crate::expr::{AggMode, Binder, Expr};
use crate::numeric::Numeric;
use crate::types::{DataType, Value};

/// Longest text or byte string a function of this module builds (see `repeat` in `expr.rs`:
/// PostgreSQL's limit is 1 GB; a row here is far smaller).
const RESULT_BYTES_MAX: usize = 64 << 20;

/// Most distinct compiled regular expressions kept per thread.
const REGEX_CACHE_MAX: usize = 64;

/// Most arguments `format()` accepts beyond its format string (PostgreSQL's function-call
/// limit is 100 arguments in all).
const FORMAT_ARGS_MAX: usize = 99;

// ---- binding ----

/// Binds a call of one of this module's functions, its arguments already bound; `None` when
/// `name` is not one of them (or, for `to_char`, when the value is a date/time, which
/// `datetime.rs` formats).
pub(crate) fn bind(
    b: &mut Binder<'_>,
    name: &str,
    args: &mut Vec<Expr>,
) -> SqlResult<Option<Expr>> {
    use DataType as T;
    let n = args.len();
    let types: Vec<Option<DataType>> = args.iter().map(|a| b.type_of(a)).collect();
    let no_function = || crate::expr::no_such_function(name, &types);
    let is_bytea = types.first() == Some(&Some(T::Bytea));
    // The arguments' wanted types, in order; `None` leaves an argument as it is.
    let (fname, want): (&'static str, Vec<Option<DataType>>) = match name {
        "greatest" | "least" => {
            if n == 0 {
                return Err(SqlError::Syntax("syntax error at or near \")\"".into()));
            }
            let ty = crate::array::common_type(&types)
                .map_err(|e| match e {
                    SqlError::DatatypeMismatch(m) => {
                        SqlError::DatatypeMismatch(m.replacen("ARRAY", &name.to_uppercase(), 1))
                    }
                    other => other,
                })?
                .unwrap_or(T::Text);
            (
                if name == "greatest" {
                    "fn_greatest"
                } else {
                    "fn_least"
                },
                vec![Some(ty); n],
            )
        }
        "octet_length" | "bit_length" if n == 1 => (
            if name == "octet_length" {
                "fn_octet_length"
            } else {
                "fn_bit_length"
            },
            vec![Some(if is_bytea { T::Bytea } else { T::Text })],
        ),
        "substr" if n == 2 || n == 3 => (
            "fn_substr",
            [if is_bytea { T::Bytea } else { T::Text }, T::Int4, T::Int4][..n]
                .iter()
                .map(|t| Some(*t))
                .collect(),
        ),
        "btrim" | "ltrim" | "rtrim" if n == 1 || n == 2 => (
            match name {
                "btrim" => "fn_btrim",
                "ltrim" => "fn_ltrim",
                _ => "fn_rtrim",
            },
            vec![Some(T::Text); n],
        ),
        "translate" if n == 3 => ("fn_translate", vec![Some(T::Text); 3]),
        "starts_with" if n == 2 => ("fn_starts_with", vec![Some(T::Text); 2]),
        "ascii" if n == 1 => ("fn_ascii", vec![Some(T::Text)]),
        "chr" if n == 1 => ("fn_chr", vec![Some(T::Int4)]),
        "format" if n >= 1 => {
            if n - 1 > FORMAT_ARGS_MAX {
                return Err(SqlError::ProgramLimitExceeded(format!(
                    "cannot pass more than {} arguments to a function",
                    FORMAT_ARGS_MAX + 1
                )));
            }
            let mut w = vec![Some(T::Text)];
            // Untyped arguments print as the text they are.
            w.extend(types[1..].iter().map(|t| Some(t.unwrap_or(T::Text))));
            ("fn_format", w)
        }
        "quote_nullable" if n == 1 => {
            ("fn_quote_nullable", vec![Some(types[0].unwrap_or(T::Text))])
        }
        "to_hex" if n == 1 => match types[0] {
            None | Some(T::Int2 | T::Int4) => ("fn_to_hex32", vec![Some(T::Int4)]),
            Some(T::Int8) => ("fn_to_hex", vec![Some(T::Int8)]),
            _ => return Err(no_function()),
        },
        "encode" if n == 2 => ("fn_encode", vec![Some(T::Bytea), Some(T::Text)]),
        "decode" if n == 2 => ("fn_decode", vec![Some(T::Text), Some(T::Text)]),
        "md5" if n == 1 => (
            "fn_md5",
            vec![Some(if is_bytea { T::Bytea } else { T::Text })],
        ),
        "sha224" | "sha256" | "sha384" | "sha512" if n == 1 => (
            match name {
                "sha224" => "fn_sha224",
                "sha256" => "fn_sha256",
                "sha384" => "fn_sha384",
                _ => "fn_sha512",
            },
            vec![Some(T::Bytea)],
        ),
        "regexp_replace" if (3..=6).contains(&n) => {
            // (s, p, r [, flags]) or (s, p, r, start [, n [, flags]]).
            let fourth_int = types.get(3).copied().flatten().is_some_and(T::is_numeric);
            let mut w = vec![Some(T::Text); 3];
            match (n, fourth_int) {
                (4, false) => w.push(Some(T::Text)),
                (4, true) => w.push(Some(T::Int4)),
                (5, _) => w.extend([Some(T::Int4), Some(T::Int4)]),
                (6, _) => w.extend([Some(T::Int4), Some(T::Int4), Some(T::Text)]),
                _ => {}
            }
            (
                if n == 4 && !fourth_int {
                    "fn_regexp_replace_flags"
                } else {
                    "fn_regexp_replace"
                },
                w,
            )
        }
        "regexp_match" if n == 2 || n == 3 => ("fn_regexp_match", vec![Some(T::Text); n]),
        "regexp_like" if n == 2 || n == 3 => ("fn_regexp_like", vec![Some(T::Text); n]),
        "regexp_split_to_array" if n == 2 || n == 3 => {
            ("fn_regexp_split_to_array", vec![Some(T::Text); n])
        }
        "regexp_count" if (2..=4).contains(&n) => (
            "fn_regexp_count",
            [T::Text, T::Text, T::Int4, T::Text][..n]
                .iter()
                .map(|t| Some(*t))
                .collect(),
        ),
        "regexp_instr" if (2..=7).contains(&n) => (
            "fn_regexp_instr",
            [
                T::Text,
                T::Text,
                T::Int4,
                T::Int4,
                T::Int4,
                T::Text,
                T::Int4,
            ][..n]
                .iter()
                .map(|t| Some(*t))
                .collect(),
        ),
        "regexp_substr" if (2..=6).contains(&n) => (
            "fn_regexp_substr",
            [T::Text, T::Text, T::Int4, T::Int4, T::Text, T::Int4][..n]
                .iter()
                .map(|t| Some(*t))
                .collect(),
        ),
        "cbrt" | "sin" | "cos" | "tan" | "cot" | "asin" | "acos" | "atan" | "sinh" | "cosh"
        | "tanh" | "degrees" | "radians"
            if n == 1 =>
        {
            (float_name(name), vec![Some(T::Float8)])
        }
        "atan2" if n == 2 => ("fn_atan2", vec![Some(T::Float8); 2]),
        "pi" if n == 0 => ("fn_pi", vec![]),
        "random" if n == 0 => ("fn_random", vec![]),
        "setseed" if n == 1 => ("fn_setseed", vec![Some(T::Float8)]),
        "gen_random_uuid" if n == 0 => ("fn_gen_random_uuid", vec![]),
        "width_bucket" if n == 4 => {
            let numeric = types[..3].contains(&Some(T::Numeric))
                && !types[..3]
                    .iter()
                    .any(|t| matches!(t, Some(T::Float8 | T::Float4)));
            let ty = if numeric { T::Numeric } else { T::Float8 };
            (
                if numeric {
                    "fn_width_bucket_numeric"
                } else {
                    "fn_width_bucket"
                },
                vec![Some(ty), Some(ty), Some(ty), Some(T::Int4)],
            )
        }
        "scale" | "trim_scale" | "min_scale" if n == 1 => (
            match name {
                "scale" => "fn_scale",
                "trim_scale" => "fn_trim_scale",
                _ => "fn_min_scale",
            },
            vec![Some(T::Numeric)],
        ),
        "num_nulls" | "num_nonnulls" if n >= 1 => (
            if name == "num_nulls" {
                "fn_num_nulls"
            } else {
                "fn_num_nonnulls"
            },
            vec![None; n],
        ),
        "to_char" if n == 2 => match types[0] {
            Some(T::Int2 | T::Int4 | T::Int8) => ("fn_to_char_int", vec![None, Some(T::Text)]),
            Some(T::Numeric) => ("fn_to_char_numeric", vec![None, Some(T::Text)]),
            Some(T::Float4 | T::Float8) => ("fn_to_char_float", vec![None, Some(T::Text)]),
            _ => return Ok(None),
        },
        "to_number" if n == 2 => ("fn_to_number", vec![Some(T::Text); 2]),
        "octet_length"
        | "bit_length"
        | "substr"
        | "btrim"
        | "ltrim"
        | "rtrim"
        | "translate"
        | "starts_with"
        | "ascii"
        | "chr"
        | "format"
        | "quote_nullable"
        | "to_hex"
        | "encode"
        | "decode"
        | "md5"
        | "sha224"
        | "sha256"
        | "sha384"
        | "sha512"
        | "regexp_replace"
        | "regexp_match"
        | "regexp_like"
        | "regexp_split_to_array"
        | "regexp_count"
        | "regexp_instr"
        | "regexp_substr"
        | "cbrt"
        | "sin"
        | "cos"
        | "tan"
        | "cot"
        | "asin"
        | "acos"
        | "atan"
        | "sinh"
        | "cosh"
        | "tanh"
        | "degrees"
        | "radians"
        | "atan2"
        | "pi"
        | "random"
        | "setseed"
        | "gen_random_uuid"
        | "width_bucket"
        | "scale"
        | "trim_scale"
        | "min_scale"
        | "num_nulls"
        | "num_nonnulls"
        | "to_number" => {
            return Err(no_function());
        }
        _ => return Ok(None),
    };
    // A typed argument must reach the signature's type by an implicit cast, as PostgreSQL's
    // function resolution requires (`md5(123)` does not exist).
    for (t, w) in types.iter().zip(&want) {
        if let (Some(t), Some(w)) = (t, w)
            && !implicit_cast(*t, *w)
        {
            return Err(no_function());
        }
    }
    let taken = std::mem::take(args);
    let mut bound = Vec::with_capacity(taken.len());
    for (e, w) in taken.into_iter().zip(want) {
        bound.push(match w {
            Some(t) => b.coerce_to(e, t),
            None => e,
        });
    }
    Ok(Some(Expr::Func {
        name: fname,
        args: bound,
    }))
}

/// Whether PostgreSQL converts a `from` argument to `to` implicitly when it resolves a function
/// call: the same type, a wider number, or a date to a timestamp.
fn implicit_cast(from: DataType, to: DataType) -> bool {
    use DataType as T;
    fn number_rank(t: DataType) -> Option<u8> {
        Some(match t {
            T::Int2 => 0,
            T::Int4 => 1,
            T::Int8 => 2,
            T::Numeric => 3,
            T::Float4 => 4,
            T::Float8 => 5,
            _ => return None,
        })
    }
    from == to
        || matches!((number_rank(from), number_rank(to)), (Some(a), Some(b)) if a <= b)
        || matches!(
            (from, to),
            (T::Date, T::Timestamp | T::TimestampTz) | (T::Timestamp, T::TimestampTz)
        )
}

fn float_name(name: &str) -> &'static str {
    match name {
        "cbrt" => "fn_cbrt",
        "sin" => "fn_sin",
        "cos" => "fn_cos",
        "tan" => "fn_tan",
        "cot" => "fn_cot",
        "asin" => "fn_asin",
        "acos" => "fn_acos",
        "atan" => "fn_atan",
        "sinh" => "fn_sinh",
        "cosh" => "fn_cosh",
        "tanh" => "fn_tanh",
        "degrees" => "fn_degrees",
        _ => "fn_radians",
    }
}

/// The result type of a bound `fn_…` function, from its (coerced) arguments' types.
pub(crate) fn function_type(name: &str, types: &[Option<DataType>]) -> Option<DataType> {
    use DataType as T;
    Some(match name {
        "fn_greatest" | "fn_least" => types.iter().flatten().next().copied().unwrap_or(T::Text),
        "fn_octet_length"
        | "fn_bit_length"
        | "fn_regexp_count"
        | "fn_regexp_instr"
        | "fn_width_bucket"
        | "fn_width_bucket_numeric"
        | "fn_scale"
        | "fn_min_scale"
        | "fn_num_nulls"
        | "fn_num_nonnulls"
        | "fn_position"
        | "fn_ascii" => T::Int4,
        "fn_substr" | "fn_overlay" => {
            if types.first() == Some(&Some(T::Bytea)) {
                T::Bytea
            } else {
                T::Text
            }
        }
        "fn_starts_with" | "fn_regexp_like" | "fn_similar" => T::Bool,
        "fn_decode" | "fn_sha224" | "fn_sha256" | "fn_sha384" | "fn_sha512" => T::Bytea,
        "fn_regexp_match" | "fn_regexp_split_to_array" => T::Text.array_of(),
        "fn_cbrt" | "fn_sin" | "fn_cos" | "fn_tan" | "fn_cot" | "fn_asin" | "fn_acos"
        | "fn_atan" | "fn_sinh" | "fn_cosh" | "fn_tanh" | "fn_degrees" | "fn_radians"
        | "fn_atan2" | "fn_pi" | "fn_random" => T::Float8,
        "fn_gen_random_uuid" => T::Uuid,
        "fn_trim_scale" | "fn_to_number" => T::Numeric,
        _ => T::Text,
    })
}

impl Binder<'_> {
    /// The SQL-standard syntax forms of string functions, which the parser gives their own
    /// nodes: `SUBSTRING(s FROM a FOR b)` (and `FROM pattern`, a regular expression),
    /// `TRIM([LEADING|TRAILING|BOTH] [chars FROM] s)`, `OVERLAY(s PLACING r FROM a [FOR b])`,
    /// `POSITION(a IN s)` and `s [NOT] SIMILAR TO pattern [ESCAPE e]`.
    #[inline(never)]
    pub(crate) fn bind_syntax(
        &mut self,
        e: &ast::Expr,
        mode: &mut AggMode<'_>,
        d: usize,
    ) -> SqlResult<Expr> {
        use DataType as T;
        let mut bind = |this: &mut Self, x: &ast::Expr| this.bind_depth(x, mode, d);
        Ok(match e {
            ast::Expr::Substring {
                expr,
                substring_from,
                substring_for,
                shorthand,
                special,
            } => {
                let s = bind(self, expr)?;
                let from = match substring_from {
                    Some(f) => Some(bind(self, f)?),
                    None => None,
                };
                let len = match substring_for {
                    Some(f) => Some(bind(self, f)?),
                    None => None,
                };
                let from_type = from.as_ref().and_then(|f| self.type_of(f));
                // As PostgreSQL names the call in errors: the SQL form calls the catalog's.
                let fname = match (*shorthand, *special) {
                    (true, _) => "substr",
                    (false, true) => "substring",
                    (false, false) => "pg_catalog.substring",
                };
                let s_type = self.type_of(&s);
                let len_type = len.as_ref().and_then(|l| self.type_of(l));
                let regex = !*shorthand
                    && (matches!(&from, Some(Expr::Literal(Value::Text(_))))
                        || from_type == Some(T::Text));
                // The signatures: (text|bytea, int [, int]) and (text, text) for a pattern.
                let fits = s_type.is_none_or(|t| t == T::Text || (t == T::Bytea && !regex))
                    && (regex || from_type.is_none_or(|t| implicit_cast(t, T::Int4)))
                    && len_type.is_none_or(|t| implicit_cast(t, T::Int4));
                if !fits {
                    let name = |t: Option<DataType>| t.map_or("unknown", DataType::name);
                    let mut sig = vec![name(s_type)];
                    if from.is_some() {
                        sig.push(name(from_type));
                    }
                    if len.is_some() {
                        sig.push(name(len_type));
                    }
                    return Err(SqlError::UndefinedFunction(format!(
                        "{fname}({})",
                        sig.join(", ")
                    )));
                }
                if regex && len.is_none() {
                    // SUBSTRING(s FROM pattern): the POSIX regular-expression form.
                    let s = self.coerce_to(s, T::Text);
                    let p = self.coerce_to(from.unwrap_or(Expr::Literal(Value::Null)), T::Text);
                    return Ok(Expr::Func {
                        name: "fn_substring_regex",
                        args: vec![s, p],
                    });
                }
                let ty = if self.type_of(&s) == Some(T::Bytea) {
                    T::Bytea
                } else {
                    T::Text
                };
                let s = self.coerce_to(s, ty);
                let from = self.coerce_to(from.unwrap_or(Expr::Literal(Value::Int(1))), T::Int4);
                let mut args = vec![s, from];
                if let Some(l) = len {
                    args.push(self.coerce_to(l, T::Int4));
                }
                Expr::Func {
                    name: "fn_substr",
                    args,
                }
            }
            ast::Expr::Trim {
                trim_where,
                trim_what,
                expr,
                trim_characters,
            } => {
                if trim_characters.is_some() {
                    return Err(SqlError::Syntax("syntax error at or near \",\"".into()));
                }
                let s = bind(self, expr)?;
                let s = self.coerce_to(s, T::Text);
                let mut args = vec![s];
                if let Some(w) = trim_what {
                    let c = bind(self, w)?;
                    args.push(self.coerce_to(c, T::Text));
                }
                let name = match trim_where {
                    Some(ast::TrimWhereField::Leading) => "fn_ltrim",
                    Some(ast::TrimWhereField::Trailing) => "fn_rtrim",
                    _ => "fn_btrim",
                };
                Expr::Func { name, args }
            }
            ast::Expr::Overlay {
                expr,
                overlay_what,
                overlay_from,
                overlay_for,
            } => {
                let s = bind(self, expr)?;
                let ty = if self.type_of(&s) == Some(T::Bytea) {
                    T::Bytea
                } else {
                    T::Text
                };
                let s = self.coerce_to(s, ty);
                let r = bind(self, overlay_what)?;
                let r = self.coerce_to(r, ty);
                let from = bind(self, overlay_from)?;
                let from = self.coerce_to(from, T::Int4);
                let mut args = vec![s, r, from];
                if let Some(f) = overlay_for {
                    let l = bind(self, f)?;
                    args.push(self.coerce_to(l, T::Int4));
                }
                Expr::Func {
                    name: "fn_overlay",
                    args,
                }
            }
            ast::Expr::Position { expr, r#in } => {
                let needle = bind(self, expr)?;
                let hay = bind(self, r#in)?;
                let needle = self.coerce_to(needle, T::Text);
                let hay = self.coerce_to(hay, T::Text);
                Expr::Func {
                    name: "fn_position",
                    args: vec![hay, needle],
                }
            }
            ast::Expr::SimilarTo {
                negated,
                expr,
                pattern,
                escape_char,
            } => {
                let s = bind(self, expr)?;
                let s = self.coerce_to(s, T::Text);
                let p = bind(self, pattern)?;
                let p = self.coerce_to(p, T::Text);
                let mut args = vec![s, p];
                if let Some(esc) = escape_char {
                    let x = bind(self, esc)?;
                    args.push(self.coerce_to(x, T::Text));
                }
                let f = Expr::Func {
                    name: "fn_similar",
                    args,
                };
                if *negated { Expr::Not(Box::new(f)) } else { f }
            }
            other => {
                return Err(SqlError::Internal(format!(
                    "not a string syntax form: {other}"
                )));
            }
        })
    }
}

// ---- evaluation ----

/// Evaluates a bound `fn_…` function over its arguments' values.
pub(crate) fn eval(
    name: &str,
    vals: &[Value],
    session: &crate::expr::SessionInfo,
) -> SqlResult<Value> {
    match name {
        "fn_greatest" | "fn_least" => {
            let mut best: Option<&Value> = None;
            for v in vals.iter().filter(|v| !v.is_null()) {
                best = Some(match best {
                    None => v,
                    Some(b) => {
                        let o = v.compare(b)?.unwrap_or(Ordering::Equal);
                        let better = if name == "fn_greatest" {
                            o == Ordering::Greater
                        } else {
                            o == Ordering::Less
                        };
                        if better { v } else { b }
                    }
                });
            }
            return Ok(best.cloned().unwrap_or(Value::Null));
        }
        "fn_num_nulls" => {
            return Ok(Value::Int(
                vals.iter().filter(|v| v.is_null()).count() as i64
            ));
        }
        "fn_num_nonnulls" => {
            return Ok(Value::Int(
                vals.iter().filter(|v| !v.is_null()).count() as i64
            ));
        }
        "fn_format" => return format(vals),
        "fn_quote_nullable" => {
            // The value cast to text (`true`, not its output form `t`), then quoted.
            return Ok(Value::Text(match &vals[0] {
                Value::Null => "NULL".into(),
                v => crate::catalog_views::quote_literal(
                    &v.clone()
                        .cast(DataType::Text)?
                        .to_text()
                        .unwrap_or_default(),
                ),
            }));
        }
        "fn_random" => return Ok(Value::Float(session.random.next_double())),
        "fn_gen_random_uuid" => return gen_random_uuid(),
        "fn_pi" => return Ok(Value::Float(std::f64::consts::PI)),
        _ => {}
    }
    if vals.iter().any(Value::is_null) {
        return Ok(Value::Null);
    }
    let text = |i: usize| vals[i].to_text().unwrap_or_default();
    let int = |i: usize| -> i64 {
        match &vals[i] {
            Value::Int(n) => *n,
            _ => 0,
        }
    };
    let float = |i: usize| -> f64 {
        match &vals[i] {
            Value::Float(f) => *f,
            Value::Float4(f) => f64::from(*f),
            Value::Int(n) => *n as f64,
            Value::Numeric(n) => n.to_f64(),
            _ => f64::NAN,
        }
    };
    Ok(match name {
        "fn_octet_length" | "fn_bit_length" => {
            let bytes = match &vals[0] {
                Value::Bytes(b) => b.len(),
                _ => text(0).len(),
            } as i64;
            Value::Int(if name == "fn_bit_length" {
                bytes * 8
            } else {
                bytes
            })
        }
        "fn_substr" => substr(&vals[0], int(1), vals.get(2).map(|_| int(2)))?,
        "fn_overlay" => overlay(vals)?,
        "fn_position" => {
            let (s, sub) = (text(0), text(1));
            Value::Int(
                s.find(&sub)
                    .map_or(0, |b| s[..b].chars().count() as i64 + 1),
            )
        }
        "fn_btrim" | "fn_ltrim" | "fn_rtrim" => {
            let s = text(0);
            let set: Vec<char> = if vals.len() > 1 {
                text(1).chars().collect()
            } else {
                vec![' ']
            };
            let hit = |c: char| set.contains(&c);
            Value::Text(match name {
                "fn_btrim" => s.trim_matches(hit).to_string(),
                "fn_ltrim" => s.trim_start_matches(hit).to_string(),
                _ => s.trim_end_matches(hit).to_string(),
            })
        }
        "fn_translate" => {
            let (from, to): (Vec<char>, Vec<char>) =
                (text(1).chars().collect(), text(2).chars().collect());
            Value::Text(
                text(0)
                    .chars()
                    .filter_map(|c| match from.iter().position(|f| *f == c) {
                        None => Some(c),
                        Some(i) => to.get(i).copied(),
                    })
                    .collect(),
            )
        }
        "fn_starts_with" => Value::Bool(text(0).starts_with(&text(1))),
        // The code point of the first character (the encoding is UTF-8); 0 for ''.
        "fn_ascii" => Value::Int(
            text(0)
                .chars()
                .next()
                .map_or(0, |c| i64::from(u32::from(c))),
        ),
        "fn_chr" => {
            let code = int(0);
            if code == 0 {
                return Err(SqlError::ProgramLimitExceeded(
                    "null character not permitted".into(),
                ));
            }
            if code < 0 {
                return Err(SqlError::InvalidParameterValue(
                    "character number must be positive".into(),
                ));
            }
            let c = u32::try_from(code).ok().and_then(char::from_u32);
            match c {
                Some(c) => Value::Text(c.to_string()),
                None if code > 0x10FFFF => {
                    return Err(SqlError::ProgramLimitExceeded(format!(
                        "requested character too large for encoding: {code}"
                    )));
                }
                None => {
                    return Err(SqlError::ProgramLimitExceeded(format!(
                        "requested character not valid for encoding: {code}"
                    )));
                }
            }
        }
        "fn_to_hex32" => Value::Text(format!("{:x}", int(0) as i32 as u32)),
        "fn_to_hex" => Value::Text(format!("{:x}", int(0) as u64)),
        "fn_encode" => encode(bytes_of(&vals[0]), &text(1))?,
        "fn_decode" => decode(&text(0), &text(1))?,
        "fn_md5" => {
            use md5::Digest as _;
            let digest = md5::Md5::digest(bytes_of(&vals[0]));
            Value::Text(hex(digest.as_slice()))
        }
        "fn_sha224" | "fn_sha256" | "fn_sha384" | "fn_sha512" => {
            use sha2::Digest as _;
            let data = bytes_of(&vals[0]);
            Value::Bytes(match name {
                "fn_sha224" => sha2::Sha224::digest(data).to_vec(),
                "fn_sha256" => sha2::Sha256::digest(data).to_vec(),
                "fn_sha384" => sha2::Sha384::digest(data).to_vec(),
                _ => sha2::Sha512::digest(data).to_vec(),
            })
        }
        "fn_regexp_replace"
        | "fn_regexp_replace_flags"
        | "fn_regexp_match"
        | "fn_regexp_like"
        | "fn_regexp_split_to_array"
        | "fn_regexp_count"
        | "fn_regexp_instr"
        | "fn_regexp_substr"
        | "fn_substring_regex"
        | "fn_similar" => regex_function(name, vals)?,
        "fn_cbrt" | "fn_sin" | "fn_cos" | "fn_tan" | "fn_cot" | "fn_asin" | "fn_acos"
        | "fn_atan" | "fn_sinh" | "fn_cosh" | "fn_tanh" | "fn_degrees" | "fn_radians"
        | "fn_atan2" => Value::Float(float_function(
            name,
            float(0),
            vals.get(1).map(|_| float(1)),
        )?),
        "fn_setseed" => {
            let seed = float(0);
            if !(-1.0..=1.0).contains(&seed) {
                return Err(SqlError::InvalidParameterValue(format!(
                    "setseed parameter {} is out of allowed range [-1,1]",
                    crate::types::Value::Float(seed)
                        .to_text()
                        .unwrap_or_default()
                )));
            }
            session.random.set_seed(seed);
            Value::Text(String::new())
        }
        "fn_width_bucket" => Value::Int(i64::from(width_bucket_float(
            float(0),
            float(1),
            float(2),
            int(3),
        )?)),
        "fn_width_bucket_numeric" => {
            let num = |i: usize| match &vals[i] {
                Value::Numeric(n) => n.clone(),
                Value::Int(n) => Numeric::from_i64(*n),
                _ => Numeric::zero(),
            };
            Value::Int(i64::from(width_bucket_numeric(
                &num(0),
                &num(1),
                &num(2),
                int(3),
            )?))
        }
        "fn_scale" | "fn_min_scale" | "fn_trim_scale" => {
            let Value::Numeric(n) = &vals[0] else {
                return Err(SqlError::Internal(format!("{name}: not a numeric")));
            };
            if n.is_nan() {
                return Ok(Value::Null);
            }
            let t = n.to_string();
            if t.contains("Infinity") {
                return Ok(if name == "fn_trim_scale" {
                    vals[0].clone()
                } else {
                    Value::Null
                });
            }
            let trimmed = trim_scale_text(&t);
            match name {
                "fn_scale" => Value::Int(i64::from(n.scale())),
                "fn_min_scale" => {
                    Value::Int(trimmed.split_once('.').map_or(0, |(_, f)| f.len() as i64))
                }
                _ => Value::Numeric(Numeric::parse(&trimmed)?),
            }
        }
        "fn_to_char_int" | "fn_to_char_numeric" | "fn_to_char_float" => {
            Value::Text(to_char_number(&vals[0], &text(1))?)
        }
        "fn_to_number" => Value::Numeric(to_number(&text(0), &text(1))?),
        other => return Err(SqlError::UndefinedFunction(format!("{other}()"))),
    })
}

/// A bytea argument's bytes, or a text argument's UTF-8 bytes.
fn bytes_of(v: &Value) -> &[u8] {
    match v {
        Value::Bytes(b) => b,
        Value::Text(t) => t.as_bytes(),
        _ => &[],
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// `substr(s, start [, count])` over characters (text) or bytes (bytea), as PostgreSQL
/// counts: positions before 1 still use up the count.
fn substr(v: &Value, start: i64, count: Option<i64>) -> SqlResult<Value> {
    if let Some(c) = count
        && c < 0
    {
        return Err(SqlError::InvalidSubstringLength(
            "negative substring length not allowed".into(),
        ));
    }
    let end = count.map(|c| start.saturating_add(c));
    let first = start.max(1);
    let range = |len: i64| -> (usize, usize) {
        let lo = (first - 1).clamp(0, len);
        let hi = end.map_or(len, |e| (e - 1).clamp(0, len)).max(lo);
        (lo as usize, hi as usize)
    };
    Ok(match v {
        Value::Bytes(b) => {
            let (lo, hi) = range(b.len() as i64);
            Value::Bytes(b[lo..hi].to_vec())
        }
        other => {
            let t = other.to_text().unwrap_or_default();
            let len = t.chars().count() as i64;
            let (lo, hi) = range(len);
            Value::Text(t.chars().skip(lo).take(hi - lo).collect())
        }
    })
}

/// `overlay(s placing r from a [for n])`: `substr(s, 1, a-1) || r || substr(s, a+n)`, `n`
/// defaulting to the length of `r`.
fn overlay(vals: &[Value]) -> SqlResult<Value> {
    let from = match &vals[2] {
        Value::Int(n) => *n,
        _ => 1,
    };
    let bytes = matches!(vals[0], Value::Bytes(_));
    let len_of = |v: &Value| match v {
        Value::Bytes(b) => b.len() as i64,
        other => other.to_text().unwrap_or_default().chars().count() as i64,
    };
    let count = match vals.get(3) {
        Some(Value::Int(n)) => *n,
        _ => len_of(&vals[1]),
    };
    let after = from
        .checked_add(count)
        .ok_or_else(|| SqlError::NumericValueOutOfRange("integer out of range".into()))?;
    if from < 1 || count < 0 {
        return Err(SqlError::InvalidSubstringLength(
            "negative substring length not allowed".into(),
        ));
    }
    let head = substr(&vals[0], 1, Some(from - 1))?;
    let tail = substr(&vals[0], after, None)?;
    Ok(if bytes {
        let mut out = bytes_of(&head).to_vec();
        out.extend_from_slice(bytes_of(&vals[1]));
        out.extend_from_slice(bytes_of(&tail));
        Value::Bytes(out)
    } else {
        Value::Text(format!(
            "{}{}{}",
            head.to_text().unwrap_or_default(),
            vals[1].to_text().unwrap_or_default(),
            tail.to_text().unwrap_or_default()
        ))
    })
}

/// A numeric's text without trailing fractional zeros (and without the point when none is
/// left).
fn trim_scale_text(t: &str) -> String {
    match t.split_once('.') {
        None => t.to_string(),
        Some((i, f)) => {
            let f = f.trim_end_matches('0');
            if f.is_empty() {
                i.to_string()
            } else {
                format!("{i}.{f}")
            }
        }
    }
}

// ---- format() ----

/// `format(fmt, args…)`: `%[position$][-][width]type` with types `s`, `I`, `L` and `%%`, as
/// PostgreSQL's `text_format` reads them.
fn format(vals: &[Value]) -> SqlResult<Value> {
    let Some(fmt) = vals[0].to_text() else {
        return Ok(Value::Null);
    };
    let args = &vals[1..];
    let bad = |m: &str| SqlError::InvalidParameterValue(m.to_string());
    let mut out = String::new();
    let chars: Vec<char> = fmt.chars().collect();
    let mut i = 0;
    let mut next_arg = 0usize;
    let number = |i: &mut usize| -> Option<usize> {
        let start = *i;
        while *i < chars.len() && chars[*i].is_ascii_digit() {
            *i += 1;
        }
        (start < *i).then(|| {
            chars[start..*i]
                .iter()
                .collect::<String>()
                .parse::<usize>()
                .unwrap_or(usize::MAX)
        })
    };
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '%' {
            out.push(c);
            continue;
        }
        let unterminated = || bad("unterminated format() type specifier");
        if i >= chars.len() {
            return Err(unterminated());
        }
        if chars[i] == '%' {
            out.push('%');
            i += 1;
            continue;
        }
        // An explicit argument position: digits then `$`.
        let save = i;
        let mut position = None;
        if let Some(n) = number(&mut i) {
            if i < chars.len() && chars[i] == '$' {
                if n == 0 {
                    return Err(bad(
                        "format specifies argument 0, but arguments are numbered from 1",
                    ));
                }
                position = Some(n);
                i += 1;
            } else {
                i = save;
            }
        }
        let mut left = false;
        while i < chars.len() && chars[i] == '-' {
            left = true;
            i += 1;
        }
        let mut width = None;
        if i < chars.len() && chars[i] == '*' {
            // The width from an argument: `*` the next one, `*n$` the n-th.
            i += 1;
            let save = i;
            let which = match number(&mut i) {
                Some(n) if i < chars.len() && chars[i] == '$' => {
                    i += 1;
                    let w = n.checked_sub(1).ok_or_else(|| {
                        bad("format specifies argument 0, but arguments are numbered from 1")
                    })?;
                    // The value, unless positioned itself, is the argument after the width.
                    next_arg = n;
                    w
                }
                _ => {
                    i = save;
                    let w = next_arg;
                    next_arg += 1;
                    w
                }
            };
            let v = args
                .get(which)
                .ok_or_else(|| bad("too few arguments for format()"))?;
            let w = match v {
                Value::Null => 0,
                Value::Int(n) => *n,
                other => other
                    .to_text()
                    .and_then(|t| t.trim().parse::<i64>().ok())
                    .unwrap_or(0),
            };
            if w < 0 {
                left = true;
            }
            width = Some(usize::try_from(w.unsigned_abs()).unwrap_or(usize::MAX));
        } else if let Some(n) = number(&mut i) {
            width = Some(n);
        }
        if i >= chars.len() {
            return Err(unterminated());
        }
        let kind = chars[i];
        i += 1;
        if !matches!(kind, 's' | 'I' | 'L') {
            return Err(SqlError::InvalidParameterValue(format!(
                "unrecognized format() type specifier \"{kind}\""
            )));
        }
        let index = match position {
            Some(p) => {
                // The next implicit argument is the one after this.
                next_arg = p;
                p - 1
            }
            None => {
                let k = next_arg;
                next_arg += 1;
                k
            }
        };
        let v = args
            .get(index)
            .ok_or_else(|| bad("too few arguments for format()"))?;
        let piece = match (kind, v.to_text()) {
            ('s', None) => String::new(),
            ('s', Some(t)) => t,
            ('I', None) => {
                return Err(SqlError::NullValueNotAllowed(
                    "null values cannot be formatted as an SQL identifier".into(),
                ));
            }
            ('I', Some(t)) => crate::catalog_views::quote_ident(&t),
            (_, None) => "NULL".into(),
            (_, Some(t)) => crate::catalog_views::quote_literal(&t),
        };
        let len = piece.chars().count();
        let pad = width.unwrap_or(0).saturating_sub(len);
        if pad > RESULT_BYTES_MAX {
            return Err(SqlError::ProgramLimitExceeded(
                "requested length too large".into(),
            ));
        }
        if left {
            out.push_str(&piece);
            out.extend(std::iter::repeat_n(' ', pad));
        } else {
            out.extend(std::iter::repeat_n(' ', pad));
            out.push_str(&piece);
        }
        if out.len() > RESULT_BYTES_MAX {
            return Err(SqlError::ProgramLimitExceeded(
                "requested length too large".into(),
            ));
        }
    }
    Ok(Value::Text(out))
}

// ---- encode / decode ----

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `encode(bytes, format)`: `base64` (lines of 76 characters, as PostgreSQL breaks them),
/// `hex` or `escape`.
fn encode(data: &[u8], format: &str) -> SqlResult<Value> {
    Ok(Value::Text(match format.to_ascii_lowercase().as_str() {
        "hex" => hex(data),
        "base64" => {
            let mut out = String::with_capacity(data.len() * 4 / 3 + 4);
            let mut line = 0;
            for chunk in data.chunks(3) {
                let b = [
                    chunk[0],
                    chunk.get(1).copied().unwrap_or(0),
                    chunk.get(2).copied().unwrap_or(0),
                ];
                let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
                if line >= 76 {
                    out.push('\n');
                    line = 0;
                }
                for k in 0..4 {
                    if k <= chunk.len() {
                        out.push(BASE64[((n >> (18 - 6 * k)) & 63) as usize] as char);
                    } else {
                        out.push('=');
                    }
                }
                line += 4;
            }
            out
        }
        "escape" => {
            let mut out = String::with_capacity(data.len());
            for &b in data {
                if b == 0 || b >= 0x80 {
                    out.push_str(&format!("\\{b:03o}"));
                } else if b == b'\\' {
                    out.push_str("\\\\");
                } else {
                    out.push(b as char);
                }
            }
            out
        }
        _ => {
            return Err(SqlError::InvalidParameterValue(format!(
                "unrecognized encoding: \"{format}\""
            )));
        }
    }))
}

/// `decode(text, format)`, the inverse of [`encode`], with PostgreSQL's errors for malformed
/// input (22023).
fn decode(s: &str, format: &str) -> SqlResult<Value> {
    let bad = |m: String| SqlError::InvalidParameterValue(m);
    Ok(Value::Bytes(match format.to_ascii_lowercase().as_str() {
        "hex" => {
            let mut out = Vec::with_capacity(s.len() / 2);
            let mut chars = s.chars().filter(|c| !c.is_ascii_whitespace());
            let digit = |c: char| {
                c.to_digit(16)
                    .ok_or_else(|| bad(format!("invalid hexadecimal digit: \"{c}\"")))
            };
            while let Some(h) = chars.next() {
                let hi = digit(h)?;
                let lo = match chars.next() {
                    Some(l) => digit(l)?,
                    None => {
                        return Err(bad("invalid hexadecimal data: odd number of digits".into()));
                    }
                };
                out.push((hi * 16 + lo) as u8);
            }
            out
        }
        "base64" => base64_decode(s)?,
        "escape" => escape_decode(s)?,
        _ => {
            return Err(bad(format!("unrecognized encoding: \"{format}\"")));
        }
    }))
}

/// Base64 as PostgreSQL's `pg_b64_decode` reads it: whitespace skipped, `=` allowed only as
/// the third or fourth character of a group, and each group after the first `=` giving only
/// the bytes the padding left.
fn base64_decode(s: &str) -> SqlResult<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut buf, mut pos, mut end) = (0u32, 0u32, 0u32);
    for c in s.chars() {
        if matches!(c, ' ' | '\t' | '\n' | '\r') {
            continue;
        }
        let b = if c == '=' {
            if end == 0 {
                end = match pos {
                    2 => 1,
                    3 => 2,
                    _ => {
                        return Err(SqlError::InvalidParameterValue(
                            "unexpected \"=\" while decoding base64 sequence".into(),
                        ));
                    }
                };
            }
            0
        } else {
            match BASE64.iter().position(|&x| x as char == c) {
                Some(v) => v as u32,
                None => {
                    return Err(SqlError::InvalidParameterValue(format!(
                        "invalid symbol \"{c}\" found while decoding base64 sequence"
                    )));
                }
            }
        };
        buf = (buf << 6) | b;
        pos += 1;
        if pos == 4 {
            out.push((buf >> 16) as u8);
            if end == 0 || end > 1 {
                out.push((buf >> 8) as u8);
            }
            if end == 0 || end > 2 {
                out.push(buf as u8);
            }
            buf = 0;
            pos = 0;
        }
    }
    if pos != 0 {
        return Err(SqlError::InvalidBase64End);
    }
    Ok(out)
}

/// The `escape` format as PostgreSQL's `esc_decode` reads it: `\\` a backslash, `\ooo` an
/// octal byte (first digit 0 to 3), any other backslash an error.
fn escape_decode(s: &str) -> SqlResult<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let octal = |x: u8| (b'0'..=b'7').contains(&x);
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
        } else if i + 3 < b.len()
            && (b'0'..=b'3').contains(&b[i + 1])
            && octal(b[i + 2])
            && octal(b[i + 3])
        {
            out.push(((b[i + 1] - b'0') << 6) | ((b[i + 2] - b'0') << 3) | (b[i + 3] - b'0'));
            i += 4;
        } else if i + 1 < b.len() && b[i + 1] == b'\\' {
            out.push(b'\\');
            i += 2;
        } else {
            return Err(SqlError::InvalidInput(
                "invalid input syntax for type bytea".into(),
            ));
        }
    }
    Ok(out)
}

// ---- random numbers ----

/// A session's `random()` generator: PostgreSQL's xoroshiro128**, seeded by `setseed` or, at
/// first use, from the operating system's random source.
#[derive(Debug, Default)]
pub struct SessionRandom {
    state: Mutex<Option<[u64; 2]>>,
}

fn splitmix64(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut v = *seed;
    v = (v ^ (v >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    v = (v ^ (v >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    v ^ (v >> 31)
}

fn seeded(mut seed: u64) -> [u64; 2] {
    let s = [splitmix64(&mut seed), splitmix64(&mut seed)];
    // An all-zero state would stay zero forever.
    if s == [0, 0] { [1, 0] } else { s }
}

impl SessionRandom {
    /// `setseed(x)`, `x` in [-1, 1]: the state PostgreSQL's `pg_prng_fseed` makes of it.
    pub fn set_seed(&self, x: f64) {
        let seed = (((1u64 << 52) - 1) as f64 * x) as i64 as u64;
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = Some(seeded(seed));
    }

    /// The next `random()`: 52 random bits as a double in [0, 1).
    pub fn next_double(&self) -> f64 {
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let s = guard.get_or_insert_with(|| {
            let mut b = [0u8; 8];
            if os_random(&mut b).is_err() {
                // No random source: the clock still differs between sessions.
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64);
                b = nanos.to_le_bytes();
            }
            seeded(u64::from_le_bytes(b))
        });
        let (s0, s1) = (s[0], s[1]);
        let sx = s1 ^ s0;
        let v = s0.wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        s[0] = s0.rotate_left(24) ^ sx ^ (sx << 16);
        s[1] = sx.rotate_left(37);
        (v >> 12) as f64 / (1u64 << 52) as f64
    }
}

/// Fills `buf` from the operating system's cryptographically secure random source.
pub fn os_random(buf: &mut [u8]) -> std::io::Result<()> {
    std::fs::File::open("/dev/urandom")?.read_exact(buf)
}

/// A version-4 (random) UUID, as `gen_random_uuid()` makes.
fn gen_random_uuid() -> SqlResult<Value> {
    let mut b = [0u8; 16];
    os_random(&mut b)
        .map_err(|e| SqlError::Internal(format!("could not generate random values: {e}")))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    Ok(Value::Uuid(u128::from_be_bytes(b)))
}

// ---- numbers ----

fn float_function(name: &str, x: f64, y: Option<f64>) -> SqlResult<f64> {
    let out_of_range = || SqlError::NumericValueOutOfRange("input is out of range".into());
    if x.is_nan() || y.is_some_and(f64::is_nan) {
        return Ok(f64::NAN);
    }
    /// PostgreSQL's RADIANS_PER_DEGREE.
    const RADIANS_PER_DEGREE: f64 = 0.017_453_292_519_943_295;
    let r = match name {
        "fn_cbrt" => cbrt(x),
        "fn_sin" | "fn_cos" | "fn_tan" | "fn_cot" if x.is_infinite() => return Err(out_of_range()),
        "fn_sin" => x.sin(),
        "fn_cos" => x.cos(),
        "fn_tan" => x.tan(),
        "fn_cot" => 1.0 / x.tan(),
        "fn_asin" | "fn_acos" if !(-1.0..=1.0).contains(&x) => return Err(out_of_range()),
        "fn_asin" => x.asin(),
        "fn_acos" => x.acos(),
        "fn_atan" => x.atan(),
        "fn_atan2" => x.atan2(y.unwrap_or(1.0)),
        "fn_sinh" => x.sinh(),
        "fn_cosh" => x.cosh(),
        "fn_tanh" => x.tanh(),
        "fn_degrees" => x / RADIANS_PER_DEGREE,
        _ => x * RADIANS_PER_DEGREE,
    };
    if r.is_infinite() && x.is_finite() && matches!(name, "fn_degrees" | "fn_radians") {
        return Err(SqlError::NumericValueOutOfRange(
            "value out of range: overflow".into(),
        ));
    }
    Ok(r)
}

/// The cube root as the C library PostgreSQL is built with computes it (a polynomial first
/// guess and one rational refinement, not correctly rounded: `cbrt(27)` is
/// 3.0000000000000004), so that results match PostgreSQL's digit for digit.
// The polynomial's coefficients are written as the C library writes them.
#[allow(clippy::excessive_precision)]
fn cbrt(x: f64) -> f64 {
    /// The cube root of 2, and its square.
    const CBRT2: f64 = 1.259_921_049_894_873_2;
    const SQR_CBRT2: f64 = 1.587_401_051_968_199_5;
    const FACTOR: [f64; 5] = [1.0 / SQR_CBRT2, 1.0 / CBRT2, 1.0, CBRT2, SQR_CBRT2];
    if x == 0.0 || !x.is_finite() {
        return x + x;
    }
    let (xm, xe) = frexp(x.abs());
    let u = 0.354_895_765_043_919_86
        + (1.508_191_937_815_848_96
            + (-2.114_994_941_673_712_87
                + (2.446_931_225_635_344_3
                    + (-1.834_692_774_836_130_86
                        + (0.784_932_344_976_639_262 - 0.145_263_899_385_486_377 * xm) * xm)
                        * xm)
                    * xm)
                * xm)
            * xm;
    let t2 = u * u * u;
    let ym = u * (t2 + 2.0 * xm) / (2.0 * t2 + xm) * FACTOR[(2 + xe % 3) as usize];
    ldexp(if x > 0.0 { ym } else { -ym }, xe / 3)
}

/// `x` as a mantissa in [0.5, 1) and a power of two.
fn frexp(x: f64) -> (f64, i32) {
    let bits = x.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    if exp == 0 {
        // Subnormal: scale into the normal range first.
        let (m, e) = frexp(x * f64::from_bits(0x4350_0000_0000_0000)); // 2^54
        return (m, e - 54);
    }
    let m = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (m, exp - 1022)
}

fn ldexp(x: f64, e: i32) -> f64 {
    // Two steps keep each power of two representable.
    let half = e / 2;
    x * 2f64.powi(half) * 2f64.powi(e - half)
}

fn width_bucket_checks(count: i64, nan: bool, equal: bool) -> SqlResult<()> {
    if count <= 0 {
        return Err(SqlError::InvalidArgumentForWidthBucket(
            "count must be greater than zero".into(),
        ));
    }
    if nan {
        return Err(SqlError::InvalidArgumentForWidthBucket(
            "operand, lower bound, and upper bound cannot be NaN".into(),
        ));
    }
    if equal {
        return Err(SqlError::InvalidArgumentForWidthBucket(
            "lower bound cannot equal upper bound".into(),
        ));
    }
    Ok(())
}

fn bucket_result(b: i64) -> SqlResult<i32> {
    i32::try_from(b).map_err(|_| SqlError::NumericOutOfRange("integer".into()))
}

/// `width_bucket(x, low, high, count)` over doubles, as PostgreSQL's `width_bucket_float8`.
fn width_bucket_float(x: f64, low: f64, high: f64, count: i64) -> SqlResult<i32> {
    width_bucket_checks(
        count,
        x.is_nan() || low.is_nan() || high.is_nan(),
        low == high,
    )?;
    if low.is_infinite() || high.is_infinite() {
        return Err(SqlError::InvalidArgumentForWidthBucket(
            "lower and upper bounds must be finite".into(),
        ));
    }
    let c = count as f64;
    let b = if low < high {
        if x < low {
            0
        } else if x >= high {
            count + 1
        } else {
            ((x - low) / (high - low) * c) as i64 + 1
        }
    } else if x > low {
        0
    } else if x <= high {
        count + 1
    } else {
        ((low - x) / (low - high) * c) as i64 + 1
    };
    bucket_result(b)
}

/// `width_bucket` over numerics, exactly: `floor((x - low) * count / (high - low)) + 1`.
fn width_bucket_numeric(x: &Numeric, low: &Numeric, high: &Numeric, count: i64) -> SqlResult<i32> {
    width_bucket_checks(
        count,
        x.is_nan() || low.is_nan() || high.is_nan(),
        low.total_cmp(high) == Ordering::Equal,
    )?;
    let c = Numeric::from_i64(count);
    let b = if low.total_cmp(high) == Ordering::Less {
        if x.total_cmp(low) == Ordering::Less {
            0
        } else if x.total_cmp(high) != Ordering::Less {
            count + 1
        } else {
            bucket_index(&x.sub(low)?.mul(&c)?, &high.sub(low)?)?
        }
    } else if x.total_cmp(low) == Ordering::Greater {
        0
    } else if x.total_cmp(high) != Ordering::Greater {
        count + 1
    } else {
        bucket_index(&low.sub(x)?.mul(&c)?, &low.sub(high)?)?
    };
    bucket_result(b)
}

fn bucket_index(num: &Numeric, den: &Numeric) -> SqlResult<i64> {
    // Both positive: the truncated quotient, exact.
    let r = num.rem(den)?;
    let q = num.sub(&r)?.div(den)?.trunc(0);
    Ok(q.to_i64_rounded("integer")?.unwrap_or(0) + 1)
}

// ---- regular expressions ----

/// The flags a regular-expression function takes, as PostgreSQL reads them.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
struct RegexFlags {
    global: bool,
    case_insensitive: bool,
    /// `n` (newline-sensitive): `.` and `[^…]` stop at newlines, `^`/`$` match at them.
    newline: bool,
    expanded: bool,
    literal: bool,
}

fn parse_flags(flags: &str, func: &str, global_allowed: bool) -> SqlResult<RegexFlags> {
    let mut f = RegexFlags::default();
    for c in flags.chars() {
        match c {
            'g' => f.global = true,
            'i' => f.case_insensitive = true,
            'c' => f.case_insensitive = false,
            'n' | 'm' => f.newline = true,
            's' => f.newline = false,
            'x' => f.expanded = true,
            't' => f.expanded = false,
            'q' => f.literal = true,
            'p' | 'w' | 'b' | 'e' => {
                return Err(SqlError::InvalidRegularExpression(format!(
                    "invalid regular expression: option \"{c}\" is not supported"
                )));
            }
            other => {
                return Err(SqlError::InvalidParameterValue(format!(
                    "invalid regular expression option: \"{other}\""
                )));
            }
        }
    }
    if f.global && !global_allowed {
        return Err(SqlError::InvalidParameterValueHint {
            message: format!("{func}() does not support the \"global\" option"),
            hint: match func {
                "regexp_match" => "Use the regexp_matches function instead.".into(),
                _ => String::new(),
            },
        });
    }
    Ok(f)
}

/// An ARE pattern in the engine's syntax, or 2201B for what the engine cannot express.
fn translate_are(p: &str) -> SqlResult<String> {
    let unsupported = |what: &str| {
        SqlError::InvalidRegularExpression(format!(
            "invalid regular expression: {what} are not supported"
        ))
    };
    let chars: Vec<char> = p.chars().collect();
    let mut out = String::with_capacity(p.len() + 8);
    let (mut parens, mut i, mut in_bracket) = (0i64, 0usize, false);
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if in_bracket {
            match c {
                ']' => in_bracket = false,
                '[' if matches!(chars.get(i), Some('.' | '=')) => {
                    return Err(unsupported("collating elements and equivalence classes"));
                }
                '[' if chars.get(i) == Some(&':') => {
                    // A class name: copied up to its `:]`.
                    out.push('[');
                    while i < chars.len() {
                        out.push(chars[i]);
                        i += 1;
                        if chars[i - 1] == ']' && chars.get(i.wrapping_sub(2)) == Some(&':') {
                            break;
                        }
                    }
                    continue;
                }
                '[' => {
                    out.push_str("\\[");
                    continue;
                }
                '\\' => {
                    let Some(&e) = chars.get(i) else {
                        return Err(SqlError::InvalidRegularExpression(
                            "invalid regular expression: invalid escape \\ sequence".into(),
                        ));
                    };
                    i += 1;
                    out.push_str(&translate_escape(e, &chars, &mut i, true)?);
                    continue;
                }
                _ => {}
            }
            out.push(c);
            continue;
        }
        match c {
            '(' => {
                parens += 1;
                out.push('(');
                if chars.get(i) == Some(&'?') && !matches!(chars.get(i + 1), Some(':')) {
                    return Err(unsupported("lookahead and lookbehind constraints"));
                }
            }
            ')' => {
                parens -= 1;
                if parens < 0 {
                    return Err(SqlError::InvalidRegularExpression(
                        "invalid regular expression: parentheses () not balanced".into(),
                    ));
                }
                out.push(')');
            }
            '[' => {
                in_bracket = true;
                out.push('[');
                // A `]` first (after an optional `^`) is a literal.
                if chars.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if chars.get(i) == Some(&']') {
                    out.push_str("\\]");
                    i += 1;
                }
            }
            '\\' => {
                let Some(&e) = chars.get(i) else {
                    return Err(SqlError::InvalidRegularExpression(
                        "invalid regular expression: invalid escape \\ sequence".into(),
                    ));
                };
                i += 1;
                out.push_str(&translate_escape(e, &chars, &mut i, false)?);
            }
            _ => out.push(c),
        }
    }
    if parens != 0 {
        return Err(SqlError::InvalidRegularExpression(
            "invalid regular expression: parentheses () not balanced".into(),
        ));
    }
    if in_bracket {
        return Err(SqlError::InvalidRegularExpression(
            "invalid regular expression: brackets [] not balanced".into(),
        ));
    }
    Ok(out)
}

/// One ARE escape (`\` then `e`) in the engine's syntax; `i` is past `e`.
fn translate_escape(e: char, chars: &[char], i: &mut usize, in_bracket: bool) -> SqlResult<String> {
    let unsupported = |what: &str| {
        SqlError::InvalidRegularExpression(format!(
            "invalid regular expression: {what} are not supported"
        ))
    };
    Ok(match e {
        'y' if !in_bracket => "\\b".into(),
        'Y' if !in_bracket => "\\B".into(),
        'Z' if !in_bracket => "\\z".into(),
        'A' if !in_bracket => "\\A".into(),
        'm' if !in_bracket => "\\b{start}".into(),
        'M' if !in_bracket => "\\b{end}".into(),
        'b' => "\\x08".into(),
        'e' => "\\x1B".into(),
        'a' => "\\x07".into(),
        'u' | 'U' => {
            let n = if e == 'u' { 4 } else { 8 };
            let digits: String = chars.iter().skip(*i).take(n).collect();
            if digits.len() != n || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(SqlError::InvalidRegularExpression(
                    "invalid regular expression: invalid escape \\ sequence".into(),
                ));
            }
            *i += n;
            format!("\\x{{{digits}}}")
        }
        '1'..='9' if !in_bracket => return Err(unsupported("back-references")),
        '0' => "\\x00".into(),
        'd' | 'D' | 'w' | 'W' | 's' | 'S' | 't' | 'n' | 'r' | 'f' | 'v' | 'x' => format!("\\{e}"),
        c if c.is_ascii_alphanumeric() => {
            return Err(SqlError::InvalidRegularExpression(
                "invalid regular expression: invalid escape \\ sequence".into(),
            ));
        }
        c => {
            let mut s = String::new();
            if "\\.+*?()|[]{}^$#&-~ ".contains(c) {
                s.push('\\');
            }
            s.push(c);
            s
        }
    })
}

thread_local! {
    static REGEX_CACHE: std::cell::RefCell<Vec<(String, RegexFlags, regex_lite::Regex)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Compiles (or finds compiled) the ARE `pattern` under `flags`, to be run over `subject`.
///
/// The engine classifies letters and folds case for ASCII only, where PostgreSQL does so for
/// every letter: a pattern that depends on that (case-insensitive matching, word classes and
/// boundaries, letter classes) is refused with 2201B when the subject or pattern holds a
/// character beyond ASCII, rather than answering differently.
fn compile(pattern: &str, flags: RegexFlags, subject: &str) -> SqlResult<regex_lite::Regex> {
    with_compiled(pattern, flags, subject, regex_lite::Regex::clone)
}

/// Runs `f` over the compiled `pattern` (see [`compile`]) where the cache holds it: a copy of
/// a compiled expression starts without the match state the cached one has built up, so a
/// match per row through a copy allocates that state each time.
fn with_compiled<R>(
    pattern: &str,
    flags: RegexFlags,
    subject: &str,
    f: impl FnOnce(&regex_lite::Regex) -> R,
) -> SqlResult<R> {
    let ascii = subject.is_ascii() && pattern.is_ascii();
    if !ascii && !flags.literal {
        const LETTER_FEATURES: [&str; 14] = [
            "\\w",
            "\\W",
            "\\y",
            "\\Y",
            "\\m",
            "\\M",
            "[:alpha:]",
            "[:alnum:]",
            "[:upper:]",
            "[:lower:]",
            "[:word:]",
            "[:punct:]",
            "[:graph:]",
            "[:print:]",
        ];
        if flags.case_insensitive || LETTER_FEATURES.iter().any(|f| pattern.contains(f)) {
            return Err(SqlError::InvalidRegularExpression(
                "invalid regular expression: case-insensitive matching and letter classes are \
                 supported for ASCII text only"
                    .into(),
            ));
        }
    } else if !ascii && flags.case_insensitive {
        return Err(SqlError::InvalidRegularExpression(
            "invalid regular expression: case-insensitive matching is supported for ASCII text \
             only"
                .into(),
        ));
    }
    let key_flags = RegexFlags {
        global: false,
        ..flags
    };
    REGEX_CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some((_, _, re)) = cache
            .iter()
            .find(|(p, f, _)| p == pattern && *f == key_flags)
        {
            return Ok(f(re));
        }
        let translated = if flags.literal {
            regex_lite::escape(pattern)
        } else {
            translate_are(pattern)?
        };
        let re = regex_lite::RegexBuilder::new(&translated)
            .case_insensitive(flags.case_insensitive)
            .dot_matches_new_line(!flags.newline)
            .multi_line(flags.newline)
            .ignore_whitespace(flags.expanded)
            .build()
            .map_err(|e| {
                SqlError::InvalidRegularExpression(format!("invalid regular expression: {e}"))
            })?;
        if cache.len() >= REGEX_CACHE_MAX {
            cache.remove(0);
        }
        let out = f(&re);
        cache.push((pattern.to_string(), key_flags, re));
        Ok(out)
    })
}

/// `text ~ pattern` and `text ~* pattern`.
pub(crate) fn regex_is_match(text: &str, pattern: &str, case_insensitive: bool) -> SqlResult<bool> {
    let flags = RegexFlags {
        case_insensitive,
        ..RegexFlags::default()
    };
    with_compiled(pattern, flags, text, |re| re.is_match(text))
}

/// The matches PostgreSQL's `setup_regexp_matches` finds from byte `start`: every one with
/// `global`, else the first; with `ignore_degenerate` (splitting), empty matches at the start,
/// at the end or right after another match are skipped.
fn find_matches<'t>(
    re: &regex_lite::Regex,
    s: &'t str,
    start: usize,
    global: bool,
    ignore_degenerate: bool,
) -> Vec<regex_lite::Captures<'t>> {
    let mut out = Vec::new();
    let mut at = start;
    let mut prev_end = start;
    while at <= s.len() {
        let Some(caps) = re.captures_at(s, at) else {
            break;
        };
        let Some(m) = caps.get(0) else { break };
        let (so, eo) = (m.start(), m.end());
        if !ignore_degenerate || (so < s.len() && eo > prev_end) {
            out.push(caps);
        }
        prev_end = eo;
        if !global {
            break;
        }
        at = if so == eo {
            // Step over one character.
            eo + s[eo..].chars().next().map_or(1, char::len_utf8)
        } else {
            eo
        };
    }
    out
}

/// PostgreSQL's replacement text: `\1`…`\9` a group, `\&` the match, `\\` a backslash; any
/// other backslash is kept.
fn push_replacement(out: &mut String, repl: &str, caps: &regex_lite::Captures<'_>) {
    let mut chars = repl.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some(d @ '1'..='9') => {
                chars.next();
                let k = d as usize - '0' as usize;
                if let Some(g) = caps.get(k) {
                    out.push_str(g.as_str());
                }
            }
            Some('&') => {
                chars.next();
                if let Some(g) = caps.get(0) {
                    out.push_str(g.as_str());
                }
            }
            Some('\\') => {
                chars.next();
                out.push('\\');
            }
            _ => out.push('\\'),
        }
    }
}

/// Byte offset of 1-based character position `pos` in `s` (its length when beyond).
fn char_offset(s: &str, pos: i64) -> usize {
    let k = usize::try_from(pos - 1).unwrap_or(0);
    s.char_indices().nth(k).map_or(s.len(), |(b, _)| b)
}

fn char_pos(s: &str, byte: usize) -> i64 {
    s[..byte].chars().count() as i64 + 1
}

fn check_param(name: &str, v: i64, min: i64) -> SqlResult<()> {
    if v < min {
        return Err(SqlError::InvalidParameterValue(format!(
            "invalid value for parameter \"{name}\": {v}"
        )));
    }
    Ok(())
}

fn regex_function(name: &str, vals: &[Value]) -> SqlResult<Value> {
    let text = |i: usize| vals.get(i).and_then(Value::to_text).unwrap_or_default();
    let int = |i: usize, default: i64| match vals.get(i) {
        Some(Value::Int(n)) => *n,
        _ => default,
    };
    let s = text(0);
    let pattern = text(1);
    Ok(match name {
        "fn_similar" => {
            let escape = if vals.len() > 2 {
                Some(text(2))
            } else {
                Some("\\".into())
            };
            let re = compile(
                &similar_to_regex(&pattern, escape.as_deref())?,
                RegexFlags::default(),
                &s,
            )?;
            Value::Bool(re.is_match(&s))
        }
        "fn_substring_regex" => {
            let re = compile(&pattern, RegexFlags::default(), &s)?;
            match re.captures(&s) {
                None => Value::Null,
                Some(c) => {
                    let g = if c.len() > 1 { c.get(1) } else { c.get(0) };
                    g.map_or(Value::Null, |m| Value::Text(m.as_str().to_string()))
                }
            }
        }
        "fn_regexp_replace" | "fn_regexp_replace_flags" => {
            let repl = text(2);
            let (start, n, flags) = if name == "fn_regexp_replace_flags" {
                (1, 0, text(3))
            } else {
                let start = int(3, 1);
                let n = if vals.len() > 4 {
                    int(4, 1)
                } else if vals.len() > 3 {
                    1
                } else {
                    0
                };
                (start, n, text(5))
            };
            check_param("start", start, 1)?;
            check_param("n", n, 0)?;
            let f = parse_flags(&flags, "regexp_replace", true)?;
            let re = compile(&pattern, f, &s)?;
            // Without N, `g` replaces all; N > 0 replaces only the N-th; N = 0 all.
            let all = if name == "fn_regexp_replace_flags" || vals.len() == 3 {
                f.global
            } else {
                n == 0
            };
            let from = char_offset(&s, start);
            let matches = find_matches(&re, &s, from, all || n > 1, false);
            let chosen: Vec<&regex_lite::Captures<'_>> = if all {
                matches.iter().collect()
            } else {
                let k = usize::try_from(n.max(1) - 1).unwrap_or(0);
                matches.get(k).into_iter().collect()
            };
            let mut out = String::with_capacity(s.len());
            let mut last = 0;
            for c in chosen {
                let Some(m) = c.get(0) else { continue };
                out.push_str(&s[last..m.start()]);
                push_replacement(&mut out, &repl, c);
                last = m.end();
                if out.len() > RESULT_BYTES_MAX {
                    return Err(SqlError::ProgramLimitExceeded(
                        "requested length too large".into(),
                    ));
                }
            }
            out.push_str(&s[last..]);
            Value::Text(out)
        }
        "fn_regexp_match" => {
            let f = parse_flags(&text(2), "regexp_match", false)?;
            let re = compile(&pattern, f, &s)?;
            match re.captures(&s) {
                None => Value::Null,
                Some(c) if c.len() == 1 => Value::Array(vec![Value::Text(
                    c.get(0).map_or("", |m| m.as_str()).into(),
                )]),
                Some(c) => Value::Array(
                    (1..c.len())
                        .map(|k| {
                            c.get(k)
                                .map_or(Value::Null, |m| Value::Text(m.as_str().into()))
                        })
                        .collect(),
                ),
            }
        }
        "fn_regexp_like" => {
            let f = parse_flags(&text(2), "regexp_like", false)?;
            Value::Bool(compile(&pattern, f, &s)?.is_match(&s))
        }
        "fn_regexp_split_to_array" => {
            let f = parse_flags(&text(2), "regexp_split_to_array", false)?;
            let re = compile(&pattern, f, &s)?;
            let mut items = Vec::new();
            let mut last = 0;
            for c in find_matches(&re, &s, 0, true, true) {
                let Some(m) = c.get(0) else { continue };
                items.push(Value::Text(s[last..m.start()].to_string()));
                last = m.end();
            }
            items.push(Value::Text(s[last..].to_string()));
            Value::Array(items)
        }
        "fn_regexp_count" => {
            let start = int(2, 1);
            check_param("start", start, 1)?;
            let f = parse_flags(&text(3), "regexp_count", false)?;
            let re = compile(&pattern, f, &s)?;
            Value::Int(find_matches(&re, &s, char_offset(&s, start), true, false).len() as i64)
        }
        "fn_regexp_instr" | "fn_regexp_substr" => {
            let instr = name == "fn_regexp_instr";
            let start = int(2, 1);
            let n = int(3, 1);
            let (endoption, flags, sub) = if instr {
                (int(4, 0), text(5), int(6, 0))
            } else {
                (0, text(4), int(5, 0))
            };
            check_param("start", start, 1)?;
            check_param("n", n, 1)?;
            if instr && endoption != 0 && endoption != 1 {
                check_param("endoption", endoption, i64::MAX)?;
            }
            check_param("subexpr", sub, 0)?;
            let f = parse_flags(
                &flags,
                if instr {
                    "regexp_instr"
                } else {
                    "regexp_substr"
                },
                false,
            )?;
            let re = compile(&pattern, f, &s)?;
            let all = find_matches(&re, &s, char_offset(&s, start), true, false);
            let k = usize::try_from(n - 1).unwrap_or(usize::MAX);
            let m = all
                .get(k)
                .and_then(|c| c.get(usize::try_from(sub).unwrap_or(usize::MAX)));
            match (m, instr) {
                (None, true) => Value::Int(0),
                (None, false) => Value::Null,
                (Some(m), true) => Value::Int(char_pos(
                    &s,
                    if endoption == 1 { m.end() } else { m.start() },
                )),
                (Some(m), false) => Value::Text(m.as_str().to_string()),
            }
        }
        other => return Err(SqlError::Internal(format!("{other}: not a regex function"))),
    })
}

/// The regular expression a `SIMILAR TO` pattern means (anchored at both ends), as
/// PostgreSQL's `similar_to_escape` builds it: `%` any string, `_` any character, the
/// escape character making the next one literal, and the regular-expression operators
/// `|`, `*`, `+`, `?`, `{…}`, `(…)`, `[…]` kept.
fn similar_to_regex(p: &str, escape: Option<&str>) -> SqlResult<String> {
    let esc = match escape {
        None | Some("") => None,
        Some(e) if e.chars().count() == 1 => e.chars().next(),
        Some(_) => {
            return Err(SqlError::InvalidEscapeSequence(
                "invalid escape string".into(),
            ));
        }
    };
    let mut out = String::from("^(?:");
    let mut chars = p.chars();
    let mut in_bracket = false;
    while let Some(c) = chars.next() {
        if Some(c) == esc {
            match chars.next() {
                Some(n) => out.push_str(&regex_lite::escape(&n.to_string())),
                None => {
                    return Err(SqlError::InvalidEscapeSequence(
                        "invalid escape string".into(),
                    ));
                }
            }
            continue;
        }
        if in_bracket {
            if c == ']' {
                in_bracket = false;
            }
            if c == '\\' {
                out.push_str("\\\\");
            } else {
                out.push(c);
            }
            continue;
        }
        match c {
            '%' => out.push_str(".*"),
            '_' => out.push('.'),
            '[' => {
                in_bracket = true;
                out.push('[');
            }
            '|' | '*' | '+' | '?' | '{' | '}' | '(' | ')' => out.push(c),
            '.' | '^' | '$' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out.push_str(")$");
    Ok(out)
}

// ---- to_char / to_number for numbers ----

/// One element of a number template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NumToken {
    Nine,
    Zero,
    Point,
    Group,
    /// `S`: the sign, anchored to the number.
    Sign,
    Minus,
    Plus,
    SignAlways,
    Brackets,
    Currency,
    Shift,
    Eeee,
    /// `RN` (upper case) or `rn` (lower case).
    Roman(bool),
    Ordinal(bool),
    Literal(char),
}

/// A parsed number template.
struct Template {
    tokens: Vec<NumToken>,
    fill_mode: bool,
    /// Digit positions before the point, after it, and after `V`.
    pre: usize,
    post: usize,
    shift: usize,
}

fn parse_template(fmt: &str) -> SqlResult<Template> {
    use NumToken as N;
    let syntax = |m: &str| SqlError::Syntax(m.to_string());
    let chars: Vec<char> = fmt.chars().collect();
    let upper: Vec<char> = chars.iter().map(char::to_ascii_uppercase).collect();
    let at = |i: usize, s: &str| {
        s.chars()
            .enumerate()
            .all(|(k, c)| upper.get(i + k) == Some(&c))
    };
    let mut t = Template {
        tokens: Vec::new(),
        fill_mode: false,
        pre: 0,
        post: 0,
        shift: 0,
    };
    let (mut point, mut shifted, mut i) = (false, false, 0);
    while i < chars.len() {
        if t.tokens.contains(&N::Eeee) && !matches!(chars[i], ' ') {
            return Err(syntax("\"EEEE\" must be the last pattern used"));
        }
        let (tok, len) = if at(i, "FM") {
            t.fill_mode = true;
            i += 2;
            continue;
        } else if chars[i] == '9' || chars[i] == '0' {
            if shifted {
                t.shift += 1;
            } else if point {
                t.post += 1;
            } else {
                t.pre += 1;
            }
            (if chars[i] == '9' { N::Nine } else { N::Zero }, 1)
        } else if chars[i] == '.' || upper[i] == 'D' {
            if point {
                return Err(syntax("multiple decimal points"));
            }
            point = true;
            (N::Point, 1)
        } else if chars[i] == ',' || upper[i] == 'G' {
            (N::Group, 1)
        } else if at(i, "MI") {
            (N::Minus, 2)
        } else if at(i, "PL") {
            (N::Plus, 2)
        } else if at(i, "SG") {
            (N::SignAlways, 2)
        } else if at(i, "PR") {
            (N::Brackets, 2)
        } else if at(i, "RN") {
            (N::Roman(chars[i] == 'r'), 2)
        } else if at(i, "TH") {
            (N::Ordinal(chars[i] == 't'), 2)
        } else if at(i, "EEEE") {
            (N::Eeee, 4)
        } else if upper[i] == 'S' {
            (N::Sign, 1)
        } else if upper[i] == 'L' {
            (N::Currency, 1)
        } else if upper[i] == 'V' {
            shifted = true;
            (N::Shift, 1)
        } else if chars[i] == '"' {
            // A quoted literal.
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    i += 1;
                }
                t.tokens.push(N::Literal(chars[i]));
                i += 1;
            }
            i += 1;
            continue;
        } else {
            (N::Literal(chars[i]), 1)
        };
        t.tokens.push(tok);
        i += len;
    }
    if t.tokens.contains(&N::Eeee)
        && (t.fill_mode
            || t.tokens
                .iter()
                .any(|k| !matches!(k, N::Nine | N::Zero | N::Point | N::Eeee)))
    {
        return Err(SqlError::Syntax(
            "\"EEEE\" is incompatible with other formats".into(),
        ));
    }
    if shifted && point {
        return Err(SqlError::Syntax(
            "cannot use \"V\" and decimal point together".into(),
        ));
    }
    Ok(t)
}

const ROMAN: [(u32, &str); 13] = [
    (1000, "M"),
    (900, "CM"),
    (500, "D"),
    (400, "CD"),
    (100, "C"),
    (90, "XC"),
    (50, "L"),
    (40, "XL"),
    (10, "X"),
    (9, "IX"),
    (5, "V"),
    (4, "IV"),
    (1, "I"),
];

/// The value's decimal text, rounded to `post` fractional digits (times `10^shift` first),
/// as (negative, integer digits, fractional digits).
fn decimal_parts(v: &Value, post: usize, shift: usize) -> SqlResult<(bool, String, String)> {
    let text = match v {
        Value::Int(n) => Numeric::from_i64(*n).to_string(),
        Value::Numeric(n) => n.to_string(),
        Value::Float(_) | Value::Float4(_) => {
            let f = match v {
                Value::Float4(f) => f64::from(*f),
                Value::Float(f) => *f,
                _ => 0.0,
            };
            if !f.is_finite() {
                return Ok((f < 0.0, String::new(), "Inf".into()));
            }
            let f = f * 10f64.powi(shift as i32);
            // A double carries 15 significant digits (DBL_DIG), a real 6 (FLT_DIG); beyond
            // them the template's positions print nothing.
            let digits_max: usize = if matches!(v, Value::Float4(_)) { 6 } else { 15 };
            let int_digits = format!("{:.0}", f.abs()).len();
            let keep = post.min(digits_max.saturating_sub(int_digits));
            let s = format!("{f:.keep$}");
            let (neg, body) = match s.strip_prefix('-') {
                Some(b) => (true, b.to_string()),
                None => (false, s),
            };
            let (i, fr) = body.split_once('.').unwrap_or((&body, ""));
            let fr = fr.to_string();
            let neg = neg && (i.chars().chain(fr.chars()).any(|c| c != '0'));
            return Ok((neg, int_part(i, post), fr));
        }
        _ => return Err(SqlError::Internal("to_char: not a number".into())),
    };
    if text.contains("Infinity") {
        return Ok((text.starts_with('-'), String::new(), "Inf".into()));
    }
    let mut n = Numeric::parse(&text)?;
    if n.is_nan() {
        return Ok((false, String::new(), "NaN".into()));
    }
    if shift > 0 {
        n = n.mul(&Numeric::parse(&format!("1{}", "0".repeat(shift)))?)?;
    }
    let r = n.round(post as i64).to_string();
    let (neg, body) = match r.strip_prefix('-') {
        Some(b) => (true, b.to_string()),
        None => (false, r),
    };
    let (i, fr) = body.split_once('.').unwrap_or((&body, ""));
    let mut fr = fr.to_string();
    while fr.len() < post {
        fr.push('0');
    }
    fr.truncate(post);
    Ok((neg, int_part(i, post), fr))
}

/// The integer digits to print: without leading zeros, and a zero integer part printed only
/// when the template has no fractional digits (`to_char(0.5, '9.9')` is `  .5`).
fn int_part(digits: &str, post: usize) -> String {
    let t = digits.trim_start_matches('0');
    if t.is_empty() && post == 0 {
        "0".into()
    } else {
        t.to_string()
    }
}

fn ordinal(n: u64, lower: bool) -> &'static str {
    let s = match (n % 100, n % 10) {
        (11..=13, _) => "TH",
        (_, 1) => "ST",
        (_, 2) => "ND",
        (_, 3) => "RD",
        _ => "TH",
    };
    if lower {
        match s {
            "ST" => "st",
            "ND" => "nd",
            "RD" => "rd",
            _ => "th",
        }
    } else {
        s
    }
}

/// `to_char(number, template)`.
fn to_char_number(v: &Value, fmt: &str) -> SqlResult<String> {
    use NumToken as N;
    let t = parse_template(fmt)?;
    if let Some(N::Roman(lower)) = t.tokens.iter().find(|k| matches!(k, N::Roman(_))) {
        let (neg, int, _) = decimal_parts(v, 0, 0)?;
        let n: u32 = int.parse().unwrap_or(0);
        let mut out = String::new();
        if neg || n == 0 || n > 3999 {
            out = "#".repeat(15);
        } else {
            let mut rest = n;
            for (value, s) in ROMAN {
                while rest >= value {
                    out.push_str(s);
                    rest -= value;
                }
            }
            if *lower {
                out = out.to_lowercase();
            }
            if !t.fill_mode {
                out = format!("{out:>15}");
            }
        }
        return Ok(out);
    }
    if t.tokens.contains(&N::Eeee) {
        let special = match v {
            Value::Numeric(n) => n.is_nan() || n.to_string().contains("Infinity"),
            Value::Float(f) => !f.is_finite(),
            Value::Float4(f) => !f.is_finite(),
            _ => false,
        };
        if special {
            // Not a number to write: `#` in every position, as PostgreSQL fills it.
            return Ok(format!(" {}.{}####", "#".repeat(t.pre), "#".repeat(t.post)));
        }
        let f = match v {
            Value::Int(n) => *n as f64,
            Value::Numeric(n) => n.to_f64(),
            Value::Float(f) => *f,
            Value::Float4(f) => f64::from(*f),
            _ => 0.0,
        };
        let post = t.post;
        let s = format!("{:.post$e}", f.abs());
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let sign = if f < 0.0 {
            "-"
        } else if t.fill_mode {
            ""
        } else {
            " "
        };
        return Ok(format!(
            "{sign}{mantissa}e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        ));
    }
    let (neg, mut int_digits, mut frac_digits) = decimal_parts(v, t.post, t.shift)?;
    // Not a number to write (NaN, infinity): `#` in every position, as for too many digits;
    // a numeric NaN under a template without a fraction prints as `NaN`.
    let special = frac_digits == "NaN" || frac_digits == "Inf";
    if frac_digits == "NaN" && t.post == 0 && matches!(v, Value::Numeric(_)) {
        return Ok(format!("{:>w$}", "NaN", w = t.pre + 1));
    }
    let int_positions = t.pre + t.shift;
    let overflow = special || int_digits.len() > int_positions;
    if overflow {
        int_digits = "#".repeat(int_positions);
        frac_digits = "#".repeat(t.post);
    }
    // A trailing fill-mode cut: fractional `9`s that are zero at the end are dropped.
    let mut frac_keep = t.post;
    if t.fill_mode {
        let nines: Vec<bool> = t
            .tokens
            .iter()
            .filter(|k| matches!(k, N::Nine | N::Zero))
            .skip(t.pre)
            .map(|k| *k == N::Nine)
            .collect();
        let fr: Vec<char> = frac_digits.chars().collect();
        while frac_keep > 0
            && nines.get(frac_keep - 1) == Some(&true)
            && fr.get(frac_keep - 1) == Some(&'0')
        {
            frac_keep -= 1;
        }
        // Nothing left to print at all: a zero before the point (`to_char(0, 'FM9.99')` is
        // `0.`).
        if int_digits.is_empty() && frac_keep == 0 {
            int_digits.push('0');
        }
    }
    let all_digits = format!("{int_digits}{frac_digits}");
    let explicit_sign = t
        .tokens
        .iter()
        .any(|k| matches!(k, N::Sign | N::Minus | N::SignAlways | N::Brackets));
    // The first digit position that prints: the first `0`, or where the number's own digits
    // begin, whichever is earlier.
    let significant = int_digits.len();
    let first_zero = t
        .tokens
        .iter()
        .filter(|k| matches!(k, N::Nine | N::Zero))
        .position(|k| *k == N::Zero)
        .unwrap_or(usize::MAX);
    let first_printed = first_zero.min(int_positions.saturating_sub(significant));
    let digits: Vec<char> = all_digits.chars().collect();
    let mut out = String::new();
    let mut pos = 0usize; // digit positions consumed
    let mut sign_done = false;
    let mut started = false;
    let sign_char = |neg: bool| if neg { '-' } else { '+' };
    let push_default_sign = |out: &mut String, started: &mut bool, sign_done: &mut bool| {
        if !*sign_done {
            if neg {
                out.push('-');
            } else if !t.fill_mode {
                out.push(' ');
            }
            *sign_done = true;
        }
        *started = true;
    };
    let last_digit_index = t
        .tokens
        .iter()
        .rposition(|k| matches!(k, N::Nine | N::Zero));
    for (k, tok) in t.tokens.iter().enumerate() {
        match tok {
            N::Nine | N::Zero => {
                let is_int = pos < int_positions;
                if is_int {
                    let offset = int_positions - significant;
                    if pos < first_printed {
                        if !t.fill_mode {
                            out.push(' ');
                        }
                    } else {
                        if !started {
                            if !explicit_sign {
                                push_default_sign(&mut out, &mut started, &mut sign_done);
                            } else {
                                if t.tokens[..k].contains(&N::Sign) && !sign_done {
                                    out.push(sign_char(neg));
                                    sign_done = true;
                                }
                                if t.tokens.contains(&N::Brackets) && !sign_done {
                                    out.push(if neg {
                                        '<'
                                    } else if t.fill_mode {
                                        '\0'
                                    } else {
                                        ' '
                                    });
                                    sign_done = true;
                                }
                                started = true;
                            }
                        }
                        out.push(if pos >= offset {
                            digits[pos - offset]
                        } else {
                            '0'
                        });
                    }
                } else {
                    let f = pos - int_positions;
                    if !started {
                        if !explicit_sign {
                            push_default_sign(&mut out, &mut started, &mut sign_done);
                        }
                        started = true;
                    }
                    // A double's digits may end before the template's positions do.
                    if f < frac_keep
                        && let Some(d) = digits.get(significant + f)
                    {
                        out.push(*d);
                    }
                }
                pos += 1;
                if Some(k) == last_digit_index && !started {
                    started = true;
                }
            }
            N::Point => {
                if !started && !explicit_sign {
                    push_default_sign(&mut out, &mut started, &mut sign_done);
                } else if !started {
                    // An anchored sign (`S`, `PR`) goes right before the point when no integer
                    // digit printed.
                    if t.tokens[..k].contains(&N::Sign) && !sign_done {
                        out.push(sign_char(neg));
                        sign_done = true;
                    }
                    if t.tokens.contains(&N::Brackets) && !sign_done {
                        out.push(if neg {
                            '<'
                        } else if t.fill_mode {
                            '\0'
                        } else {
                            ' '
                        });
                        sign_done = true;
                    }
                }
                started = true;
                out.push('.');
            }
            N::Group => {
                if started {
                    out.push(',');
                } else if !t.fill_mode {
                    out.push(' ');
                }
            }
            N::Sign => {
                if started && !sign_done {
                    out.push(sign_char(neg));
                    sign_done = true;
                }
            }
            N::Minus => out.push_str(if neg {
                "-"
            } else if t.fill_mode {
                ""
            } else {
                " "
            }),
            N::Plus => out.push_str(if neg {
                if t.fill_mode { "" } else { " " }
            } else {
                "+"
            }),
            N::SignAlways => out.push(sign_char(neg)),
            N::Brackets => {
                if started {
                    out.push_str(if neg {
                        ">"
                    } else if t.fill_mode {
                        ""
                    } else {
                        " "
                    });
                }
            }
            N::Currency => out.push(' '),
            N::Shift | N::Eeee | N::Roman(_) => {}
            N::Ordinal(lower) => {
                if !neg {
                    let n: u64 = int_digits.parse().unwrap_or(0);
                    out.push_str(ordinal(n, *lower));
                }
            }
            N::Literal(c) => out.push(*c),
        }
    }
    Ok(out.replace('\0', ""))
}

/// `to_number(text, template)`: the digits, point and sign the template places, read from the
/// text; other characters of the text at the template's literal positions are skipped.
fn to_number(s: &str, fmt: &str) -> SqlResult<Numeric> {
    use NumToken as N;
    let t = parse_template(fmt)?;
    for (k, name) in [
        (N::Roman(false), "RN"),
        (N::Roman(true), "RN"),
        (N::Eeee, "EEEE"),
    ] {
        if t.tokens.contains(&k) {
            return Err(SqlError::NotSupported(format!(
                "\"{name}\" not supported for input"
            )));
        }
    }
    let input: Vec<char> = s.chars().collect();
    let mut i = 0;
    let (mut neg, mut int, mut frac, mut in_frac) = (false, String::new(), String::new(), false);
    let mut frac_positions = 0;
    for tok in &t.tokens {
        while !matches!(tok, N::Literal(_))
            && i < input.len()
            && input[i] == ' '
            && int.is_empty()
            && !in_frac
        {
            i += 1;
        }
        match tok {
            N::Nine | N::Zero => {
                if i < input.len()
                    && matches!(input[i], '-' | '+' | '<')
                    && int.is_empty()
                    && !in_frac
                {
                    neg |= input[i] != '+';
                    i += 1;
                }
                if in_frac {
                    frac_positions += 1;
                }
                if i < input.len() && input[i].is_ascii_digit() {
                    if in_frac {
                        frac.push(input[i]);
                    } else {
                        int.push(input[i]);
                    }
                    i += 1;
                }
            }
            N::Point => {
                in_frac = true;
                if i < input.len() && input[i] == '.' {
                    i += 1;
                }
            }
            N::Group => {
                if i < input.len() && input[i] == ',' {
                    i += 1;
                }
            }
            N::Sign | N::Minus | N::Plus | N::SignAlways | N::Brackets => {
                if i < input.len() && matches!(input[i], '-' | '+' | '<' | '>') {
                    neg |= matches!(input[i], '-' | '<');
                    i += 1;
                }
            }
            N::Literal(_) | N::Currency => {
                if i < input.len() {
                    i += 1;
                }
            }
            N::Shift | N::Eeee | N::Roman(_) | N::Ordinal(_) => {}
        }
    }
    if int.is_empty() && frac.is_empty() {
        return Err(SqlError::InvalidTextRepresentation {
            ty: "numeric".into(),
            value: " ".into(),
        });
    }
    let _ = frac_positions;
    let mut text = String::new();
    if neg {
        text.push('-');
    }
    text.push_str(if int.is_empty() { "0" } else { &int });
    if t.post > 0 {
        text.push('.');
        text.push_str(&frac);
        for _ in frac.len()..t.post {
            text.push('0');
        }
    }
    let mut n = Numeric::parse(&text)?;
    if t.shift > 0 {
        n = n.div(&Numeric::parse(&format!("1{}", "0".repeat(t.shift)))?)?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md5_hex(s: &[u8]) -> String {
        use md5::Digest as _;
        hex(md5::Md5::digest(s).as_slice())
    }

    #[test]
    fn hashes_match_the_standard_test_vectors() {
        // RFC 1321, appendix A.5.
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            md5_hex(
                b"12345678901234567890123456789012345678901234567890123456789012345678901234567890"
            ),
            "57edf4a22be3c955ac49da2e2107b67a"
        );
        // FIPS 180-2, appendix B/C/D examples ("abc").
        let sha = |name: &str, data: &[u8]| match eval(
            name,
            &[Value::Bytes(data.to_vec())],
            &Default::default(),
        ) {
            Ok(Value::Bytes(b)) => hex(&b),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            sha("fn_sha256", b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            sha("fn_sha224", b"abc"),
            "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"
        );
        assert_eq!(
            sha("fn_sha384", b""),
            "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b"
        );
        assert_eq!(
            sha("fn_sha512", b"abc"),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        );
    }

    fn fmt(args: &[Value]) -> SqlResult<String> {
        match format(args)? {
            Value::Text(t) => Ok(t),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn format_specifiers() {
        let t = |s: &str| Value::Text(s.into());
        assert_eq!(
            fmt(&[t("%s-%I-%L"), t("a"), t("B c"), t("x'y")]).unwrap(),
            "a-\"B c\"-'x''y'"
        );
        assert_eq!(
            fmt(&[t("%3$s %1$s"), t("a"), t("b"), t("c")]).unwrap(),
            "c a"
        );
        assert_eq!(
            fmt(&[t("%-5s|%5s|"), t("ab"), t("cd")]).unwrap(),
            "ab   |   cd|"
        );
        assert_eq!(fmt(&[t("%*s|"), Value::Int(-4), t("x")]).unwrap(), "x   |");
        assert_eq!(
            fmt(&[t("%L %s"), Value::Null, Value::Null]).unwrap(),
            "NULL "
        );
        assert_eq!(fmt(&[t("100%%")]).unwrap(), "100%");
        assert!(matches!(
            fmt(&[t("%s %s"), t("a")]),
            Err(SqlError::InvalidParameterValue(_))
        ));
        assert!(matches!(
            fmt(&[t("%x"), t("a")]),
            Err(SqlError::InvalidParameterValue(_))
        ));
        assert!(matches!(
            fmt(&[t("%I"), Value::Null]),
            Err(SqlError::NullValueNotAllowed(_))
        ));
        assert!(matches!(
            fmt(&[t("abc%")]),
            Err(SqlError::InvalidParameterValue(_))
        ));
        // `*0$`: argument positions start at 1.
        assert!(matches!(
            fmt(&[t("%*0$s"), t("a")]),
            Err(SqlError::InvalidParameterValue(_))
        ));
    }

    fn to_char(v: Value, f: &str) -> String {
        to_char_number(&v, f).unwrap()
    }

    #[test]
    fn to_char_number_patterns() {
        let num = |s: &str| Value::Numeric(Numeric::parse(s).unwrap());
        assert_eq!(to_char(num("1234.5"), "9,999.99"), " 1,234.50");
        assert_eq!(to_char(num("-0.5"), "FM990.00"), "-0.50");
        assert_eq!(to_char(Value::Int(12345), "999"), " ###");
        assert_eq!(to_char(num("0.1"), "0.9"), " 0.1");
        assert_eq!(to_char(Value::Int(-12), "999"), " -12");
        assert_eq!(to_char(Value::Int(-12), "S999"), " -12");
        assert_eq!(to_char(Value::Int(-12), "999PR"), " <12>");
        assert_eq!(to_char(Value::Int(485), "RN"), "        CDLXXXV");
        assert_eq!(to_char(Value::Int(12), "FM9999"), "12");
        assert_eq!(to_char(Value::Int(0), "0000"), " 0000");
        assert_eq!(to_char(num("12.5"), "99V9"), " 125");
        assert_eq!(to_char(Value::Int(7), "FM00th"), "07th");
        assert_eq!(to_char(num("1.5"), "9.99EEEE"), " 1.50e+00");
    }

    #[test]
    fn to_number_reads_templates() {
        let n = |s: &str, f: &str| to_number(s, f).unwrap().to_string();
        assert_eq!(n("12,345.6", "99G999D9"), "12345.6");
        assert_eq!(n("-12.3", "999.9"), "-12.3");
        assert_eq!(n("<12>", "99PR"), "-12");
        assert!(to_number("", "999").is_err());
    }

    #[test]
    fn random_repeats_after_setseed_as_postgresql_does() {
        let r = SessionRandom::default();
        r.set_seed(0.5);
        // PostgreSQL 15: setseed(0.5); random(), random().
        assert_eq!(r.next_double(), 0.985_167_717_534_799_9);
        assert_eq!(r.next_double(), 0.825_301_858_027_981);
    }

    #[test]
    fn are_translation_refuses_what_the_engine_cannot_do() {
        assert_eq!(translate_are(r"\y\d+\Z").unwrap(), r"\b\d+\z");
        assert!(matches!(
            translate_are(r"(a)\1"),
            Err(SqlError::InvalidRegularExpression(_))
        ));
        assert_eq!(translate_are(r"\mfoo\M").unwrap(), r"\b{start}foo\b{end}");
        // Letter classes and case folding are the engine's for ASCII only: refused beyond.
        let i = RegexFlags {
            case_insensitive: true,
            ..RegexFlags::default()
        };
        assert!(compile("é", i, "É").is_err());
        assert!(compile(r"\w+", RegexFlags::default(), "café").is_err());
        assert!(compile(r"\d+", RegexFlags::default(), "café 12").is_ok());
        assert!(compile("b", i, "ABC").is_ok());
        assert!(matches!(
            translate_are("(a"),
            Err(SqlError::InvalidRegularExpression(_))
        ));
        assert_eq!(
            similar_to_regex("a%_.", Some("\\")).unwrap(),
            r"^(?:a.*.\.)$"
        );
    }
}

#[cfg(test)]
mod naming_tests {
    /// Result column names as PostgreSQL 15 gives them for these expressions (checked against
    /// a real PostgreSQL 15), including the forms the parser gives nodes of their own.
    #[test]
    fn result_columns_are_named_as_postgresql_names_them() {
        let sql = "select ceil(1.2), ceiling(1.2), floor(1.8), extract(dow from date '2024-05-01'), \
            substring('abc' from 2), substr('abc', 2), substring('abc', 2), trim(' a '), position('a' in 'b'), \
            overlay('abc' placing 'x' from 1), 1::int, '1'::text, cast(1 as numeric), \
            date '2024-01-01', interval '1 day', timestamp '2024-01-01' at time zone 'UTC', \
            array[1], exists(select 1), (select 1 as z), current_date, current_timestamp, \
            localtime, current_user, session_user, user, current_schema, coalesce(1,2), \
            nullif(1,2), greatest(1,2), least(1,2), 'a' collate \"C\", x is null, not true, -1, \
            (1), row(1,2), case when true then 1 end, 1 + 2, 'abc' like 'a%', \
            'abc' similar to 'a', 1 between 0 and 2, 1 in (1), true and false, 'a' || 'b', \
            ('a')::text, (array[1,2])[1], 1 = any(array[1]), count(*) over (), \
            'abc'::varchar(2), 'x'::char, 1.5::float8, 1::bigint, 'pg_class'::regclass";
        let want = "ceil ceiling floor extract substring substr substring btrim position overlay int4 text numeric \
            date interval timezone array exists z current_date current_timestamp localtime \
            current_user session_user user current_schema coalesce nullif greatest least \
            ?column? ?column? ?column? ?column? ?column? row case ?column? ?column? ?column? \
            ?column? ?column? ?column? ?column? text array ?column? count varchar bpchar float8 \
            int8 regclass";
        let stmts = crate::session::parse(sql).unwrap();
        let sqlparser::ast::Statement::Query(q) = &stmts[0] else {
            panic!("not a query")
        };
        let sqlparser::ast::SetExpr::Select(s) = q.body.as_ref() else {
            panic!("not a select")
        };
        let got: Vec<String> = s
            .projection
            .iter()
            .map(|item| match item {
                sqlparser::ast::SelectItem::UnnamedExpr(e) => crate::query::output_name(e),
                other => panic!("{other}"),
            })
            .collect();
        let want: Vec<&str> = want.split_whitespace().collect();
        let diff: Vec<String> = got
            .iter()
            .zip(&want)
            .zip(&s.projection)
            .filter(|((g, w), _)| g != *w)
            .map(|((g, w), e)| format!("{e}: want {w}, got {g}"))
            .collect();
        assert_eq!(got.len(), want.len());
        assert!(diff.is_empty(), "{diff:#?}");
    }
}

/// Whether `text` matches a jsonpath `like_regex` pattern under its XQuery `flags` (`i`
/// case-insensitive, `s` dot matches newline, `m` `^`/`$` at line breaks, `q` literal), as
/// PostgreSQL maps those flags onto its ARE engine. An empty subject with an empty pattern
/// checks only that the pattern compiles.
pub(crate) fn xquery_regex_match(text: &str, pattern: &str, flags: &str) -> SqlResult<bool> {
    let case_insensitive = flags.contains('i');
    if case_insensitive && !(text.is_ascii() && pattern.is_ascii()) {
        return Err(SqlError::InvalidRegularExpression(
            "invalid regular expression: case-insensitive matching is supported for ASCII text \
             only"
                .into(),
        ));
    }
    let translated = if flags.contains('q') {
        regex_lite::escape(pattern)
    } else {
        translate_are(pattern)?
    };
    let re = regex_lite::RegexBuilder::new(&translated)
        .case_insensitive(case_insensitive)
        .dot_matches_new_line(flags.contains('s') || flags.contains('q'))
        .multi_line(flags.contains('m') && !flags.contains('q'))
        .build()
        .map_err(|e| {
            SqlError::InvalidRegularExpression(format!("invalid regular expression: {e}"))
        })?;
    Ok(re.is_match(text))
}
