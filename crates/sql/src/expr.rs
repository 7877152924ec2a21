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
use crate::types::{DataType, Value, parse_text};
use sqlparser::ast;
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
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggFunc {
    CountStar,
    Count,
    Sum,
    Avg,
    Min,
    Max,
}

/// An aggregate call found while binding; its result lands in a slot.
#[derive(Clone, Debug)]
pub struct AggCall {
    pub func: AggFunc,
    pub arg: Option<Expr>,
    pub distinct: bool,
    pub ty: DataType,
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
}

/// How aggregates and plain columns are treated while binding.
pub enum AggMode<'a> {
    /// Aggregates are an error (WHERE, VALUES, UPDATE SET).
    Forbidden(&'static str),
    /// Aggregates become slots; bare columns must match a GROUP BY expression.
    Collect {
        group_by: &'a [(String, DataType)],
        aggs: &'a mut Vec<AggCall>,
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

/// Maps a SQL type name to one of ours.
pub fn data_type(dt: &ast::DataType) -> SqlResult<DataType> {
    use ast::DataType as D;
    Ok(match dt {
        D::Int(_) | D::Integer(_) | D::Int4(_) => DataType::Int4,
        D::BigInt(_) | D::Int8(_) => DataType::Int8,
        D::Text | D::String(_) => DataType::Text,
        // The declared length of varchar(n) / char(n) is accepted but not enforced yet, and
        // char(n) is not blank-padded: both are stored as text.
        D::Varchar(_) | D::CharacterVarying(_) | D::Char(_) | D::Character(_) => DataType::Text,
        D::Boolean | D::Bool => DataType::Bool,
        D::DoublePrecision | D::Float8 | D::Double(_) => DataType::Float8,
        other => return Err(SqlError::FeatureNotSupported(format!("type {other}"))),
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

    fn bind_depth(
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
                return Ok(Expr::GroupKey(i));
            }
        }
        let d = depth + 1;
        use ast::Expr as E;
        Ok(match e {
            E::Identifier(id) => self.column(None, &ident_name(id), mode)?,
            E::CompoundIdentifier(parts) if parts.len() >= 2 => {
                let table = ident_name(&parts[parts.len() - 2]);
                self.column(Some(&table), &ident_name(&parts[parts.len() - 1]), mode)?
            }
            E::Value(v) => self.literal(&v.value)?,
            E::Nested(inner) => self.bind_depth(inner, mode, d)?,
            E::UnaryOp { op, expr } => {
                let inner = self.bind_depth(expr, mode, d)?;
                match op {
                    ast::UnaryOperator::Minus => match inner {
                        Expr::Literal(Value::Int(i)) => Expr::Literal(Value::Int(-i)),
                        Expr::Literal(Value::Float(f)) => Expr::Literal(Value::Float(-f)),
                        other => Expr::Neg(Box::new(other)),
                    },
                    ast::UnaryOperator::Plus => inner,
                    ast::UnaryOperator::Not => Expr::Not(Box::new(inner)),
                    other => {
                        return Err(SqlError::FeatureNotSupported(format!("operator {other}")));
                    }
                }
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
                    other => {
                        return Err(SqlError::FeatureNotSupported(format!("operator {other}")));
                    }
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
            E::Cast {
                expr,
                data_type: dt,
                ..
            } => {
                let ty = data_type(dt)?;
                let inner = self.bind_depth(expr, mode, d)?;
                if let Expr::Param(i) = inner {
                    self.set_param(i, ty);
                }
                Expr::Cast {
                    expr: Box::new(inner),
                    ty,
                }
            }
            E::InList {
                expr,
                list,
                negated,
            } => {
                let x = self.bind_depth(expr, mode, d)?;
                let mut items = Vec::with_capacity(list.len());
                for item in list {
                    let b = self.bind_depth(item, mode, d)?;
                    self.unify(&x, &b)?;
                    items.push(b);
                }
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
                any: false,
            }
            | E::ILike {
                negated,
                expr,
                pattern,
                escape_char: None,
                any: false,
            } => {
                let x = self.bind_depth(expr, mode, d)?;
                let p = self.bind_depth(pattern, mode, d)?;
                for side in [&x, &p] {
                    if let Expr::Param(i) = side {
                        self.set_param(*i, DataType::Text);
                    }
                }
                Expr::Like {
                    expr: Box::new(x),
                    pattern: Box::new(p),
                    negated: *negated,
                    case_insensitive: matches!(e, E::ILike { .. }),
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
                let otherwise = match else_result {
                    Some(x) => Some(Box::new(self.bind_depth(x, mode, d)?)),
                    None => None,
                };
                Expr::Case {
                    operand,
                    whens,
                    otherwise,
                }
            }
            E::Function(f) => self.function(f, mode, d)?,
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
            if c.name == name && (table.is_none() || c.table.as_deref() == table) {
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
                    if c.name == name && (table.is_none() || c.table.as_deref() == table) {
                        if hit.is_some() {
                            return Err(SqlError::AmbiguousColumn(name.into()));
                        }
                        hit = Some(i);
                    }
                }
                if let Some(index) = hit {
                    let depth = self.outer.len() - k;
                    self.outer_depth_used = self.outer_depth_used.max(depth);
                    return Ok(Expr::Outer { depth, index });
                }
            }
            let full = match table {
                Some(t) => format!("{t}.{name}"),
                None => name.to_string(),
            };
            return Err(SqlError::UndefinedColumn(full));
        };
        if let AggMode::Collect { .. } = mode {
            return Err(SqlError::Grouping(format!(
                "column \"{}\" must appear in the GROUP BY clause or be used in an aggregate function",
                name
            )));
        }
        Ok(Expr::Column(i))
    }

    fn literal(&mut self, v: &ast::Value) -> SqlResult<Expr> {
        use ast::Value as V;
        Ok(Expr::Literal(match v {
            V::Number(n, _) => {
                if let Ok(i) = n.parse::<i64>() {
                    Value::Int(i)
                } else {
                    Value::Float(
                        n.parse::<f64>()
                            .map_err(|_| SqlError::Syntax(format!("invalid number {n}")))?,
                    )
                }
            }
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
            | BinOp::Or => DataType::Bool,
            BinOp::Concat => DataType::Text,
            _ => match (lt.unwrap_or(DataType::Int4), rt.unwrap_or(DataType::Int4)) {
                (DataType::Float8, _) | (_, DataType::Float8) => DataType::Float8,
                (DataType::Int8, _) | (_, DataType::Int8) => DataType::Int8,
                (DataType::Int4, DataType::Int4) => DataType::Int4,
                (a, b) => {
                    return Err(SqlError::UndefinedFunction(format!(
                        "operator does not exist: {} {} {}",
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
                        other => {
                            return Err(SqlError::FeatureNotSupported(format!("argument {other}")));
                        }
                    }
                }
                (args, distinct, star)
            }
            ast::FunctionArguments::Subquery(_) => {
                return Err(SqlError::FeatureNotSupported("subquery arguments".into()));
            }
        };
        let agg = match name.as_str() {
            "count" if star => Some(AggFunc::CountStar),
            "count" => Some(AggFunc::Count),
            "sum" => Some(AggFunc::Sum),
            "avg" => Some(AggFunc::Avg),
            "min" => Some(AggFunc::Min),
            "max" => Some(AggFunc::Max),
            _ => None,
        };
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
                return Ok(Expr::Agg(i));
            }
            let arg = if func == AggFunc::CountStar {
                None
            } else {
                if args.len() != 1 {
                    return Err(SqlError::UndefinedFunction(format!(
                        "{name} with {} arguments",
                        args.len()
                    )));
                }
                // Arguments of an aggregate see the input row, not the groups.
                let mut inner = AggMode::Forbidden("aggregate function calls cannot be nested");
                Some(self.bind_depth(&args[0], &mut inner, d)?)
            };
            let arg_ty = arg.as_ref().and_then(|a| self.type_of(a));
            let ty = match func {
                AggFunc::CountStar | AggFunc::Count => DataType::Int8,
                AggFunc::Sum => match arg_ty {
                    Some(DataType::Int4 | DataType::Int8) => DataType::Int8,
                    Some(DataType::Float8) => DataType::Float8,
                    other => {
                        return Err(SqlError::UndefinedFunction(format!(
                            "sum({})",
                            other.map_or("unknown", DataType::name)
                        )));
                    }
                },
                AggFunc::Avg => match arg_ty {
                    Some(t) if t.is_numeric() => DataType::Float8,
                    other => {
                        return Err(SqlError::UndefinedFunction(format!(
                            "avg({})",
                            other.map_or("unknown", DataType::name)
                        )));
                    }
                },
                AggFunc::Min | AggFunc::Max => arg_ty.unwrap_or(DataType::Text),
            };
            let AggMode::Collect { aggs, .. } = mode else {
                unreachable!("checked above")
            };
            aggs.push(AggCall {
                func,
                arg,
                distinct,
                ty,
                key,
            });
            return Ok(Expr::Agg(aggs.len() - 1));
        }
        if distinct || star {
            return Err(SqlError::UndefinedFunction(format!("{name}(*)")));
        }
        let mut bound = Vec::with_capacity(args.len());
        for a in &args {
            bound.push(self.bind_depth(a, mode, d)?);
        }
        let (fname, arity): (&'static str, Option<usize>) = match name.as_str() {
            "lower" => ("lower", Some(1)),
            "upper" => ("upper", Some(1)),
            "length" | "char_length" => ("length", Some(1)),
            "abs" => ("abs", Some(1)),
            "coalesce" => ("coalesce", None),
            "nullif" => ("nullif", Some(2)),
            "version" => ("version", Some(0)),
            "current_database" => ("current_database", Some(0)),
            "current_schema" => ("current_schema", Some(0)),
            "pg_backend_pid" => ("pg_backend_pid", Some(0)),
            _ => {
                return Err(SqlError::UndefinedFunction(format!(
                    "{name}({})",
                    bound.len()
                )));
            }
        };
        if arity.is_some_and(|n| n != bound.len()) || (fname == "coalesce" && bound.is_empty()) {
            return Err(SqlError::UndefinedFunction(format!(
                "{name} with {} arguments",
                bound.len()
            )));
        }
        if matches!(fname, "lower" | "upper" | "length")
            && let Expr::Param(i) = bound[0]
        {
            self.set_param(i, DataType::Text);
        }
        Ok(Expr::Func {
            name: fname,
            args: bound,
        })
    }

    /// Static type; `None` for untyped NULLs, string literals and parameters not yet known.
    #[must_use]
    pub fn type_of(&self, e: &Expr) -> Option<DataType> {
        match e {
            Expr::Literal(v) => literal_type(v),
            Expr::Column(i) => Some(self.scope[*i].ty),
            Expr::Param(i) => self.params.get(*i).copied().flatten(),
            Expr::Agg(_) | Expr::GroupKey(_) => None,
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
            Expr::Func { name, args } => match *name {
                "length" | "pg_backend_pid" => Some(DataType::Int4),
                "abs" | "coalesce" | "nullif" => args.iter().find_map(|a| self.type_of(a)),
                _ => Some(DataType::Text),
            },
            Expr::Outer { depth, index } => self
                .outer
                .len()
                .checked_sub(*depth)
                .and_then(|k| self.outer.get(k))
                .and_then(|s| s.get(*index))
                .map(|c| c.ty),
            Expr::ScalarSubquery(q) => q.plan.columns.first().map(|c| c.ty),
            Expr::Exists { .. } | Expr::InSubquery { .. } => Some(DataType::Bool),
        }
    }
}

fn op_symbol(op: BinOp) -> &'static str {
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
    }
}

/// What an expression is evaluated against.
#[derive(Clone, Copy)]
pub struct EvalContext<'a> {
    pub row: &'a [Value],
    pub params: &'a [Value],
    pub aggs: &'a [Value],
    pub group_keys: &'a [Value],
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

/// Facts about the session that functions report.
#[derive(Clone, Debug, Default)]
pub struct SessionInfo {
    pub database: String,
    pub backend_pid: i32,
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

fn value_type(v: &Value) -> DataType {
    match v {
        Value::Bool(_) => DataType::Bool,
        Value::Int(_) => DataType::Int8,
        Value::Float(_) => DataType::Float8,
        Value::Null | Value::Text(_) => DataType::Text,
    }
}

fn like(s: &str, p: &str) -> bool {
    let s: Vec<char> = s.chars().collect();
    let p: Vec<char> = p.chars().collect();
    // Iterative matcher with backtracking to the last `%`.
    let (mut i, mut j) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while i < s.len() {
        if j < p.len() && p[j] == '\\' && j + 1 < p.len() && p[j + 1] == s[i] {
            i += 1;
            j += 2;
        } else if j < p.len() && (p[j] == '_' || (p[j] == s[i] && p[j] != '%' && p[j] != '\\')) {
            i += 1;
            j += 1;
        } else if j < p.len() && p[j] == '%' {
            star = Some(j);
            mark = i;
            j += 1;
        } else if let Some(st) = star {
            j = st + 1;
            mark += 1;
            i = mark;
        } else {
            return false;
        }
    }
    while j < p.len() && p[j] == '%' {
        j += 1;
    }
    j == p.len()
}

fn int_result(v: Option<i64>, ty: DataType) -> SqlResult<Value> {
    let name = if ty == DataType::Int4 {
        "integer"
    } else {
        "bigint"
    };
    match v {
        Some(x) if ty != DataType::Int4 || i32::try_from(x).is_ok() => Ok(Value::Int(x)),
        _ => Err(SqlError::NumericOutOfRange(name.into())),
    }
}

fn arith(op: BinOp, a: &Value, b: &Value, ty: DataType) -> SqlResult<Value> {
    let as_num = |v: &Value| -> SqlResult<Value> {
        match v {
            Value::Text(s) => parse_text(
                s,
                if ty == DataType::Float8 {
                    DataType::Float8
                } else {
                    DataType::Int8
                },
            ),
            other => Ok(other.clone()),
        }
    };
    let (a, b) = (as_num(a)?, as_num(b)?);
    if ty == DataType::Float8 {
        let f = |v: &Value| match v {
            Value::Int(i) => Ok(*i as f64),
            Value::Float(f) => Ok(*f),
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
            | Expr::Outer { .. }
            | Expr::ScalarSubquery(_)
            | Expr::Exists { .. } => Vec::new(),
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
            Expr::Func { args, .. } => args.iter_mut().collect(),
        }
    }

    fn children(&self) -> Vec<&Expr> {
        match self {
            Expr::Literal(_)
            | Expr::Column(_)
            | Expr::Param(_)
            | Expr::Agg(_)
            | Expr::GroupKey(_)
            | Expr::Outer { .. }
            | Expr::ScalarSubquery(_)
            | Expr::Exists { .. } => Vec::new(),
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
            Expr::Func { args, .. } => args.iter().collect(),
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
    pub fn eval(&self, cx: &EvalContext<'_>) -> SqlResult<Value> {
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
                let rows = cx.executor()?.subquery_rows(q, cx)?;
                if rows.len() > 1 {
                    return Err(SqlError::CardinalityViolation(
                        "more than one row returned by a subquery used as an expression".into(),
                    ));
                }
                rows.first()
                    .and_then(|r| r.first())
                    .cloned()
                    .unwrap_or(Value::Null)
            }
            Expr::Exists { query, negated } => {
                let rows = cx.executor()?.subquery_rows(query, cx)?;
                Value::Bool(rows.is_empty() == *negated)
            }
            Expr::InSubquery {
                expr,
                query,
                negated,
            } => {
                let x = expr.eval(cx)?;
                let rows = cx.executor()?.subquery_rows(query, cx)?;
                if rows.is_empty() {
                    return Ok(Value::Bool(*negated));
                }
                if x.is_null() {
                    return Ok(Value::Null);
                }
                let mut saw_null = false;
                for r in rows.iter() {
                    match compare_values(&x, &r[0])? {
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
            Expr::Param(i) => cx.params.get(*i).cloned().unwrap_or(Value::Null),
            Expr::Agg(i) => cx.aggs[*i].clone(),
            Expr::GroupKey(i) => cx.group_keys[*i].clone(),
            Expr::Neg(x) => match x.eval(cx)? {
                Value::Null => Value::Null,
                Value::Int(i) => Value::Int(
                    i.checked_neg()
                        .ok_or_else(|| SqlError::NumericOutOfRange("bigint".into()))?,
                ),
                Value::Float(f) => Value::Float(-f),
                other => {
                    return Err(SqlError::UndefinedFunction(format!(
                        "operator does not exist: - {other:?}"
                    )));
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
                let (a, b) = (left.eval(cx)?, right.eval(cx)?);
                if a.is_null() || b.is_null() {
                    return Ok(Value::Null);
                }
                match op {
                    BinOp::Concat => Value::Text(format!(
                        "{}{}",
                        a.to_text().unwrap_or_default(),
                        b.to_text().unwrap_or_default()
                    )),
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
                    _ => arith(*op, &a, &b, *ty)?,
                }
            }
            Expr::IsNull { expr, negated } => Value::Bool(expr.eval(cx)?.is_null() != *negated),
            Expr::Cast { expr, ty } => expr.eval(cx)?.cast(*ty)?,
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let x = expr.eval(cx)?;
                if x.is_null() {
                    return Ok(Value::Null);
                }
                let mut saw_null = false;
                for item in list {
                    match compare_values(&x, &item.eval(cx)?)? {
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
                let x = expr.eval(cx)?;
                let ge = compare_values(&x, &low.eval(cx)?)?.map(|o| o != Ordering::Less);
                let le = compare_values(&x, &high.eval(cx)?)?.map(|o| o != Ordering::Greater);
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
            } => {
                let (x, p) = (expr.eval(cx)?, pattern.eval(cx)?);
                match (x.to_text(), p.to_text()) {
                    (Some(s), Some(p)) => {
                        let m = if *case_insensitive {
                            like(&s.to_lowercase(), &p.to_lowercase())
                        } else {
                            like(&s, &p)
                        };
                        Value::Bool(m != *negated)
                    }
                    _ => Value::Null,
                }
            }
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => {
                let op = match operand {
                    Some(o) => Some(o.eval(cx)?),
                    None => None,
                };
                for (cond, result) in whens {
                    let hit = match &op {
                        Some(v) => compare_values(v, &cond.eval(cx)?)? == Some(Ordering::Equal),
                        None => truth(&cond.eval(cx)?)? == Some(true),
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
            Expr::Func { name, args } => {
                let mut vals = Vec::with_capacity(args.len());
                for a in args {
                    vals.push(a.eval(cx)?);
                }
                match *name {
                    "coalesce" => vals
                        .into_iter()
                        .find(|v| !v.is_null())
                        .unwrap_or(Value::Null),
                    "nullif" => {
                        if compare_values(&vals[0], &vals[1])? == Some(Ordering::Equal) {
                            Value::Null
                        } else {
                            vals[0].clone()
                        }
                    }
                    "version" => Value::Text(VERSION_STRING.into()),
                    "current_database" => Value::Text(cx.session.database.clone()),
                    "current_schema" => Value::Text("public".into()),
                    "pg_backend_pid" => Value::Int(i64::from(cx.session.backend_pid)),
                    _ => match (*name, &vals[0]) {
                        (_, Value::Null) => Value::Null,
                        ("lower", v) => Value::Text(v.to_text().unwrap_or_default().to_lowercase()),
                        ("upper", v) => Value::Text(v.to_text().unwrap_or_default().to_uppercase()),
                        ("length", v) => {
                            Value::Int(v.to_text().unwrap_or_default().chars().count() as i64)
                        }
                        ("abs", Value::Int(i)) => Value::Int(
                            i.checked_abs()
                                .ok_or_else(|| SqlError::NumericOutOfRange("bigint".into()))?,
                        ),
                        ("abs", Value::Float(f)) => Value::Float(f.abs()),
                        (n, v) => return Err(SqlError::UndefinedFunction(format!("{n}({v:?})"))),
                    },
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::like;

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
