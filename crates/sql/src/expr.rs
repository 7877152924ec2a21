//! Scalar expressions: bound from the parser's AST against a scope, typed, and evaluated.
//!
//! Binding resolves column names to positions, gives every node a static type (PostgreSQL's
//! rules for the types we have: int4 op int4 → int4 with overflow checks, any int8 → int8, any
//! float8 → float8), infers the types of `$n` parameters from their context, and turns aggregate
//! calls into slots filled by the aggregation step.
//!
//! Subqueries are bound by the query planner (through [`Binder::planner`]) against a chain of
//! scopes: a name not found in the query's own FROM clause is looked up in the enclosing queries',
//! innermost first, and becomes an [`Expr::Outer`] reference (a correlated subquery). At run time
//! an [`EvalContext`] links to the context of the enclosing row, so `Outer { depth, index }` walks
//! `depth` links up. A subquery that references no enclosing row runs once per statement and its
//! result is cached by the executor; a correlated one runs once per enclosing row.

use crate::error::{SqlError, SqlResult};
use crate::types::{DataType, Numeric, Value, parse_text};
use sqlparser::ast;
use std::borrow::Cow;
use std::cmp::Ordering;

/// Deepest expression nesting accepted: bounds recursion on hostile input.
const EXPR_DEPTH_MAX: usize = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Concat,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    And,
    Or,
    /// `~`, `~*`, `!~`, `!~*`: POSIX regular expression match (case-insensitive, negated).
    Regex {
        case_insensitive: bool,
        negated: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggFunc {
    CountStar,
    Count,
    Sum,
    Avg,
    Min,
    Max,
    /// `string_agg(x, separator)`; the separator is a constant.
    StringAgg,
    /// `array_agg(x)`: NULL inputs included; an array of `x`'s type, NULL over no rows.
    ArrayAgg,
    BoolAnd,
    BoolOr,
    /// `json_agg(x)`: NULL inputs included (as `null`), a `json` array.
    JsonAgg,
    /// `jsonb_agg(x)`.
    JsonbAgg,
    /// `json_object_agg(key, value)`: a `json` object, keys as given.
    JsonObjectAgg,
    /// `jsonb_object_agg(key, value)`: the last value of a key wins.
    JsonbObjectAgg,
    /// Variance and standard deviation (see [`crate::aggregate`]).
    Spread(crate::aggregate::Spread),
    /// `corr`, `covar_*`, `regr_*` over `(Y, X)`: the argument is `agg_args(y, x)`.
    Regr(crate::aggregate::Regr),
    /// `bit_and`, `bit_or`, `bit_xor`.
    Bit(crate::aggregate::Bit),
    /// `percentile_cont`, `percentile_disc`, `mode` with `WITHIN GROUP (ORDER BY key)`: the
    /// call's ORDER BY is the key; the argument is `agg_args(fraction, key)` (`mode`: the key).
    Ordered(crate::aggregate::Ordered),
}

impl AggFunc {
    /// The aggregate a function name calls (`count(*)` when `star`), if it is one.
    #[must_use]
    pub fn from_name(name: &str, star: bool) -> Option<AggFunc> {
        use crate::aggregate::{Bit, Ordered, Regr, Spread};
        Some(match name {
            "count" if star => AggFunc::CountStar,
            "count" => AggFunc::Count,
            "sum" => AggFunc::Sum,
            "avg" => AggFunc::Avg,
            "min" => AggFunc::Min,
            "max" => AggFunc::Max,
            "string_agg" => AggFunc::StringAgg,
            "array_agg" => AggFunc::ArrayAgg,
            "bool_and" | "every" => AggFunc::BoolAnd,
            "bool_or" => AggFunc::BoolOr,
            "json_agg" => AggFunc::JsonAgg,
            "jsonb_agg" => AggFunc::JsonbAgg,
            "json_object_agg" => AggFunc::JsonObjectAgg,
            "jsonb_object_agg" => AggFunc::JsonbObjectAgg,
            _ => {
                if let Some(s) = Spread::from_name(name) {
                    AggFunc::Spread(s)
                } else if let Some(r) = Regr::from_name(name) {
                    AggFunc::Regr(r)
                } else if let Some(b) = Bit::from_name(name) {
                    AggFunc::Bit(b)
                } else {
                    AggFunc::Ordered(Ordered::from_name(name)?)
                }
            }
        })
    }

    /// The function's name as EXPLAIN prints it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            AggFunc::CountStar | AggFunc::Count => "count",
            AggFunc::Sum => "sum",
            AggFunc::Avg => "avg",
            AggFunc::Min => "min",
            AggFunc::Max => "max",
            AggFunc::StringAgg => "string_agg",
            AggFunc::ArrayAgg => "array_agg",
            AggFunc::BoolAnd => "bool_and",
            AggFunc::BoolOr => "bool_or",
            AggFunc::JsonAgg => "json_agg",
            AggFunc::JsonbAgg => "jsonb_agg",
            AggFunc::JsonObjectAgg => "json_object_agg",
            AggFunc::JsonbObjectAgg => "jsonb_object_agg",
            AggFunc::Spread(s) => s.name(),
            AggFunc::Regr(r) => r.name(),
            AggFunc::Bit(b) => b.name(),
            AggFunc::Ordered(o) => o.name(),
        }
    }
}

/// An aggregate call found while binding; its result lands in a slot.
#[derive(Clone, Debug)]
pub struct AggCall {
    pub func: AggFunc,
    pub arg: Option<Expr>,
    pub distinct: bool,
    pub ty: DataType,
    /// `string_agg`'s separator.
    pub separator: Option<String>,
    /// `FILTER (WHERE …)`: only input rows for which it is true reach the aggregate.
    pub filter: Option<Expr>,
    /// `ORDER BY` inside the call: the order its inputs are taken in, as (key, descending,
    /// NULLs first).
    pub order_by: Vec<(Expr, bool, bool)>,
    /// Text of the call, to find repeated uses.
    pub key: String,
}

#[derive(Clone, Debug)]
pub enum Expr {
    Literal(Value),
    Column(usize),
    Param(usize),
    /// Result of aggregate slot `i` (aggregating queries only).
    Agg(usize),
    /// Value of GROUP BY expression `i` (aggregating queries only).
    GroupKey(usize),
    /// Result of window function call `i` (see [`crate::window`]).
    Window(usize),
    /// The current value of the select list's set-returning function call `i` (see
    /// [`crate::srf`]).
    Srf(usize),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Binary {
        op: BinOp,
        left: Box<Expr>,
        right: Box<Expr>,
        ty: DataType,
    },
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    Cast {
        expr: Box<Expr>,
        ty: DataType,
    },
    InList {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    Between {
        expr: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
        negated: bool,
    },
    Like {
        expr: Box<Expr>,
        pattern: Box<Expr>,
        negated: bool,
        case_insensitive: bool,
        /// `x LIKE ANY (patterns)` (`Some(false)`) or `ALL` (`Some(true)`): `pattern` is an
        /// array, and each of its elements is matched as a pattern of its own.
        array: Option<bool>,
    },
    Case {
        operand: Option<Box<Expr>>,
        whens: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
    },
    Func {
        name: &'static str,
        args: Vec<Expr>,
    },
    /// A column of an enclosing query's row: `depth` levels up (1 = the immediately enclosing
    /// query), position `index` in that query's row.
    Outer {
        depth: usize,
        index: usize,
    },
    /// `(SELECT …)`: the first column of the only row, NULL for no row.
    ScalarSubquery(Subquery),
    /// `[NOT] EXISTS (SELECT …)`.
    Exists {
        query: Subquery,
        negated: bool,
    },
    /// `expr [NOT] IN (SELECT …)`, with SQL's NULL rules.
    InSubquery {
        expr: Box<Expr>,
        query: Subquery,
        negated: bool,
    },
    /// `expr op ANY (array)` / `expr op ALL (array)` over a typed array, or over an array in
    /// text form (`{a,b}`) that a catalog column carries, whose elements meet `expr` as
    /// untyped strings.
    AnyArray {
        expr: Box<Expr>,
        op: BinOp,
        array: Box<Expr>,
        all: bool,
    },
    /// `ARRAY(SELECT …)`: the first column of every row, as an array of that column's type.
    ArraySubquery(Subquery),
    /// A record value (see [`crate::record`]): `ROW(a, b)`, `(a, b)` or a whole-row reference
    /// (`t`), one field per column of `columns`.
    Row {
        fields: Vec<Expr>,
        columns: crate::record::RecordColumns,
        /// A whole-row reference to a relation an outer join may pad: a row whose fields are
        /// all NULL is taken for a padded one, and the record is NULL, as PostgreSQL's
        /// whole-row value of a null-extended relation is.
        null_when_padded: bool,
    },
}

/// A bound subquery inside an expression.
#[derive(Clone, Debug)]
pub struct Subquery {
    pub plan: std::sync::Arc<crate::query::QueryPlan>,
    /// Whether it references a row of an enclosing query (then it runs once per such row).
    pub correlated: bool,
}

/// A column visible to expressions.
#[derive(Clone, Debug)]
pub struct ScopeColumn {
    pub table: Option<String>,
    pub name: String,
    pub ty: DataType,
    /// The OID of the stored relation the column comes from (a table or a system catalog), which
    /// its `tableoid` system column reads; `None` for views, subqueries and functions.
    pub rel_oid: Option<u32>,
    /// The user table or view the column is read straight from, for the dependencies a view
    /// records (see [`crate::query::record_column`]); `None` for anything else.
    pub origin: Option<u32>,
    /// The relation column PostgreSQL names as the column's origin (see
    /// [`crate::query::ColumnInfo::source`]).
    pub source: Option<(u32, i16)>,
    /// Reachable only by a qualified name: the column a `JOIN … USING` merged into its partner,
    /// which answers unqualified references for both.
    pub hidden: bool,
    /// A FULL JOIN … USING's merged column: the scope positions of the partners it was merged
    /// with. An unqualified reference reads `COALESCE` of this column and them (PostgreSQL's
    /// merged join column); a qualified one reads this column alone.
    pub merged: Vec<usize>,
    /// `Some(typmod)` for a `character(n)` column (see [`crate::query::ColumnInfo::bpchar`]).
    pub bpchar: Option<i32>,
    /// The declared type's modifier (see [`crate::query::ColumnInfo::kind`]).
    pub kind: crate::catalog::TextKind,
    /// A table's column declared `text` (not `varchar`, not `char`): compared with a bpchar it
    /// makes the comparison a text one (see `Binder::text_against_bpchar`). False where the
    /// declared type is not known (a subquery's or a function's column).
    pub plain_text: bool,
    /// The column's relation is on the side of an outer join that pads rows with NULLs.
    pub nullable: bool,
}

/// The quote of the first part of a [`star_item`]: the PostgreSQL dialect reads no identifier
/// quoted so.
const STAR_ITEM_MARK: char = '[';

/// `SELECT *`'s item for scope column `i` of relation `table`: its qualified name, which binds
/// to that column alone, even where the name is not unique (a derived table with two columns
/// of one name); the position it carries is what the binder reads.
#[must_use]
pub fn star_item(i: usize, table: &str, name: &str) -> ast::Expr {
    ast::Expr::CompoundIdentifier(vec![
        ast::Ident::with_quote(STAR_ITEM_MARK, i.to_string()),
        ast::Ident::with_quote('"', table),
        ast::Ident::with_quote('"', name),
    ])
}

/// How aggregates and plain columns are treated while binding.
pub enum AggMode<'a> {
    /// Aggregates are an error (WHERE, VALUES, UPDATE SET).
    Forbidden(&'static str),
    /// Aggregates become slots; bare columns must match a GROUP BY expression, or belong to a
    /// table whose primary key the GROUP BY lists (`dependent` marks those scope positions:
    /// the group determines them, PostgreSQL's functional dependency).
    Collect {
        group_by: &'a [(String, DataType)],
        aggs: &'a mut Vec<AggCall>,
        dependent: &'a [bool],
    },
}

/// Binding context: the visible columns, and the parameter types learned so far.
pub struct Binder<'a> {
    pub scope: &'a [ScopeColumn],
    pub params: &'a mut Vec<Option<DataType>>,
    /// Scopes of the enclosing queries, outermost first.
    pub outer: &'a [&'a [ScopeColumn]],
    /// Binds subqueries; without it a subquery is not supported in this context.
    pub planner: Option<&'a crate::query::Planner<'a>>,
    /// The deepest enclosing query referenced so far (0 = none): a subquery bound with this
    /// binder is correlated with its parent when this ends up ≥ 1.
    pub outer_depth_used: usize,
    /// Window function calls found so far; `None` where they are not allowed.
    pub windows: Option<crate::window::WindowCollector>,
    /// Types of the aggregate results and grouping keys that bound expressions refer to by
    /// slot ([`Expr::Agg`], [`Expr::GroupKey`]), so that an operator over them (`sum(x) / 3`,
    /// `avg(x) * 2`) is typed by its operands as PostgreSQL types it.
    pub slot_types: SlotTypes,
    /// Set-returning function calls of the select list (see [`crate::srf`]); `None` where
    /// they are not allowed.
    pub srfs: Option<Vec<crate::srf::SrfCall>>,
}

/// What [`Binder::type_of`] knows about aggregate and grouping-key slots: each entry is set
/// when the binder hands out an expression naming that slot.
#[derive(Debug, Default, Clone)]
pub struct SlotTypes {
    aggs: Vec<Option<DataType>>,
    group_keys: Vec<Option<DataType>>,
}

impl SlotTypes {
    fn set(list: &mut Vec<Option<DataType>>, i: usize, ty: DataType) {
        if list.len() <= i {
            list.resize(i + 1, None);
        }
        list[i] = Some(ty);
    }
}

/// 42883 for a call of `name` with arguments of `types` that no function takes, named as
/// PostgreSQL names it: `function corr(text, text) does not exist`.
pub(crate) fn no_such_function(name: &str, types: &[Option<DataType>]) -> SqlError {
    SqlError::UndefinedFunction(format!(
        "{name}({})",
        types
            .iter()
            .map(|t| t.map_or("unknown", DataType::name))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// Normalises an identifier as PostgreSQL does: unquoted names fold to lower case.
#[must_use]
pub fn ident_name(id: &ast::Ident) -> String {
    if id.quote_style.is_some() {
        id.value.clone()
    } else {
        id.value.to_lowercase()
    }
}

/// The last part of a possibly qualified name (`public.t` → `t`).
pub fn object_name(name: &ast::ObjectName) -> SqlResult<String> {
    match name.0.last() {
        Some(ast::ObjectNamePart::Identifier(id)) => Ok(ident_name(id)),
        _ => Err(SqlError::Syntax(format!("unsupported name {name}"))),
    }
}

/// Maps a column's declared type to ours and its character flavour.
pub fn column_type(dt: &ast::DataType) -> SqlResult<(DataType, crate::catalog::TextKind)> {
    use crate::catalog::TextKind;
    use ast::DataType as D;
    let len = |l: &Option<ast::CharacterLength>| match l {
        Some(ast::CharacterLength::IntegerLength { length, .. }) => {
            Some(u32::try_from(*length).unwrap_or(u32::MAX))
        }
        _ => None,
    };
    let kind = match dt {
        // An array column keeps its element's length or modifier (`varchar(20)[]`).
        D::Array(_) if let Some(t) = array_element(dt) => column_type(t)?.1,
        D::Varchar(l) | D::CharacterVarying(l) => TextKind::Varchar(len(l)),
        D::Char(l) | D::Character(l) => TextKind::Char(len(l).unwrap_or(1)),
        _ => match type_modifier(dt)? {
            -1 => TextKind::Text,
            t => TextKind::Typmod(t),
        },
    };
    if let TextKind::Varchar(Some(n)) | TextKind::Char(n) = kind
        && !(1..=10_485_760).contains(&n)
    {
        return Err(SqlError::Syntax(format!(
            "length for type {} must be at least 1",
            if matches!(kind, TextKind::Char(_)) {
                "char"
            } else {
                "varchar"
            }
        )));
    }
    Ok((data_type(dt)?, kind))
}

/// The `reg*` pseudo-types: casts to them look an object up by name or print its name.
fn reg_type(dt: &ast::DataType) -> Option<&'static str> {
    if matches!(dt, ast::DataType::Regclass) {
        return Some("regclass");
    }
    let ast::DataType::Custom(name, _) = dt else {
        return None;
    };
    let last = match name.0.last() {
        Some(ast::ObjectNamePart::Identifier(id)) => id.value.to_lowercase(),
        _ => return None,
    };
    Some(match last.as_str() {
        "regclass" => "regclass",
        "regtype" => "regtype",
        "regnamespace" => "regnamespace",
        "regproc" | "regprocedure" => "regproc",
        "regrole" => "regrole",
        _ => return None,
    })
}

/// The `reg*` type a bound function yields (its cast or `to_reg*`), by that type's function.
fn reg_function_type(name: &str) -> Option<&'static str> {
    Some(match name.strip_prefix("to_").unwrap_or(name) {
        "regclass" => "regclass",
        "regtype" => "regtype",
        "regnamespace" => "regnamespace",
        "regproc" => "regproc",
        "regrole" => "regrole",
        _ => return None,
    })
}

/// The field restriction (see [`crate::datetime::interval_field`]) of `interval <fields>`.
fn interval_fields_range(f: &ast::IntervalFields) -> i32 {
    use crate::datetime::interval_field::{DAY, HOUR, MINUTE, MONTH, SECOND, YEAR};
    use ast::IntervalFields as F;
    match f {
        F::Year => YEAR,
        F::Month => MONTH,
        F::Day => DAY,
        F::Hour => HOUR,
        F::Minute => MINUTE,
        F::Second => SECOND,
        F::YearToMonth => YEAR | MONTH,
        F::DayToHour => DAY | HOUR,
        F::DayToMinute => DAY | HOUR | MINUTE,
        F::DayToSecond => DAY | HOUR | MINUTE | SECOND,
        F::HourToMinute => HOUR | MINUTE,
        F::HourToSecond => HOUR | MINUTE | SECOND,
        F::MinuteToSecond => MINUTE | SECOND,
    }
}

/// The field restriction of an interval literal's `<leading> [TO <last>]`
/// (`INTERVAL '1:30' MINUTE TO SECOND`): the fields from the leading to the last; `None` for
/// fields an interval type cannot name.
fn interval_literal_range(
    leading: &ast::DateTimeField,
    last: Option<&ast::DateTimeField>,
) -> Option<i32> {
    use crate::datetime::interval_field::{DAY, HOUR, MINUTE, MONTH, SECOND, YEAR};
    use ast::DateTimeField as T;
    const ORDER: [i32; 6] = [YEAR, MONTH, DAY, HOUR, MINUTE, SECOND];
    let place = |f: &ast::DateTimeField| {
        Some(match f {
            T::Year | T::Years => 0,
            T::Month | T::Months => 1,
            T::Day | T::Days => 2,
            T::Hour | T::Hours => 3,
            T::Minute | T::Minutes => 4,
            T::Second | T::Seconds => 5,
            _ => return None,
        })
    };
    let from = place(leading)?;
    let to = match last {
        Some(f) => place(f).filter(|&to| to > from)?,
        None => from,
    };
    let range = ORDER[from..=to].iter().fold(0, |r, bit| r | bit);
    crate::datetime::interval_range_name(range).map(|_| range)
}

/// An interval literal read for a type restricted by `typmod`'s fields (see
/// [`crate::datetime::parse_interval_typmod`]).
/// The element type of an array type name (`varchar(3)[]`, `ARRAY<int>`), `None` for another
/// type or an array with no element type given.
fn array_element(dt: &ast::DataType) -> Option<&ast::DataType> {
    match dt {
        ast::DataType::Array(
            ast::ArrayElemTypeDef::AngleBracket(t)
            | ast::ArrayElemTypeDef::SquareBracket(t, _)
            | ast::ArrayElemTypeDef::Parenthesis(t)
            | ast::ArrayElemTypeDef::Qualified(t, _),
        ) => Some(t),
        _ => None,
    }
}

/// The texts of `elems` when each is a string literal or NULL (`None`), else `None`.
fn string_literals(elems: &[ast::Expr]) -> Option<Vec<Option<&str>>> {
    elems
        .iter()
        .map(|e| match e {
            ast::Expr::Value(v) => match &v.value {
                ast::Value::SingleQuotedString(t) => Some(Some(t.as_str())),
                ast::Value::Null => Some(None),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn restricted_interval_literal(text: &str, typmod: i32) -> SqlResult<Expr> {
    Ok(Expr::Literal(Value::Interval(
        crate::datetime::parse_interval_typmod(text, typmod)?,
    )))
}

/// The type modifier (PostgreSQL's `typmod`) a declared non-character type carries, -1 for
/// none: `numeric(p, s)` (and `numeric(p)`, which is `numeric(p, 0)`), and the fractional
/// second digits of `time(p)`, `timetz(p)`, `timestamp(p)`, `timestamptz(p)` and
/// `interval(p)` (see [`crate::datetime::precision_typmod`]).
pub fn type_modifier(dt: &ast::DataType) -> SqlResult<i32> {
    use ast::DataType as D;
    let info = match dt {
        D::Array(_) if let Some(t) = array_element(dt) => return type_modifier(t),
        D::Numeric(i) | D::Decimal(i) | D::Dec(i) => i,
        D::Time(Some(p), _) | D::Timestamp(Some(p), _) => {
            return Ok(crate::datetime::precision_typmod(*p, false));
        }
        D::Interval {
            fields: None,
            precision: Some(p),
        } => return Ok(crate::datetime::precision_typmod(*p, true)),
        // `interval hour to minute`, `interval day to second(3)`.
        D::Interval {
            fields: Some(f),
            precision,
        } => {
            return Ok(crate::datetime::interval_typmod(
                interval_fields_range(f),
                *precision,
            ));
        }
        D::Custom(name, args) if !args.is_empty() => {
            let last = match name.0.last() {
                Some(ast::ObjectNamePart::Identifier(id)) => id.value.to_lowercase(),
                _ => String::new(),
            };
            if let ("time" | "timetz" | "timestamp" | "timestamptz" | "interval", [arg]) =
                (last.as_str(), args.as_slice())
            {
                let p: u64 = arg.trim().parse().map_err(|_| {
                    SqlError::Syntax(format!("invalid type modifier for type {last}"))
                })?;
                return Ok(crate::datetime::precision_typmod(p, last == "interval"));
            }
            if last != "numeric" && last != "decimal" {
                return Ok(-1);
            }
            let nums: Vec<i64> = args.iter().filter_map(|a| a.trim().parse().ok()).collect();
            if nums.len() != args.len() || nums.len() > 2 {
                return Err(SqlError::Syntax(format!(
                    "invalid NUMERIC type modifier {dt}"
                )));
            }
            let (p, sc) = crate::numeric::typmod(nums[0], nums.get(1).copied().unwrap_or(0))?;
            return Ok(crate::numeric::typmod_code(p, sc));
        }
        _ => return Ok(-1),
    };
    let (p, sc) = match info {
        ast::ExactNumberInfo::None => return Ok(-1),
        ast::ExactNumberInfo::Precision(p) => {
            crate::numeric::typmod(i64::try_from(*p).unwrap_or(i64::MAX), 0)?
        }
        ast::ExactNumberInfo::PrecisionAndScale(p, sc) => {
            crate::numeric::typmod(i64::try_from(*p).unwrap_or(i64::MAX), *sc)?
        }
    };
    Ok(crate::numeric::typmod_code(p, sc))
}

/// The length an explicit cast to `varchar(n)` or `char(n)` (`char` alone is `char(1)`)
/// applies: the function that applies it and `n`.
fn char_length_cast(dt: &ast::DataType) -> Option<(&'static str, i64)> {
    use ast::DataType as D;
    let len = |l: &Option<ast::CharacterLength>| match l {
        Some(ast::CharacterLength::IntegerLength { length, .. }) => {
            Some(i64::try_from(*length).unwrap_or(i64::MAX))
        }
        _ => None,
    };
    match dt {
        D::Varchar(l) | D::CharacterVarying(l) => len(l).map(|n| ("varchar_length", n)),
        D::Char(l) | D::Character(l) => Some(("bpchar_length", len(l).unwrap_or(1))),
        // `bpchar` with no length keeps the value as it is (-1: no length).
        D::Custom(name, args) if name.to_string().eq_ignore_ascii_case("bpchar") => Some((
            "bpchar_length",
            args.first()
                .and_then(|a| a.trim().parse().ok())
                .unwrap_or(-1),
        )),
        _ => None,
    }
}

/// Whether `dt` names `character(n)` (`char`, `bpchar`): held as text, its values are
/// [`Value::Bpchar`]s.
#[must_use]
pub fn is_bpchar_type(dt: &ast::DataType) -> bool {
    match dt {
        ast::DataType::Char(_) | ast::DataType::Character(_) => true,
        ast::DataType::Custom(name, _) => name.to_string().eq_ignore_ascii_case("bpchar"),
        _ => false,
    }
}

/// Maps a SQL type name to one of ours.
pub fn data_type(dt: &ast::DataType) -> SqlResult<DataType> {
    use ast::DataType as D;
    Ok(match dt {
        D::Int(_) | D::Integer(_) | D::Int4(_) => DataType::Int4,
        D::SmallInt(_) | D::Int2(_) => DataType::Int2,
        D::Timestamp(_, ast::TimezoneInfo::None | ast::TimezoneInfo::WithoutTimeZone) => {
            DataType::Timestamp
        }
        D::Timestamp(_, ast::TimezoneInfo::WithTimeZone | ast::TimezoneInfo::Tz) => {
            DataType::TimestampTz
        }
        D::Date => DataType::Date,
        D::Time(_, ast::TimezoneInfo::None | ast::TimezoneInfo::WithoutTimeZone) => DataType::Time,
        D::Time(_, ast::TimezoneInfo::WithTimeZone | ast::TimezoneInfo::Tz) => DataType::TimeTz,
        D::Interval { .. } => DataType::Interval,
        D::Real | D::Float4 => DataType::Float4,
        D::Regclass => DataType::Int8,
        D::Numeric(_) | D::Decimal(_) | D::Dec(_) => DataType::Numeric,
        D::Bytea => DataType::Bytea,
        D::Uuid => DataType::Uuid,
        D::JSON => DataType::Json,
        D::JSONB => DataType::Jsonb,
        D::Array(_) => {
            let inner = match array_element(dt) {
                Some(t) => data_type(t)?,
                None => DataType::Text,
            };
            // `int[][]` is `int[]`: PostgreSQL ignores declared dimensions, and `array_of` of
            // an array type is itself.
            inner.array_of()
        }
        D::Custom(name, _) => {
            let last = match name.0.last() {
                Some(ast::ObjectNamePart::Identifier(id)) => id.value.to_lowercase(),
                _ => String::new(),
            };
            match last.as_str() {
                "oid" | "xid" | "regclass" | "regtype" | "regnamespace" | "regproc" | "regrole"
                | "int2" | "smallint" => {
                    if matches!(last.as_str(), "int2" | "smallint") {
                        DataType::Int2
                    } else {
                        DataType::Int8
                    }
                }
                "name" | "char" | "bpchar" | "text" | "varchar" => DataType::Text,
                "int4" => DataType::Int4,
                "int8" => DataType::Int8,
                "float8" => DataType::Float8,
                "float4" | "real" => DataType::Float4,
                "bool" => DataType::Bool,
                "timestamp" => DataType::Timestamp,
                "timestamptz" => DataType::TimestampTz,
                "date" => DataType::Date,
                "time" => DataType::Time,
                "timetz" => DataType::TimeTz,
                "interval" => DataType::Interval,
                "numeric" | "decimal" => DataType::Numeric,
                "bytea" => DataType::Bytea,
                "uuid" => DataType::Uuid,
                "json" => DataType::Json,
                "jsonb" => DataType::Jsonb,
                "jsonpath" => DataType::JsonPath,
                _ => return Err(SqlError::FeatureNotSupported(format!("type {dt}"))),
            }
        }
        D::BigInt(_) | D::Int8(_) => DataType::Int8,
        D::Text | D::String(_) => DataType::Text,
        // varchar(n) and char(n) are text: their lengths are applied on assignment
        // (`Column::fit`) and by the length casts, and char(n) values are bpchars.
        D::Varchar(_) | D::CharacterVarying(_) | D::Char(_) | D::Character(_) => DataType::Text,
        D::Boolean | D::Bool => DataType::Bool,
        D::DoublePrecision | D::Float8 | D::Double(_) => DataType::Float8,
        // `float` is double precision; `float(p)` is real for p ≤ 24 (widened like `real`).
        D::Float(ast::ExactNumberInfo::None) => DataType::Float8,
        D::Float(ast::ExactNumberInfo::Precision(p)) => match p {
            0 => {
                return Err(SqlError::InvalidParameterValue(
                    "precision for type float must be at least 1 bit".into(),
                ));
            }
            1..=24 => DataType::Float4,
            25..=53 => DataType::Float8,
            _ => {
                return Err(SqlError::InvalidParameterValue(
                    "precision for type float must be less than 54 bits".into(),
                ));
            }
        },
        other => return Err(SqlError::FeatureNotSupported(format!("type {other}"))),
    })
}

/// Whether [`Binder::bind_elsewhere`] binds `e`: the date/time forms, `ARRAY[…]`, the json
/// operators, `ANY`/`ALL`, `IN (…)`, `BETWEEN`, `LIKE` and `CASE`.
/// The fields of a row constructor, `(a, b)` or `ROW(a, b)`.
fn row_fields(e: &ast::Expr) -> Option<Vec<ast::Expr>> {
    match e {
        ast::Expr::Tuple(items) => Some(items.clone()),
        ast::Expr::Function(f)
            if f.name.to_string().eq_ignore_ascii_case("row") && f.over.is_none() =>
        {
            let ast::FunctionArguments::List(list) = &f.args else {
                return None;
            };
            list.args
                .iter()
                .map(|a| match a {
                    ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => Some(e.clone()),
                    _ => None,
                })
                .collect()
        }
        _ => None,
    }
}

/// Whether a binary operator compares two row constructors.
fn is_row_comparison(op: &ast::BinaryOperator, left: &ast::Expr, right: &ast::Expr) -> bool {
    use ast::BinaryOperator as B;
    matches!(op, B::Eq | B::NotEq | B::Lt | B::LtEq | B::Gt | B::GtEq)
        && row_fields(left).is_some()
        && row_fields(right).is_some()
}

/// A row comparison as the scalar comparisons it means (SQL's rule, which PostgreSQL follows):
/// `=` is every pair equal, `<>` some pair unequal, and the orderings decide on the first pair
/// that is not equal: `(a, b) < (c, d)` is `a < c OR (a = c AND b < d)`. NULLs fall out as they
/// do in PostgreSQL (`(1, NULL) < (2, 0)` is true, `(1, NULL) < (1, 0)` NULL).
fn row_comparison(
    op: &ast::BinaryOperator,
    left: Vec<ast::Expr>,
    right: Vec<ast::Expr>,
) -> SqlResult<ast::Expr> {
    use ast::BinaryOperator as B;
    if left.len() != right.len() || left.is_empty() {
        return Err(SqlError::Syntax(
            "unequal number of entries in row expressions".into(),
        ));
    }
    let bin = |l: ast::Expr, op: B, r: ast::Expr| ast::Expr::BinaryOp {
        left: Box::new(l),
        op,
        right: Box::new(r),
    };
    let pairs = left.into_iter().zip(right);
    Ok(match op {
        B::Eq | B::NotEq => {
            let join = if *op == B::Eq { B::And } else { B::Or };
            pairs
                .map(|(l, r)| bin(l, op.clone(), r))
                .reduce(|acc, c| bin(acc, join.clone(), c))
                .ok_or_else(|| SqlError::Internal("empty row".into()))?
        }
        _ => {
            let strict = match op {
                B::Lt | B::LtEq => B::Lt,
                _ => B::Gt,
            };
            let mut pairs: Vec<(ast::Expr, ast::Expr)> = pairs.collect();
            let (l, r) = pairs
                .pop()
                .ok_or_else(|| SqlError::Internal("empty row".into()))?;
            let mut acc = bin(l, op.clone(), r);
            while let Some((l, r)) = pairs.pop() {
                let less = bin(l.clone(), strict.clone(), r.clone());
                let equal = bin(l, B::Eq, r);
                acc = bin(
                    less,
                    B::Or,
                    ast::Expr::Nested(Box::new(bin(equal, B::And, acc))),
                );
            }
            acc
        }
    })
}

fn bound_elsewhere(e: &ast::Expr) -> bool {
    use ast::Expr as E;
    match e {
        E::BinaryOp { op, left, right } => {
            is_json_operator(op, right) || is_row_comparison(op, left, right)
        }
        E::Like {
            escape_char: None, ..
        }
        | E::ILike {
            escape_char: None, ..
        } => true,
        E::Extract { .. }
        | E::AtTimeZone { .. }
        | E::Interval(_)
        | E::Array(_)
        | E::AnyOp { .. }
        | E::AllOp { .. }
        | E::InList { .. }
        | E::Between { .. }
        | E::Case { .. } => true,
        _ => false,
    }
}

/// Refuses a comparison of two records when a field of one is an untyped constant
/// (`unknown`) and the other's is typed, as PostgreSQL does (`record_eq` has no cast from
/// unknown); only records the binder built can tell.
fn record_comparable(l: &Expr, r: &Expr) -> SqlResult<()> {
    let (Expr::Row { columns: a, .. }, Expr::Row { columns: b, .. }) = (l, r) else {
        return Ok(());
    };
    for (i, (x, y)) in a.iter().zip(b.iter()).enumerate() {
        if x.unknown != y.unknown {
            let typed = if x.unknown { y } else { x };
            return Err(SqlError::DatatypeMismatch(format!(
                "cannot compare dissimilar column types {} and unknown at record column {}",
                typed.ty.name(),
                i + 1
            )));
        }
    }
    Ok(())
}

/// Whether a binary operator is one of the json operators, which [`Binder::bind_json_operator`]
/// binds: `->`, `->>`, `#>`, `#>>`, `@>`, `<@`, `?`, `?|`, `?&`, and `-` with an array of keys
/// on its right.
fn is_json_operator(op: &ast::BinaryOperator, right: &ast::Expr) -> bool {
    use ast::BinaryOperator as B;
    match op {
        B::Arrow
        | B::LongArrow
        | B::HashArrow
        | B::HashLongArrow
        | B::AtArrow
        | B::ArrowAt
        | B::Question
        | B::QuestionAnd
        | B::QuestionPipe
        | B::AtQuestion
        | B::AtAt
        | B::PGOverlap => true,
        B::Minus => {
            matches!(right, ast::Expr::Array(_))
                || matches!(
                    right,
                    ast::Expr::Cast {
                        data_type: ast::DataType::Array(_),
                        ..
                    }
                )
        }
        _ => false,
    }
}

/// The patterns of `x LIKE ALL (patterns)`, which the parser reads as `x LIKE all(patterns)`:
/// a call of an unqualified, unquoted `all` with one plain argument. (`ALL (SELECT …)` reaches
/// the parser as `ALL (ARRAY(SELECT …))`: see `dialect.rs`.)
fn like_all_patterns(f: &ast::Function) -> Option<&ast::Expr> {
    let [ast::ObjectNamePart::Identifier(name)] = f.name.0.as_slice() else {
        return None;
    };
    if name.quote_style.is_some() || !name.value.eq_ignore_ascii_case("all") {
        return None;
    }
    let ast::FunctionArguments::List(list) = &f.args else {
        return None;
    };
    match list.args.as_slice() {
        [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e))]
            if list.duplicate_treatment.is_none() && list.clauses.is_empty() =>
        {
            Some(e)
        }
        _ => None,
    }
}

/// Whether `e` is a cast to `text[]`.
fn is_text_array_cast(e: &ast::Expr) -> bool {
    let mut e = e;
    while let ast::Expr::Nested(inner) = e {
        e = inner;
    }
    matches!(
        e,
        ast::Expr::Cast {
            data_type: ast::DataType::Array(ast::ArrayElemTypeDef::SquareBracket(t, _)),
            ..
        } if matches!(**t, ast::DataType::Text)
    )
}

/// The elements of the array operand of ANY/ALL (`x op ANY (a)`, `x LIKE ANY (a)`); `None`
/// for a NULL array. An array in text form (an untyped literal) gives its elements as untyped
/// strings.
fn array_operand(v: Value) -> SqlResult<Option<Vec<Value>>> {
    Ok(match v {
        Value::Null => None,
        Value::Array(items) => Some(items),
        Value::Text(t) => Some(
            parse_array(&t)?
                .into_iter()
                .map(|i| i.map_or(Value::Null, Value::Text))
                .collect(),
        ),
        other => Some(vec![Value::Text(other.to_text().unwrap_or_default())]),
    })
}

/// ANY (`all` false: some element passes `test`) or ALL (every one does), three-valued: a NULL
/// element, or a test that cannot decide (`None`), makes an otherwise undecided answer NULL.
/// No elements at all: ANY is false and ALL true, even for a NULL left side.
fn any_or_all(
    items: &[Value],
    all: bool,
    mut test: impl FnMut(&Value) -> SqlResult<Option<bool>>,
) -> SqlResult<Value> {
    let mut saw_null = false;
    for item in items {
        if item.is_null() {
            saw_null = true;
            continue;
        }
        match test(item)? {
            None => saw_null = true,
            Some(hit) if hit != all => return Ok(Value::Bool(hit)),
            Some(_) => {}
        }
    }
    Ok(if saw_null {
        Value::Null
    } else {
        Value::Bool(all)
    })
}

fn literal_type(v: &Value) -> Option<DataType> {
    match v {
        Value::Null | Value::Text(_) => None,
        Value::Bool(_) => Some(DataType::Bool),
        Value::Int(i) => Some(if i32::try_from(*i).is_ok() {
            DataType::Int4
        } else {
            DataType::Int8
        }),
        Value::Float(_) => Some(DataType::Float8),
        Value::Float4(_) => Some(DataType::Float4),
        Value::Bpchar(_) => Some(DataType::Text),
        Value::Timestamp(_) => Some(DataType::Timestamp),
        Value::Numeric(_) => Some(DataType::Numeric),
        Value::Bytes(_) => Some(DataType::Bytea),
        Value::Uuid(_) => Some(DataType::Uuid),
        Value::Date(_) => Some(DataType::Date),
        Value::TimestampTz(_) => Some(DataType::TimestampTz),
        Value::Time(_) => Some(DataType::Time),
        Value::TimeTz(..) => Some(DataType::TimeTz),
        Value::Interval(_) => Some(DataType::Interval),
        Value::Json(_) => Some(DataType::Json),
        Value::JsonPath(_) => Some(DataType::JsonPath),
        Value::Jsonb(_) => Some(DataType::Jsonb),
        Value::Array(items) => items.iter().find_map(literal_type).map(DataType::array_of),
        Value::Record(_) => Some(DataType::Record),
    }
}

impl<'a> Binder<'a> {
    /// A binder over one scope, with no enclosing queries and no subqueries.
    pub fn new(scope: &'a [ScopeColumn], params: &'a mut Vec<Option<DataType>>) -> Binder<'a> {
        Binder {
            scope,
            params,
            outer: &[],
            planner: None,
            outer_depth_used: 0,
            windows: None,
            slot_types: SlotTypes::default(),
            srfs: None,
        }
    }

    fn subquery(&mut self, q: &ast::Query) -> SqlResult<Subquery> {
        let planner = self
            .planner
            .ok_or_else(|| SqlError::FeatureNotSupported("subqueries here".into()))?;
        let mut chain: Vec<&[ScopeColumn]> = self.outer.to_vec();
        chain.push(self.scope);
        let (plan, depth) = planner.bind_subquery(q, &mut *self.params, &chain)?;
        // A reference two levels up from the subquery is one level up from here.
        if depth > 1 {
            self.outer_depth_used = self.outer_depth_used.max(depth - 1);
        }
        Ok(Subquery {
            plan: std::sync::Arc::new(plan),
            correlated: depth >= 1,
        })
    }

    /// Binds an expression. `mode` says what aggregates and bare columns mean here.
    pub fn bind(&mut self, e: &ast::Expr, mode: &mut AggMode<'_>) -> SqlResult<Expr> {
        self.bind_depth(e, mode, 0)
    }

    pub(crate) fn bind_depth(
        &mut self,
        e: &ast::Expr,
        mode: &mut AggMode<'_>,
        depth: usize,
    ) -> SqlResult<Expr> {
        if depth > EXPR_DEPTH_MAX {
            return Err(SqlError::ProgramLimitExceeded(
                "expression nested too deeply".into(),
            ));
        }
        // Inside an aggregating query, an expression equal to a GROUP BY expression is that key.
        if let AggMode::Collect { group_by, .. } = mode {
            let text = e.to_string();
            if let Some(i) = group_by.iter().position(|(g, _)| *g == text) {
                SlotTypes::set(&mut self.slot_types.group_keys, i, group_by[i].1);
                return Ok(Expr::GroupKey(i));
            }
        }
        let d = depth + 1;
        use ast::Expr as E;
        Ok(match e {
            E::Identifier(id) => self.column(None, &ident_name(id), mode)?,
            E::CompoundIdentifier(parts)
                if parts.len() == 3 && parts[0].quote_style == Some(STAR_ITEM_MARK) =>
            {
                let i = parts[0]
                    .value
                    .parse::<usize>()
                    .ok()
                    .filter(|&i| i < self.scope.len())
                    .ok_or_else(|| SqlError::Internal("a SELECT * item out of scope".into()))?;
                self.scope_column(i, false, mode)?
            }
            E::CompoundIdentifier(parts) if parts.len() >= 2 => {
                let table = ident_name(&parts[parts.len() - 2]);
                self.column(Some(&table), &ident_name(&parts[parts.len() - 1]), mode)?
            }
            E::Value(v) => self.literal(&v.value)?,
            E::Nested(inner) => self.bind_depth(inner, mode, d)?,
            E::UnaryOp {
                op: ast::UnaryOperator::Minus,
                expr,
            } if matches!(expr.as_ref(), E::Value(v) if matches!(&v.value,
                ast::Value::Number(n, _) if n.bytes().all(|b| b.is_ascii_digit()))) =>
            {
                // A negative integer constant, folded as the grammar does: -9223372036854775808
                // is an int8. Beyond int8 the constant stays inexact (a float); one that rounds
                // to -2^63 is moved below it, so that a cast to int8 refuses it.
                let E::Value(v) = expr.as_ref() else {
                    unreachable!("matched above")
                };
                let ast::Value::Number(n, _) = &v.value else {
                    unreachable!("matched above")
                };
                // Beyond int8 the constant is a numeric, as PostgreSQL's grammar makes it.
                match format!("-{n}").parse::<i64>() {
                    Ok(i) => Expr::Literal(Value::Int(i)),
                    Err(_) => Expr::Literal(Value::Numeric(Numeric::parse(&format!("-{n}"))?)),
                }
            }
            E::UnaryOp { op, expr } => {
                let inner = self.bind_depth(expr, mode, d)?;
                match op {
                    ast::UnaryOperator::Minus => match inner {
                        Expr::Literal(Value::Int(i)) => Expr::Literal(Value::Int(-i)),
                        Expr::Literal(Value::Float(f)) => Expr::Literal(Value::Float(-f)),
                        Expr::Literal(Value::Numeric(n)) => Expr::Literal(Value::Numeric(n.neg())),
                        // An int4 negates within int4: -(-2147483648) is out of range.
                        other
                            if matches!(
                                self.type_of(&other),
                                Some(DataType::Int4 | DataType::Int2)
                            ) =>
                        {
                            let ty = self.type_of(&other).unwrap_or(DataType::Int4);
                            Expr::Binary {
                                op: BinOp::Sub,
                                left: Box::new(Expr::Literal(Value::Int(0))),
                                right: Box::new(other),
                                ty,
                            }
                        }
                        other => Expr::Neg(Box::new(other)),
                    },
                    ast::UnaryOperator::Plus => inner,
                    ast::UnaryOperator::Not => Expr::Not(Box::new(inner)),
                    ast::UnaryOperator::BitwiseNot => {
                        return self.bitwise("int_not", inner, None);
                    }
                    // `|/ x` is sqrt(x).
                    ast::UnaryOperator::PGSquareRoot => {
                        let mut args = vec![inner];
                        return self
                            .math_function("sqrt", &mut args)?
                            .ok_or_else(|| SqlError::Internal("sqrt".into()));
                    }
                    other => {
                        return Err(SqlError::FeatureNotSupported(format!("operator {other}")));
                    }
                }
            }
            // Forms bound by [`Binder::bind_elsewhere`], sharing one call (and one slot of this
            // frame, which every level of a deep expression holds).
            E::Extract { .. }
            | E::AtTimeZone { .. }
            | E::Interval(_)
            | E::Array(_)
            | E::AnyOp { .. }
            | E::AllOp { .. }
            | E::InList { .. }
            | E::Between { .. }
            | E::Like { .. }
            | E::ILike { .. }
            | E::Case { .. }
            | E::BinaryOp { .. }
                if bound_elsewhere(e) =>
            {
                self.bind_elsewhere(e, mode, d)?
            }
            E::BinaryOp { left, op, right } => {
                let l = self.bind_depth(left, mode, d)?;
                let r = self.bind_depth(right, mode, d)?;
                let op = match op {
                    ast::BinaryOperator::Plus => BinOp::Add,
                    ast::BinaryOperator::Minus => BinOp::Sub,
                    ast::BinaryOperator::Multiply => BinOp::Mul,
                    ast::BinaryOperator::Divide => BinOp::Div,
                    ast::BinaryOperator::Modulo => BinOp::Mod,
                    ast::BinaryOperator::StringConcat => BinOp::Concat,
                    ast::BinaryOperator::Eq => BinOp::Eq,
                    ast::BinaryOperator::NotEq => BinOp::NotEq,
                    ast::BinaryOperator::Lt => BinOp::Lt,
                    ast::BinaryOperator::LtEq => BinOp::LtEq,
                    ast::BinaryOperator::Gt => BinOp::Gt,
                    ast::BinaryOperator::GtEq => BinOp::GtEq,
                    ast::BinaryOperator::And => BinOp::And,
                    ast::BinaryOperator::Or => BinOp::Or,
                    ast::BinaryOperator::PGRegexMatch => BinOp::Regex {
                        case_insensitive: false,
                        negated: false,
                    },
                    ast::BinaryOperator::PGRegexIMatch => BinOp::Regex {
                        case_insensitive: true,
                        negated: false,
                    },
                    ast::BinaryOperator::PGRegexNotMatch => BinOp::Regex {
                        case_insensitive: false,
                        negated: true,
                    },
                    ast::BinaryOperator::PGRegexNotIMatch => BinOp::Regex {
                        case_insensitive: true,
                        negated: true,
                    },
                    // OPERATOR(pg_catalog.=) and friends, as psql writes them.
                    ast::BinaryOperator::PGCustomBinaryOperator(parts) => {
                        match parts.last().map(String::as_str) {
                            Some("~") => BinOp::Regex {
                                case_insensitive: false,
                                negated: false,
                            },
                            Some("~*") => BinOp::Regex {
                                case_insensitive: true,
                                negated: false,
                            },
                            Some("!~") => BinOp::Regex {
                                case_insensitive: false,
                                negated: true,
                            },
                            Some("!~*") => BinOp::Regex {
                                case_insensitive: true,
                                negated: true,
                            },
                            Some("=") => BinOp::Eq,
                            Some("<>") => BinOp::NotEq,
                            Some("<") => BinOp::Lt,
                            Some("<=") => BinOp::LtEq,
                            Some(">") => BinOp::Gt,
                            Some(">=") => BinOp::GtEq,
                            _ => {
                                return Err(SqlError::UndefinedOperator(parts.join(".")));
                            }
                        }
                    }
                    ast::BinaryOperator::BitwiseAnd => return self.bitwise("int_and", l, Some(r)),
                    ast::BinaryOperator::BitwiseOr => return self.bitwise("int_or", l, Some(r)),
                    ast::BinaryOperator::PGBitwiseXor => {
                        return self.bitwise("int_xor", l, Some(r));
                    }
                    ast::BinaryOperator::PGBitwiseShiftLeft => {
                        return self.bitwise("int_shl", l, Some(r));
                    }
                    ast::BinaryOperator::PGBitwiseShiftRight => {
                        return self.bitwise("int_shr", l, Some(r));
                    }
                    // `^` is power(), as PostgreSQL defines it (float8 or numeric).
                    ast::BinaryOperator::PGExp => {
                        let mut args = vec![l, r];
                        return self
                            .math_function("power", &mut args)?
                            .ok_or_else(|| SqlError::Internal("power".into()));
                    }
                    other => {
                        return Err(SqlError::FeatureNotSupported(format!("operator {other}")));
                    }
                };
                let (l, r) = if matches!(
                    op,
                    BinOp::Eq | BinOp::NotEq | BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq
                ) {
                    self.text_against_bpchar(left, l, right, r)
                } else {
                    (l, r)
                };
                self.binary(op, l, r)?
            }
            E::IsNull(inner) => Expr::IsNull {
                expr: Box::new(self.bind_depth(inner, mode, d)?),
                negated: false,
            },
            E::IsNotNull(inner) => Expr::IsNull {
                expr: Box::new(self.bind_depth(inner, mode, d)?),
                negated: true,
            },
            E::IsTrue(inner)
            | E::IsNotTrue(inner)
            | E::IsFalse(inner)
            | E::IsNotFalse(inner)
            | E::IsUnknown(inner)
            | E::IsNotUnknown(inner) => {
                let (name, test, negated) = match e {
                    E::IsTrue(_) => ("is_true", "IS TRUE", false),
                    E::IsNotTrue(_) => ("is_true", "IS NOT TRUE", true),
                    E::IsFalse(_) => ("is_false", "IS FALSE", false),
                    E::IsNotFalse(_) => ("is_false", "IS NOT FALSE", true),
                    E::IsUnknown(_) => ("is_unknown", "IS UNKNOWN", false),
                    _ => ("is_unknown", "IS NOT UNKNOWN", true),
                };
                let x = self.bind_depth(inner, mode, d)?;
                match self.type_of(&x) {
                    Some(DataType::Bool) | None => {}
                    Some(other) => {
                        return Err(SqlError::DatatypeMismatch(format!(
                            "argument of {test} must be type boolean, not type {}",
                            other.name()
                        )));
                    }
                }
                if let Expr::Param(i) = x {
                    self.set_param(i, DataType::Bool);
                }
                // The tests never yield NULL, so NOT of them is exact.
                let f = Expr::Func {
                    name,
                    args: vec![x],
                };
                if negated { Expr::Not(Box::new(f)) } else { f }
            }
            E::Collate { expr, .. } => self.bind_depth(expr, mode, d)?,
            E::IsDistinctFrom(a, b) | E::IsNotDistinctFrom(a, b) => {
                let l = self.bind_depth(a, mode, d)?;
                let r = self.bind_depth(b, mode, d)?;
                self.unify(&l, &r)?;
                let f = Expr::Func {
                    name: "is_distinct_from",
                    args: vec![l, r],
                };
                if matches!(e, E::IsNotDistinctFrom(..)) {
                    Expr::Not(Box::new(f))
                } else {
                    f
                }
            }
            E::CompoundFieldAccess { root, access_chain } => {
                let mut cur = self.bind_depth(root, mode, d)?;
                for a in access_chain {
                    let typed = matches!(self.type_of(&cur), Some(DataType::Array(_)));
                    match a {
                        ast::AccessExpr::Subscript(ast::Subscript::Index { index }) => {
                            let i = self.bind_depth(index, mode, d)?;
                            let i = self.coerce_to(i, DataType::Int4);
                            cur = Expr::Func {
                                // Catalog columns that carry arrays or vectors as text keep
                                // their own subscript.
                                name: if typed {
                                    "arr_subscript"
                                } else {
                                    "array_subscript"
                                },
                                args: vec![cur, i],
                            };
                        }
                        ast::AccessExpr::Subscript(ast::Subscript::Slice {
                            lower_bound,
                            upper_bound,
                            stride: None,
                        }) => {
                            let mut bound_of = |b: &Option<ast::Expr>, omitted: i64| match b {
                                None => Ok(Expr::Literal(Value::Int(omitted))),
                                Some(b) => {
                                    let e = self.bind_depth(b, mode, d)?;
                                    Ok::<_, SqlError>(self.coerce_to(e, DataType::Int4))
                                }
                            };
                            let lo = bound_of(lower_bound, 1)?;
                            let hi = bound_of(upper_bound, i64::MAX)?;
                            cur = Expr::Func {
                                name: "arr_slice",
                                args: vec![cur, lo, hi],
                            };
                        }
                        ast::AccessExpr::Dot(ast::Expr::Identifier(id)) => {
                            cur = self.field_select(cur, &ident_name(id))?;
                        }
                        other => {
                            return Err(SqlError::FeatureNotSupported(format!("{other}")));
                        }
                    }
                }
                cur
            }
            // `(t.*)` in an expression (`(t.*)::text`): the whole row of t, as `t` is.
            E::QualifiedWildcard(name, _) if name.0.len() == 1 => {
                let table = object_name(name)?;
                match self.whole_row(&table, mode)? {
                    Some(row) => row,
                    None => return Err(SqlError::MissingFromEntry(table)),
                }
            }
            E::TypedString(ts) => {
                let ty = data_type(&ts.data_type)?;
                let text = match &ts.value.value {
                    ast::Value::SingleQuotedString(s) => s.clone(),
                    other => other.to_string(),
                };
                let v = parse_text(&text, ty)?;
                Expr::Literal(crate::types::apply_typmod(
                    v,
                    ty,
                    type_modifier(&ts.data_type)?,
                )?)
            }
            // `::record` of a record is itself; nothing else casts to the pseudo-type.
            E::Cast {
                expr,
                data_type: ast::DataType::Custom(name, mods),
                ..
            } if mods.is_empty() && name.to_string().eq_ignore_ascii_case("record") => {
                let inner = self.bind_depth(expr, mode, d)?;
                match self.type_of(&inner) {
                    Some(DataType::Record) => inner,
                    None if matches!(inner, Expr::Literal(Value::Null)) => Expr::Cast {
                        expr: Box::new(inner),
                        ty: DataType::Record,
                    },
                    other => {
                        return Err(SqlError::FeatureNotSupported(format!(
                            "cast of type {} to record",
                            other.map_or("unknown", DataType::name)
                        )));
                    }
                }
            }
            E::Cast {
                expr,
                data_type: dt,
                ..
            } if reg_type(dt).is_some() => {
                let inner = self.bind_depth(expr, mode, d)?;
                if let Expr::Param(i) = inner {
                    self.set_param(i, DataType::Text);
                }
                Expr::Func {
                    name: reg_type(dt).unwrap_or("regclass"),
                    args: vec![inner],
                }
            }
            E::Cast {
                expr,
                data_type: dt,
                ..
            } => {
                let ty = data_type(dt)?;
                let typmod = type_modifier(dt)?;
                let inner = match &**expr {
                    // `ARRAY[]::int[]`: the cast gives the empty constructor its type.
                    ast::Expr::Array(a) if a.elem.is_empty() && ty.is_array() => Expr::Func {
                        name: "arr_build",
                        args: Vec::new(),
                    },
                    // `ARRAY['5']::interval minute[]`: each string literal is read as the
                    // element type, its fields steering the reading (five minutes), as a lone
                    // `'5'::interval minute` is.
                    ast::Expr::Array(a)
                        if ty == DataType::Interval.array_of()
                            && crate::datetime::interval_range(typmod).is_some()
                            && let Some(items) = string_literals(&a.elem) =>
                    {
                        let args = items
                            .into_iter()
                            .map(|t| {
                                t.map_or(Ok(Expr::Literal(Value::Null)), |t| {
                                    restricted_interval_literal(t, typmod)
                                })
                            })
                            .collect::<SqlResult<Vec<_>>>()?;
                        Expr::Func {
                            name: "arr_build",
                            args,
                        }
                    }
                    _ => self.bind_depth(expr, mode, d)?,
                };
                // `'t'::regclass::text`: a `reg*` value read from a name is its OID here (the
                // `reg*` types are `bigint`); as text it is the object's name again, as
                // PostgreSQL prints it.
                let inner = match &inner {
                    Expr::Func { name, .. }
                        if ty == DataType::Text && self.type_of(&inner) == Some(DataType::Int8) =>
                    {
                        match reg_function_type(name) {
                            Some(reg) => Expr::Func {
                                name: reg,
                                args: vec![inner],
                            },
                            None => inner,
                        }
                    }
                    _ => inner,
                };
                if let Expr::Param(i) = inner {
                    self.set_param(i, ty);
                }
                if ty == DataType::Interval
                    && crate::datetime::interval_range(typmod).is_some()
                    && let Expr::Literal(Value::Text(t)) = &inner
                {
                    // `'10'::interval minute` is ten minutes: the fields steer the reading.
                    return restricted_interval_literal(t, typmod);
                }
                let cast = Expr::Cast {
                    expr: Box::new(inner),
                    ty,
                };
                if let Some((name, n)) =
                    char_length_cast(dt).or_else(|| array_element(dt).and_then(char_length_cast))
                {
                    // `x::varchar(n)` / `x::char(n)`: an explicit cast truncates (and char pads);
                    // `x::varchar(n)[]` each element.
                    Expr::Func {
                        name,
                        args: vec![cast, Expr::Literal(Value::Int(n))],
                    }
                } else if typmod == -1 {
                    cast
                } else {
                    // `x::numeric(10,2)`: the cast, then the modifier.
                    Expr::Func {
                        name: "typmod",
                        args: vec![cast, Expr::Literal(Value::Int(i64::from(typmod)))],
                    }
                }
            }
            E::Function(f) => self.function(f, mode, d)?,
            E::Tuple(items) => self.row_constructor(items, mode, d)?,
            E::Substring { .. }
            | E::Trim { .. }
            | E::Overlay { .. }
            | E::Position { .. }
            | E::SimilarTo { .. } => self.bind_syntax(e, mode, d)?,
            E::Ceil {
                expr,
                field: ast::CeilFloorKind::DateTimeField(ast::DateTimeField::NoDateTime),
            }
            | E::Floor {
                expr,
                field: ast::CeilFloorKind::DateTimeField(ast::DateTimeField::NoDateTime),
            } => {
                let name = if matches!(e, E::Ceil { .. }) {
                    "ceil"
                } else {
                    "floor"
                };
                let mut args = vec![self.bind_depth(expr, mode, d)?];
                self.math_function(name, &mut args)?
                    .ok_or_else(|| SqlError::Internal(format!("{name} is a math function")))?
            }
            E::Subquery(q) => {
                let sq = self.subquery(q)?;
                if sq.plan.columns.len() != 1 {
                    return Err(SqlError::Syntax(
                        "subquery must return only one column".into(),
                    ));
                }
                Expr::ScalarSubquery(sq)
            }
            E::Exists { subquery, negated } => Expr::Exists {
                query: self.subquery(subquery)?,
                negated: *negated,
            },
            E::InSubquery {
                expr,
                subquery,
                negated,
            } => {
                let x = self.bind_depth(expr, mode, d)?;
                let sq = self.subquery(subquery)?;
                if sq.plan.columns.len() != 1 {
                    return Err(SqlError::Syntax("subquery has too many columns".into()));
                }
                if let Expr::Param(i) = x {
                    self.set_param(i, sq.plan.columns[0].ty);
                }
                Expr::InSubquery {
                    expr: Box::new(x),
                    query: sq,
                    negated: *negated,
                }
            }
            other => return Err(SqlError::FeatureNotSupported(format!("expression {other}"))),
        })
    }

    fn column(
        &mut self,
        table: Option<&str>,
        name: &str,
        mode: &mut AggMode<'_>,
    ) -> SqlResult<Expr> {
        let mut found = None;
        for (i, c) in self.scope.iter().enumerate() {
            if c.name == name && table.map_or(!c.hidden, |t| c.table.as_deref() == Some(t)) {
                if found.is_some() {
                    return Err(SqlError::AmbiguousColumn(name.into()));
                }
                found = Some(i);
            }
        }
        let Some(i) = found else {
            // Not ours: an enclosing query's column, innermost first.
            for (k, scope) in self.outer.iter().enumerate().rev() {
                let mut hit = None;
                for (i, c) in scope.iter().enumerate() {
                    if c.name == name && table.map_or(!c.hidden, |t| c.table.as_deref() == Some(t))
                    {
                        if hit.is_some() {
                            return Err(SqlError::AmbiguousColumn(name.into()));
                        }
                        hit = Some(i);
                    }
                }
                if let Some(index) = hit {
                    if let Some(o) = scope[index].origin {
                        crate::query::record_column(o, name);
                    }
                    let depth = self.outer.len() - k;
                    self.outer_depth_used = self.outer_depth_used.max(depth);
                    let merged = &scope[index].merged;
                    if table.is_none() && !merged.is_empty() {
                        let args = std::iter::once(index)
                            .chain(merged.iter().copied())
                            .map(|index| Expr::Outer { depth, index })
                            .collect();
                        return self.merged_column(args);
                    }
                    return Ok(Expr::Outer { depth, index });
                }
            }
            // A relation's name where no column of any enclosing level has it: the whole row
            // (PostgreSQL looks for a column first, then for a relation).
            if table.is_none()
                && let Some(row) = self.whole_row(name, mode)?
            {
                return Ok(row);
            }
            if name == "tableoid"
                && let Some(o) = self.table_oid(table)?
            {
                return Ok(Expr::Literal(Value::Int(i64::from(o))));
            }
            let full = match table {
                // No relation of that name at any level: PostgreSQL names the relation.
                Some(t)
                    if !std::iter::once(self.scope)
                        .chain(self.outer.iter().copied())
                        .flatten()
                        .any(|c| c.table.as_deref() == Some(t)) =>
                {
                    return Err(SqlError::MissingFromEntry(t.to_string()));
                }
                Some(t) => return Err(SqlError::UndefinedQualifiedColumn(format!("{t}.{name}"))),
                None => name.to_string(),
            };
            return Err(SqlError::UndefinedColumn(full));
        };
        self.scope_column(i, table.is_none(), mode)
    }

    /// Scope column `i`, found by name (`unqualified`: with no relation name, which reads a
    /// FULL JOIN's merged column as such) or by its position (`SELECT *`'s items, see
    /// [`star_item`]).
    fn scope_column(
        &mut self,
        i: usize,
        unqualified: bool,
        mode: &mut AggMode<'_>,
    ) -> SqlResult<Expr> {
        let name = &self.scope[i].name;
        if let Some(o) = self.scope[i].origin {
            crate::query::record_column(o, name);
        }
        let merged = if unqualified {
            self.scope[i].merged.as_slice()
        } else {
            &[]
        };
        if let AggMode::Collect { dependent, .. } = mode
            && !std::iter::once(&i)
                .chain(merged)
                .all(|&p| dependent.get(p).copied().unwrap_or(false))
        {
            return Err(SqlError::Grouping(format!(
                "column \"{}\" must appear in the GROUP BY clause or be used in an aggregate function",
                name
            )));
        }
        if merged.is_empty() {
            return Ok(Expr::Column(i));
        }
        let args = std::iter::once(i)
            .chain(merged.iter().copied())
            .map(Expr::Column)
            .collect();
        self.merged_column(args)
    }

    /// A FULL JOIN … USING's merged column, read unqualified: the first of its partners' values
    /// that is not NULL, in their common type (see [`ScopeColumn::merged`]).
    fn merged_column(&mut self, mut args: Vec<Expr>) -> SqlResult<Expr> {
        self.convert_to_common_type(&mut args, "JOIN/USING")?;
        Ok(Expr::Func {
            name: "coalesce",
            args,
        })
    }

    /// A whole-row reference to relation `table` of this query's scope, or of an enclosing
    /// query's (innermost first): a record of its columns; `None` when no relation has that
    /// name.
    fn whole_row(&mut self, table: &str, mode: &mut AggMode<'_>) -> SqlResult<Option<Expr>> {
        let of = |scope: &[ScopeColumn]| -> Vec<usize> {
            scope
                .iter()
                .enumerate()
                .filter(|(_, c)| c.table.as_deref() == Some(table))
                .map(|(i, _)| i)
                .collect()
        };
        let mut positions = of(self.scope);
        let mut scope = self.scope;
        if positions.is_empty() {
            for outer in self.outer.iter().rev() {
                positions = of(outer);
                if !positions.is_empty() {
                    scope = outer;
                    break;
                }
            }
        }
        if positions.is_empty() {
            return Ok(None);
        }
        let columns: crate::record::RecordColumns = positions
            .iter()
            .map(|&i| crate::record::RecordColumn {
                name: scope[i].name.clone(),
                ty: scope[i].ty,
                unknown: false,
            })
            .collect::<Vec<_>>()
            .into();
        let null_when_padded = positions.iter().any(|&i| scope[i].nullable);
        let mut fields = Vec::with_capacity(positions.len());
        for &i in &positions {
            let name = scope[i].name.clone();
            fields.push(self.column(Some(table), &name, mode)?);
        }
        Ok(Some(Expr::Row {
            fields,
            columns,
            null_when_padded,
        }))
    }

    /// A row constructor used as a value, `ROW(a, b)` or `(a, b)`: an anonymous record whose
    /// columns are named `f1`, `f2`, … as PostgreSQL names them.
    fn row_constructor(
        &mut self,
        items: &[ast::Expr],
        mode: &mut AggMode<'_>,
        d: usize,
    ) -> SqlResult<Expr> {
        if items.len() > crate::record::RECORD_FIELDS_MAX {
            return Err(SqlError::ProgramLimitExceeded(format!(
                "ROW expressions can have at most {} entries",
                crate::record::RECORD_FIELDS_MAX
            )));
        }
        let mut fields = Vec::with_capacity(items.len());
        let mut columns = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let e = self.bind_depth(item, mode, d)?;
            // An untyped constant keeps PostgreSQL's `unknown` type in a row (its text is its
            // value); a parameter there is text.
            let ty = self.type_of(&e);
            if let Expr::Param(p) = e {
                self.set_param(p, DataType::Text);
            }
            columns.push(crate::record::RecordColumn {
                name: format!("f{}", i + 1),
                ty: ty.unwrap_or(DataType::Text),
                unknown: ty.is_none() && matches!(e, Expr::Literal(_)),
            });
            fields.push(e);
        }
        Ok(Expr::Row {
            fields,
            columns: columns.into(),
            null_when_padded: false,
        })
    }

    /// `(record).field`: the field of a record expression the binder built, found by name.
    fn field_select(&mut self, row: Expr, field: &str) -> SqlResult<Expr> {
        let Expr::Row {
            fields, columns, ..
        } = row
        else {
            return Err(SqlError::FeatureNotSupported(format!(
                "field selection .{field} from this expression"
            )));
        };
        match columns.iter().position(|c| c.name == field) {
            Some(i) => Ok(fields
                .into_iter()
                .nth(i)
                .unwrap_or(Expr::Literal(Value::Null))),
            None => Err(SqlError::UndefinedRecordField(field.to_string())),
        }
    }

    /// The `tableoid` system column: the OID of the one stored relation `table` names (or, with
    /// no qualifier, of the only stored relation in scope). A relation's rows all carry the same
    /// value, so it binds as a constant.
    fn table_oid(&self, table: Option<&str>) -> SqlResult<Option<u32>> {
        let mut found: Option<u32> = None;
        for c in self.scope {
            if table.is_some() && c.table.as_deref() != table {
                continue;
            }
            if let Some(o) = c.rel_oid {
                if found.is_some_and(|f| f != o) {
                    return Err(SqlError::AmbiguousColumn("tableoid".into()));
                }
                found = Some(o);
            }
        }
        Ok(found)
    }

    fn literal(&mut self, v: &ast::Value) -> SqlResult<Expr> {
        use ast::Value as V;
        Ok(Expr::Literal(match v {
            // A constant with a point or exponent, or too big for int8, is a numeric.
            V::Number(n, _) => match n.parse::<i64>() {
                Ok(i) => Value::Int(i),
                Err(_) => Value::Numeric(
                    Numeric::parse(n)
                        .map_err(|_| SqlError::Syntax(format!("invalid number {n}")))?,
                ),
            },
            V::SingleQuotedString(s)
            | V::EscapedStringLiteral(s)
            | V::DollarQuotedString(ast::DollarQuotedString { value: s, .. }) => {
                Value::Text(s.clone())
            }
            V::Boolean(b) => Value::Bool(*b),
            V::Null => Value::Null,
            V::Placeholder(p) => {
                let n: usize = p
                    .strip_prefix('$')
                    .and_then(|s| s.parse().ok())
                    .filter(|n| *n >= 1 && *n <= 65535)
                    .ok_or_else(|| SqlError::Syntax(format!("bad parameter {p}")))?;
                if self.params.len() < n {
                    self.params.resize(n, None);
                }
                return Ok(Expr::Param(n - 1));
            }
            other => return Err(SqlError::FeatureNotSupported(format!("literal {other}"))),
        }))
    }

    fn set_param(&mut self, i: usize, ty: DataType) {
        if self.params[i].is_none() {
            self.params[i] = Some(ty);
        }
    }

    /// Gives untyped operands (parameters, string literals) the other side's type.
    fn unify(&mut self, a: &Expr, b: &Expr) -> SqlResult<()> {
        let (ta, tb) = (self.type_of(a), self.type_of(b));
        if let (Expr::Param(i), Some(t)) = (a, tb) {
            self.set_param(*i, t);
        }
        if let (Expr::Param(i), Some(t)) = (b, ta) {
            self.set_param(*i, t);
        }
        Ok(())
    }

    fn binary(&mut self, op: BinOp, l: Expr, r: Expr) -> SqlResult<Expr> {
        let (lt, rt) = (self.type_of(&l), self.type_of(&r));
        if lt == Some(DataType::Record) && rt == Some(DataType::Record) {
            record_comparable(&l, &r)?;
        }
        if lt.is_some_and(DataType::is_array) || rt.is_some_and(DataType::is_array) {
            return self.array_binary(op, l, r, lt, rt);
        }
        let json = |t: Option<DataType>| matches!(t, Some(DataType::Json | DataType::Jsonb));
        if json(lt) || json(rt) {
            return self.json_binary(op, l, r);
        }
        self.unify(&l, &r)?;
        let (lt, rt) = (self.type_of(&l), self.type_of(&r));
        let ty = match op {
            BinOp::Eq
            | BinOp::NotEq
            | BinOp::Lt
            | BinOp::LtEq
            | BinOp::Gt
            | BinOp::GtEq
            | BinOp::And
            | BinOp::Or
            | BinOp::Regex { .. } => DataType::Bool,
            // bytea || bytea (an untyped side taking the other's type) is a bytea.
            BinOp::Concat
                if matches!(
                    (lt, rt),
                    (Some(DataType::Bytea), Some(DataType::Bytea) | None)
                        | (None, Some(DataType::Bytea))
                ) =>
            {
                DataType::Bytea
            }
            BinOp::Concat => DataType::Text,
            _ if crate::datetime::binary_type(op, lt, rt).is_some() => {
                return self.datetime_binary(op, l, r, lt, rt);
            }
            // An untyped operand takes the other side's type, as PostgreSQL resolves unknowns.
            _ => match (
                lt.or(rt).unwrap_or(DataType::Int4),
                rt.or(lt).unwrap_or(DataType::Int4),
            ) {
                (a, b) if !a.is_numeric() || !b.is_numeric() => {
                    return Err(SqlError::UndefinedOperator(format!(
                        "{} {} {}",
                        a.name(),
                        op_symbol(op),
                        b.name()
                    )));
                }
                (DataType::Float8, _) | (_, DataType::Float8) => DataType::Float8,
                // real meets real as real, any other number as double precision.
                (DataType::Float4, DataType::Float4) => DataType::Float4,
                (DataType::Float4, _) | (_, DataType::Float4) => DataType::Float8,
                (DataType::Numeric, _) | (_, DataType::Numeric) => DataType::Numeric,
                (DataType::Int8, _) | (_, DataType::Int8) => DataType::Int8,
                (DataType::Int2, DataType::Int2) => DataType::Int2,
                (DataType::Int4 | DataType::Int2, DataType::Int4 | DataType::Int2) => {
                    DataType::Int4
                }
                (a, b) => {
                    return Err(SqlError::UndefinedOperator(format!(
                        "{} {} {}",
                        a.name(),
                        op_symbol(op),
                        b.name()
                    )));
                }
            },
        };
        if matches!(op, BinOp::And | BinOp::Or) {
            for (side, t) in [(&l, lt), (&r, rt)] {
                if let Expr::Param(i) = side {
                    self.set_param(*i, DataType::Bool);
                } else if t.is_some_and(|t| t != DataType::Bool) {
                    return Err(SqlError::DatatypeMismatch(format!(
                        "argument of {} must be type boolean, not type {}",
                        if op == BinOp::And { "AND" } else { "OR" },
                        t.map_or("unknown", DataType::name)
                    )));
                }
            }
        }
        Ok(Expr::Binary {
            op,
            left: Box::new(l),
            right: Box::new(r),
            ty,
        })
    }

    fn function(&mut self, f: &ast::Function, mode: &mut AggMode<'_>, d: usize) -> SqlResult<Expr> {
        let name = object_name(&f.name)?;
        if let Some(over) = &f.over {
            return crate::window::bind_call(self, f, &name, over, mode, d);
        }
        if !f.within_group.is_empty()
            && !matches!(AggFunc::from_name(&name, false), Some(AggFunc::Ordered(_)))
        {
            return Err(SqlError::UndefinedFunction(format!("{name} WITHIN GROUP")));
        }
        let (args, distinct, star) = match &f.args {
            ast::FunctionArguments::None => (vec![], false, false),
            ast::FunctionArguments::List(list) => {
                let distinct = matches!(
                    list.duplicate_treatment,
                    Some(ast::DuplicateTreatment::Distinct)
                );
                let mut args = Vec::new();
                let mut star = false;
                for a in &list.args {
                    match a {
                        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => {
                            args.push(e.clone())
                        }
                        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Wildcard) => star = true,
                        // `f(t.*)`: the whole row of t.
                        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::QualifiedWildcard(t))
                            if t.0.len() == 1 =>
                        {
                            args.push(ast::Expr::Identifier(ast::Ident::new(object_name(t)?)))
                        }
                        // make_interval(days => 10): its parameters by name.
                        ast::FunctionArg::Named {
                            name: n,
                            arg: ast::FunctionArgExpr::Expr(e),
                            ..
                        }
                        | ast::FunctionArg::ExprNamed {
                            name: ast::Expr::Identifier(n),
                            arg: ast::FunctionArgExpr::Expr(e),
                            ..
                        } if name == "make_interval" => {
                            const PARAMS: [&str; 7] =
                                ["years", "months", "weeks", "days", "hours", "mins", "secs"];
                            let k = PARAMS.iter().position(|p| *p == ident_name(n)).ok_or_else(
                                || SqlError::UndefinedFunction(format!("make_interval({n} => …)")),
                            )?;
                            while args.len() <= k {
                                args.push(ast::Expr::value(ast::Value::Number("0".into(), false)));
                            }
                            args[k] = e.clone();
                        }
                        other => {
                            return Err(SqlError::FeatureNotSupported(format!("argument {other}")));
                        }
                    }
                }
                (args, distinct, star)
            }
            ast::FunctionArguments::Subquery(q) if name == "array" => {
                let sq = self.subquery(q)?;
                if sq.plan.columns.len() != 1 {
                    return Err(SqlError::Syntax(
                        "subquery must return only one column".into(),
                    ));
                }
                return Ok(Expr::ArraySubquery(sq));
            }
            ast::FunctionArguments::Subquery(_) => {
                return Err(SqlError::FeatureNotSupported("subquery arguments".into()));
            }
        };
        if name == "row" && !distinct && !star {
            return self.row_constructor(&args, mode, d);
        }
        if let Some(srf) = crate::srf::select_list_function(&name)
            && !distinct
            && !star
        {
            return self.set_returning_call(srf, &args, mode, d);
        }
        let agg = AggFunc::from_name(&name, star);
        if let Some(func) = agg {
            let key = f.to_string();
            let aggs = match mode {
                AggMode::Forbidden(clause) => {
                    return Err(SqlError::Grouping(format!(
                        "aggregate functions are not allowed in {clause}"
                    )));
                }
                AggMode::Collect { aggs, .. } => aggs,
            };
            if let Some(i) = aggs.iter().position(|a| a.key == key) {
                SlotTypes::set(&mut self.slot_types.aggs, i, aggs[i].ty);
                return Ok(Expr::Agg(i));
            }
            let call = self.aggregate_call(func, &name, f, &args, distinct, key, d, None);
            let AggMode::Collect { aggs, .. } = mode else {
                unreachable!("checked above")
            };
            // Push even a call that failed to bind: the probe for whether a SELECT aggregates
            // then sees it, and binding the list for real reports this call's error.
            match call {
                Ok(c) => {
                    SlotTypes::set(&mut self.slot_types.aggs, aggs.len(), c.ty);
                    aggs.push(c);
                }
                Err(e) => {
                    aggs.push(AggCall {
                        func,
                        arg: None,
                        distinct,
                        ty: DataType::Text,
                        separator: None,
                        filter: None,
                        order_by: Vec::new(),
                        key: String::new(),
                    });
                    return Err(e);
                }
            }
            return Ok(Expr::Agg(aggs.len() - 1));
        }
        if distinct || star {
            return Err(SqlError::UndefinedFunction(format!("{name}(*)")));
        }
        if f.filter.is_some() {
            return Err(SqlError::WrongObjectType(format!(
                "FILTER specified, but {name} is not an aggregate function"
            )));
        }
        let mut bound = Vec::with_capacity(args.len());
        for a in &args {
            bound.push(self.bind_depth(a, mode, d)?);
        }
        if let Some(e) = crate::functions::bind(self, &name, &mut bound)? {
            return Ok(e);
        }
        if let Some(e) = self.math_function(&name, &mut bound)? {
            return Ok(e);
        }
        if let Some(e) = self.typed_function(&name, &mut bound)? {
            return Ok(e);
        }
        if name == "pg_typeof" && bound.len() == 1 {
            // The argument's static type, as `regtype` prints it.
            let ty = match (&bound[0], &*mode) {
                (Expr::Literal(Value::Text(_) | Value::Null), _) => "unknown".to_string(),
                // A char(n) column or a cast to char(n) or bpchar (held as text).
                (e, _) if self.bpchar_typmod(e).is_some() => "character".to_string(),
                // setseed() returns void, which no column holds.
                (
                    Expr::Func {
                        name: "fn_setseed", ..
                    },
                    _,
                ) => "void".to_string(),
                (Expr::Agg(i), AggMode::Collect { aggs, .. }) => {
                    aggs.get(*i).map_or("unknown", |a| a.ty.name()).to_string()
                }
                (Expr::GroupKey(i), AggMode::Collect { group_by, .. }) => group_by
                    .get(*i)
                    .map_or("unknown", |g| g.1.name())
                    .to_string(),
                (e, _) => self
                    .type_of(e)
                    .map_or("unknown", DataType::name)
                    .to_string(),
            };
            return Ok(Expr::Literal(Value::Text(ty)));
        }
        let (fname, arity): (&'static str, Option<usize>) = match name.as_str() {
            "lower" => ("lower", Some(1)),
            "upper" => ("upper", Some(1)),
            "repeat" => ("repeat", Some(2)),
            "reverse" => ("reverse", Some(1)),
            "left" => ("left", Some(2)),
            "right" => ("right", Some(2)),
            "replace" => ("replace", Some(3)),
            "strpos" => ("strpos", Some(2)),
            "split_part" => ("split_part", Some(3)),
            "initcap" => ("initcap", Some(1)),
            "lpad" => ("lpad", None),
            "rpad" => ("rpad", None),
            "concat" => ("concat", None),
            "concat_ws" => ("concat_ws", None),
            "length" | "char_length" | "character_length" => ("length", Some(1)),
            "abs" => ("abs", Some(1)),
            "coalesce" => ("coalesce", None),
            "nullif" => ("nullif", Some(2)),
            "version" => ("version", Some(0)),
            "current_database" => ("current_database", Some(0)),
            "current_schema" => ("current_schema", Some(0)),
            "pg_backend_pid" => ("pg_backend_pid", Some(0)),
            "current_user" | "session_user" | "user" => ("current_user", Some(0)),
            "current_schemas" => ("current_schemas", Some(1)),
            "array_position" => ("array_position", Some(2)),
            "array_to_string" => ("array_to_string", Some(2)),
            "array_remove" => ("array_remove", Some(2)),
            "array_upper" => ("array_upper", Some(2)),
            "pg_table_is_visible" | "pg_type_is_visible" => ("pg_table_is_visible", Some(1)),
            "pg_get_userbyid" => ("pg_get_userbyid", Some(1)),
            "format_type" => ("format_type", Some(2)),
            "pg_get_expr" => ("pg_get_expr", None),
            "pg_get_indexdef" => ("pg_get_indexdef", None),
            "pg_get_constraintdef" => ("pg_get_constraintdef", None),
            "pg_get_viewdef" => ("pg_get_viewdef", None),
            "pg_get_statisticsobjdef_columns" => ("pg_get_statisticsobjdef_columns", Some(1)),
            "pg_encoding_to_char" => ("pg_encoding_to_char", Some(1)),
            "obj_description" => ("obj_description", None),
            "col_description" => ("col_description", Some(2)),
            "shobj_description" => ("shobj_description", Some(2)),
            "pg_relation_is_publishable" => ("pg_relation_is_publishable", Some(1)),
            "has_table_privilege" | "has_schema_privilege" | "has_database_privilege" => {
                ("has_privilege", None)
            }
            "to_regtype" => ("regtype_in", Some(1)),
            "to_regclass" => ("to_regclass", Some(1)),
            "to_regproc" => ("to_regproc", Some(1)),
            "to_regnamespace" => ("to_regnamespace", Some(1)),
            "to_regrole" => ("to_regrole", Some(1)),
            "quote_ident" => ("quote_ident", Some(1)),
            "pg_table_size" | "pg_relation_size" | "pg_total_relation_size" | "pg_indexes_size" => {
                ("pg_table_size", None)
            }
            "pg_size_pretty" => ("pg_size_pretty", Some(1)),
            "nextval" => ("nextval", Some(1)),
            "currval" => ("currval", Some(1)),
            "setval" => ("setval", None),
            "lastval" => ("lastval", Some(0)),
            "pg_get_serial_sequence" => ("pg_get_serial_sequence", Some(2)),
            "current_setting" => ("current_setting", None),
            "set_config" => ("set_config", Some(3)),
            "pg_cancel_backend" => ("pg_cancel_backend", Some(1)),
            "pg_is_in_recovery" => ("pg_is_in_recovery", Some(0)),
            "pg_terminate_backend" => ("pg_terminate_backend", None),
            "acldefault" => ("acldefault", Some(2)),
            "pg_partition_ancestors" => ("pg_partition_ancestors", Some(1)),
            "quote_literal" => ("quote_literal", Some(1)),
            "pg_get_triggerdef" => ("pg_get_triggerdef", None),
            _ => {
                return Err(SqlError::UndefinedFunction(format!(
                    "{name}({})",
                    bound.len()
                )));
            }
        };
        let arity_ok = match fname {
            "coalesce" | "concat" | "concat_ws" => !bound.is_empty(),
            "lpad" | "rpad" => (2..=3).contains(&bound.len()),
            "pg_get_expr" => (2..=3).contains(&bound.len()),
            "pg_get_indexdef" => (1..=3).contains(&bound.len()),
            "pg_get_constraintdef" | "pg_get_viewdef" | "obj_description" => {
                (1..=2).contains(&bound.len())
            }
            "has_privilege" => (2..=3).contains(&bound.len()),
            "pg_table_size" => (1..=2).contains(&bound.len()),
            "setval" => (2..=3).contains(&bound.len()),
            "current_setting" | "pg_terminate_backend" | "pg_get_triggerdef" => {
                (1..=2).contains(&bound.len())
            }
            _ => arity.is_none_or(|n| n == bound.len()),
        };
        if !arity_ok {
            return Err(SqlError::UndefinedFunction(format!(
                "{name} with {} arguments",
                bound.len()
            )));
        }
        if matches!(fname, "coalesce" | "nullif") {
            self.convert_to_common_type(&mut bound, &fname.to_uppercase())?;
        }
        if matches!(
            fname,
            "lower"
                | "upper"
                | "length"
                | "quote_ident"
                | "nextval"
                | "currval"
                | "setval"
                | "pg_get_serial_sequence"
        ) && let Some(Expr::Param(i)) = bound.first()
        {
            self.set_param(*i, DataType::Text);
        }
        // `pg_relation_size('t')`: the untyped literal is read as a `regclass`, a relation's
        // name (PostgreSQL's argument type).
        if fname == "pg_table_size"
            && matches!(
                bound.first(),
                Some(Expr::Literal(Value::Text(_)) | Expr::Param(_))
            )
        {
            if let Some(Expr::Param(i)) = bound.first() {
                self.set_param(*i, DataType::Text);
            }
            let name = bound.remove(0);
            bound.insert(
                0,
                Expr::Func {
                    name: "regclass",
                    args: vec![name],
                },
            );
        }
        if fname == "setval"
            && let Expr::Param(i) = bound[1]
        {
            self.set_param(i, DataType::Int8);
        }
        if fname == "abs" && bound.first().and_then(|a| self.type_of(a)) == Some(DataType::Int4) {
            // int4abs: the absolute value must fit int4 too.
            return Ok(Expr::Func {
                name: "abs_int4",
                args: bound,
            });
        }
        Ok(Expr::Func {
            name: fname,
            args: bound,
        })
    }

    /// The json operators (`->`, `->>`, `#>`, `#>>`, `@>`, `<@`, `?`, `?|`, `?&`, and `-` with
    /// an array of keys): binds both sides and the operator. Kept out of
    /// [`Binder::bind_depth`], whose frame every level of a deep expression holds.
    #[inline(never)]
    fn bind_json_operator(
        &mut self,
        left: &ast::Expr,
        op: &ast::BinaryOperator,
        right: &ast::Expr,
        mode: &mut AggMode<'_>,
        d: usize,
    ) -> SqlResult<Expr> {
        use ast::BinaryOperator as B;
        let l = self.bind_depth(left, mode, d)?;
        let r = self.bind_depth(right, mode, d)?;
        let (lt, rt) = (self.type_of(&l), self.type_of(&r));
        let untyped = |e: &Expr| {
            matches!(
                e,
                Expr::Literal(Value::Text(_) | Value::Null) | Expr::Param(_)
            )
        };
        let type_name = |t: Option<DataType>| t.map_or("unknown", DataType::name);
        let sym = op.to_string();
        let no_operator =
            || SqlError::UndefinedOperator(format!("{} {sym} {}", type_name(lt), type_name(rt)));
        let array = |t: Option<DataType>| t.is_some_and(DataType::is_array);
        if matches!(op, B::AtArrow | B::ArrowAt | B::PGOverlap) && (array(lt) || array(rt)) {
            // Array containment and overlap: an untyped side takes the other's type.
            let (l, r) = match (lt, rt) {
                (Some(t), None) => {
                    let r = self.coerce_to(r, t);
                    (l, r)
                }
                (None, Some(t)) => {
                    let l = self.coerce_to(l, t);
                    (l, r)
                }
                _ => (l, r),
            };
            let (lt, rt) = (self.type_of(&l), self.type_of(&r));
            if !array(lt) || !array(rt) {
                return Err(no_operator());
            }
            if lt != rt {
                return Err(SqlError::UndefinedOperator(format!(
                    "{} {sym} {}",
                    type_name(lt),
                    type_name(rt)
                )));
            }
            let name = match op {
                B::AtArrow => "arr_contains",
                B::ArrowAt => "arr_contained",
                _ => "arr_overlap",
            };
            return Ok(Expr::Func {
                name,
                args: vec![l, r],
            });
        }
        let name = match op {
            B::Arrow | B::LongArrow | B::HashArrow | B::HashLongArrow => {
                let text = matches!(op, B::LongArrow | B::HashLongArrow);
                let path = matches!(op, B::HashArrow | B::HashLongArrow);
                if let Expr::Param(i) = r {
                    self.set_param(i, DataType::Text);
                }
                let right_ok = match rt {
                    None | Some(DataType::Text) => true,
                    Some(DataType::Array(DataType::Text)) => path,
                    Some(DataType::Int2 | DataType::Int4 | DataType::Int8) => !path,
                    _ => false,
                };
                match (lt, path, text) {
                    (None, ..) => {
                        return Err(SqlError::AmbiguousFunction(format!(
                            "operator is not unique: unknown {sym} {}",
                            type_name(rt)
                        )));
                    }
                    _ if !right_ok => return Err(no_operator()),
                    (Some(DataType::Json), false, false) => "js_get_json",
                    (Some(DataType::Json), false, true) => "js_get_json_text",
                    (Some(DataType::Json), true, false) => "js_path_json",
                    (Some(DataType::Json), true, true) => "js_path_json_text",
                    (Some(DataType::Jsonb), false, false) => "js_get_jsonb",
                    (Some(DataType::Jsonb), false, true) => "js_get_jsonb_text",
                    (Some(DataType::Jsonb), true, false) => "js_path_jsonb",
                    (Some(DataType::Jsonb), true, true) => "js_path_jsonb_text",
                    _ => return Err(no_operator()),
                }
            }
            B::AtArrow | B::ArrowAt => {
                let jsonb = |t: Option<DataType>, e: &Expr| {
                    t == Some(DataType::Jsonb) || (t.is_none() && untyped(e))
                };
                if lt != Some(DataType::Jsonb) && rt != Some(DataType::Jsonb) {
                    if lt == Some(DataType::Json) || rt == Some(DataType::Json) {
                        return Err(no_operator());
                    }
                    return Err(SqlError::FeatureNotSupported(format!("operator {sym}")));
                }
                if !jsonb(lt, &l) || !jsonb(rt, &r) {
                    return Err(no_operator());
                }
                for (e, t) in [(&l, lt), (&r, rt)] {
                    if let (Expr::Param(i), None) = (e, t) {
                        self.set_param(*i, DataType::Jsonb);
                    }
                }
                if *op == B::AtArrow {
                    "js_contains"
                } else {
                    "js_contained"
                }
            }
            // `jsonb @? jsonpath` and `jsonb @@ jsonpath`: untyped sides take those types.
            B::AtQuestion | B::AtAt => {
                let jsonb_ok = lt == Some(DataType::Jsonb) || (lt.is_none() && untyped(&l));
                let path_ok = rt == Some(DataType::JsonPath) || (rt.is_none() && untyped(&r));
                if !jsonb_ok || !path_ok {
                    return Err(no_operator());
                }
                let l = self.coerce_to(l, DataType::Jsonb);
                let r = self.coerce_to(r, DataType::JsonPath);
                return Ok(Expr::Func {
                    name: if *op == B::AtQuestion {
                        "jp_exists_op"
                    } else {
                        "jp_match_op"
                    },
                    args: vec![l, r],
                });
            }
            B::Question | B::QuestionAnd | B::QuestionPipe => {
                if lt != Some(DataType::Jsonb)
                    || !matches!(
                        rt,
                        None | Some(DataType::Text | DataType::Array(DataType::Text))
                    )
                {
                    return Err(no_operator());
                }
                if let Expr::Param(i) = r {
                    self.set_param(i, DataType::Text);
                }
                match op {
                    B::Question => "js_exists",
                    B::QuestionPipe => "js_exists_any",
                    _ => "js_exists_all",
                }
            }
            // `jsonb - text[]`: delete several keys.
            _ if lt == Some(DataType::Jsonb)
                && matches!(
                    rt,
                    None | Some(DataType::Text | DataType::Array(DataType::Text))
                ) =>
            {
                if let Expr::Param(i) = r {
                    self.set_param(i, DataType::Text);
                }
                "js_delete_keys"
            }
            _ => return Err(no_operator()),
        };
        Ok(Expr::Func {
            name,
            args: vec![l, r],
        })
    }

    /// `||` and comparisons where a side is an array: `array || array`, `element || array`,
    /// `array || element`, and the element-wise order. An untyped side takes the array's type
    /// (an element's for `||` when it is not in array form).
    #[inline(never)]
    fn array_binary(
        &mut self,
        op: BinOp,
        l: Expr,
        r: Expr,
        lt: Option<DataType>,
        rt: Option<DataType>,
    ) -> SqlResult<Expr> {
        let name = |t: Option<DataType>| t.map_or("unknown", DataType::name);
        let no_operator =
            || SqlError::UndefinedOperator(format!("{} {} {}", name(lt), op_symbol(op), name(rt)));
        let untyped_array = |e: &Expr| match e {
            Expr::Literal(Value::Text(t)) => t.trim_start().starts_with('{'),
            _ => false,
        };
        match op {
            BinOp::Concat => {
                let (f, args) = match (lt, rt) {
                    (Some(a @ DataType::Array(_)), Some(b @ DataType::Array(_))) => {
                        if a != b {
                            return Err(no_operator());
                        }
                        ("arr_concat", vec![l, r])
                    }
                    (Some(a @ DataType::Array(e)), _) => {
                        if rt.is_none() && (untyped_array(&r) || matches!(r, Expr::Param(_))) {
                            let r = self.coerce_to(r, a);
                            ("arr_concat", vec![l, r])
                        } else {
                            let r = self.coerce_to(r, *e);
                            ("arr_append", vec![l, r])
                        }
                    }
                    (_, Some(b @ DataType::Array(e))) => {
                        if lt.is_none() && (untyped_array(&l) || matches!(l, Expr::Param(_))) {
                            let l = self.coerce_to(l, b);
                            ("arr_concat", vec![l, r])
                        } else {
                            let l = self.coerce_to(l, *e);
                            ("arr_prepend", vec![l, r])
                        }
                    }
                    _ => return Err(no_operator()),
                };
                Ok(Expr::Func { name: f, args })
            }
            BinOp::Eq | BinOp::NotEq | BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq => {
                let (l, r) = match (lt, rt) {
                    (Some(a), None) => {
                        let r = self.coerce_to(r, a);
                        (l, r)
                    }
                    (None, Some(b)) => {
                        let l = self.coerce_to(l, b);
                        (l, r)
                    }
                    (Some(a), Some(b)) if a == b => (l, r),
                    _ => return Err(no_operator()),
                };
                Ok(Expr::Binary {
                    op,
                    left: Box::new(l),
                    right: Box::new(r),
                    ty: DataType::Bool,
                })
            }
            _ => Err(no_operator()),
        }
    }

    /// `||`, `-` and comparisons where a side is `json` or `jsonb` (see [`Binder::binary`]):
    /// jsonb concatenation and deletion, jsonb's order (a string constant on the other side
    /// read as jsonb), and no operators at all for json, as PostgreSQL has none.
    #[inline(never)]
    fn json_binary(&mut self, op: BinOp, l: Expr, r: Expr) -> SqlResult<Expr> {
        let (lt, rt) = (self.type_of(&l), self.type_of(&r));
        let untyped = |e: &Expr| {
            matches!(
                e,
                Expr::Literal(Value::Text(_) | Value::Null) | Expr::Param(_)
            )
        };
        let no_operator = || {
            SqlError::UndefinedOperator(format!(
                "{} {} {}",
                lt.map_or("unknown", DataType::name),
                op_symbol(op),
                rt.map_or("unknown", DataType::name)
            ))
        };
        let func = |name: &'static str, l: Expr, r: Expr| Expr::Func {
            name,
            args: vec![l, r],
        };
        let jsonb = Some(DataType::Jsonb);
        match op {
            BinOp::Concat
                if (lt == jsonb && (rt == jsonb || (rt.is_none() && untyped(&r))))
                    || (rt == jsonb && lt.is_none() && untyped(&l)) =>
            {
                for (e, t) in [(&l, lt), (&r, rt)] {
                    if let (Expr::Param(i), None) = (e, t) {
                        self.set_param(*i, DataType::Jsonb);
                    }
                }
                Ok(func("js_concat", l, r))
            }
            // json || json has no operator; json or jsonb || text is text concatenation.
            BinOp::Concat
                if matches!(lt, Some(DataType::Json | DataType::Jsonb))
                    && matches!(rt, Some(DataType::Json | DataType::Jsonb)) =>
            {
                Err(no_operator())
            }
            BinOp::Concat => Ok(Expr::Binary {
                op,
                left: Box::new(l),
                right: Box::new(r),
                ty: DataType::Text,
            }),
            BinOp::Sub if lt == jsonb => {
                if let Expr::Param(i) = r {
                    self.set_param(i, DataType::Text);
                }
                match rt {
                    None
                    | Some(DataType::Text | DataType::Int2 | DataType::Int4 | DataType::Int8) => {
                        Ok(func("js_delete", l, r))
                    }
                    _ => Err(no_operator()),
                }
            }
            BinOp::Eq | BinOp::NotEq | BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq
                if lt != Some(DataType::Json) && rt != Some(DataType::Json) =>
            {
                // A string constant compared with a jsonb is read as jsonb.
                let coerce = |e: Expr| match e {
                    e @ Expr::Literal(Value::Text(_)) => Expr::Cast {
                        expr: Box::new(e),
                        ty: DataType::Jsonb,
                    },
                    e => e,
                };
                let (l, r) = (coerce(l), coerce(r));
                self.unify(&l, &r)?;
                let (lt, rt) = (self.type_of(&l), self.type_of(&r));
                if lt.or(rt) != rt.or(lt) {
                    return Err(no_operator());
                }
                Ok(Expr::Binary {
                    op,
                    left: Box::new(l),
                    right: Box::new(r),
                    ty: DataType::Bool,
                })
            }
            _ => Err(no_operator()),
        }
    }

    /// Binds the forms [`bound_elsewhere`] picks out of [`Binder::bind_depth`]: their
    /// temporaries live in this frame, not in the one every level of a deep expression holds
    /// (64 levels of AND need all of a worker's stack in an unoptimised build).
    #[inline(never)]
    fn bind_elsewhere(
        &mut self,
        e: &ast::Expr,
        mode: &mut AggMode<'_>,
        d: usize,
    ) -> SqlResult<Expr> {
        use ast::Expr as E;
        Ok(match e {
            E::Array(arr) => self.array_constructor(arr, mode, d)?,
            E::BinaryOp { left, op, right } if is_row_comparison(op, left, right) => {
                let (l, r) = (row_fields(left), row_fields(right));
                let scalar = row_comparison(op, l.unwrap_or_default(), r.unwrap_or_default())?;
                self.bind_depth(&scalar, mode, d)?
            }
            E::InList {
                expr,
                list,
                negated,
            } if row_fields(expr).is_some() => {
                // `(a, b) IN ((1, 2), (3, 4))`: some row equal (NOT IN: none).
                let fields = row_fields(expr).unwrap_or_default();
                let mut terms = Vec::with_capacity(list.len());
                for item in list {
                    let Some(other) = row_fields(item) else {
                        return Err(SqlError::DatatypeMismatch(
                            "IN with a row on its left needs rows in its list".into(),
                        ));
                    };
                    let eq = row_comparison(&ast::BinaryOperator::Eq, fields.clone(), other)?;
                    terms.push(ast::Expr::Nested(Box::new(eq)));
                }
                let any = terms
                    .into_iter()
                    .reduce(|a, b| ast::Expr::BinaryOp {
                        left: Box::new(a),
                        op: ast::BinaryOperator::Or,
                        right: Box::new(b),
                    })
                    .ok_or_else(|| SqlError::Syntax("empty IN list".into()))?;
                let any = ast::Expr::Nested(Box::new(any));
                let e = if *negated {
                    ast::Expr::UnaryOp {
                        op: ast::UnaryOperator::Not,
                        expr: Box::new(any),
                    }
                } else {
                    any
                };
                self.bind_depth(&e, mode, d)?
            }
            E::BinaryOp { left, op, right } => self.bind_json_operator(left, op, right, mode, d)?,
            E::AnyOp {
                left,
                compare_op,
                right,
                ..
            }
            | E::AllOp {
                left,
                compare_op,
                right,
            } => {
                if let ast::Expr::Array(ast::Array { elem, .. }) = &**right
                    && !elem.is_empty()
                {
                    // `x op ANY (ARRAY[a, b])` is `x op a OR x op b`, and ALL is the AND: the
                    // same three-valued result, and each element's type follows from `x`.
                    let joiner = if matches!(e, E::AnyOp { .. }) {
                        ast::BinaryOperator::Or
                    } else {
                        ast::BinaryOperator::And
                    };
                    // An ARRAY of untyped strings is a text[]: against a bpchar the comparison
                    // is a text one, as `x = 'a '::text` is (the bpchar losing its padding).
                    let all_untyped = elem.iter().all(|item| {
                        matches!(
                            item,
                            ast::Expr::Value(v) if matches!(v.value, ast::Value::SingleQuotedString(_))
                        )
                    });
                    let as_text = all_untyped && self.plain_reference_is_bpchar(left, mode, d)?;
                    let mut terms = elem.iter().map(|item| ast::Expr::BinaryOp {
                        left: left.clone(),
                        op: compare_op.clone(),
                        right: Box::new(if as_text {
                            ast::Expr::Cast {
                                kind: ast::CastKind::DoubleColon,
                                expr: Box::new(item.clone()),
                                data_type: ast::DataType::Text,
                                format: None,
                            }
                        } else {
                            item.clone()
                        }),
                    });
                    let first = terms.next().expect("a non-empty ARRAY");
                    let chain = terms.fold(first, |acc, t| ast::Expr::BinaryOp {
                        left: Box::new(acc),
                        op: joiner.clone(),
                        right: Box::new(ast::Expr::Nested(Box::new(t))),
                    });
                    return self.bind_depth(&ast::Expr::Nested(Box::new(chain)), mode, d);
                }
                let x = self.bind_depth(left, mode, d)?;
                let op = match compare_op {
                    ast::BinaryOperator::Eq => BinOp::Eq,
                    ast::BinaryOperator::NotEq => BinOp::NotEq,
                    ast::BinaryOperator::Lt => BinOp::Lt,
                    ast::BinaryOperator::LtEq => BinOp::LtEq,
                    ast::BinaryOperator::Gt => BinOp::Gt,
                    ast::BinaryOperator::GtEq => BinOp::GtEq,
                    other => {
                        return Err(SqlError::FeatureNotSupported(format!(
                            "operator {other} with ANY/ALL"
                        )));
                    }
                };
                let array = match &**right {
                    ast::Expr::Subquery(q) => {
                        // `x = ANY (SELECT …)` is IN.
                        let sq = self.subquery(q)?;
                        if op == BinOp::Eq && matches!(e, E::AnyOp { .. }) {
                            return Ok(Expr::InSubquery {
                                expr: Box::new(x),
                                query: sq,
                                negated: false,
                            });
                        }
                        Expr::ArraySubquery(sq)
                    }
                    other => {
                        let a = self.bind_depth(other, mode, d)?;
                        // The array takes the array type of `x`'s: a parameter is described
                        // as one, a string constant is read as one.
                        let untyped = matches!(a, Expr::Param(_) | Expr::Literal(Value::Text(_)));
                        match self.type_of(&x) {
                            Some(t) if untyped && !t.is_array() => self.coerce_to(a, t.array_of()),
                            _ => a,
                        }
                    }
                };
                if let (Expr::Param(i), Some(DataType::Array(e))) = (&x, self.type_of(&array)) {
                    self.set_param(*i, *e);
                }
                // A bpchar against an array cast to text[] compares as text, as it does against
                // a text value.
                let x = if self.bpchar_typmod(&x).is_some() && is_text_array_cast(right) {
                    Expr::Cast {
                        expr: Box::new(x),
                        ty: DataType::Text,
                    }
                } else {
                    x
                };
                Expr::AnyArray {
                    expr: Box::new(x),
                    op,
                    array: Box::new(array),
                    all: matches!(e, E::AllOp { .. }),
                }
            }
            E::InList {
                expr,
                list,
                negated,
            } => {
                let mut x = self.bind_depth(expr, mode, d)?;
                let mut items = Vec::with_capacity(list.len());
                for item in list {
                    let b = self.bind_depth(item, mode, d)?;
                    self.unify(&x, &b)?;
                    items.push(b);
                }
                self.in_list_text_against_bpchar(expr, &mut x, list, &mut items);
                Expr::InList {
                    expr: Box::new(x),
                    list: items,
                    negated: *negated,
                }
            }
            E::Between {
                expr,
                negated,
                low,
                high,
            } => {
                let x = self.bind_depth(expr, mode, d)?;
                let lo = self.bind_depth(low, mode, d)?;
                let hi = self.bind_depth(high, mode, d)?;
                self.unify(&x, &lo)?;
                self.unify(&x, &hi)?;
                Expr::Between {
                    expr: Box::new(x),
                    low: Box::new(lo),
                    high: Box::new(hi),
                    negated: *negated,
                }
            }
            E::Like {
                negated,
                expr,
                pattern,
                escape_char: None,
                any,
            }
            | E::ILike {
                negated,
                expr,
                pattern,
                escape_char: None,
                any,
            } => {
                let x = self.bind_depth(expr, mode, d)?;
                if let Expr::Param(i) = &x {
                    self.set_param(*i, DataType::Text);
                }
                // `LIKE ALL (…)` reads as a call of a function named `all`.
                let all = match &**pattern {
                    ast::Expr::Function(f) if !*any => like_all_patterns(f),
                    _ => None,
                };
                // `LIKE ANY (…)`: the patterns are a text[]; a parameter is described as one,
                // a string constant is read as one; a subquery's rows are the patterns.
                let (p, array) = if *any || all.is_some() {
                    let is_all = all.is_some();
                    let mut patterns = all.unwrap_or(pattern);
                    while let ast::Expr::Nested(inner) = patterns {
                        patterns = inner;
                    }
                    let p = if let ast::Expr::Subquery(q) = patterns {
                        let sq = self.subquery(q)?;
                        if sq.plan.columns.len() != 1 {
                            return Err(SqlError::Syntax("subquery has too many columns".into()));
                        }
                        Expr::ArraySubquery(sq)
                    } else {
                        let p = self.bind_depth(patterns, mode, d)?;
                        if matches!(p, Expr::Param(_) | Expr::Literal(Value::Text(_))) {
                            self.coerce_to(p, DataType::Text.array_of())
                        } else {
                            p
                        }
                    };
                    match self.type_of(&p) {
                        Some(DataType::Array(DataType::Text)) | None => {}
                        Some(DataType::Array(elem)) => {
                            let left = match &x {
                                Expr::Literal(Value::Text(_) | Value::Null) => "unknown",
                                x => self.type_of(x).map_or("unknown", DataType::name),
                            };
                            let op = match (matches!(e, E::ILike { .. }), *negated) {
                                (false, false) => "~~",
                                (false, true) => "!~~",
                                (true, false) => "~~*",
                                (true, true) => "!~~*",
                            };
                            return Err(SqlError::UndefinedOperator(format!(
                                "{left} {op} {}",
                                elem.name()
                            )));
                        }
                        Some(_) => {
                            return Err(SqlError::WrongObjectType(
                                "op ANY/ALL (array) requires array on right side".into(),
                            ));
                        }
                    }
                    (p, Some(is_all))
                } else {
                    let p = self.bind_depth(pattern, mode, d)?;
                    if let Expr::Param(i) = &p {
                        self.set_param(*i, DataType::Text);
                    }
                    (p, None)
                };
                Expr::Like {
                    expr: Box::new(x),
                    pattern: Box::new(p),
                    negated: *negated,
                    case_insensitive: matches!(e, E::ILike { .. }),
                    array,
                }
            }
            E::Case {
                operand,
                conditions,
                else_result,
                ..
            } => {
                let operand = match operand {
                    Some(o) => Some(Box::new(self.bind_depth(o, mode, d)?)),
                    None => None,
                };
                let mut whens = Vec::with_capacity(conditions.len());
                for w in conditions {
                    whens.push((
                        self.bind_depth(&w.condition, mode, d)?,
                        self.bind_depth(&w.result, mode, d)?,
                    ));
                }
                let mut otherwise = match else_result {
                    Some(x) => Some(Box::new(self.bind_depth(x, mode, d)?)),
                    None => None,
                };
                // Every branch gives the common type of all of them (PostgreSQL looks at the
                // ELSE first, which its error messages show).
                let mut results: Vec<Expr> = otherwise
                    .as_mut()
                    .map(|o| std::mem::replace(&mut **o, Expr::Literal(Value::Null)))
                    .into_iter()
                    .chain(
                        whens
                            .iter_mut()
                            .map(|(_, r)| std::mem::replace(r, Expr::Literal(Value::Null))),
                    )
                    .collect();
                self.convert_to_common_type(&mut results, "CASE")?;
                let mut results = results.into_iter();
                if let Some(o) = &mut otherwise {
                    **o = results.next().unwrap_or(Expr::Literal(Value::Null));
                }
                for (_, r) in &mut whens {
                    *r = results.next().unwrap_or(Expr::Literal(Value::Null));
                }
                let case = Expr::Case {
                    operand,
                    whens,
                    otherwise,
                };
                // Its branches are evaluated lazily, which a set of rows cannot be.
                let mut srf = false;
                case.visit(&mut |x| srf |= matches!(x, Expr::Srf(_)));
                if srf {
                    return Err(SqlError::NotSupported(
                        "set-returning functions are not allowed in CASE".into(),
                    ));
                }
                case
            }
            _ => self.bind_datetime_expr(e, mode, d)?,
        })
    }

    /// `ARRAY[a, b, …]`: an array of the elements' common type (text when every element is
    /// an untyped literal), each element converted to it.
    #[inline(never)]
    fn array_constructor(
        &mut self,
        arr: &ast::Array,
        mode: &mut AggMode<'_>,
        d: usize,
    ) -> SqlResult<Expr> {
        if arr.elem.is_empty() {
            return Err(SqlError::IndeterminateDatatype(
                "cannot determine type of empty array".into(),
            ));
        }
        let mut args = Vec::with_capacity(arr.elem.len());
        for e in &arr.elem {
            if matches!(e, ast::Expr::Array(_)) {
                return Err(SqlError::FeatureNotSupported(
                    "multidimensional arrays".into(),
                ));
            }
            args.push(self.bind_depth(e, mode, d)?);
        }
        let types: Vec<Option<DataType>> = args.iter().map(|a| self.type_of(a)).collect();
        if types.iter().flatten().any(|t| t.is_array()) {
            return Err(SqlError::FeatureNotSupported(
                "multidimensional arrays".into(),
            ));
        }
        let elem = crate::array::common_type(&types)?.unwrap_or(DataType::Text);
        let args = args.into_iter().map(|a| self.coerce_to(a, elem)).collect();
        Ok(Expr::Func {
            name: "arr_build",
            args,
        })
    }

    /// `e` as a value of `ty`: itself when it has that type, a parameter given it, else a
    /// cast.
    pub(crate) fn coerce_to(&mut self, e: Expr, ty: DataType) -> Expr {
        match (&e, self.type_of(&e)) {
            (_, Some(t)) if t == ty => e,
            (Expr::Param(i), None) => {
                self.set_param(*i, ty);
                e
            }
            (Expr::Literal(Value::Null), _) => e,
            _ => Expr::Cast {
                expr: Box::new(e),
                ty,
            },
        }
    }

    /// The array functions over typed arrays (see `array.rs`); `None` when `name` is not one,
    /// or is one of the catalog's functions over arrays in text form and no argument is a
    /// typed array.
    #[inline(never)]
    fn array_function(&mut self, name: &str, args: &mut Vec<Expr>) -> SqlResult<Option<Expr>> {
        let n = args.len();
        let (fname, ok, elem_args): (&'static str, bool, &[usize]) = match name {
            "array_length" => ("arr_length", n == 2, &[]),
            "array_upper" => ("arr_upper", n == 2, &[]),
            "array_lower" => ("arr_lower", n == 2, &[]),
            "array_ndims" => ("arr_ndims", n == 1, &[]),
            "array_dims" => ("arr_dims", n == 1, &[]),
            "cardinality" => ("arr_cardinality", n == 1, &[]),
            "array_append" => ("arr_append", n == 2, &[1]),
            "array_prepend" => ("arr_prepend", n == 2, &[0]),
            "array_cat" => ("arr_concat", n == 2, &[]),
            "array_position" => ("arr_position", n == 2 || n == 3, &[1]),
            "array_positions" => ("arr_positions", n == 2, &[1]),
            "array_remove" => ("arr_remove", n == 2, &[1]),
            "array_replace" => ("arr_replace", n == 3, &[1, 2]),
            "array_to_string" => ("arr_to_string", n == 2 || n == 3, &[]),
            "string_to_array" => ("arr_string_to_array", n == 2 || n == 3, &[]),
            "array_fill" => ("arr_fill", n == 2, &[]),
            _ => return Ok(None),
        };
        let array_at = if fname == "arr_prepend" { 1 } else { 0 };
        let array_ty = if fname == "arr_string_to_array" || fname == "arr_fill" {
            None
        } else {
            match args.get(array_at).map(|a| self.type_of(a)) {
                Some(Some(t @ DataType::Array(_))) => Some(t),
                // The catalog's text-array columns keep their own functions.
                _ if matches!(
                    fname,
                    "arr_upper" | "arr_position" | "arr_remove" | "arr_to_string"
                ) && args
                    .get(array_at)
                    .is_some_and(|a| !matches!(a, Expr::Literal(_) | Expr::Param(_))) =>
                {
                    return Ok(None);
                }
                _ => Some(DataType::Text.array_of()),
            }
        };
        if !ok {
            return Err(SqlError::UndefinedFunction(format!(
                "{name} with {n} arguments"
            )));
        }
        let mut bound = std::mem::take(args);
        if let Some(at) = array_ty {
            let elem = at.element().unwrap_or(DataType::Text);
            let a = std::mem::replace(&mut bound[array_at], Expr::Literal(Value::Null));
            bound[array_at] = self.coerce_to(a, at);
            for &i in elem_args {
                let e = std::mem::replace(&mut bound[i], Expr::Literal(Value::Null));
                bound[i] = self.coerce_to(e, elem);
            }
            if fname == "arr_concat" {
                let b = std::mem::replace(&mut bound[1], Expr::Literal(Value::Null));
                bound[1] = self.coerce_to(b, at);
            }
        }
        match fname {
            "arr_length" | "arr_upper" | "arr_lower" | "arr_position" => {
                if let Some(last) = bound.get_mut(if fname == "arr_position" { 2 } else { 1 }) {
                    let e = std::mem::replace(last, Expr::Literal(Value::Null));
                    *last = self.coerce_to(e, DataType::Int4);
                }
            }
            "arr_to_string" | "arr_string_to_array" => {
                for e in bound.iter_mut().skip(usize::from(fname == "arr_to_string")) {
                    let x = std::mem::replace(e, Expr::Literal(Value::Null));
                    *e = self.coerce_to(x, DataType::Text);
                }
            }
            "arr_fill" => {
                let d = std::mem::replace(&mut bound[1], Expr::Literal(Value::Null));
                bound[1] = self.coerce_to(d, DataType::Int4.array_of());
            }
            _ => {}
        }
        Ok(Some(Expr::Func {
            name: fname,
            args: bound,
        }))
    }

    /// The date/time and json functions, tried in one call from [`Binder::function`].
    #[inline(never)]
    fn typed_function(&mut self, name: &str, args: &mut Vec<Expr>) -> SqlResult<Option<Expr>> {
        if let Some(e) = self.array_function(name, args)? {
            return Ok(Some(e));
        }
        if let Some(e) = self.datetime_function(name, args)? {
            return Ok(Some(e));
        }
        self.json_function(name, args)
    }

    /// Coerces the arguments of a jsonpath function in place: (jsonb, jsonpath [, jsonb
    /// [, boolean]]), untyped literals and parameters taking those types as PostgreSQL's
    /// function resolution gives them.
    pub(crate) fn path_arguments(&mut self, args: &mut [Expr]) {
        const TYPES: [DataType; 4] = [
            DataType::Jsonb,
            DataType::JsonPath,
            DataType::Jsonb,
            DataType::Bool,
        ];
        for (a, ty) in args.iter_mut().zip(TYPES) {
            let e = std::mem::replace(a, Expr::Literal(Value::Null));
            *a = self.coerce_to(e, ty);
        }
    }

    /// The json functions of the select list (see `json.rs`); `None` when `name` is not one.
    #[inline(never)]
    fn json_function(&mut self, name: &str, args: &mut Vec<Expr>) -> SqlResult<Option<Expr>> {
        let n = args.len();
        let arity_error = || {
            Err(SqlError::UndefinedFunction(format!(
                "{name} with {n} arguments"
            )))
        };
        let (fname, ok): (&'static str, bool) = match name {
            "to_json" => ("js_to_json", n == 1),
            "row_to_json" => {
                if !(n == 1 || n == 2) || self.type_of(&args[0]) != Some(DataType::Record) {
                    let types: Vec<_> = args.iter().map(|a| self.type_of(a)).collect();
                    return Err(no_such_function(name, &types));
                }
                if n == 2 {
                    let pretty = args.pop().unwrap_or(Expr::Literal(Value::Null));
                    args.push(self.coerce_to(pretty, DataType::Bool));
                }
                ("js_row_to_json", true)
            }
            "to_jsonb" => ("js_to_jsonb", n == 1),
            "json_build_object" | "jsonb_build_object" => {
                if n % 2 == 1 {
                    return Err(SqlError::InvalidParameterValue(
                        "argument list must have even number of elements".into(),
                    ));
                }
                (
                    if name == "json_build_object" {
                        "js_build_object"
                    } else {
                        "js_build_object_b"
                    },
                    true,
                )
            }
            "json_build_array" => ("js_build_array", true),
            "jsonb_build_array" => ("js_build_array_b", true),
            "json_typeof" => ("js_typeof", n == 1),
            "jsonb_typeof" => ("js_typeof_b", n == 1),
            "json_array_length" => ("js_array_length_json", n == 1),
            "jsonb_array_length" => ("js_array_length", n == 1),
            "jsonb_set" => ("js_set", n == 3 || n == 4),
            "jsonb_pretty" => ("js_pretty", n == 1),
            "jsonb_strip_nulls" => ("js_strip_nulls", n == 1),
            "jsonb_path_exists"
            | "jsonb_path_match"
            | "jsonb_path_query_array"
            | "jsonb_path_query_first" => {
                if !(2..=4).contains(&n) {
                    return arity_error();
                }
                self.path_arguments(args);
                (
                    match name {
                        "jsonb_path_exists" => "jp_exists",
                        "jsonb_path_match" => "jp_match",
                        "jsonb_path_query_array" => "jp_query_array",
                        _ => "jp_query_first",
                    },
                    true,
                )
            }
            "json_extract_path"
            | "json_extract_path_text"
            | "jsonb_extract_path"
            | "jsonb_extract_path_text" => {
                if n < 2 {
                    return arity_error();
                }
                let path: Vec<Expr> = args.drain(1..).collect();
                for p in &path {
                    if let Expr::Param(i) = p {
                        self.set_param(*i, DataType::Text);
                    }
                }
                args.push(Expr::Func {
                    name: "js_path_array",
                    args: path,
                });
                (
                    match name {
                        "json_extract_path" => "js_path_json",
                        "json_extract_path_text" => "js_path_json_text",
                        "jsonb_extract_path" => "js_path_jsonb",
                        _ => "js_path_jsonb_text",
                    },
                    true,
                )
            }
            _ => return Ok(None),
        };
        if !ok {
            return arity_error();
        }
        Ok(Some(Expr::Func {
            name: fname,
            args: std::mem::take(args),
        }))
    }

    /// A json aggregate's argument: the value converted to json (or jsonb) per row, and for
    /// the object aggregates the key and value as one pair, so that the accumulator only
    /// collects. Other aggregates' arguments pass through.
    #[inline(never)]
    fn json_aggregate_argument(
        &mut self,
        func: AggFunc,
        first: Expr,
        args: &[ast::Expr],
        mode: &mut AggMode<'_>,
        d: usize,
    ) -> SqlResult<Expr> {
        let name = match func {
            AggFunc::JsonAgg => "js_agg_item",
            AggFunc::JsonbAgg => "js_agg_item_b",
            AggFunc::JsonObjectAgg => "js_agg_pair",
            AggFunc::JsonbObjectAgg => "js_agg_pair_b",
            _ => return Ok(first),
        };
        let mut bound = vec![first];
        if let Some(v) = args.get(1) {
            bound.push(self.bind_depth(v, mode, d)?);
        }
        Ok(Expr::Func { name, args: bound })
    }

    /// A binary operator over date/time operands (see `datetime::binary_type`). Kept out of
    /// [`Binder::binary`], which every level of a deep expression passes through.
    #[inline(never)]
    fn datetime_binary(
        &mut self,
        op: BinOp,
        l: Expr,
        r: Expr,
        lt: Option<DataType>,
        rt: Option<DataType>,
    ) -> SqlResult<Expr> {
        let (ty, untyped) = crate::datetime::binary_type(op, lt, rt)
            .unwrap_or(Err(SqlError::Internal("datetime operator".into())))?;
        // The untyped side is read as the type the operator takes there.
        let fix = |e: Expr, t: Option<DataType>, this: &mut Self| match (e, untyped) {
            (Expr::Param(i), Some(u)) if t.is_none() => {
                this.set_param(i, u);
                Expr::Param(i)
            }
            (e @ Expr::Literal(Value::Text(_)), Some(u)) if t.is_none() => Expr::Cast {
                expr: Box::new(e),
                ty: u,
            },
            (e, _) => e,
        };
        let l = fix(l, lt, self);
        let r = fix(r, rt, self);
        Ok(Expr::Binary {
            op,
            left: Box::new(l),
            right: Box::new(r),
            ty,
        })
    }

    /// `EXTRACT(field FROM x)`, `x AT TIME ZONE z` and `INTERVAL '…'`. Kept out of
    /// [`Binder::bind_depth`] so that the recursive function's frame stays small.
    #[inline(never)]
    fn bind_datetime_expr(
        &mut self,
        e: &ast::Expr,
        mode: &mut AggMode<'_>,
        d: usize,
    ) -> SqlResult<Expr> {
        Ok(match e {
            ast::Expr::Extract { field, expr, .. } => {
                let x = self.bind_depth(expr, mode, d)?;
                let field = match field {
                    ast::DateTimeField::Custom(id) => id.value.to_lowercase(),
                    other => other.to_string().to_lowercase(),
                };
                let mut args = vec![Expr::Literal(Value::Text(field)), x];
                self.datetime_function("extract", &mut args)?
                    .ok_or_else(|| SqlError::Internal("extract is a date/time function".into()))?
            }
            ast::Expr::AtTimeZone {
                timestamp,
                time_zone,
            } => {
                let ts = self.bind_depth(timestamp, mode, d)?;
                let zone = self.bind_depth(time_zone, mode, d)?;
                self.at_time_zone(ts, zone)?
            }
            ast::Expr::Interval(iv) => {
                let value = self.bind_depth(&iv.value, mode, d)?;
                // `INTERVAL '1 day 2:03:04' HOUR TO MINUTE`, `INTERVAL '1.234' SECOND(2)`: read
                // and cut to the type the fields name.
                let range = iv
                    .leading_field
                    .as_ref()
                    .and_then(|l| interval_literal_range(l, iv.last_field.as_ref()));
                if let (Expr::Literal(Value::Text(t)), Some(range)) = (&value, range) {
                    let precision = iv.fractional_seconds_precision.or(
                        match (&iv.leading_field, &iv.last_field) {
                            (Some(ast::DateTimeField::Second), None) => iv.leading_precision,
                            _ => None,
                        },
                    );
                    return restricted_interval_literal(
                        t,
                        crate::datetime::interval_typmod(range, precision),
                    );
                }
                match (value, &iv.leading_field, &iv.last_field) {
                    (Expr::Literal(Value::Text(t)), Some(unit), None)
                        if t.trim().parse::<f64>().is_ok() =>
                    {
                        // `INTERVAL '2' HOUR`: the number counts the named unit.
                        let text = format!("{t} {}", unit.to_string().to_lowercase());
                        Expr::Literal(Value::Interval(crate::datetime::parse_interval(&text)?))
                    }
                    (Expr::Literal(Value::Text(t)), _, _) => {
                        Expr::Literal(Value::Interval(crate::datetime::parse_interval(&t)?))
                    }
                    (other, _, _) => self.coerce(other, DataType::Interval),
                }
            }
            other => {
                return Err(SqlError::Internal(format!(
                    "not a date/time expression: {other}"
                )));
            }
        })
    }

    /// An untyped operand (a parameter, a string literal) read as `ty`.
    fn coerce(&mut self, e: Expr, ty: DataType) -> Expr {
        match e {
            Expr::Param(i) => {
                self.set_param(i, ty);
                Expr::Param(i)
            }
            e @ Expr::Literal(Value::Text(_)) => Expr::Cast {
                expr: Box::new(e),
                ty,
            },
            e => e,
        }
    }

    /// The date/time functions (see `datetime.rs`), resolved by their arguments' types to a
    /// `dt_…` function; `None` for other names.
    fn datetime_function(&mut self, name: &str, args: &mut Vec<Expr>) -> SqlResult<Option<Expr>> {
        use DataType as T;
        let n = args.len();
        let (fname, ok): (&'static str, bool) = match name {
            "now" | "current_timestamp" | "transaction_timestamp" => ("dt_now", n == 0),
            "statement_timestamp" => ("dt_statement_timestamp", n == 0),
            "clock_timestamp" => ("dt_clock_timestamp", n == 0),
            "localtimestamp" => ("dt_localtimestamp", n == 0),
            "current_date" => ("dt_current_date", n == 0),
            "current_time" => ("dt_current_time", n == 0),
            "localtime" => ("dt_localtime", n == 0),
            "date_trunc" => ("dt_trunc_tz", (2..=3).contains(&n)),
            "extract" | "date_part" => (
                if name == "extract" {
                    "dt_extract"
                } else {
                    "dt_date_part"
                },
                n == 2,
            ),
            "age" => (
                if n == 1 { "dt_age1" } else { "dt_age" },
                (1..=2).contains(&n),
            ),
            "justify_days" => ("dt_justify_days", n == 1),
            "justify_hours" => ("dt_justify_hours", n == 1),
            "justify_interval" => ("dt_justify_interval", n == 1),
            "make_date" => ("dt_make_date", n == 3),
            "make_time" => ("dt_make_time", n == 3),
            "make_timestamp" => ("dt_make_timestamp", n == 6),
            "make_timestamptz" => ("dt_make_timestamptz", (6..=7).contains(&n)),
            "make_interval" => ("dt_make_interval", n <= 7),
            "to_char" => ("dt_to_char", n == 2),
            "to_date" => ("dt_to_date", n == 2),
            "to_timestamp" => ("dt_to_timestamp", (1..=2).contains(&n)),
            "date_bin" => ("dt_bin_ts", n == 3),
            "isfinite" => ("dt_isfinite", n == 1),
            "timezone" => ("dt_at_zone_to_ts", n == 2),
            _ => return Ok(None),
        };
        if !ok {
            return Err(SqlError::UndefinedFunction(format!(
                "{name} with {n} arguments"
            )));
        }
        let types: Vec<Option<DataType>> = args.iter().map(|a| self.type_of(a)).collect();
        let mut taken = std::mem::take(args);
        let fname = match fname {
            "dt_trunc_tz" | "dt_extract" | "dt_date_part" => {
                let field = taken.remove(0);
                let field = self.coerce(field, T::Text);
                taken.insert(0, field);
                let (ty, fname) = match (fname, types[1]) {
                    ("dt_trunc_tz", Some(T::Timestamp)) => (T::Timestamp, "dt_trunc_ts"),
                    ("dt_trunc_tz", Some(T::Interval)) => (T::Interval, "dt_trunc_iv"),
                    ("dt_trunc_tz", _) => (T::TimestampTz, "dt_trunc_tz"),
                    (_, Some(t)) => (t, fname),
                    (_, None) => (T::Timestamp, fname),
                };
                if let Some(t) = types[1]
                    && !crate::datetime::is_datetime_type(t)
                {
                    return Err(SqlError::UndefinedFunction(format!(
                        "{name}(unknown, {})",
                        t.name()
                    )));
                }
                let x = taken.remove(1);
                let x = self.coerce(x, ty);
                taken.insert(1, x);
                fname
            }
            "dt_age" | "dt_age1" => {
                let ty = if types.contains(&Some(T::TimestampTz)) {
                    T::TimestampTz
                } else {
                    T::Timestamp
                };
                taken = taken.into_iter().map(|e| self.coerce(e, ty)).collect();
                fname
            }
            "dt_justify_days" | "dt_justify_hours" | "dt_justify_interval" => {
                taken = taken
                    .into_iter()
                    .map(|e| self.coerce(e, T::Interval))
                    .collect();
                fname
            }
            "dt_to_char" => {
                let x = taken.remove(0);
                let x = self.coerce(x, T::Timestamp);
                taken.insert(0, x);
                if let Some(t) = types[0]
                    && !crate::datetime::is_datetime_type(t)
                {
                    return Err(SqlError::FeatureNotSupported(format!(
                        "to_char({}, text)",
                        t.name()
                    )));
                }
                fname
            }
            "dt_to_timestamp" if n == 1 => {
                let x = taken.remove(0);
                taken.push(self.coerce(x, T::Float8));
                fname
            }
            "dt_bin_ts" => {
                let ty = if types[1] == Some(T::TimestampTz) {
                    T::TimestampTz
                } else {
                    T::Timestamp
                };
                let mut it = taken.into_iter();
                let (a, b, c) = (it.next(), it.next(), it.next());
                let (Some(a), Some(b), Some(c)) = (a, b, c) else {
                    return Err(SqlError::Internal("date_bin arity".into()));
                };
                taken = vec![
                    self.coerce(a, T::Interval),
                    self.coerce(b, ty),
                    self.coerce(c, ty),
                ];
                if ty == T::TimestampTz {
                    "dt_bin_tz"
                } else {
                    fname
                }
            }
            "dt_at_zone_to_ts" => {
                // timezone(zone, ts): the same as `ts AT TIME ZONE zone`.
                let zone = taken.remove(0);
                let ts = taken.remove(0);
                return self.at_time_zone(ts, zone).map(Some);
            }
            other => other,
        };
        Ok(Some(Expr::Func {
            name: fname,
            args: taken,
        }))
    }

    /// `ts AT TIME ZONE zone`: a timestamptz becomes the zone's local time, a local time
    /// becomes the instant it is in the zone.
    fn at_time_zone(&mut self, ts: Expr, zone: Expr) -> SqlResult<Expr> {
        let zone = match self.type_of(&zone) {
            None => self.coerce(zone, DataType::Text),
            Some(_) => zone,
        };
        let (name, ts) = match self.type_of(&ts) {
            Some(DataType::Timestamp | DataType::Date) => ("dt_at_zone_to_tz", ts),
            Some(DataType::TimestampTz) => ("dt_at_zone_to_ts", ts),
            // A time is read as a timetz in the session's zone first, as PostgreSQL casts it.
            Some(DataType::TimeTz | DataType::Time) => ("dt_at_zone_timetz", ts),
            None => ("dt_at_zone_to_ts", self.coerce(ts, DataType::TimestampTz)),
            Some(t) => {
                return Err(SqlError::UndefinedFunction(format!(
                    "timezone(unknown, {})",
                    t.name()
                )));
            }
        };
        Ok(Expr::Func {
            name,
            args: vec![ts, zone],
        })
    }

    /// The numeric functions, resolved as PostgreSQL resolves them: an argument of type
    /// `numeric` picks the numeric variant, any other number the `double precision` one
    /// (`round(5)` is a float); `round(x, s)`, `trunc(x, s)` and `div` exist for numeric only.
    /// `None` for other names.
    fn math_function(&mut self, name: &str, args: &mut Vec<Expr>) -> SqlResult<Option<Expr>> {
        let (fname, arity): (&'static str, &[usize]) = match name {
            "round" => ("round", &[1, 2]),
            "trunc" => ("trunc", &[1, 2]),
            "ceil" | "ceiling" => ("ceil", &[1]),
            "floor" => ("floor", &[1]),
            "sign" => ("sign", &[1]),
            "sqrt" => ("sqrt", &[1]),
            "power" | "pow" => ("power", &[2]),
            "ln" => ("ln", &[1]),
            "exp" => ("exp", &[1]),
            "log" => ("log", &[1, 2]),
            "log10" => ("log10", &[1]),
            "mod" => ("mod", &[2]),
            "div" => ("div", &[2]),
            _ => return Ok(None),
        };
        if !arity.contains(&args.len()) {
            return Err(SqlError::UndefinedFunction(format!(
                "{name} with {} arguments",
                args.len()
            )));
        }
        let types: Vec<Option<DataType>> = args.iter().map(|a| self.type_of(a)).collect();
        for (a, t) in args.iter().zip(&types) {
            if let Some(t) = t
                && !t.is_numeric()
            {
                let _ = a;
                return Err(no_such_function(name, &types));
            }
        }
        let any = |t: DataType| types.contains(&Some(t));
        let all_int = types.iter().all(|t| {
            matches!(
                t,
                Some(DataType::Int2 | DataType::Int4 | DataType::Int8) | None
            )
        });
        let numeric = if fname == "mod" && all_int {
            None
        } else if matches!(fname, "div") || args.len() == 2 && fname != "power" && fname != "mod" {
            Some(true)
        } else if fname == "power" || fname == "mod" {
            Some(!any(DataType::Float8) && any(DataType::Numeric))
        } else {
            Some(types[0] == Some(DataType::Numeric))
        };
        let cast = |e: Expr, ty: DataType| Expr::Cast {
            expr: Box::new(e),
            ty,
        };
        let taken = std::mem::take(args);
        let bound: Vec<Expr> = match numeric {
            // mod of integers: the wider integer type.
            None => {
                let ty = if any(DataType::Int8) {
                    DataType::Int8
                } else {
                    DataType::Int4
                };
                let mut it = taken.into_iter();
                let (l, r) = (it.next(), it.next());
                let (Some(l), Some(r)) = (l, r) else {
                    return Err(SqlError::Internal("mod arity".into()));
                };
                return Ok(Some(Expr::Binary {
                    op: BinOp::Mod,
                    left: Box::new(l),
                    right: Box::new(r),
                    ty,
                }));
            }
            Some(true) => taken
                .into_iter()
                .enumerate()
                .map(|(i, e)| {
                    // The scale argument of round/trunc is an int4.
                    if i == 1 && matches!(fname, "round" | "trunc") {
                        cast(e, DataType::Int4)
                    } else {
                        cast(e, DataType::Numeric)
                    }
                })
                .collect(),
            Some(false) => taken
                .into_iter()
                .map(|e| cast(e, DataType::Float8))
                .collect(),
        };
        let fname = match (fname, numeric == Some(true)) {
            ("round", true) => "numeric_round",
            ("trunc", true) => "numeric_trunc",
            ("ceil", true) => "numeric_ceil",
            ("floor", true) => "numeric_floor",
            ("sign", true) => "numeric_sign",
            ("sqrt", true) => "numeric_sqrt",
            ("power", true) => "numeric_power",
            ("ln", true) => "numeric_ln",
            ("exp", true) => "numeric_exp",
            // log(b, x) exists only for numeric; log(x) is log10(x).
            ("log", true) if bound.len() == 2 => "numeric_log",
            ("log" | "log10", true) => "numeric_log10",
            ("mod", _) => "numeric_mod",
            ("div", _) => "numeric_div",
            ("round", false) => "float_round",
            ("trunc", false) => "float_trunc",
            ("ceil", false) => "float_ceil",
            ("floor", false) => "float_floor",
            ("sign", false) => "float_sign",
            ("sqrt", false) => "float_sqrt",
            ("ln", false) => "float_ln",
            ("exp", false) => "float_exp",
            ("log" | "log10", false) => "float_log10",
            _ => "float_power",
        };
        Ok(Some(Expr::Func {
            name: fname,
            args: bound,
        }))
    }

    /// Binds an aggregate call's arguments, separator and filter (see [`Binder::function`]).
    /// `window_mode`: for an aggregate used as a window function, the mode of the query around
    /// it, in which its argument and FILTER are bound (a plain aggregate's argument sees the input
    /// row, never another aggregate).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn aggregate_call(
        &mut self,
        func: AggFunc,
        name: &str,
        f: &ast::Function,
        args: &[ast::Expr],
        distinct: bool,
        key: String,
        d: usize,
        mut window_mode: Option<&mut AggMode<'_>>,
    ) -> SqlResult<AggCall> {
        let windowed = window_mode.is_some();
        let mut separator = None;
        if func == AggFunc::StringAgg {
            match args.get(1) {
                Some(ast::Expr::Value(v)) if args.len() == 2 => {
                    if let ast::Value::SingleQuotedString(s) | ast::Value::EscapedStringLiteral(s) =
                        &v.value
                    {
                        separator = Some(s.clone());
                    }
                }
                _ => {}
            }
            if separator.is_none() {
                return Err(SqlError::FeatureNotSupported(
                    "string_agg with a separator that is not a string constant".into(),
                ));
            }
        }
        let mut within_group = Vec::new();
        let arg = if func == AggFunc::CountStar {
            None
        } else if let AggFunc::Ordered(o) = func {
            let (arg, key) = self.ordered_set_arguments(o, name, f, args, distinct, d)?;
            within_group.push(key);
            Some(arg)
        } else if let AggFunc::Regr(_) = func {
            Some(self.regression_arguments(name, args, window_mode.as_deref_mut(), d)?)
        } else {
            let pairs = matches!(func, AggFunc::JsonObjectAgg | AggFunc::JsonbObjectAgg);
            if args.len() != 1 + usize::from(pairs) && func != AggFunc::StringAgg {
                return Err(SqlError::UndefinedFunction(format!(
                    "{name} with {} arguments",
                    args.len()
                )));
            }
            // Arguments of an aggregate see the input row, not the groups.
            let mut inner = AggMode::Forbidden("aggregate function calls cannot be nested");
            let mode = match window_mode.as_deref_mut() {
                Some(m) => m,
                None => &mut inner,
            };
            let first = self.bind_depth(&args[0], mode, d)?;
            Some(self.json_aggregate_argument(func, first, args, mode, d)?)
        };
        // A window aggregate's argument may be an aggregate or a grouping key of the query.
        let slot_ty = match (&arg, window_mode.as_deref()) {
            (Some(Expr::Agg(i)), Some(AggMode::Collect { aggs, .. })) => aggs.get(*i).map(|a| a.ty),
            (Some(Expr::GroupKey(i)), Some(AggMode::Collect { group_by, .. })) => {
                group_by.get(*i).map(|g| g.1)
            }
            _ => None,
        };
        let filter = match &f.filter {
            Some(w) => {
                let mut inner = AggMode::Forbidden("FILTER");
                let mode = match window_mode {
                    Some(m) => m,
                    None => &mut inner,
                };
                let bound = self.bind_depth(w, mode, d)?;
                match self.type_of(&bound) {
                    None | Some(DataType::Bool) => {}
                    Some(t) => {
                        return Err(SqlError::DatatypeMismatch(format!(
                            "argument of FILTER must be type boolean, not type {}",
                            t.name()
                        )));
                    }
                }
                Some(bound)
            }
            None => None,
        };
        let arg_ty = slot_ty.or_else(|| arg.as_ref().and_then(|a| self.type_of(a)));
        let ty = match func {
            AggFunc::CountStar | AggFunc::Count => DataType::Int8,
            // sum(int4) is an int8; sum(int8) and sum(numeric) are numerics.
            AggFunc::Sum => match arg_ty {
                Some(DataType::Int2 | DataType::Int4) => DataType::Int8,
                Some(DataType::Int8 | DataType::Numeric) => DataType::Numeric,
                Some(DataType::Float8) => DataType::Float8,
                Some(DataType::Float4) => DataType::Float4,
                Some(DataType::Interval) => DataType::Interval,
                other => {
                    return Err(SqlError::UndefinedFunction(format!(
                        "sum({})",
                        other.map_or("unknown", DataType::name)
                    )));
                }
            },
            // avg of any integer or numeric is a numeric, of a float a float.
            AggFunc::Avg => match arg_ty {
                Some(DataType::Float8 | DataType::Float4) => DataType::Float8,
                Some(DataType::Interval) => DataType::Interval,
                Some(t) if t.is_numeric() => DataType::Numeric,
                other => {
                    return Err(SqlError::UndefinedFunction(format!(
                        "avg({})",
                        other.map_or("unknown", DataType::name)
                    )));
                }
            },
            AggFunc::Min | AggFunc::Max => match arg_ty {
                // PostgreSQL has no min/max over boolean (bool_and/bool_or instead), uuid or
                // bytea.
                Some(
                    t @ (DataType::Bool
                    | DataType::Uuid
                    | DataType::Bytea
                    | DataType::Json
                    | DataType::Jsonb),
                ) => {
                    return Err(SqlError::UndefinedFunction(format!("{name}({})", t.name())));
                }
                other => other.unwrap_or(DataType::Text),
            },
            AggFunc::StringAgg => DataType::Text,
            AggFunc::ArrayAgg => match arg_ty {
                Some(DataType::Array(_)) => {
                    return Err(SqlError::FeatureNotSupported(
                        "array_agg of arrays (a multidimensional result)".into(),
                    ));
                }
                other => other.unwrap_or(DataType::Text).array_of(),
            },
            AggFunc::JsonAgg | AggFunc::JsonObjectAgg => DataType::Json,
            AggFunc::JsonbAgg | AggFunc::JsonbObjectAgg => DataType::Jsonb,
            AggFunc::BoolAnd | AggFunc::BoolOr => match arg_ty {
                Some(DataType::Bool) | None => DataType::Bool,
                Some(other) => {
                    return Err(SqlError::UndefinedFunction(format!(
                        "{name}({})",
                        other.name()
                    )));
                }
            },
            // Over integers and numerics the spread is a numeric, over floats a float8.
            AggFunc::Spread(_) => match arg_ty {
                Some(DataType::Float8 | DataType::Float4) => DataType::Float8,
                Some(t) if t.is_numeric() => DataType::Numeric,
                other => {
                    return Err(SqlError::UndefinedFunction(format!(
                        "{name}({})",
                        other.map_or("unknown", DataType::name)
                    )));
                }
            },
            AggFunc::Regr(crate::aggregate::Regr::Count) => DataType::Int8,
            AggFunc::Regr(_) => DataType::Float8,
            AggFunc::Bit(_) => match arg_ty {
                Some(t @ (DataType::Int2 | DataType::Int4 | DataType::Int8)) => t,
                other => {
                    return Err(SqlError::UndefinedFunction(format!(
                        "{name}({})",
                        other.map_or("unknown", DataType::name)
                    )));
                }
            },
            AggFunc::Ordered(_) => self.ordered_set_type(arg.as_ref())?,
        };
        let order_by = if within_group.is_empty() {
            self.aggregate_order(f, arg.as_ref(), distinct, windowed, d)?
        } else {
            within_group
        };
        Ok(AggCall {
            func,
            arg,
            distinct,
            ty,
            separator,
            filter,
            order_by,
            key,
        })
    }

    /// The integer bitwise operators `&`, `|`, `#`, `~`, `<<`, `>>`: over int2/int4/int8 (the
    /// wider of two), the shift count an int4. A shift wraps within the left operand's width, as
    /// PostgreSQL's C shifts do on the machines it runs on.
    #[inline(never)]
    fn bitwise(&mut self, name: &'static str, l: Expr, r: Option<Expr>) -> SqlResult<Expr> {
        let shift = matches!(name, "int_shl" | "int_shr");
        let (lt, rt) = (self.type_of(&l), r.as_ref().and_then(|r| self.type_of(r)));
        let int = |t: Option<DataType>| {
            t.is_none_or(|t| matches!(t, DataType::Int2 | DataType::Int4 | DataType::Int8))
        };
        if !int(lt) || !int(rt) {
            let sym = match name {
                "int_and" => "&",
                "int_or" => "|",
                "int_xor" => "#",
                "int_not" => "~",
                "int_shl" => "<<",
                _ => ">>",
            };
            let n = |t: Option<DataType>| t.map_or("unknown", DataType::name);
            return Err(SqlError::UndefinedOperator(match &r {
                Some(_) => format!("{} {sym} {}", n(lt), n(rt)),
                None => format!("{sym} {}", n(lt)),
            }));
        }
        let ty = match (lt, rt) {
            (Some(a), Some(b)) if !shift => crate::array::common_pair(a, b).unwrap_or(a),
            (Some(a), _) => a,
            (None, Some(b)) if !shift => b,
            _ => DataType::Int4,
        };
        let mut args = vec![self.coerce_to(l, ty)];
        if let Some(r) = r {
            args.push(self.coerce_to(r, if shift { DataType::Int4 } else { ty }));
        }
        // The width rides in the name: a shift wraps within it.
        let name = match (name, ty) {
            ("int_shl", DataType::Int2) => "int_shl2",
            ("int_shl", DataType::Int4) => "int_shl4",
            ("int_shl", _) => "int_shl8",
            ("int_shr", DataType::Int2) => "int_shr2",
            ("int_shr", DataType::Int4) => "int_shr4",
            ("int_shr", _) => "int_shr8",
            (n, _) => n,
        };
        Ok(Expr::Func { name, args })
    }

    /// Converts `exprs` (CASE results, COALESCE or NULLIF arguments) to their common type as
    /// PostgreSQL's `select_common_type` resolves it: the widest number or date/time type among
    /// the typed ones, which untyped literals and parameters take too (text when none is typed);
    /// types that do not meet fail with 42804 (`CASE types boolean and integer cannot be
    /// matched`).
    fn convert_to_common_type(&mut self, exprs: &mut [Expr], what: &str) -> SqlResult<()> {
        let types: Vec<Option<DataType>> = exprs.iter().map(|e| self.type_of(e)).collect();
        let common = crate::array::common_type(&types).map_err(|e| match e {
            SqlError::DatatypeMismatch(m) => {
                SqlError::DatatypeMismatch(m.replacen("ARRAY", what, 1))
            }
            other => other,
        })?;
        // Nothing typed (string literals, NULLs, parameters): text, as PostgreSQL resolves
        // `unknown`.
        let ty = common.unwrap_or(DataType::Text);
        {
            for (e, t) in exprs.iter_mut().zip(&types) {
                if *t != Some(ty) {
                    let x = std::mem::replace(e, Expr::Literal(Value::Null));
                    *e = self.coerce_to(x, ty);
                }
            }
        }
        Ok(())
    }

    /// A set-returning function call of the select list (see [`crate::srf`]): its arguments
    /// are bound in the select list's context (they may read aggregates and grouping keys).
    #[inline(never)]
    fn set_returning_call(
        &mut self,
        name: &'static str,
        args: &[ast::Expr],
        mode: &mut AggMode<'_>,
        d: usize,
    ) -> SqlResult<Expr> {
        if self.srfs.is_none() {
            // PostgreSQL names the clause; the modes of clauses carry their names.
            let clause = match mode {
                AggMode::Forbidden(c)
                    if c.chars()
                        .all(|c| c.is_ascii_uppercase() || c == ' ' || c == '/') =>
                {
                    format!(" in {c}")
                }
                _ => String::new(),
            };
            return Err(SqlError::NotSupported(format!(
                "set-returning functions are not allowed{clause}"
            )));
        }
        if !crate::srf::arity_ok(name, args.len()) {
            return Err(SqlError::UndefinedFunction(format!(
                "{name} with {} arguments",
                args.len()
            )));
        }
        // An argument holding another set-returning call would need nested expansion.
        let calls = self.srfs.take();
        let mut bound = Vec::with_capacity(args.len());
        let mut failed = None;
        for a in args {
            match self.bind_depth(a, mode, d) {
                Ok(b) => bound.push(b),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        self.srfs = calls;
        if let Some(e) = failed {
            return Err(e);
        }
        if name == "jsonb_path_query" {
            self.path_arguments(&mut bound);
        }
        let types: Vec<Option<DataType>> = bound.iter().map(|b| self.type_of(b)).collect();
        let ty = match name {
            "generate_series" => {
                for b in &bound {
                    if let Expr::Param(i) = b {
                        self.set_param(*i, DataType::Int4);
                    }
                }
                let types: Vec<Option<DataType>> = bound.iter().map(|b| self.type_of(b)).collect();
                if let Some(t) = types.iter().flatten().find(|t| {
                    !(t.is_numeric()
                        || matches!(
                            t,
                            DataType::Timestamp
                                | DataType::TimestampTz
                                | DataType::Date
                                | DataType::Interval
                        ))
                }) {
                    return Err(SqlError::UndefinedFunction(format!(
                        "generate_series({})",
                        t.name()
                    )));
                }
                crate::query::series_type(&types)?
            }
            "unnest" => match types[0] {
                Some(DataType::Array(e)) => *e,
                _ => DataType::Text,
            },
            "generate_subscripts" => DataType::Int4,
            "string_to_table" | "json_object_keys" | "jsonb_object_keys" => DataType::Text,
            "json_array_elements_text" | "jsonb_array_elements_text" => DataType::Text,
            "json_array_elements" => DataType::Json,
            _ => DataType::Jsonb,
        };
        let Some(calls) = &mut self.srfs else {
            return Err(SqlError::Internal("set-returning calls vanished".into()));
        };
        calls.push(crate::srf::SrfCall {
            name,
            args: bound,
            ty,
        });
        Ok(Expr::Srf(calls.len() - 1))
    }

    /// The arguments of `corr`/`covar_*`/`regr_*(Y, X)`: both read as `float8`, carried to the
    /// accumulator as `agg_args(y, x)`.
    #[inline(never)]
    fn regression_arguments(
        &mut self,
        name: &str,
        args: &[ast::Expr],
        window_mode: Option<&mut AggMode<'_>>,
        d: usize,
    ) -> SqlResult<Expr> {
        let mut inner = AggMode::Forbidden("aggregate function calls cannot be nested");
        let mode = match window_mode {
            Some(m) => m,
            None => &mut inner,
        };
        let mut bound = Vec::with_capacity(2);
        for a in args {
            bound.push(self.bind_depth(a, mode, d)?);
        }
        let types: Vec<Option<DataType>> = bound.iter().map(|b| self.type_of(b)).collect();
        if bound.len() != 2 || types.iter().flatten().any(|t| !t.is_numeric()) {
            return Err(no_such_function(name, &types));
        }
        let args = bound
            .into_iter()
            .map(|b| self.coerce_to(b, DataType::Float8))
            .collect();
        Ok(Expr::Func {
            name: "agg_args",
            args,
        })
    }

    /// The direct argument and the `WITHIN GROUP (ORDER BY key)` of an ordered-set aggregate:
    /// the accumulator's argument (`agg_args(fraction, key)`, or the key for `mode()`) and the
    /// key's sort specification. `percentile_cont` reads its key as `float8` (or `interval`).
    #[inline(never)]
    fn ordered_set_arguments(
        &mut self,
        o: crate::aggregate::Ordered,
        name: &str,
        f: &ast::Function,
        args: &[ast::Expr],
        distinct: bool,
        d: usize,
    ) -> SqlResult<(Expr, (Expr, bool, bool))> {
        use crate::aggregate::Ordered;
        let mut inner = AggMode::Forbidden("aggregate function calls cannot be nested");
        if f.within_group.is_empty() {
            // PostgreSQL looks for a plain aggregate of these arguments, and finds none.
            let mut types = Vec::with_capacity(args.len());
            for a in args {
                let b = self.bind_depth(a, &mut inner, d)?;
                types.push(self.type_of(&b).map_or("unknown", DataType::name));
            }
            return Err(SqlError::UndefinedFunction(format!(
                "{name}({})",
                types.join(", ")
            )));
        }
        if distinct {
            return Err(SqlError::Syntax(
                "cannot use DISTINCT with WITHIN GROUP".into(),
            ));
        }
        if f.within_group.len() != 1 || args.len() != usize::from(o.has_fraction()) {
            return Err(SqlError::UndefinedFunction(format!(
                "{name} with {} arguments",
                args.len() + f.within_group.len()
            )));
        }
        let item = &f.within_group[0];
        let mut key = self.bind_depth(&item.expr, &mut inner, d)?;
        let desc = matches!(item.options.sort, Some(ast::OrderBySort::Desc));
        let nulls_first = item.options.nulls_first.unwrap_or(desc);
        if o == Ordered::Mode {
            return Ok((key.clone(), (key, desc, nulls_first)));
        }
        let fraction = self.bind_depth(&args[0], &mut inner, d)?;
        let fraction_ty = self.type_of(&fraction);
        if o == Ordered::PercentileCont {
            match self.type_of(&key) {
                Some(DataType::Interval) => {}
                Some(t) if t.is_numeric() => key = self.coerce_to(key, DataType::Float8),
                None => key = self.coerce_to(key, DataType::Float8),
                Some(t) => {
                    return Err(SqlError::UndefinedFunction(format!(
                        "{name}({}, {})",
                        fraction_ty.map_or("unknown", DataType::name),
                        t.name()
                    )));
                }
            }
        }
        let fraction = match fraction_ty {
            Some(DataType::Array(e)) if e.is_numeric() => {
                self.coerce_to(fraction, DataType::Float8.array_of())
            }
            Some(t) if t.is_numeric() => self.coerce_to(fraction, DataType::Float8),
            None => self.coerce_to(fraction, DataType::Float8),
            Some(t) => {
                return Err(SqlError::UndefinedFunction(format!(
                    "{name}({}, {})",
                    t.name(),
                    self.type_of(&key).map_or("unknown", DataType::name)
                )));
            }
        };
        Ok((
            Expr::Func {
                name: "agg_args",
                args: vec![fraction, key.clone()],
            },
            (key, desc, nulls_first),
        ))
    }

    /// The result type of an ordered-set aggregate whose argument is `arg`.
    fn ordered_set_type(&self, arg: Option<&Expr>) -> SqlResult<DataType> {
        let (fraction, key) = match arg {
            Some(Expr::Func {
                name: "agg_args",
                args,
            }) if args.len() == 2 => (self.type_of(&args[0]), self.type_of(&args[1])),
            Some(key) => (None, self.type_of(key)),
            None => return Err(SqlError::Internal("ordered-set argument".into())),
        };
        let key = key.unwrap_or(DataType::Text);
        Ok(if fraction.is_some_and(DataType::is_array) {
            key.array_of()
        } else {
            key
        })
    }

    /// The `ORDER BY` inside an aggregate call, bound over the input row. With DISTINCT its
    /// keys must be the argument (PostgreSQL's rule: the order is that of the distinct values).
    fn aggregate_order(
        &mut self,
        f: &ast::Function,
        arg: Option<&Expr>,
        distinct: bool,
        windowed: bool,
        d: usize,
    ) -> SqlResult<Vec<(Expr, bool, bool)>> {
        let ast::FunctionArguments::List(list) = &f.args else {
            return Ok(Vec::new());
        };
        let mut order_by = Vec::new();
        for clause in &list.clauses {
            let ast::FunctionArgumentClause::OrderBy(items) = clause else {
                return Err(SqlError::Syntax(format!(
                    "syntax error at or near \"{clause}\""
                )));
            };
            if windowed {
                return Err(SqlError::FeatureNotSupported(
                    "aggregate ORDER BY is not implemented for window functions".into(),
                ));
            }
            for o in items {
                let mut inner = AggMode::Forbidden("aggregate function calls cannot be nested");
                let key = self.bind_depth(&o.expr, &mut inner, d)?;
                if distinct {
                    let first = match &list.args.first() {
                        Some(ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e))) => {
                            e.to_string()
                        }
                        _ => String::new(),
                    };
                    if o.expr.to_string() != first || arg.is_none() {
                        return Err(SqlError::InvalidColumnReference(
                            "in an aggregate with DISTINCT, ORDER BY expressions must appear in \
                             argument list"
                                .into(),
                        ));
                    }
                }
                let desc = matches!(o.options.sort, Some(ast::OrderBySort::Desc));
                order_by.push((key, desc, o.options.nulls_first.unwrap_or(desc)));
            }
        }
        Ok(order_by)
    }

    /// The operands of a comparison, with a bpchar side cast to text when the other side is
    /// explicitly `text`: PostgreSQL resolves `bpchar = text` as `text = text`, the bpchar losing
    /// its trailing blanks and the text keeping its own (`'a '::char(3) = 'a '::text` is false).
    /// Against an untyped string, a varchar or another bpchar the comparison stays a bpchar one.
    fn text_against_bpchar(
        &self,
        left: &ast::Expr,
        l: Expr,
        right: &ast::Expr,
        r: Expr,
    ) -> (Expr, Expr) {
        let to_text = |e: Expr| Expr::Cast {
            expr: Box::new(e),
            ty: DataType::Text,
        };
        if self.bpchar_typmod(&l).is_some() && self.explicit_text(right, &r) {
            (to_text(l), r)
        } else if self.bpchar_typmod(&r).is_some() && self.explicit_text(left, &l) {
            (l, to_text(r))
        } else {
            (l, r)
        }
    }

    /// Whether an operand is of type `text` by declaration: a cast to text, a column declared
    /// text, or a text-valued expression (a function, `||`, CASE …) that is neither an untyped
    /// string, a parameter, nor a cast to another character type.
    fn explicit_text(&self, a: &ast::Expr, bound: &Expr) -> bool {
        let mut a = a;
        while let ast::Expr::Nested(inner) = a {
            a = inner;
        }
        if self.bpchar_typmod(bound).is_some() || self.type_of(bound) != Some(DataType::Text) {
            return false;
        }
        match a {
            ast::Expr::Cast { data_type, .. } => match data_type {
                ast::DataType::Text => true,
                ast::DataType::Custom(name, mods) => {
                    mods.is_empty() && name.to_string().eq_ignore_ascii_case("text")
                }
                _ => false,
            },
            ast::Expr::Identifier(_) | ast::Expr::CompoundIdentifier(_) => {
                matches!(bound, Expr::Column(i) if self.scope.get(*i).is_some_and(|c| c.plain_text))
            }
            ast::Expr::Value(_) | ast::Expr::TypedString(_) => false,
            _ => !matches!(
                bound,
                Expr::Literal(_) | Expr::Param(_) | Expr::Column(_) | Expr::Outer { .. }
            ),
        }
    }

    /// IN between a bpchar and text, as PostgreSQL resolves it. Items without a column
    /// reference, when there are two or more, are compared as one array of the common type of
    /// `x` and theirs, which is `x`'s own type when it has one (the string types all coerce to
    /// each other, so the first typed operand wins); every other item is compared as `x = item`
    /// is, a bpchar against an explicit text losing its trailing blanks. So against a text `x`
    /// every bpchar item is cast to text, and a bpchar `x` is cast to text when every item is
    /// compared as text. A bpchar `x` whose items are compared both ways keeps the bpchar
    /// comparison for all (one `x` serves the whole list).
    fn in_list_text_against_bpchar(
        &self,
        left: &ast::Expr,
        x: &mut Expr,
        list: &[ast::Expr],
        items: &mut [Expr],
    ) {
        let to_text = |e: &mut Expr| {
            let inner = std::mem::replace(e, Expr::Literal(Value::Null));
            *e = Expr::Cast {
                expr: Box::new(inner),
                ty: DataType::Text,
            };
        };
        if self.explicit_text(left, x) {
            for item in items.iter_mut() {
                if self.bpchar_typmod(item).is_some() {
                    to_text(item);
                }
            }
            return;
        }
        if self.bpchar_typmod(x).is_none() {
            return;
        }
        let has_column = |e: &Expr| {
            let mut found = false;
            e.visit(&mut |e| found |= matches!(e, Expr::Column(_)));
            found
        };
        let constants = items.iter().filter(|e| !has_column(e)).count();
        let all_text = list.iter().zip(items.iter()).all(|(a, b)| {
            // An item of the array is compared as a bpchar, `x`'s type.
            (constants <= 1 || has_column(b)) && self.explicit_text(a, b)
        });
        if all_text {
            to_text(x);
        }
    }

    /// Whether `e` is a plain column reference (or a cast of one) whose type is bpchar. Binding
    /// such a reference has no side effects, so it may be bound to look before the expression
    /// it stands in is bound.
    fn plain_reference_is_bpchar(
        &mut self,
        e: &ast::Expr,
        mode: &mut AggMode<'_>,
        d: usize,
    ) -> SqlResult<bool> {
        let mut inner = e;
        while let ast::Expr::Nested(n) = inner {
            inner = n;
        }
        let plain = match inner {
            ast::Expr::Identifier(_) | ast::Expr::CompoundIdentifier(_) => true,
            ast::Expr::Cast { expr, .. } => matches!(
                &**expr,
                ast::Expr::Identifier(_) | ast::Expr::CompoundIdentifier(_) | ast::Expr::Value(_)
            ),
            _ => false,
        };
        if !plain {
            return Ok(false);
        }
        let bound = self.bind_depth(inner, mode, d)?;
        Ok(self.bpchar_typmod(&bound).is_some())
    }

    /// The declared type's modifier an expression's values have (see
    /// [`crate::query::ColumnInfo::kind`]): a column's own, or that of a cast to a type with a
    /// modifier; none for anything else, as PostgreSQL's `exprTypmod` has it.
    #[must_use]
    pub fn declared_kind(&self, e: &Expr) -> crate::catalog::TextKind {
        use crate::catalog::TextKind;
        let modifier = |args: &[Expr]| match args.get(1) {
            Some(Expr::Literal(Value::Int(n))) => u32::try_from(*n).ok(),
            _ => None,
        };
        match e {
            Expr::Column(i) => self.scope.get(*i).map_or(TextKind::Text, |c| c.kind),
            Expr::Func {
                name: "varchar_length",
                args,
            } => modifier(args).map_or(TextKind::Text, |n| TextKind::Varchar(Some(n))),
            Expr::Func {
                name: "bpchar_length",
                args,
            } => modifier(args).map_or(TextKind::Text, TextKind::Char),
            Expr::Func {
                name: "typmod",
                args,
            } => match args.get(1) {
                Some(Expr::Literal(Value::Int(t))) => {
                    i32::try_from(*t).map_or(TextKind::Text, TextKind::Typmod)
                }
                _ => TextKind::Text,
            },
            // A CASE without ELSE has a NULL one.
            Expr::Case {
                whens, otherwise, ..
            } => self.common_kind(
                whens
                    .iter()
                    .map(|(_, r)| r)
                    .chain([otherwise.as_deref().unwrap_or(&Expr::Literal(Value::Null))]),
            ),
            Expr::Func {
                name: "coalesce" | "fn_greatest" | "fn_least",
                args,
            } => self.common_kind(args.iter()),
            _ => TextKind::Text,
        }
    }

    /// The modifier of a value chosen from `items` (CASE's results, COALESCE's arguments), as
    /// PostgreSQL's `select_common_typmod`: the one they all declare, if they are all of one type;
    /// for `varchar`s of different lengths or with a bare string or NULL among them, `character
    /// varying` without a length; else none.
    fn common_kind<'e>(&self, items: impl Iterator<Item = &'e Expr>) -> crate::catalog::TextKind {
        use crate::catalog::TextKind;
        let (mut common, mut unknown) = (None::<(Option<DataType>, TextKind)>, false);
        let mut varchars = true;
        // A string literal or NULL, as it is or as the common type made it (which an explicit
        // `'b'::text` cannot be told from).
        let literal = |e: &Expr| matches!(e, Expr::Literal(Value::Null | Value::Text(_)));
        for item in items {
            if literal(item) || matches!(item, Expr::Cast { expr, .. } if literal(expr)) {
                unknown = true;
                continue;
            }
            let (ty, kind) = (self.type_of(item), self.declared_kind(item));
            varchars &= ty == Some(DataType::Text) && matches!(kind, TextKind::Varchar(_));
            match common {
                None => common = Some((ty, kind)),
                Some(c) if c == (ty, kind) => {}
                Some(_) => common = Some((None, TextKind::Text)),
            }
        }
        match common {
            Some((_, TextKind::Varchar(_))) if varchars && unknown => TextKind::Varchar(None),
            Some((Some(_), kind)) if !unknown => kind,
            Some(_) if varchars => TextKind::Varchar(None),
            _ => TextKind::Text,
        }
    }

    /// The relation column `e` reads as it is (see [`crate::query::ColumnInfo::source`]): a
    /// column of the scope, or a cast of one to its own type.
    #[must_use]
    pub fn column_source(&self, e: &Expr) -> Option<(u32, i16)> {
        match e {
            Expr::Column(i) => self.scope.get(*i).and_then(|c| c.source),
            Expr::Cast { expr, ty } if self.type_of(expr) == Some(*ty) => self.column_source(expr),
            _ => None,
        }
    }

    /// `Some(typmod)` when `e` is a `character(n)` / `bpchar` value by its static type (a
    /// column of that type or a cast to it): see [`crate::query::ColumnInfo::bpchar`].
    #[must_use]
    pub fn bpchar_typmod(&self, e: &Expr) -> Option<i32> {
        match e {
            Expr::Column(i) => self.scope.get(*i).and_then(|c| c.bpchar),
            // `x::char(n)[]` is an array of them, not one.
            Expr::Func {
                name: "bpchar_length",
                args,
            } if args
                .first()
                .and_then(|a| self.type_of(a))
                .is_some_and(DataType::is_array) =>
            {
                None
            }
            Expr::Func {
                name: "bpchar_length",
                args,
            } => match args.get(1) {
                Some(Expr::Literal(Value::Int(n))) if *n >= 0 => {
                    Some(i32::try_from(*n).map_or(-1, |n| n.saturating_add(4)))
                }
                _ => Some(-1),
            },
            _ => None,
        }
    }

    /// Static type; `None` for untyped NULLs, string literals and parameters not yet known.
    #[must_use]
    pub fn type_of(&self, e: &Expr) -> Option<DataType> {
        match e {
            Expr::Literal(v) => literal_type(v),
            Expr::Column(i) => Some(self.scope[*i].ty),
            Expr::Param(i) => self.params.get(*i).copied().flatten(),
            Expr::Agg(i) => self.slot_types.aggs.get(*i).copied().flatten(),
            Expr::GroupKey(i) => self.slot_types.group_keys.get(*i).copied().flatten(),
            Expr::Srf(i) => self.srfs.as_ref().and_then(|s| s.get(*i)).map(|c| c.ty),
            Expr::Window(i) => self
                .windows
                .as_ref()
                .and_then(|w| w.calls.get(*i))
                .map(|c| c.ty),
            Expr::Neg(x) => self.type_of(x),
            Expr::Not(_)
            | Expr::IsNull { .. }
            | Expr::InList { .. }
            | Expr::Between { .. }
            | Expr::Like { .. } => Some(DataType::Bool),
            Expr::Binary { ty, .. } | Expr::Cast { ty, .. } => Some(*ty),
            Expr::Case {
                whens, otherwise, ..
            } => whens
                .iter()
                .map(|(_, r)| self.type_of(r))
                .chain(otherwise.iter().map(|o| self.type_of(o)))
                .flatten()
                .next(),
            Expr::Func { name, args } => {
                match *name {
                    "length" | "strpos" | "pg_backend_pid" | "array_position" | "array_upper" => {
                        Some(DataType::Int4)
                    }
                    "pg_table_size"
                    | "nextval"
                    | "currval"
                    | "setval"
                    | "lastval"
                    | "pg_partition_ancestors" => Some(DataType::Int8),
                    "abs" | "abs_int4" | "coalesce" | "nullif" | "typmod" | "varchar_length"
                    | "bpchar_length" | "int_and" | "int_or" | "int_xor" | "int_not"
                    | "int_shl2" | "int_shl4" | "int_shl8" | "int_shr2" | "int_shr4"
                    | "int_shr8" => args.iter().find_map(|a| self.type_of(a)),
                    n if n.starts_with("numeric_") => Some(DataType::Numeric),
                    n if n.starts_with("fn_") => {
                        let types: Vec<Option<DataType>> =
                            args.iter().map(|a| self.type_of(a)).collect();
                        crate::functions::function_type(n, &types)
                    }
                    n if n.starts_with("dt_") => crate::datetime::function_type(n),
                    n if n.starts_with("js_") => crate::json::function_type(n),
                    n if n.starts_with("jp_") => crate::jsonpath::function_type(n),
                    n if n.starts_with("float_") => Some(DataType::Float8),
                    n if n.starts_with("arr_") => {
                        let types: Vec<Option<DataType>> =
                            args.iter().map(|a| self.type_of(a)).collect();
                        crate::array::function_type(n, &types)
                    }
                    "pg_table_is_visible"
                    | "pg_relation_is_publishable"
                    | "has_privilege"
                    | "pg_cancel_backend"
                    | "pg_terminate_backend"
                    | "pg_is_in_recovery"
                    | "is_distinct_from"
                    | "is_true"
                    | "is_false"
                    | "is_unknown" => Some(DataType::Bool),
                    "regtype_in" | "to_regclass" | "to_regproc" | "to_regnamespace"
                    | "to_regrole" => Some(DataType::Int8),
                    "regclass" | "regtype" | "regnamespace" | "regproc" | "regrole" => {
                        match args.first().map(|a| self.type_of(a)) {
                            Some(Some(DataType::Int4 | DataType::Int8)) => Some(DataType::Text),
                            _ => Some(DataType::Int8),
                        }
                    }
                    _ => Some(DataType::Text),
                }
            }
            Expr::Outer { depth, index } => self
                .outer
                .len()
                .checked_sub(*depth)
                .and_then(|k| self.outer.get(k))
                .and_then(|s| s.get(*index))
                .map(|c| c.ty),
            Expr::ScalarSubquery(q) => q.plan.columns.first().map(|c| c.ty),
            Expr::Exists { .. } | Expr::InSubquery { .. } | Expr::AnyArray { .. } => {
                Some(DataType::Bool)
            }
            Expr::ArraySubquery(q) => Some(
                q.plan
                    .columns
                    .first()
                    .map_or(DataType::Text, |c| c.ty)
                    .array_of(),
            ),
            Expr::Row { .. } => Some(DataType::Record),
        }
    }
}

pub(crate) fn op_symbol(op: BinOp) -> &'static str {
    match op {
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::Div => "/",
        BinOp::Mod => "%",
        BinOp::Concat => "||",
        BinOp::Eq => "=",
        BinOp::NotEq => "<>",
        BinOp::Lt => "<",
        BinOp::LtEq => "<=",
        BinOp::Gt => ">",
        BinOp::GtEq => ">=",
        BinOp::And => "AND",
        BinOp::Or => "OR",
        BinOp::Regex {
            case_insensitive,
            negated,
        } => match (negated, case_insensitive) {
            (false, false) => "~",
            (false, true) => "~*",
            (true, false) => "!~",
            (true, true) => "!~*",
        },
    }
}

fn compare_holds(op: BinOp, o: Ordering) -> bool {
    match op {
        BinOp::Eq => o == Ordering::Equal,
        BinOp::NotEq => o != Ordering::Equal,
        BinOp::Lt => o == Ordering::Less,
        BinOp::LtEq => o != Ordering::Greater,
        BinOp::Gt => o == Ordering::Greater,
        _ => o != Ordering::Less,
    }
}

/// `text ~ pattern` (an unanchored search) with PostgreSQL's regular-expression dialect, as
/// the regular-expression functions read it (see [`crate::functions`]).
pub fn regex_match(text: &str, pattern: &str, case_insensitive: bool) -> SqlResult<bool> {
    crate::functions::regex_is_match(text, pattern, case_insensitive)
}

/// PostgreSQL's text form of a one-dimensional array.
#[must_use]
pub fn format_array(items: impl Iterator<Item = Value>) -> String {
    let mut out = String::from("{");
    for (i, v) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        match v.to_text() {
            None => out.push_str("NULL"),
            Some(t) => crate::array::push_element(&mut out, &t),
        }
    }
    out.push('}');
    out
}

/// Parses the text form of a one-dimensional array; `None` items are NULLs.
pub fn parse_array(t: &str) -> SqlResult<Vec<Option<String>>> {
    let bad = || SqlError::InvalidTextRepresentation {
        ty: "array".into(),
        value: t.into(),
    };
    let inner = t
        .trim()
        .strip_prefix('{')
        .and_then(|x| x.strip_suffix('}'))
        .ok_or_else(bad)?;
    let mut items = Vec::new();
    if inner.trim().is_empty() {
        return Ok(items);
    }
    let mut chars = inner.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut item = String::new();
        let mut quoted = false;
        if chars.peek() == Some(&'"') {
            quoted = true;
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(bad()),
                    Some('"') => break,
                    Some('\\') => item.push(chars.next().ok_or_else(bad)?),
                    Some(c) => item.push(c),
                }
            }
        }
        while let Some(&c) = chars.peek() {
            if c == ',' {
                break;
            }
            chars.next();
            if !quoted {
                item.push(c);
            }
        }
        let item = if quoted {
            item
        } else {
            item.trim().to_string()
        };
        items.push((quoted || !item.eq_ignore_ascii_case("null")).then_some(item));
        if chars.next().is_none() {
            break;
        }
    }
    Ok(items)
}

/// What an expression is evaluated against.
#[derive(Clone, Copy)]
pub struct EvalContext<'a> {
    pub row: &'a [Value],
    pub params: &'a [Value],
    pub aggs: &'a [Value],
    pub group_keys: &'a [Value],
    /// Results of the row's window function calls.
    pub windows: &'a [Value],
    /// The current values of the select list's set-returning function calls.
    pub srfs: &'a [Value],
    pub session: &'a SessionInfo,
    /// The context of the enclosing query's current row (correlated subqueries).
    pub outer: Option<&'a EvalContext<'a>>,
    /// Runs subqueries; absent where none can occur.
    pub exec: Option<&'a crate::query::Executor<'a>>,
}

impl<'a> EvalContext<'a> {
    /// A context over one row, with no aggregates, enclosing row or subquery runner.
    #[must_use]
    pub fn new(row: &'a [Value], params: &'a [Value], session: &'a SessionInfo) -> Self {
        EvalContext {
            row,
            params,
            aggs: &[],
            group_keys: &[],
            windows: &[],
            srfs: &[],
            session,
            outer: None,
            exec: None,
        }
    }

    fn executor(&self) -> SqlResult<&'a crate::query::Executor<'a>> {
        self.exec
            .ok_or_else(|| SqlError::FeatureNotSupported("subqueries here".into()))
    }
}

/// Facts about the session that functions report, and its cancel flag.
#[derive(Clone, Debug, Default)]
pub struct SessionInfo {
    pub database: String,
    /// The role the client connected as.
    pub user: String,
    /// Set by a client's cancel request; the executor checks it between rows.
    pub cancel: std::sync::Arc<CancelFlag>,
    pub backend_pid: i32,
    /// The instance's live sessions (`pg_stat_activity`, `current_setting`, …).
    pub activity: std::sync::Arc<crate::activity::Activity>,
    /// The session's `random()` generator, which `setseed` seeds.
    pub random: std::sync::Arc<crate::functions::SessionRandom>,
}

/// A statement's cancel request, shared between the connection (which receives CancelRequest)
/// and the thread running the statement.
#[derive(Debug, Default)]
pub struct CancelFlag {
    requested: std::sync::atomic::AtomicBool,
    /// Interrupts a row-lock wait of the statement's transaction.
    lock_wait: std::sync::Mutex<Option<borealis_engine::CancelHandle>>,
}

impl CancelFlag {
    /// Asks the running statement to stop: the executor fails it with 57014 at its next row,
    /// and a row-lock wait ends at once.
    pub fn cancel(&self) {
        self.requested
            .store(true, std::sync::atomic::Ordering::Release);
        if let Some(h) = self
            .lock_wait
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            h.cancel();
        }
    }

    /// Forgets an earlier request: a new statement starts.
    pub fn reset(&self) {
        self.requested
            .store(false, std::sync::atomic::Ordering::Release);
    }

    /// Remembers which transaction's lock waits a cancel must interrupt.
    pub fn arm(&self, handle: borealis_engine::CancelHandle) {
        *self.lock_wait.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
    }

    /// Fails with `QueryCanceled` if a cancel was requested.
    pub fn check(&self) -> SqlResult<()> {
        if self.requested.load(std::sync::atomic::Ordering::Acquire) {
            Err(SqlError::QueryCanceled)
        } else {
            Ok(())
        }
    }
}

/// The string `version()` returns: drivers parse "PostgreSQL 15.x".
pub const VERSION_STRING: &str = "PostgreSQL 15.8 (Borealis 0.1.0) on x86_64-pc-linux-gnu, 64-bit";

fn truth(v: &Value) -> SqlResult<Option<bool>> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        other => Err(SqlError::DatatypeMismatch(format!(
            "expected a boolean, got {other:?}"
        ))),
    }
}

/// A comparison of two integers that are columns of the row or constants (`amount > 500`,
/// the commonest filter), decided on the values in place: the general path copies both
/// operands, compares through [`compare_values`] and drops the copies. `None` when the
/// operands are anything else (NULL included), for the general path.
#[inline]
fn int_comparison(op: BinOp, left: &Expr, right: &Expr, cx: &EvalContext<'_>) -> Option<bool> {
    if !matches!(
        op,
        BinOp::Eq | BinOp::NotEq | BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq
    ) {
        return None;
    }
    let operand = |e: &Expr| match e {
        Expr::Column(i) => match cx.row.get(*i) {
            Some(Value::Int(v)) => Some(*v),
            _ => None,
        },
        Expr::Literal(Value::Int(v)) => Some(*v),
        _ => None,
    };
    Some(compare_holds(op, operand(left)?.cmp(&operand(right)?)))
}

/// Compares two values, coercing an untyped string to the other side's type.
fn compare_values(a: &Value, b: &Value) -> SqlResult<Option<Ordering>> {
    match (a, b) {
        (Value::Text(s), other) if !matches!(other, Value::Text(_) | Value::Null) => {
            parse_text(s, value_type(other)).and_then(|v| v.compare(other))
        }
        (other, Value::Text(s)) if !matches!(other, Value::Text(_) | Value::Null) => {
            parse_text(s, value_type(other)).and_then(|v| other.compare(&v))
        }
        _ => a.compare(b),
    }
}

pub(crate) fn value_type(v: &Value) -> DataType {
    match v {
        Value::Float4(_) => DataType::Float4,
        Value::Date(_) => DataType::Date,
        Value::TimestampTz(_) => DataType::TimestampTz,
        Value::Time(_) => DataType::Time,
        Value::TimeTz(..) => DataType::TimeTz,
        Value::Interval(_) => DataType::Interval,
        Value::Bool(_) => DataType::Bool,
        Value::Int(_) => DataType::Int8,
        Value::Float(_) => DataType::Float8,
        Value::Timestamp(_) => DataType::Timestamp,
        Value::Numeric(_) => DataType::Numeric,
        Value::Bytes(_) => DataType::Bytea,
        Value::Uuid(_) => DataType::Uuid,
        Value::Json(_) => DataType::Json,
        Value::JsonPath(_) => DataType::JsonPath,
        Value::Jsonb(_) => DataType::Jsonb,
        Value::Array(items) => items
            .iter()
            .find(|v| !v.is_null())
            .map_or(DataType::Text, value_type)
            .array_of(),
        Value::Record(_) => DataType::Record,
        Value::Null | Value::Text(_) | Value::Bpchar(_) => DataType::Text,
    }
}

fn like(s: &str, p: &str) -> bool {
    like_folded(s, p, false)
}

/// `s ILIKE p`: ASCII text is matched folding case as it goes; other text is lowercased
/// first, as a character may lowercase to several.
fn ilike(s: &str, p: &str) -> bool {
    if s.is_ascii() && p.is_ascii() {
        like_folded(s, p, true)
    } else {
        like(&s.to_lowercase(), &p.to_lowercase())
    }
}

/// [`like`], comparing characters ignoring ASCII case when `fold`.
fn like_folded(s: &str, p: &str, fold: bool) -> bool {
    // Iterative matcher with backtracking to the last `%`, over byte offsets of characters
    // (no copy of either string: this runs per row).
    let at = |t: &str, k: usize| t.get(k..).and_then(|r| r.chars().next());
    let same = |a: char, b: Option<char>| match b {
        Some(b) if fold => a.eq_ignore_ascii_case(&b),
        b => Some(a) == b,
    };
    let (mut i, mut j) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while let Some(c) = at(s, i) {
        let pc = at(p, j);
        if pc == Some('\\') && same(c, at(p, j + 1)) {
            i += c.len_utf8();
            j += 1 + c.len_utf8();
        } else if pc == Some('_') || (same(c, pc) && c != '%' && c != '\\') {
            i += c.len_utf8();
            j += pc.map_or(1, char::len_utf8);
        } else if pc == Some('%') {
            star = Some(j);
            mark = i;
            j += 1;
        } else if let Some(st) = star {
            j = st + 1;
            mark += at(s, mark).map_or(1, char::len_utf8);
            i = mark;
        } else {
            return false;
        }
    }
    while p.as_bytes().get(j) == Some(&b'%') {
        j += 1;
    }
    j == p.len()
}

/// A value's text as [`Value::to_text`] gives it, borrowed where the value is text already;
/// `None` for NULL.
fn text_ref(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::Text(s) | Value::Bpchar(s) => Some(Cow::Borrowed(s)),
        other => other.to_text().map(Cow::Owned),
    }
}

/// [`text_ref`] with NULL as the empty string.
fn text_of(v: &Value) -> Cow<'_, str> {
    text_ref(v).unwrap_or_default()
}

/// Appends a value as `||` sees it: by its type's text output, where a boolean is `true` or
/// `false` (PostgreSQL casts the non-text operand to text), not the `t`/`f` of its wire form.
fn push_concat_text(out: &mut String, v: &Value) {
    match v {
        Value::Null => {}
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Text(s) => out.push_str(s),
        // `bpchar || text` is text: the bpchar casts to text, losing its padding.
        Value::Bpchar(s) => out.push_str(crate::types::bpchar_trim(s)),
        other => out.push_str(&other.to_text().unwrap_or_default()),
    }
}

fn int_result(v: Option<i64>, ty: DataType) -> SqlResult<Value> {
    let name = match ty {
        DataType::Int2 => "smallint",
        DataType::Int4 => "integer",
        _ => "bigint",
    };
    match v {
        Some(x)
            if match ty {
                DataType::Int2 => i16::try_from(x).is_ok(),
                DataType::Int4 => i32::try_from(x).is_ok(),
                _ => true,
            } =>
        {
            Ok(Value::Int(x))
        }
        _ => Err(SqlError::NumericOutOfRange(name.into())),
    }
}

fn arith(op: BinOp, a: &Value, b: &Value, ty: DataType) -> SqlResult<Value> {
    if ty == DataType::Numeric && matches!(op, BinOp::Add | BinOp::Sub | BinOp::Mul) {
        // Numerics (and integers) of up to 38 digits are added, subtracted and multiplied as
        // scaled i128s: no copy or cast of the operands, only the result's digits are made.
        let scaled = |v: &Value| match v {
            Value::Numeric(n) => n.to_scaled(),
            Value::Int(i) => Some((i128::from(*i), 0)),
            _ => None,
        };
        if let (Some(x), Some((y, ys))) = (scaled(a), scaled(b)) {
            let r = match op {
                BinOp::Add => Numeric::add_scaled(x, (y, ys)),
                BinOp::Sub => Numeric::add_scaled(x, (-y, ys)),
                _ => Numeric::mul_scaled(x, (y, ys)),
            };
            if let Some(r) = r {
                return Ok(Value::Numeric(r));
            }
        }
    }
    let as_num = |v: &Value| -> SqlResult<Value> {
        match v {
            Value::Text(s) => parse_text(
                s,
                match ty {
                    DataType::Float8 | DataType::Float4 | DataType::Numeric => ty,
                    _ => DataType::Int8,
                },
            ),
            other => Ok(other.clone()),
        }
    };
    let (a, b) = (as_num(a)?, as_num(b)?);
    if ty == DataType::Numeric {
        let (Value::Numeric(x), Value::Numeric(y)) =
            (a.cast(DataType::Numeric)?, b.cast(DataType::Numeric)?)
        else {
            return Err(SqlError::DatatypeMismatch(
                "numeric operator on non-numerics".into(),
            ));
        };
        return Ok(Value::Numeric(match op {
            BinOp::Add => x.add(&y)?,
            BinOp::Sub => x.sub(&y)?,
            BinOp::Mul => x.mul(&y)?,
            BinOp::Div => x.div(&y)?,
            BinOp::Mod => x.rem(&y)?,
            _ => unreachable!("arith called with {op:?}"),
        }));
    }
    if ty == DataType::Float4 {
        // real arithmetic happens in single precision.
        let f = |v: &Value| match v {
            Value::Float4(f) => Ok(*f),
            Value::Int(i) => Ok(*i as f32),
            Value::Float(f) => Ok(*f as f32),
            other => Err(SqlError::DatatypeMismatch(format!(
                "not a number: {other:?}"
            ))),
        };
        let (x, y) = (f(&a)?, f(&b)?);
        if matches!(op, BinOp::Div | BinOp::Mod) && y == 0.0 {
            return Err(SqlError::DivisionByZero);
        }
        let r = match op {
            BinOp::Add => x + y,
            BinOp::Sub => x - y,
            BinOp::Mul => x * y,
            BinOp::Div => x / y,
            BinOp::Mod => x % y,
            _ => unreachable!("arith called with {op:?}"),
        };
        if r.is_infinite() && x.is_finite() && y.is_finite() {
            return Err(SqlError::NumericValueOutOfRange(
                "value out of range: overflow".into(),
            ));
        }
        return Ok(Value::Float4(r));
    }
    if ty == DataType::Float8 {
        let f = |v: &Value| match v {
            Value::Int(i) => Ok(*i as f64),
            Value::Float(f) => Ok(*f),
            Value::Float4(f) => Ok(f64::from(*f)),
            Value::Numeric(n) => Ok(n.to_f64()),
            other => Err(SqlError::DatatypeMismatch(format!(
                "not a number: {other:?}"
            ))),
        };
        let (x, y) = (f(&a)?, f(&b)?);
        return Ok(Value::Float(match op {
            BinOp::Add => x + y,
            BinOp::Sub => x - y,
            BinOp::Mul => x * y,
            BinOp::Div => {
                if y == 0.0 {
                    return Err(SqlError::DivisionByZero);
                }
                x / y
            }
            BinOp::Mod => {
                if y == 0.0 {
                    return Err(SqlError::DivisionByZero);
                }
                x % y
            }
            _ => unreachable!("arith called with {op:?}"),
        }));
    }
    let (Value::Int(x), Value::Int(y)) = (a, b) else {
        return Err(SqlError::DatatypeMismatch(
            "integer operator on non-integers".into(),
        ));
    };
    let r = match op {
        BinOp::Add => x.checked_add(y),
        BinOp::Sub => x.checked_sub(y),
        BinOp::Mul => x.checked_mul(y),
        BinOp::Div => {
            if y == 0 {
                return Err(SqlError::DivisionByZero);
            }
            x.checked_div(y)
        }
        BinOp::Mod => {
            if y == 0 {
                return Err(SqlError::DivisionByZero);
            }
            Some(x.checked_rem(y).unwrap_or(0))
        }
        _ => unreachable!("arith called with {op:?}"),
    };
    int_result(r, ty)
}

impl Expr {
    fn children_mut(&mut self) -> Vec<&mut Expr> {
        match self {
            Expr::Literal(_)
            | Expr::Column(_)
            | Expr::Param(_)
            | Expr::Agg(_)
            | Expr::GroupKey(_)
            | Expr::Window(_)
            | Expr::Srf(_)
            | Expr::Outer { .. }
            | Expr::ScalarSubquery(_)
            | Expr::ArraySubquery(_)
            | Expr::Exists { .. } => Vec::new(),
            Expr::AnyArray { expr, array, .. } => vec![&mut **expr, &mut **array],
            Expr::Neg(x) | Expr::Not(x) => vec![&mut **x],
            Expr::IsNull { expr, .. } | Expr::Cast { expr, .. } => vec![&mut **expr],
            Expr::InSubquery { expr, .. } => vec![&mut **expr],
            Expr::Binary { left, right, .. } => vec![&mut **left, &mut **right],
            Expr::InList { expr, list, .. } => {
                let mut v = vec![&mut **expr];
                v.extend(list.iter_mut());
                v
            }
            Expr::Between {
                expr, low, high, ..
            } => vec![&mut **expr, &mut **low, &mut **high],
            Expr::Like { expr, pattern, .. } => vec![&mut **expr, &mut **pattern],
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => {
                let mut v: Vec<&mut Expr> = Vec::new();
                if let Some(o) = operand {
                    v.push(&mut **o);
                }
                for (c, r) in whens {
                    v.push(c);
                    v.push(r);
                }
                if let Some(o) = otherwise {
                    v.push(&mut **o);
                }
                v
            }
            Expr::Func { args, .. } | Expr::Row { fields: args, .. } => args.iter_mut().collect(),
        }
    }

    fn children(&self) -> Vec<&Expr> {
        match self {
            Expr::Literal(_)
            | Expr::Column(_)
            | Expr::Param(_)
            | Expr::Agg(_)
            | Expr::GroupKey(_)
            | Expr::Window(_)
            | Expr::Srf(_)
            | Expr::Outer { .. }
            | Expr::ScalarSubquery(_)
            | Expr::ArraySubquery(_)
            | Expr::Exists { .. } => Vec::new(),
            Expr::AnyArray { expr, array, .. } => vec![&**expr, &**array],
            Expr::Neg(x) | Expr::Not(x) => vec![&**x],
            Expr::IsNull { expr, .. } | Expr::Cast { expr, .. } => vec![&**expr],
            Expr::InSubquery { expr, .. } => vec![&**expr],
            Expr::Binary { left, right, .. } => vec![&**left, &**right],
            Expr::InList { expr, list, .. } => {
                let mut v = vec![&**expr];
                v.extend(list.iter());
                v
            }
            Expr::Between {
                expr, low, high, ..
            } => vec![&**expr, &**low, &**high],
            Expr::Like { expr, pattern, .. } => vec![&**expr, &**pattern],
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => {
                let mut v: Vec<&Expr> = Vec::new();
                if let Some(o) = operand {
                    v.push(&**o);
                }
                for (c, r) in whens {
                    v.push(c);
                    v.push(r);
                }
                if let Some(o) = otherwise {
                    v.push(&**o);
                }
                v
            }
            Expr::Func { args, .. } | Expr::Row { fields: args, .. } => args.iter().collect(),
        }
    }

    /// Calls `f` on this node and every node below it (not into subquery plans). Bind-time only;
    /// the depth is bounded by the binder's nesting limit.
    pub fn visit(&self, f: &mut dyn FnMut(&Expr)) {
        f(self);
        for c in self.children() {
            c.visit(f);
        }
    }

    /// Rewrites an expression of a subquery over enclosing rows only onto the row of the query
    /// that encloses it: a reference one level up becomes a column, deeper ones come a level
    /// nearer. False (the expression partly rewritten, to be dropped) when it reads the
    /// subquery's own row or holds a subquery, which would see a different row.
    pub(crate) fn lift_outer(&mut self) -> bool {
        match self {
            Expr::Outer { depth: 1, index } => {
                *self = Expr::Column(*index);
                true
            }
            Expr::Outer { depth, .. } => {
                *depth -= 1;
                true
            }
            Expr::Column(_)
            | Expr::ScalarSubquery(_)
            | Expr::ArraySubquery(_)
            | Expr::Exists { .. }
            | Expr::InSubquery { .. }
            | Expr::Agg(_)
            | Expr::GroupKey(_)
            | Expr::Window(_)
            | Expr::Srf(_) => false,
            _ => self.children_mut().into_iter().all(Expr::lift_outer),
        }
    }

    /// Rewrites column positions `i` to `i - offset`: an expression over a joined row becomes one
    /// over the row of the relation that starts at `offset`.
    pub fn shift_columns(&mut self, offset: usize) {
        if let Expr::Column(i) = self {
            *i -= offset;
            return;
        }
        for c in self.children_mut() {
            c.shift_columns(offset);
        }
    }

    /// Evaluates the expression.
    #[inline]
    pub fn eval(&self, cx: &EvalContext<'_>) -> SqlResult<Value> {
        // A column reference, the most common expression by far, is answered here, inlined
        // into the caller: the general evaluator below is one large function whose entry
        // (saving registers, setting up its frame) costs more than copying a scalar.
        if let Expr::Column(i) = self {
            return Ok(match cx.row.get(*i) {
                // The common scalars are copied without the general clone's dispatch.
                Some(Value::Int(v)) => Value::Int(*v),
                Some(Value::Null) => Value::Null,
                Some(Value::Bool(b)) => Value::Bool(*b),
                Some(Value::Float(f)) => Value::Float(*f),
                Some(v) => v.clone(),
                None => return Err(SqlError::Internal(format!("column {i} is not in the row"))),
            });
        }
        self.eval_general(cx)
    }

    /// [`Expr::eval`] that lends what is already there: a column of the row, a constant, a
    /// parameter, an aggregate's result or a group key is borrowed, not copied. An operator
    /// that only looks at its operands (a comparison, LIKE, BETWEEN, IN, IS NULL) reads them
    /// through this, so a text column is compared where it lies instead of being copied per
    /// row. Everything else is evaluated as [`Expr::eval`] does.
    #[inline]
    pub fn eval_ref<'s>(&'s self, cx: &'s EvalContext<'_>) -> SqlResult<Cow<'s, Value>> {
        Ok(match self {
            Expr::Column(i) => Cow::Borrowed(
                cx.row
                    .get(*i)
                    .ok_or_else(|| SqlError::Internal(format!("column {i} is not in the row")))?,
            ),
            Expr::Literal(v) => Cow::Borrowed(v),
            Expr::Param(i) => cx
                .params
                .get(*i)
                .map_or(Cow::Owned(Value::Null), Cow::Borrowed),
            Expr::Agg(i) => Cow::Borrowed(&cx.aggs[*i]),
            Expr::GroupKey(i) => Cow::Borrowed(&cx.group_keys[*i]),
            _ => Cow::Owned(self.eval_general(cx)?),
        })
    }

    /// [`Expr::eval`] of every expression but a plain column reference.
    #[inline(never)]
    fn eval_general(&self, cx: &EvalContext<'_>) -> SqlResult<Value> {
        Ok(match self {
            Expr::Literal(v) => v.clone(),
            Expr::Column(i) => cx
                .row
                .get(*i)
                .cloned()
                .ok_or_else(|| SqlError::Internal(format!("column {i} is not in the row")))?,
            Expr::Outer { depth, index } => {
                let mut c = cx;
                for _ in 0..*depth {
                    c = c.outer.ok_or_else(|| {
                        SqlError::Internal("outer reference without an enclosing row".into())
                    })?;
                }
                c.row.get(*index).cloned().ok_or_else(|| {
                    SqlError::Grouping("subquery uses ungrouped column from outer query".into())
                })?
            }
            Expr::ScalarSubquery(q) => {
                // A second row is an error: none past it is read.
                let rows = cx.executor()?.subquery_rows(q, cx, Some(2))?;
                if rows.len() > 1 {
                    return Err(SqlError::CardinalityViolation(
                        "more than one row returned by a subquery used as an expression".into(),
                    ));
                }
                rows.first()?
                    .and_then(|mut r| (!r.is_empty()).then(|| r.swap_remove(0)))
                    .unwrap_or(Value::Null)
            }
            Expr::Exists { query, negated } => {
                // One row decides it, as PostgreSQL stops an EXISTS subplan at its first.
                let rows = cx.executor()?.subquery_rows(query, cx, Some(1))?;
                Value::Bool(rows.is_empty() == *negated)
            }
            Expr::ArraySubquery(query) => {
                let rows = cx.executor()?.subquery_rows(query, cx, None)?;
                #[allow(clippy::cast_possible_truncation)] // rows the store holds
                let mut items = Vec::with_capacity(rows.len() as usize);
                rows.for_each(&mut |r| {
                    items.push(r[0].clone());
                    Ok(())
                })?;
                Value::Array(items)
            }
            Expr::AnyArray {
                expr,
                op,
                array,
                all,
            } => {
                let x = expr.eval(cx)?;
                let Some(items) = array_operand(array.eval(cx)?)? else {
                    return Ok(Value::Null);
                };
                any_or_all(&items, *all, |item| {
                    Ok(compare_values(&x, item)?.map(|o| compare_holds(*op, o)))
                })?
            }
            Expr::InSubquery {
                expr,
                query,
                negated,
            } => {
                let x = expr.eval(cx)?;
                let exec = cx.executor()?;
                if let Some(set) = exec.in_set(query, cx)? {
                    if set.is_empty() {
                        return Ok(Value::Bool(*negated));
                    }
                    if x.is_null() {
                        return Ok(Value::Null);
                    }
                    if let Some(found) = set.holds(&x) {
                        return Ok(match (found, set.has_null()) {
                            (true, _) => Value::Bool(!negated),
                            (false, true) => Value::Null,
                            (false, false) => Value::Bool(*negated),
                        });
                    }
                }
                let rows = exec.subquery_rows(query, cx, None)?;
                if rows.is_empty() {
                    return Ok(Value::Bool(*negated));
                }
                if x.is_null() {
                    return Ok(Value::Null);
                }
                let (mut saw_null, mut found) = (false, false);
                let read = rows.for_each(&mut |r| {
                    match compare_values(&x, &r[0])? {
                        Some(Ordering::Equal) => {
                            found = true;
                            return Err(SqlError::Enough);
                        }
                        None => saw_null = true,
                        _ => {}
                    }
                    Ok(())
                });
                match read {
                    Err(SqlError::Enough) if found => return Ok(Value::Bool(!negated)),
                    r => r?,
                }
                if saw_null {
                    Value::Null
                } else {
                    Value::Bool(*negated)
                }
            }
            Expr::Param(i) => cx.params.get(*i).cloned().unwrap_or(Value::Null),
            Expr::Agg(i) => cx.aggs[*i].clone(),
            Expr::GroupKey(i) => cx.group_keys[*i].clone(),
            Expr::Window(i) => cx.windows.get(*i).cloned().unwrap_or(Value::Null),
            Expr::Srf(i) => cx.srfs.get(*i).cloned().unwrap_or(Value::Null),
            Expr::Neg(x) => match x.eval(cx)? {
                Value::Null => Value::Null,
                Value::Int(i) => Value::Int(
                    i.checked_neg()
                        .ok_or_else(|| SqlError::NumericOutOfRange("bigint".into()))?,
                ),
                Value::Float(f) => Value::Float(-f),
                Value::Float4(f) => Value::Float4(-f),
                Value::Numeric(n) => Value::Numeric(n.neg()),
                Value::Interval(iv) => Value::Interval(iv.checked_neg()?),
                other => {
                    return Err(SqlError::UndefinedOperator(format!("- {other:?}")));
                }
            },
            Expr::Not(x) => match truth(&x.eval(cx)?)? {
                None => Value::Null,
                Some(b) => Value::Bool(!b),
            },
            Expr::Binary {
                op: BinOp::And,
                left,
                right,
                ..
            } => {
                let l = truth(&left.eval(cx)?)?;
                if l == Some(false) {
                    return Ok(Value::Bool(false));
                }
                match (l, truth(&right.eval(cx)?)?) {
                    (_, Some(false)) => Value::Bool(false),
                    (Some(true), Some(true)) => Value::Bool(true),
                    _ => Value::Null,
                }
            }
            Expr::Binary {
                op: BinOp::Or,
                left,
                right,
                ..
            } => {
                let l = truth(&left.eval(cx)?)?;
                if l == Some(true) {
                    return Ok(Value::Bool(true));
                }
                match (l, truth(&right.eval(cx)?)?) {
                    (_, Some(true)) => Value::Bool(true),
                    (Some(false), Some(false)) => Value::Bool(false),
                    _ => Value::Null,
                }
            }
            Expr::Binary {
                op,
                left,
                right,
                ty,
            } => {
                if let Some(holds) = int_comparison(*op, left, right, cx) {
                    return Ok(Value::Bool(holds));
                }
                let (a, b) = (left.eval_ref(cx)?, right.eval_ref(cx)?);
                if a.is_null() || b.is_null() {
                    return Ok(Value::Null);
                }
                match op {
                    BinOp::Concat if *ty == DataType::Bytea => {
                        let bytes =
                            |v: Cow<'_, Value>| match v.into_owned().cast(DataType::Bytea)? {
                                Value::Bytes(b) => Ok(b),
                                other => Err(SqlError::Internal(format!("not a bytea: {other:?}"))),
                            };
                        let mut out = bytes(a)?;
                        out.extend(bytes(b)?);
                        Value::Bytes(out)
                    }
                    BinOp::Concat => {
                        let mut out = String::new();
                        push_concat_text(&mut out, &a);
                        push_concat_text(&mut out, &b);
                        Value::Text(out)
                    }
                    BinOp::Regex {
                        case_insensitive,
                        negated,
                    } => {
                        let (text, pattern) = (text_of(&a), text_of(&b));
                        Value::Bool(regex_match(&text, &pattern, *case_insensitive)? != *negated)
                    }
                    BinOp::Eq
                    | BinOp::NotEq
                    | BinOp::Lt
                    | BinOp::LtEq
                    | BinOp::Gt
                    | BinOp::GtEq => match compare_values(&a, &b)? {
                        None => Value::Null,
                        Some(o) => Value::Bool(match op {
                            BinOp::Eq => o == Ordering::Equal,
                            BinOp::NotEq => o != Ordering::Equal,
                            BinOp::Lt => o == Ordering::Less,
                            BinOp::LtEq => o != Ordering::Greater,
                            BinOp::Gt => o == Ordering::Greater,
                            _ => o != Ordering::Less,
                        }),
                    },
                    _ if crate::datetime::is_datetime_arith(&a, &b, *ty) => {
                        crate::datetime::arith(*op, &a, &b, *ty)?
                    }
                    _ => arith(*op, &a, &b, *ty)?,
                }
            }
            // A record is NULL when every field is, NOT NULL when none is (both can be false).
            Expr::IsNull { expr, negated } => Value::Bool(match (&*expr.eval_ref(cx)?, negated) {
                (Value::Record(r), false) => r.all_null(),
                (Value::Record(r), true) => r.none_null(),
                (v, negated) => v.is_null() != *negated,
            }),
            Expr::Row {
                fields,
                columns,
                null_when_padded,
            } => {
                let mut vals = Vec::with_capacity(fields.len());
                for f in fields {
                    vals.push(f.eval(cx)?);
                }
                if *null_when_padded && vals.iter().all(Value::is_null) {
                    return Ok(Value::Null);
                }
                Value::Record(Box::new(crate::record::Record {
                    fields: vals,
                    columns: columns.clone(),
                }))
            }
            Expr::Cast { expr, ty } => expr.eval(cx)?.cast(*ty)?,
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let x = expr.eval_ref(cx)?;
                if x.is_null() {
                    return Ok(Value::Null);
                }
                let mut saw_null = false;
                for item in list {
                    match compare_values(&x, &*item.eval_ref(cx)?)? {
                        Some(Ordering::Equal) => return Ok(Value::Bool(!negated)),
                        None => saw_null = true,
                        _ => {}
                    }
                }
                if saw_null {
                    Value::Null
                } else {
                    Value::Bool(*negated)
                }
            }
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } => {
                let x = expr.eval_ref(cx)?;
                let ge = compare_values(&x, &*low.eval_ref(cx)?)?.map(|o| o != Ordering::Less);
                let le = compare_values(&x, &*high.eval_ref(cx)?)?.map(|o| o != Ordering::Greater);
                match (ge, le) {
                    (Some(false), _) | (_, Some(false)) => Value::Bool(*negated),
                    (Some(true), Some(true)) => Value::Bool(!negated),
                    _ => Value::Null,
                }
            }
            Expr::Like {
                expr,
                pattern,
                negated,
                case_insensitive,
                array,
            } => {
                let (x, p) = (expr.eval_ref(cx)?, pattern.eval_ref(cx)?);
                let matches = |s: &str, p: &str| {
                    let m = if *case_insensitive {
                        ilike(s, p)
                    } else {
                        like(s, p)
                    };
                    m != *negated
                };
                let Some(all) = *array else {
                    return Ok(match (text_ref(&x), text_ref(&p)) {
                        (Some(s), Some(p)) => Value::Bool(matches(&s, &p)),
                        _ => Value::Null,
                    });
                };
                let Some(patterns) = array_operand(p.into_owned())? else {
                    return Ok(Value::Null);
                };
                let s = x.to_text();
                any_or_all(&patterns, all, |p| {
                    Ok(s.as_deref().zip(p.to_text()).map(|(s, p)| matches(s, &p)))
                })?
            }
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => {
                let op = match operand {
                    Some(o) => Some(o.eval_ref(cx)?),
                    None => None,
                };
                for (cond, result) in whens {
                    let hit = match &op {
                        Some(v) => {
                            compare_values(v, &*cond.eval_ref(cx)?)? == Some(Ordering::Equal)
                        }
                        None => truth(&*cond.eval_ref(cx)?)? == Some(true),
                    };
                    if hit {
                        return result.eval(cx);
                    }
                }
                match otherwise {
                    Some(o) => o.eval(cx)?,
                    None => Value::Null,
                }
            }
            Expr::Func { name, args } => eval_func(name, args, cx)?,
        })
    }
}

/// Evaluates a function call. Out of [`Expr::eval`], whose frame every level of a deep
/// expression holds (an AND of many terms): the functions' temporaries live here instead.
/// Functions that take a bpchar as a bpchar: they keep its padding (`octet_length`, `concat`,
/// `format` and the json builders print it; `coalesce`, `greatest`, an array constructor return it; the
/// length casts apply to it). Every other function takes its text, PostgreSQL's implicit cast
/// from bpchar to text, which drops the trailing blanks.
const BPCHAR_FUNCTIONS: &[&str] = &[
    "agg_args",
    "arr_build",
    "bpchar_length",
    "coalesce",
    "concat",
    "concat_ws",
    "fn_octet_length",
    "fn_format",
    "fn_greatest",
    "fn_least",
    "js_build_array",
    "js_build_array_b",
    "js_build_object",
    "js_build_object_b",
    "js_to_json",
    "js_to_jsonb",
    "nullif",
    "octet_length",
    "typmod",
    "varchar_length",
];

/// Casts the bpchar arguments of a call to `name` to text unless `name` is one of
/// [`BPCHAR_FUNCTIONS`].
fn bpchar_args_to_text(name: &str, vals: &mut [Value]) {
    if BPCHAR_FUNCTIONS.contains(&name) {
        return;
    }
    for v in vals {
        if let Value::Bpchar(s) = v {
            let trimmed = crate::types::bpchar_trim(s).len();
            let mut s = std::mem::take(s);
            s.truncate(trimmed);
            *v = Value::Text(s);
        }
    }
}

#[inline(never)]
fn eval_func(name: &&'static str, args: &[Expr], cx: &EvalContext<'_>) -> SqlResult<Value> {
    // A call of one argument reads it where it lies when it is a column or a constant (most
    // calls made per row): it is not copied for the call.
    if *name == "coalesce" {
        // Its arguments are evaluated in order until one is not NULL, as PostgreSQL's
        // COALESCE does; of the rest, only those PostgreSQL folds to a constant when it plans
        // the statement (`'a'::int`, `1/0`) are evaluated, for the error they may raise there.
        for (i, a) in args.iter().enumerate() {
            let v = a.eval_ref(cx)?;
            if !v.is_null() {
                for later in &args[i + 1..] {
                    if folds_when_planned(later) {
                        later.eval(cx)?;
                    }
                }
                return Ok(v.into_owned());
            }
        }
        return Ok(Value::Null);
    }
    if let [arg] = args
        && *name != "agg_args"
    {
        let v = arg.eval_ref(cx)?;
        if !matches!(*v, Value::Bpchar(_)) || BPCHAR_FUNCTIONS.contains(name) {
            return call_func(name, std::slice::from_ref(&*v), cx);
        }
    }
    // The arguments of a call with few of them (nearly every call) are held on the stack: a
    // function called per row allocates nothing to pass them.
    const ON_STACK: usize = 4;
    let mut held = [const { Value::Null }; ON_STACK];
    let mut many = Vec::new();
    let vals: &mut [Value] = if args.len() <= ON_STACK {
        for (slot, a) in held.iter_mut().zip(args) {
            *slot = a.eval(cx)?;
        }
        &mut held[..args.len()]
    } else {
        for a in args {
            many.push(a.eval(cx)?);
        }
        &mut many
    };
    bpchar_args_to_text(name, vals);
    match *name {
        // The arguments of a two-argument aggregate, carried to its accumulator as one value.
        "agg_args" => Ok(Value::Array(vals.iter_mut().map(std::mem::take).collect())),
        _ => call_func(name, vals, cx),
    }
}

/// Whether PostgreSQL evaluates `e` when it plans the statement (its constant folding): a
/// constant, and casts, signs, operators and functions of a stable value over constants.
fn folds_when_planned(e: &Expr) -> bool {
    match e {
        Expr::Literal(_) => true,
        Expr::Cast { expr, .. } | Expr::Neg(expr) => folds_when_planned(expr),
        Expr::Binary { left, right, .. } => folds_when_planned(left) && folds_when_planned(right),
        Expr::Func { name, args } => {
            crate::query::same_value_per_call(name) && args.iter().all(folds_when_planned)
        }
        _ => false,
    }
}

/// [`eval_func`] over the arguments' values (bpchar arguments already cast to text for the
/// functions that take text).
fn call_func(name: &&'static str, vals: &[Value], cx: &EvalContext<'_>) -> SqlResult<Value> {
    if name.starts_with("fn_") {
        return crate::functions::eval(name, vals, cx.session);
    }
    if matches!(*name, "nextval" | "currval" | "setval" | "lastval") && cx.exec.is_none() {
        return Err(SqlError::FeatureNotSupported(format!(
            "{name}() in this context"
        )));
    }
    if let Some(exec) = cx.exec
        && let Some(v) = crate::sequence::eval(name, vals, exec.engine, exec.txn, exec.sequences)?
    {
        return Ok(v);
    }
    if let Some(v) = crate::catalog_views::eval_function(name, vals, cx)? {
        return Ok(v);
    }
    if let Some(v) = typed_eval(name, vals)? {
        return Ok(v);
    }
    Ok(match *name {
        "nullif" => {
            if compare_values(&vals[0], &vals[1])? == Some(Ordering::Equal) {
                Value::Null
            } else {
                vals[0].clone()
            }
        }
        "version" => Value::Text(VERSION_STRING.into()),
        "concat" => Value::Text(
            vals.iter()
                .filter_map(Value::to_text)
                .collect::<Vec<_>>()
                .concat(),
        ),
        "concat_ws" => match vals[0].to_text() {
            None => Value::Null,
            Some(sep) => Value::Text(
                vals[1..]
                    .iter()
                    .filter_map(Value::to_text)
                    .collect::<Vec<_>>()
                    .join(&sep),
            ),
        },
        "repeat" | "reverse" | "left" | "right" | "replace" | "strpos" | "split_part"
        | "initcap" | "lpad" | "rpad" => text_function(name, vals)?,
        "current_database" => Value::Text(cx.session.database.clone()),
        "pg_backend_pid" => Value::Int(i64::from(cx.session.backend_pid)),
        _ => match (*name, &vals[0]) {
            (_, Value::Null) => Value::Null,
            ("lower", v) => Value::Text(v.to_text().unwrap_or_default().to_lowercase()),
            ("upper", v) => Value::Text(v.to_text().unwrap_or_default().to_uppercase()),
            ("length", Value::Bytes(b)) => Value::Int(b.len() as i64),
            ("length", Value::Text(t)) => Value::Int(t.chars().count() as i64),
            ("length", v) => Value::Int(v.to_text().unwrap_or_default().chars().count() as i64),
            ("int_not", Value::Int(a)) => Value::Int(!a),
            (
                "int_and" | "int_or" | "int_xor" | "int_shl2" | "int_shl4" | "int_shl8"
                | "int_shr2" | "int_shr4" | "int_shr8",
                Value::Int(a),
            ) => match &vals[1] {
                Value::Null => Value::Null,
                Value::Int(b) => {
                    let (a, b) = (*a, *b);
                    // Shift counts wrap as the machine's shifts do (modulo the width).
                    let n = b as u32;
                    Value::Int(match *name {
                        "int_and" => a & b,
                        "int_or" => a | b,
                        "int_xor" => a ^ b,
                        "int_shl2" => i64::from((a as i16).wrapping_shl(n)),
                        "int_shl4" => i64::from((a as i32).wrapping_shl(n)),
                        "int_shl8" => a.wrapping_shl(n),
                        "int_shr2" => i64::from((a as i16).wrapping_shr(n)),
                        "int_shr4" => i64::from((a as i32).wrapping_shr(n)),
                        _ => a.wrapping_shr(n),
                    })
                }
                other => {
                    return Err(SqlError::DatatypeMismatch(format!(
                        "bitwise operator on {other:?}"
                    )));
                }
            },
            ("abs", Value::Int(i)) => Value::Int(
                i.checked_abs()
                    .ok_or_else(|| SqlError::NumericOutOfRange("bigint".into()))?,
            ),
            ("abs", Value::Float(f)) => Value::Float(f.abs()),
            ("abs", Value::Float4(f)) => Value::Float4(f.abs()),
            ("abs", Value::Numeric(n)) => Value::Numeric(n.abs()),
            ("varchar_length" | "bpchar_length", v) => {
                let n = match &vals[1] {
                    Value::Int(n) => *n,
                    _ => 0,
                };
                char_length(v, n, *name == "bpchar_length")
            }
            ("typmod", v) => match &vals[1] {
                Value::Int(t) => {
                    let ty = value_type(v);
                    crate::types::apply_typmod(v.clone(), ty, i32::try_from(*t).unwrap_or(-1))?
                }
                _ => v.clone(),
            },
            (n, _) if n.starts_with("numeric_") || n.starts_with("float_") => math_eval(n, vals)?,
            ("abs_int4", Value::Int(i)) => int_result(i.checked_abs(), DataType::Int4)?,
            (n, v) => return Err(SqlError::UndefinedFunction(format!("{n}({v:?})"))),
        },
    })
}

/// An explicit cast's `varchar(n)` (truncates) or `char(n)` (truncates and pads; a negative `n`
/// is `bpchar` without a length) of `v`, or of each element of an array.
fn char_length(v: &Value, n: i64, bpchar: bool) -> Value {
    match v {
        Value::Null => Value::Null,
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| char_length(v, n, bpchar)).collect())
        }
        v => {
            let text = v.to_text().unwrap_or_default();
            if !bpchar {
                Value::Text(text.chars().take(usize::try_from(n).unwrap_or(0)).collect())
            } else if n < 0 {
                Value::Bpchar(text)
            } else {
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                Value::Bpchar(crate::catalog::pad_to(
                    text.chars().take(n).collect(),
                    u32::try_from(n).unwrap_or(u32::MAX),
                ))
            }
        }
    }
}

/// The date/time and json functions, tried in one call from [`Expr::eval`] (whose frame every
/// level of a deep expression holds).
#[inline(never)]
fn typed_eval(name: &str, vals: &[Value]) -> SqlResult<Option<Value>> {
    if let Some(v) = crate::array::eval_function(name, vals)? {
        return Ok(Some(v));
    }
    if let Some(v) = crate::datetime::eval_function(name, vals)? {
        return Ok(Some(v));
    }
    if let Some(v) = crate::jsonpath::eval_function(name, vals)? {
        return Ok(Some(v));
    }
    crate::json::eval_function(name, vals)
}

/// The strict text functions (NULL in, NULL out), with PostgreSQL 15's semantics.
fn text_function(name: &str, vals: &[Value]) -> SqlResult<Value> {
    if vals.iter().any(Value::is_null) {
        return Ok(Value::Null);
    }
    let text = |i: usize| vals[i].to_text().unwrap_or_default();
    let int = |i: usize| -> SqlResult<i64> {
        match vals[i].clone().cast(DataType::Int8)? {
            Value::Int(n) => Ok(n),
            _ => Err(SqlError::DatatypeMismatch(format!(
                "argument {} of {name} must be an integer",
                i + 1
            ))),
        }
    };
    let too_long = || SqlError::ProgramLimitExceeded("requested length too large".into());
    let s = text(0);
    Ok(Value::Text(match name {
        "repeat" => {
            let n = usize::try_from(int(1)?.max(0)).map_err(|_| too_long())?;
            if s.len().saturating_mul(n) > TEXT_RESULT_BYTES_MAX {
                return Err(too_long());
            }
            s.repeat(n)
        }
        "reverse" => s.chars().rev().collect(),
        "left" | "right" => {
            let n = int(1)?;
            let len = s.chars().count() as i64;
            let keep = if n >= 0 { n.min(len) } else { (len + n).max(0) };
            let keep = usize::try_from(keep).unwrap_or(0);
            if name == "left" {
                s.chars().take(keep).collect()
            } else {
                s.chars().skip(len as usize - keep).collect()
            }
        }
        "replace" => {
            let from = text(1);
            if from.is_empty() {
                s
            } else {
                s.replace(&from, &text(2))
            }
        }
        "strpos" => {
            let sub = text(1);
            return Ok(Value::Int(
                s.find(&sub)
                    .map_or(0, |b| s[..b].chars().count() as i64 + 1),
            ));
        }
        "split_part" => {
            let delim = text(1);
            let n = int(2)?;
            if n == 0 {
                return Err(SqlError::InvalidParameterValue(
                    "field position must not be zero".into(),
                ));
            }
            let parts: Vec<&str> = if delim.is_empty() {
                vec![s.as_str()]
            } else {
                s.split(delim.as_str()).collect()
            };
            let idx = if n > 0 {
                usize::try_from(n - 1).ok()
            } else {
                usize::try_from(parts.len() as i64 + n).ok()
            };
            idx.and_then(|i| parts.get(i))
                .map_or_else(String::new, |p| (*p).to_string())
        }
        "initcap" => {
            let mut out = String::with_capacity(s.len());
            let mut start = true;
            for c in s.chars() {
                if c.is_alphanumeric() {
                    if start {
                        out.extend(c.to_uppercase());
                    } else {
                        out.extend(c.to_lowercase());
                    }
                    start = false;
                } else {
                    out.push(c);
                    start = true;
                }
            }
            out
        }
        _ => {
            // lpad / rpad
            let len = usize::try_from(int(1)?.max(0)).map_err(|_| too_long())?;
            if len > TEXT_RESULT_BYTES_MAX {
                return Err(too_long());
            }
            let fill: Vec<char> = if vals.len() > 2 {
                text(2).chars().collect()
            } else {
                vec![' ']
            };
            let chars: Vec<char> = s.chars().collect();
            if chars.len() >= len || fill.is_empty() {
                chars.into_iter().take(len).collect()
            } else {
                let pad: String = fill.iter().cycle().take(len - chars.len()).collect();
                if name == "lpad" { pad + &s } else { s + &pad }
            }
        }
    }))
}

/// Evaluates the numeric and float math functions [`Binder::math_function`] bound; their
/// arguments arrive cast to `numeric` or `double precision` (and the scale to an integer).
fn math_eval(name: &str, vals: &[Value]) -> SqlResult<Value> {
    if vals.iter().any(Value::is_null) {
        return Ok(Value::Null);
    }
    let num = |i: usize| -> SqlResult<Numeric> {
        match vals[i].clone().cast(DataType::Numeric)? {
            Value::Numeric(n) => Ok(n),
            other => Err(SqlError::Internal(format!(
                "{name}: not a numeric: {other:?}"
            ))),
        }
    };
    let float = |i: usize| -> SqlResult<f64> {
        match vals[i].clone().cast(DataType::Float8)? {
            Value::Float(f) => Ok(f),
            other => Err(SqlError::Internal(format!(
                "{name}: not a float: {other:?}"
            ))),
        }
    };
    let scale = || -> SqlResult<i64> {
        match vals.get(1) {
            None => Ok(0),
            Some(Value::Int(i)) => Ok(*i),
            Some(other) => Err(SqlError::Internal(format!("{name}: scale {other:?}"))),
        }
    };
    Ok(match name {
        "numeric_round" => Value::Numeric(num(0)?.round(scale()?)),
        "numeric_trunc" => Value::Numeric(num(0)?.trunc(scale()?)),
        "numeric_ceil" => Value::Numeric(num(0)?.ceil_floor(true)),
        "numeric_floor" => Value::Numeric(num(0)?.ceil_floor(false)),
        "numeric_sign" => Value::Numeric(num(0)?.sign()),
        "numeric_sqrt" => Value::Numeric(num(0)?.sqrt()?),
        "numeric_power" => Value::Numeric(num(0)?.power(&num(1)?)?),
        "numeric_ln" => Value::Numeric(num(0)?.ln()?),
        "numeric_exp" => Value::Numeric(num(0)?.exp()?),
        "numeric_log" => Value::Numeric(num(0)?.log(&num(1)?)?),
        "numeric_log10" => Value::Numeric(Numeric::from_i64(10).log(&num(0)?)?),
        "numeric_mod" => Value::Numeric(num(0)?.rem(&num(1)?)?),
        "numeric_div" => {
            let (a, b) = (num(0)?, num(1)?);
            // The truncated integer quotient: the remainder's complement, exact.
            let r = a.rem(&b)?;
            let q = a.sub(&r)?.div(&b)?;
            Value::Numeric(q.trunc(0))
        }
        "float_round" => Value::Float(float(0)?.round_ties_even()),
        "float_trunc" => Value::Float(float(0)?.trunc()),
        "float_ceil" => Value::Float(float(0)?.ceil()),
        "float_floor" => Value::Float(float(0)?.floor()),
        "float_sign" => {
            let f = float(0)?;
            Value::Float(if f > 0.0 {
                1.0
            } else if f < 0.0 {
                -1.0
            } else {
                0.0
            })
        }
        "float_sqrt" => {
            let f = float(0)?;
            if f < 0.0 {
                return Err(SqlError::InvalidArgumentForPower(
                    "cannot take square root of a negative number".into(),
                ));
            }
            Value::Float(f.sqrt())
        }
        "float_ln" | "float_log10" => {
            let f = float(0)?;
            if f == 0.0 {
                return Err(SqlError::InvalidArgumentForLog(
                    "cannot take logarithm of zero".into(),
                ));
            }
            if f < 0.0 {
                return Err(SqlError::InvalidArgumentForLog(
                    "cannot take logarithm of a negative number".into(),
                ));
            }
            Value::Float(if name == "float_ln" {
                f.ln()
            } else {
                f.log10()
            })
        }
        "float_exp" => {
            let f = float(0)?;
            let r = f.exp();
            if r.is_infinite() && f.is_finite() {
                return Err(SqlError::NumericValueOutOfRange(
                    "value out of range: overflow".into(),
                ));
            }
            if r == 0.0 && f.is_finite() {
                return Err(SqlError::NumericValueOutOfRange(
                    "value out of range: underflow".into(),
                ));
            }
            Value::Float(r)
        }
        "float_power" => {
            let (x, y) = (float(0)?, float(1)?);
            if x == 0.0 && y < 0.0 {
                return Err(SqlError::InvalidArgumentForPower(
                    "zero raised to a negative power is undefined".into(),
                ));
            }
            if x < 0.0 && y.fract() != 0.0 {
                return Err(SqlError::InvalidArgumentForPower(
                    "a negative number raised to a non-integer power yields a complex result"
                        .into(),
                ));
            }
            let r = x.powf(y);
            if r.is_infinite() && x.is_finite() && y.is_finite() {
                return Err(SqlError::NumericValueOutOfRange(
                    "value out of range: overflow".into(),
                ));
            }
            Value::Float(r)
        }
        _ => return Err(SqlError::UndefinedFunction(format!("{name}()"))),
    })
}

/// Longest text a string function builds (PostgreSQL's limit is 1 GB; a row here is far
/// smaller, so anything past this is refused as PostgreSQL refuses past its own).
const TEXT_RESULT_BYTES_MAX: usize = 64 << 20;

#[cfg(test)]
mod tests {
    use super::like;
    use super::{Value, bpchar_args_to_text, push_concat_text};

    #[test]
    fn functions_take_a_bpchar_as_text_unless_they_keep_it() {
        let mut vals = vec![Value::Bpchar("ab  ".into()), Value::Text("x ".into())];
        bpchar_args_to_text("upper", &mut vals);
        assert_eq!(
            vals,
            vec![Value::Text("ab".into()), Value::Text("x ".into())]
        );
        let mut vals = vec![Value::Bpchar("ab  ".into())];
        bpchar_args_to_text("fn_octet_length", &mut vals);
        assert_eq!(vals, vec![Value::Bpchar("ab  ".into())]);
        let mut out = String::new();
        push_concat_text(&mut out, &Value::Bpchar("a  ".into()));
        push_concat_text(&mut out, &Value::Text("b ".into()));
        assert_eq!(out, "ab ");
    }

    /// Binds `sql` over a scope of table `t` (a int, b text) and evaluates it on `row`.
    fn eval_over_t(sql: &str, row: &[Value], nullable: bool) -> super::SqlResult<Value> {
        use super::{AggMode, Binder, DataType, EvalContext, ScopeColumn, SessionInfo};
        let col = |name: &str, ty| ScopeColumn {
            table: Some("t".into()),
            name: name.into(),
            ty,
            rel_oid: None,
            origin: None,
            source: None,
            hidden: false,
            merged: Vec::new(),
            bpchar: None,
            kind: crate::catalog::TextKind::Text,
            plain_text: false,
            nullable,
        };
        let scope = [col("a", DataType::Int4), col("b", DataType::Text)];
        let dialect = sqlparser::dialect::PostgreSqlDialect {};
        let ast = sqlparser::parser::Parser::new(&dialect)
            .try_with_sql(sql)
            .and_then(|mut p| p.parse_expr())
            .map_err(|e| super::SqlError::Syntax(e.to_string()))?;
        let mut params = Vec::new();
        let e = Binder::new(&scope, &mut params).bind(&ast, &mut AggMode::Forbidden("test"))?;
        let session = SessionInfo::default();
        e.eval(&EvalContext::new(row, &[], &session))
    }

    #[test]
    fn whole_rows_and_row_constructors_are_records() {
        let row = [Value::Int(1), Value::Null];
        let text = |sql: &str| eval_over_t(sql, &row, false).unwrap().to_text();
        assert_eq!(text("t").as_deref(), Some("(1,)"));
        assert_eq!(text("ROW(a, 'x y')").as_deref(), Some("(1,\"x y\")"));
        assert_eq!(text("(t).a").as_deref(), Some("1"));
        assert_eq!(text("(ROW(a, b)).f1").as_deref(), Some("1"));
        assert_eq!(
            text("row_to_json(t)").as_deref(),
            Some(r#"{"a":1,"b":null}"#)
        );
        // A record with some NULL field is neither NULL nor NOT NULL.
        assert_eq!(text("t IS NULL").as_deref(), Some("f"));
        assert_eq!(text("t IS NOT NULL").as_deref(), Some("f"));
        assert_eq!(text("ROW(b, NULL) IS NULL").as_deref(), Some("t"));
        assert!(matches!(
            eval_over_t("(t).zz", &row, false),
            Err(super::SqlError::UndefinedRecordField(_))
        ));
        assert!(matches!(
            eval_over_t("row_to_json(a)", &row, false),
            Err(super::SqlError::UndefinedFunction(_))
        ));
    }

    #[test]
    fn a_padded_outer_join_row_is_null() {
        let padded = [Value::Null, Value::Null];
        assert_eq!(eval_over_t("t", &padded, true).unwrap(), Value::Null);
        // Not on the padded side of a join: a row of NULLs is a record of NULLs.
        assert_eq!(
            eval_over_t("t", &padded, false)
                .unwrap()
                .to_text()
                .as_deref(),
            Some("(,)")
        );
    }

    #[test]
    fn like_patterns() {
        assert!(like("hello", "h%o"));
        assert!(like("hello", "_ello"));
        assert!(!like("hello", "h%x"));
        assert!(like("", "%"));
        assert!(like("a%b", "a\\%b"));
        assert!(!like("axb", "a\\%b"));
        assert!(like("mississippi", "%iss%pi"));
    }
}
