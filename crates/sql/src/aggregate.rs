//! The statistical, bitwise and ordered-set aggregates, with PostgreSQL 15's arithmetic.
//!
//! `crate::query::Accumulator` runs every aggregate; the ones here keep their running state in
//! a boxed `State` so that the accumulator of a plain `count`/`sum` stays small (a hash
//! aggregate holds one accumulator per group and call).
//!
//! - **Variance and standard deviation** (`var_samp`/`variance`, `var_pop`, `stddev_samp`/
//!   `stddev`, `stddev_pop`). Over `float4`/`float8` inputs the state is (N, Sx, Sxx) updated by
//!   the Youngs–Cramer recurrence, as PostgreSQL's `float8_accum`, so the answers agree to the
//!   last bit: Sxx += (x·N − Sx)² / (N·(N−1)) after N and Sx take the new input. Over integer and
//!   `numeric` inputs the state is the exact sums N, Σx and Σx², and the result is
//!   (N·Σx² − (Σx)²) / (N·(N−1)) (or N·N for the population forms) divided at
//!   `select_div_scale`'s scale, and its square root at that same scale, as
//!   `numeric_stddev_internal` computes it. A numerator that rounding made negative gives 0.
//! - **Regression** (`corr`, `covar_pop`, `covar_samp`, `regr_*`) over `(Y, X)` pairs cast to
//!   `float8`: (N, Sx, Sxx, Sy, Syy, Sxy) with the same recurrence (`float8_regr_accum`). A pair
//!   with a NULL is skipped; `regr_count` counts the pairs (0, not NULL, over none).
//! - **Bitwise** `bit_and`, `bit_or`, `bit_xor` over `int2`/`int4`/`int8`, in the input's type.
//! - **Ordered-set** `percentile_cont(f)`, `percentile_disc(f)` and `mode()` with `WITHIN GROUP
//!   (ORDER BY x)`. The accumulator's call-order machinery sorts the inputs (the WITHIN GROUP
//!   key is the call's ORDER BY); NULL keys are dropped, as PostgreSQL does. Each input carries
//!   the direct argument (the fraction, or an array of fractions), which is a constant of the
//!   group: the first one seen is used. `percentile_cont` interpolates linearly between the
//!   rows at ⌊f·(N−1)⌋ and ⌈f·(N−1)⌉ (`float8` or `interval` keys); `percentile_disc` takes the
//!   row at ⌈f·N⌉ (the first for f = 0); `mode` the most frequent value, the first in sort
//!   order among ties.

use crate::error::{SqlError, SqlResult};
use crate::numeric::Numeric;
use crate::types::{DataType, Value};

/// `var_*` and `stddev_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spread {
    VarSamp,
    VarPop,
    StddevSamp,
    StddevPop,
}

/// `corr`, `covar_*` and `regr_*` over (Y, X).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Regr {
    Corr,
    CovarPop,
    CovarSamp,
    AvgX,
    AvgY,
    Count,
    Intercept,
    R2,
    Slope,
    Sxx,
    Sxy,
    Syy,
}

/// `bit_and`, `bit_or`, `bit_xor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bit {
    And,
    Or,
    Xor,
}

/// The ordered-set aggregates (`WITHIN GROUP (ORDER BY …)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ordered {
    PercentileCont,
    PercentileDisc,
    Mode,
}

impl Spread {
    pub(crate) fn from_name(name: &str) -> Option<Spread> {
        Some(match name {
            "var_samp" | "variance" => Spread::VarSamp,
            "var_pop" => Spread::VarPop,
            "stddev_samp" | "stddev" => Spread::StddevSamp,
            "stddev_pop" => Spread::StddevPop,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Spread::VarSamp => "var_samp",
            Spread::VarPop => "var_pop",
            Spread::StddevSamp => "stddev_samp",
            Spread::StddevPop => "stddev_pop",
        }
    }

    fn sample(self) -> bool {
        matches!(self, Spread::VarSamp | Spread::StddevSamp)
    }

    fn root(self) -> bool {
        matches!(self, Spread::StddevSamp | Spread::StddevPop)
    }
}

impl Regr {
    pub(crate) fn from_name(name: &str) -> Option<Regr> {
        Some(match name {
            "corr" => Regr::Corr,
            "covar_pop" => Regr::CovarPop,
            "covar_samp" => Regr::CovarSamp,
            "regr_avgx" => Regr::AvgX,
            "regr_avgy" => Regr::AvgY,
            "regr_count" => Regr::Count,
            "regr_intercept" => Regr::Intercept,
            "regr_r2" => Regr::R2,
            "regr_slope" => Regr::Slope,
            "regr_sxx" => Regr::Sxx,
            "regr_sxy" => Regr::Sxy,
            "regr_syy" => Regr::Syy,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Regr::Corr => "corr",
            Regr::CovarPop => "covar_pop",
            Regr::CovarSamp => "covar_samp",
            Regr::AvgX => "regr_avgx",
            Regr::AvgY => "regr_avgy",
            Regr::Count => "regr_count",
            Regr::Intercept => "regr_intercept",
            Regr::R2 => "regr_r2",
            Regr::Slope => "regr_slope",
            Regr::Sxx => "regr_sxx",
            Regr::Sxy => "regr_sxy",
            Regr::Syy => "regr_syy",
        }
    }
}

impl Bit {
    pub(crate) fn from_name(name: &str) -> Option<Bit> {
        Some(match name {
            "bit_and" => Bit::And,
            "bit_or" => Bit::Or,
            "bit_xor" => Bit::Xor,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Bit::And => "bit_and",
            Bit::Or => "bit_or",
            Bit::Xor => "bit_xor",
        }
    }
}

impl Ordered {
    pub(crate) fn from_name(name: &str) -> Option<Ordered> {
        Some(match name {
            "percentile_cont" => Ordered::PercentileCont,
            "percentile_disc" => Ordered::PercentileDisc,
            "mode" => Ordered::Mode,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Ordered::PercentileCont => "percentile_cont",
            Ordered::PercentileDisc => "percentile_disc",
            Ordered::Mode => "mode",
        }
    }

    /// Whether the call has a direct argument (the fraction): every one but `mode()`.
    pub(crate) fn has_fraction(self) -> bool {
        self != Ordered::Mode
    }
}

/// The running state of one of these aggregates over one group.
#[derive(Debug)]
pub(crate) enum State {
    /// Float inputs: N, Σx and the Youngs–Cramer Sxx.
    FloatSpread {
        n: f64,
        sx: f64,
        sxx: f64,
    },
    /// Integer and numeric inputs: exact N, Σx, Σx².
    NumericSpread {
        n: i64,
        sx: Numeric,
        sxx: Numeric,
    },
    /// (Y, X) pairs.
    Regr {
        n: f64,
        sx: f64,
        sxx: f64,
        sy: f64,
        syy: f64,
        sxy: f64,
    },
    Bits(Option<i64>),
    /// The sorted keys (the call's ORDER BY feeds them in order) and the direct argument.
    Ordered {
        fraction: Option<Value>,
        keys: Vec<Value>,
    },
}

/// Youngs–Cramer: Sxx after N and Sx took `x` (`n_old` is N before).
fn youngs_cramer(n: f64, n_old: f64, sum: f64, x: f64) -> f64 {
    let t = x * n - sum;
    t * t / (n * n_old)
}

impl State {
    /// The state of `func`'s kind; `ty` is the call's result type.
    pub(crate) fn new(func: crate::expr::AggFunc, ty: DataType) -> Option<State> {
        use crate::expr::AggFunc;
        Some(match func {
            AggFunc::Spread(_) if ty == DataType::Numeric => State::NumericSpread {
                n: 0,
                sx: Numeric::zero(),
                sxx: Numeric::zero(),
            },
            AggFunc::Spread(_) => State::FloatSpread {
                n: 0.0,
                sx: 0.0,
                sxx: 0.0,
            },
            AggFunc::Regr(_) => State::Regr {
                n: 0.0,
                sx: 0.0,
                sxx: 0.0,
                sy: 0.0,
                syy: 0.0,
                sxy: 0.0,
            },
            AggFunc::Bit(_) => State::Bits(None),
            AggFunc::Ordered(_) => State::Ordered {
                fraction: None,
                keys: Vec::new(),
            },
            _ => return None,
        })
    }

    /// Takes one non-NULL input of `func`.
    pub(crate) fn add(&mut self, func: crate::expr::AggFunc, v: Value) -> SqlResult<()> {
        use crate::expr::AggFunc;
        match self {
            State::FloatSpread { n, sx, sxx } => {
                let x = float_of(&v)?;
                let n_old = *n;
                *n += 1.0;
                *sx += x;
                if n_old > 0.0 {
                    *sxx += youngs_cramer(*n, n_old, *sx, x);
                } else if !x.is_finite() {
                    *sxx = f64::NAN;
                }
            }
            State::NumericSpread { n, sx, sxx } => {
                let x = match v {
                    Value::Int(i) => Numeric::from_i64(i),
                    Value::Numeric(x) => x,
                    other => {
                        return Err(SqlError::Internal(format!("numeric spread of {other:?}")));
                    }
                };
                *n += 1;
                *sxx = sxx.add(&x.mul(&x)?)?;
                *sx = sx.add(&x)?;
            }
            State::Regr {
                n,
                sx,
                sxx,
                sy,
                syy,
                sxy,
            } => {
                let Value::Array(pair) = v else {
                    return Err(SqlError::Internal("regression input".into()));
                };
                let [y, x] = pair.as_slice() else {
                    return Err(SqlError::Internal("regression input".into()));
                };
                if y.is_null() || x.is_null() {
                    return Ok(());
                }
                let (y, x) = (float_of(y)?, float_of(x)?);
                let n_old = *n;
                *n += 1.0;
                *sx += x;
                *sy += y;
                if n_old > 0.0 {
                    let tx = x * *n - *sx;
                    let ty = y * *n - *sy;
                    let scale = 1.0 / (*n * n_old);
                    *sxx += tx * tx * scale;
                    *syy += ty * ty * scale;
                    *sxy += tx * ty * scale;
                } else {
                    if !x.is_finite() {
                        *sxx = f64::NAN;
                        *sxy = f64::NAN;
                    }
                    if !y.is_finite() {
                        *syy = f64::NAN;
                        *sxy = f64::NAN;
                    }
                }
            }
            State::Bits(acc) => {
                let Value::Int(x) = v else {
                    return Err(SqlError::Internal("bitwise aggregate input".into()));
                };
                let AggFunc::Bit(op) = func else {
                    return Err(SqlError::Internal("bitwise aggregate".into()));
                };
                *acc = Some(match (*acc, op) {
                    (None, _) => x,
                    (Some(a), Bit::And) => a & x,
                    (Some(a), Bit::Or) => a | x,
                    (Some(a), Bit::Xor) => a ^ x,
                });
            }
            State::Ordered { fraction, keys } => {
                let with_fraction = matches!(func, AggFunc::Ordered(o) if o.has_fraction());
                let key = if with_fraction {
                    let Value::Array(mut pair) = v else {
                        return Err(SqlError::Internal("ordered-set input".into()));
                    };
                    if pair.len() != 2 {
                        return Err(SqlError::Internal("ordered-set input".into()));
                    }
                    let key = pair.pop().unwrap_or(Value::Null);
                    if fraction.is_none() {
                        *fraction = pair.pop();
                    }
                    key
                } else {
                    v
                };
                if !key.is_null() {
                    keys.push(key);
                }
            }
        }
        Ok(())
    }

    /// The aggregate's value over the inputs so far (`ty`: the call's result type).
    pub(crate) fn current(&self, func: crate::expr::AggFunc, ty: DataType) -> SqlResult<Value> {
        use crate::expr::AggFunc;
        Ok(match (self, func) {
            (&State::FloatSpread { n, sxx, .. }, AggFunc::Spread(s)) => {
                if n == 0.0 || (s.sample() && n <= 1.0) {
                    return Ok(Value::Null);
                }
                let var = sxx / if s.sample() { n - 1.0 } else { n };
                Value::Float(if s.root() { var.sqrt() } else { var })
            }
            (State::NumericSpread { n, sx, sxx }, AggFunc::Spread(s)) => {
                numeric_spread(s, *n, sx, sxx)?
            }
            (
                &State::Regr {
                    n,
                    sx,
                    sxx,
                    sy,
                    syy,
                    sxy,
                },
                AggFunc::Regr(r),
            ) => regression(r, n, sx, sxx, sy, syy, sxy),
            (State::Bits(acc), _) => acc.map_or(Value::Null, Value::Int),
            (State::Ordered { fraction, keys }, AggFunc::Ordered(o)) => {
                ordered(o, fraction.as_ref(), keys, ty)?
            }
            _ => return Err(SqlError::Internal("aggregate state".into())),
        })
    }
}

fn float_of(v: &Value) -> SqlResult<f64> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Float4(f) => Ok(f64::from(*f)),
        Value::Int(i) => Ok(*i as f64),
        Value::Numeric(n) => Ok(n.to_f64()),
        other => Err(SqlError::Internal(format!("float input {other:?}"))),
    }
}

/// `numeric_stddev_internal`.
fn numeric_spread(s: Spread, n: i64, sx: &Numeric, sxx: &Numeric) -> SqlResult<Value> {
    if n == 0 || (s.sample() && n <= 1) {
        return Ok(Value::Null);
    }
    let count = Numeric::from_i64(n);
    let numerator = count.mul(sxx)?.sub(&sx.mul(sx)?)?;
    if numerator.total_cmp(&Numeric::zero()) != std::cmp::Ordering::Greater {
        return Ok(Value::Numeric(Numeric::zero()));
    }
    let denominator = if s.sample() {
        count.mul(&Numeric::from_i64(n - 1))?
    } else {
        count.mul(&count)?
    };
    let var = numerator.div(&denominator)?;
    Ok(Value::Numeric(if s.root() {
        let scale = var.scale();
        var.sqrt_at(i64::from(scale))?
    } else {
        var
    }))
}

/// The final functions of the `float8_regr_*` family.
fn regression(r: Regr, n: f64, sx: f64, sxx: f64, sy: f64, syy: f64, sxy: f64) -> Value {
    let v = match r {
        Regr::Count => return Value::Int(n as i64),
        _ if n < 1.0 => return Value::Null,
        Regr::Sxx => sxx,
        Regr::Syy => syy,
        Regr::Sxy => sxy,
        Regr::AvgX => sx / n,
        Regr::AvgY => sy / n,
        Regr::CovarPop => sxy / n,
        Regr::CovarSamp if n < 2.0 => return Value::Null,
        Regr::CovarSamp => sxy / (n - 1.0),
        Regr::Corr if sxx == 0.0 || syy == 0.0 => return Value::Null,
        Regr::Corr => sxy / (sxx * syy).sqrt(),
        Regr::R2 if sxx == 0.0 => return Value::Null,
        Regr::R2 if syy == 0.0 => 1.0,
        Regr::R2 => (sxy * sxy) / (sxx * syy),
        Regr::Slope if sxx == 0.0 => return Value::Null,
        Regr::Slope => sxy / sxx,
        Regr::Intercept if sxx == 0.0 => return Value::Null,
        Regr::Intercept => (sy - sx * sxy / sxx) / n,
    };
    Value::Float(v)
}

/// The fraction of a percentile, checked as PostgreSQL checks it.
fn fraction_of(v: &Value) -> SqlResult<Option<f64>> {
    let f = match v {
        Value::Null => return Ok(None),
        other => float_of(other)?,
    };
    if !(0.0..=1.0).contains(&f) {
        return Err(SqlError::NumericValueOutOfRange(format!(
            "percentile value {} is not between 0 and 1",
            crate::types::format_float8(f)
        )));
    }
    Ok(Some(f))
}

/// One percentile of the sorted, non-empty `keys`.
fn percentile(o: Ordered, f: f64, keys: &[Value]) -> SqlResult<Value> {
    let n = keys.len();
    if o == Ordered::PercentileDisc {
        let row = (f * n as f64).ceil() as usize;
        return Ok(keys[row.clamp(1, n) - 1].clone());
    }
    let at = f * (n - 1) as f64;
    let (first, second) = (at.floor() as usize, at.ceil() as usize);
    let (lo, hi) = (&keys[first.min(n - 1)], &keys[second.min(n - 1)]);
    if first == second {
        return Ok(lo.clone());
    }
    let proportion = at - first as f64;
    Ok(match (lo, hi) {
        (Value::Interval(a), Value::Interval(b)) => {
            let diff = b.checked_sub(a)?;
            Value::Interval(a.checked_add(&crate::datetime::interval_mul(&diff, proportion)?)?)
        }
        _ => {
            let (a, b) = (float_of(lo)?, float_of(hi)?);
            Value::Float(a + (b - a) * proportion)
        }
    })
}

fn ordered(o: Ordered, fraction: Option<&Value>, keys: &[Value], ty: DataType) -> SqlResult<Value> {
    if keys.is_empty() {
        return Ok(Value::Null);
    }
    if o == Ordered::Mode {
        let (mut best, mut best_run) = (0usize, 0usize);
        let mut start = 0;
        for i in 1..=keys.len() {
            if i == keys.len() || keys[i].sort_cmp(&keys[start]) != std::cmp::Ordering::Equal {
                if i - start > best_run {
                    best = start;
                    best_run = i - start;
                }
                start = i;
            }
        }
        return Ok(keys[best].clone());
    }
    match fraction {
        None | Some(Value::Null) => Ok(Value::Null),
        Some(Value::Array(fractions)) if ty.is_array() => Ok(Value::Array(
            fractions
                .iter()
                .map(|f| match fraction_of(f)? {
                    None => Ok(Value::Null),
                    Some(f) => percentile(o, f, keys),
                })
                .collect::<SqlResult<_>>()?,
        )),
        Some(f) => match fraction_of(f)? {
            None => Ok(Value::Null),
            Some(f) => percentile(o, f, keys),
        },
    }
}
