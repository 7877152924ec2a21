//! Set-returning functions: the value generators that FROM (`FROM generate_series(1, 3)`) and
//! the select list (`SELECT generate_series(1, 3)`) share, and the select list's rules.
//!
//! In the select list a set-returning call is bound as [`Expr::Srf`] over a [`SrfCall`] of the
//! select. For each row (or group) the select would project, the executor evaluates every call's
//! arguments in that row's context and lists its values; the row then gives as many output rows
//! as the longest list, the calls advancing in lockstep and the shorter ones padded with NULLs,
//! as PostgreSQL 10 and later run them (`ProjectSet`). A call producing no rows makes its input
//! row produce none (when it is the only, or longest, one). ORDER BY, DISTINCT and LIMIT apply to
//! the expanded rows.
//!
//! ```text
//!   SELECT x, generate_series(1, x), unnest(ARRAY['a'])      row x = 2
//!        ─▶ (2, 1, 'a')
//!           (2, 2, NULL)
//! ```
//!
//! Limits: a call's arguments may not hold another set-returning call (PostgreSQL nests them;
//! Borealis refuses with 0A000); set-returning calls are refused outside the select list
//! (0A000, as PostgreSQL refuses them in WHERE, CASE and the like; PostgreSQL also takes them in
//! ORDER BY and GROUP BY, Borealis does not), with FOR UPDATE (as PostgreSQL). A select
//! list's only call streams its values; several calls run in step, each listing at most
//! [`SRF_ROWS_MAX`] values.

use crate::error::{SqlError, SqlResult};
use crate::expr::{CancelFlag, Expr};
use crate::types::{DataType, Value};
use std::cmp::Ordering;

/// The most values one set-returning call in a select list may produce for one input row (its
/// values are listed before the rows are formed).
pub const SRF_ROWS_MAX: usize = 4 << 20;

/// A set-returning function call of a select list.
#[derive(Clone, Debug)]
pub struct SrfCall {
    pub name: &'static str,
    pub args: Vec<Expr>,
    /// The type of its values.
    pub ty: DataType,
}

/// The select-list name of a set-returning function Borealis runs there, if `name` is one.
#[must_use]
pub fn select_list_function(name: &str) -> Option<&'static str> {
    Some(match name {
        "generate_series" => "generate_series",
        "unnest" => "unnest",
        "generate_subscripts" => "generate_subscripts",
        "string_to_table" => "string_to_table",
        "json_array_elements" => "json_array_elements",
        "jsonb_array_elements" => "jsonb_array_elements",
        "json_array_elements_text" => "json_array_elements_text",
        "jsonb_array_elements_text" => "jsonb_array_elements_text",
        "json_object_keys" => "json_object_keys",
        "jsonb_object_keys" => "jsonb_object_keys",
        "jsonb_path_query" => "jsonb_path_query",
        _ => return None,
    })
}

/// The number of arguments a select-list set-returning function takes.
#[must_use]
pub fn arity_ok(name: &str, n: usize) -> bool {
    match name {
        "generate_series" => (2..=3).contains(&n),
        "generate_subscripts" | "string_to_table" => (2..=3).contains(&n),
        "jsonb_path_query" => (2..=4).contains(&n),
        _ => n == 1,
    }
}

/// The values of one call, its arguments evaluated to `args`, listed (several calls of one
/// select list run in step; at most [`SRF_ROWS_MAX`] values).
pub fn values(call: &SrfCall, args: Vec<Value>, cancel: &CancelFlag) -> SqlResult<Vec<Value>> {
    let mut out = Vec::new();
    for_each_value(call, args, cancel, &mut |v| {
        if out.len() >= SRF_ROWS_MAX {
            return Err(SqlError::ProgramLimitExceeded(format!(
                "{} produced more than {SRF_ROWS_MAX} rows in a select list",
                call.name
            )));
        }
        out.push(v);
        Ok(true)
    })?;
    Ok(out)
}

/// Calls `push` with the values of one call, its arguments evaluated to `args`, in order,
/// until it returns false (a select list's only call streams its values: none is held).
pub fn for_each_value(
    call: &SrfCall,
    args: Vec<Value>,
    cancel: &CancelFlag,
    push: &mut dyn FnMut(Value) -> SqlResult<bool>,
) -> SqlResult<()> {
    match call.name {
        "generate_series" => series(&args, call.ty, cancel, push)?,
        "unnest" => {
            for v in array_items(args.into_iter().next().unwrap_or(Value::Null), call.ty)? {
                if !push(v)? {
                    return Ok(());
                }
            }
        }
        "generate_subscripts" => {
            let mut args = args.into_iter();
            let array = args.next().unwrap_or(Value::Null);
            let dim = args.next().unwrap_or(Value::Null);
            let reverse = args.next().unwrap_or(Value::Bool(false)) == Value::Bool(true);
            // One-dimensional arrays have subscripts 1..=n in dimension 1 only.
            if let (Value::Array(items), Value::Int(1)) = (array, dim) {
                let n = i64::try_from(items.len()).unwrap_or(i64::MAX);
                if reverse {
                    for i in (1..=n).rev() {
                        if !push(Value::Int(i))? {
                            return Ok(());
                        }
                    }
                } else {
                    for i in 1..=n {
                        if !push(Value::Int(i))? {
                            return Ok(());
                        }
                    }
                }
            }
        }
        "jsonb_path_query" => {
            for v in crate::jsonpath::query_rows(&args)? {
                if !push(v)? {
                    return Ok(());
                }
            }
        }
        "string_to_table" => {
            for v in string_to_table(&args)? {
                if !push(v)? {
                    return Ok(());
                }
            }
        }
        name => {
            let arg = args.into_iter().next().unwrap_or(Value::Null);
            for mut row in crate::json::set_rows(name, arg)? {
                let v = if row.is_empty() {
                    Value::Null
                } else {
                    row.swap_remove(0)
                };
                if !push(v)? {
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

/// The elements of `unnest`'s argument: a typed array, or an array in text form (a catalog
/// column) read as arrays of `elem`.
pub fn array_items(v: Value, elem: DataType) -> SqlResult<Vec<Value>> {
    Ok(match v {
        Value::Null => Vec::new(),
        Value::Array(items) => items,
        v => crate::array::parse(&v.to_text().unwrap_or_default(), elem)?,
    })
}

/// `string_to_table(text, delimiter [, null_string])`: the pieces between delimiters; a NULL
/// delimiter splits into characters, an empty one gives the whole string; pieces equal to
/// `null_string` are NULL.
fn string_to_table(args: &[Value]) -> SqlResult<Vec<Value>> {
    let Some(text) = args.first().and_then(Value::to_text) else {
        return Ok(Vec::new());
    };
    let null_string = args.get(2).and_then(Value::to_text);
    let piece = |p: &str| -> Value {
        if null_string.as_deref() == Some(p) {
            Value::Null
        } else {
            Value::Text(p.to_string())
        }
    };
    Ok(match args.get(1).and_then(Value::to_text) {
        None => text
            .chars()
            .map(|c| piece(c.encode_utf8(&mut [0; 4])))
            .collect(),
        Some(d) if d.is_empty() => {
            if text.is_empty() {
                Vec::new()
            } else {
                vec![piece(&text)]
            }
        }
        Some(_) if text.is_empty() => Vec::new(),
        Some(d) => text.split(d.as_str()).map(piece).collect(),
    })
}

/// `generate_series(start, stop [, step])` of element type `ty`: calls `each` with the values
/// in order until it returns false. A NULL argument gives no values; a zero step is refused.
/// Integer series step by integers; timestamp series by an interval (added to each value in
/// turn, so a month step from the 31st stays clamped as PostgreSQL's does); numeric series by a
/// numeric (1 by default).
pub fn series(
    vals: &[Value],
    ty: DataType,
    cancel: &CancelFlag,
    each: &mut dyn FnMut(Value) -> SqlResult<bool>,
) -> SqlResult<()> {
    if vals.iter().any(Value::is_null) {
        return Ok(());
    }
    if matches!(
        ty,
        DataType::Timestamp | DataType::TimestampTz | DataType::Numeric
    ) {
        return stepped_series(vals, ty, cancel, each);
    }
    let int = |v: &Value| -> SqlResult<i64> {
        match v.clone().cast(DataType::Int8)? {
            Value::Int(i) => Ok(i),
            _ => Err(SqlError::DatatypeMismatch(
                "generate_series needs integer arguments".into(),
            )),
        }
    };
    let (start, stop) = (int(&vals[0])?, int(&vals[1])?);
    let step = match vals.get(2) {
        Some(v) => int(v)?,
        None => 1,
    };
    if step == 0 {
        return Err(SqlError::InvalidParameterValue(
            "step size cannot equal zero".into(),
        ));
    }
    let mut i = start;
    while (step > 0 && i <= stop) || (step < 0 && i >= stop) {
        if i % 1024 == 0 {
            cancel.check()?;
        }
        if !each(Value::Int(i))? {
            break;
        }
        match i.checked_add(step) {
            Some(n) => i = n,
            None => break,
        }
    }
    Ok(())
}

fn stepped_series(
    vals: &[Value],
    ty: DataType,
    cancel: &CancelFlag,
    each: &mut dyn FnMut(Value) -> SqlResult<bool>,
) -> SqlResult<()> {
    use crate::expr::BinOp;
    let cast = |v: &Value, t: DataType| v.clone().cast(t);
    let (start, stop) = (cast(&vals[0], ty)?, cast(&vals[1], ty)?);
    let step = match (ty, vals.get(2)) {
        (DataType::Numeric, None) => Value::Numeric(crate::types::Numeric::from_i64(1)),
        (DataType::Numeric, Some(v)) => cast(v, DataType::Numeric)?,
        (_, Some(v)) => cast(v, DataType::Interval)?,
        (_, None) => {
            return Err(SqlError::UndefinedFunction(
                "generate_series(timestamp, timestamp) needs a step interval".into(),
            ));
        }
    };
    let zero = match ty {
        DataType::Numeric => Value::Numeric(crate::types::Numeric::from_i64(0)),
        _ => Value::Interval(crate::datetime::Interval::default()),
    };
    let direction = step.compare(&zero)?;
    if direction == Some(Ordering::Equal) {
        return Err(SqlError::InvalidParameterValue(
            "step size cannot equal zero".into(),
        ));
    }
    let ascending = direction == Some(Ordering::Greater);
    let mut current = start;
    let mut n = 0u64;
    loop {
        let past = match current.compare(&stop)? {
            Some(Ordering::Greater) => ascending,
            Some(Ordering::Less) => !ascending,
            _ => false,
        };
        if past {
            break;
        }
        n += 1;
        if n.is_multiple_of(1024) {
            cancel.check()?;
        }
        if !each(current.clone())? {
            break;
        }
        current = match ty {
            DataType::Numeric => match (&current, &step) {
                (Value::Numeric(x), Value::Numeric(y)) => Value::Numeric(x.add(y)?),
                _ => return Err(SqlError::Internal("numeric series".into())),
            },
            _ => crate::datetime::arith(BinOp::Add, &current, &step, ty)?,
        };
    }
    Ok(())
}
