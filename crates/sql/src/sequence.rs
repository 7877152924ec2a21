//! Sequences: their definitions in the catalog and the values they hand out.
//!
//! A sequence's definition (type, bounds, increment, start, cycle, owner) is a catalog entry
//! like a table's, written in the creating transaction. Its state — the last value handed out and
//! whether it was handed out (`is_called`) — lives in a B+tree of its own, under one key, and is
//! not transactional: a value `nextval` hands out is never given back, whatever becomes of the
//! transaction that asked for it, as in PostgreSQL.
//!
//! Writing the state for every `nextval` would make every call a commit. Instead, as PostgreSQL's
//! `SEQ_LOG_VALS` does, `nextval` reserves a block of [`SEQUENCE_BLOCK_VALUES`] values at a time:
//! it commits, in a small engine transaction of its own, the *last* value of the block as the
//! state, then hands the block's values out from memory. After a crash the state read back is the
//! end of the block, so the values not yet handed out are skipped and none is handed out twice.
//!
//! ```text
//!   durable state:  last = 64, is_called ──┐
//!   memory:         33 34 35 … 41 │ 42 … 64│  65 … (next block, reserved when 64 is gone)
//!                   handed out    │ left   │
//! ```
//!
//! A value may be handed out before its block's commit is durable. The statement that received
//! it must therefore not be acknowledged before that: the session raises the LSN it waits for to
//! the block's commit LSN (a read-only `SELECT nextval(…)` included), so an acknowledged value is
//! always covered by durable state.

use crate::error::{SqlError, SqlResult};
use crate::types::{DataType, Value};
use borealis_common::Lsn;
use borealis_common::PageId;
use borealis_common::codec::{DecodeError, DecodeResult, Put, Reader};
use borealis_engine::{CATALOG, Engine, Isolation, TreeId, Txn};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ops::Bound;
use std::sync::Mutex;

/// Values reserved by one durable write of a sequence's state (PostgreSQL's `SEQ_LOG_VALS`).
pub const SEQUENCE_BLOCK_VALUES: u32 = 32;
/// First byte of a sequence's catalog entry. Table definitions start with their format version
/// (1 to 4), so the two kinds of entry never read as each other.
pub const SEQUENCE_DEF_TAG: u8 = 0x81;
/// The key of a sequence's state in its tree.
const STATE_KEY: &[u8] = b"s";
const NAME_BYTES_MAX: u32 = 1024;
/// Catalog entries read per scan batch.
const CATALOG_BATCH: usize = 256;

/// A sequence's definition, as `CREATE SEQUENCE` (or a serial or identity column) made it.
#[derive(Clone, Debug, PartialEq)]
pub struct SequenceDef {
    pub name: String,
    /// The schema, from the catalog key (see [`crate::catalog::TableDef::schema`]).
    pub schema: String,
    pub oid: u32,
    /// Holds the state (see the module comment).
    pub tree: TreeId,
    /// `smallint`, `integer` or `bigint`, as PostgreSQL's type OID (21, 23, 20).
    pub type_oid: u32,
    pub start: i64,
    pub increment: i64,
    pub min: i64,
    pub max: i64,
    pub cache: i64,
    pub cycle: bool,
    /// The column that owns the sequence (`OWNED BY`, serial, identity): table OID and column
    /// position. The sequence is dropped with the table.
    pub owned_by: Option<(u32, u32)>,
    /// Made for an identity column.
    pub identity: bool,
}

/// The options of `CREATE SEQUENCE` (and of an identity column), before checking.
#[derive(Clone, Debug, Default)]
pub struct SequenceOptions {
    pub type_oid: Option<u32>,
    pub increment: Option<i64>,
    pub min: Option<Option<i64>>,
    pub max: Option<Option<i64>>,
    pub start: Option<i64>,
    pub cache: Option<i64>,
    pub cycle: Option<bool>,
}

/// The bounds of a sequence type.
fn type_bounds(type_oid: u32) -> (i64, i64) {
    match type_oid {
        21 => (i64::from(i16::MIN), i64::from(i16::MAX)),
        23 => (i64::from(i32::MIN), i64::from(i32::MAX)),
        _ => (i64::MIN, i64::MAX),
    }
}

/// The name `format_type` gives a sequence type.
#[must_use]
pub fn type_name(type_oid: u32) -> &'static str {
    match type_oid {
        21 => "smallint",
        23 => "integer",
        _ => "bigint",
    }
}

/// The SQL type the sequence's values have here (`smallint` is held as `integer`).
#[must_use]
pub fn value_type(type_oid: u32) -> DataType {
    if type_oid == 20 {
        DataType::Int8
    } else {
        DataType::Int4
    }
}

impl SequenceOptions {
    /// Reads `CREATE SEQUENCE`'s option list.
    pub fn from_ast(
        data_type: Option<&sqlparser::ast::DataType>,
        options: &[sqlparser::ast::SequenceOptions],
    ) -> SqlResult<SequenceOptions> {
        use sqlparser::ast::SequenceOptions as O;
        let mut o = SequenceOptions::default();
        if let Some(dt) = data_type {
            o.type_oid = Some(sequence_type(dt)?);
        }
        let conflicting = || SqlError::Syntax("conflicting or redundant options".into());
        for opt in options {
            match opt {
                O::IncrementBy(e, _) => {
                    if o.increment.replace(option_int(e)?).is_some() {
                        return Err(conflicting());
                    }
                }
                O::MinValue(e) => {
                    let v = e.as_ref().map(option_int).transpose()?;
                    if o.min.replace(v).is_some() {
                        return Err(conflicting());
                    }
                }
                O::MaxValue(e) => {
                    let v = e.as_ref().map(option_int).transpose()?;
                    if o.max.replace(v).is_some() {
                        return Err(conflicting());
                    }
                }
                O::StartWith(e, _) => {
                    if o.start.replace(option_int(e)?).is_some() {
                        return Err(conflicting());
                    }
                }
                O::Cache(e) => {
                    if o.cache.replace(option_int(e)?).is_some() {
                        return Err(conflicting());
                    }
                }
                O::Cycle(no) => {
                    // The parser's flag is true for `NO CYCLE`.
                    if o.cycle.replace(!*no).is_some() {
                        return Err(conflicting());
                    }
                }
            }
        }
        Ok(o)
    }

    /// Checks the options as PostgreSQL's `init_params` does and fills in the defaults.
    pub fn define(
        &self,
        name: &str,
        oid: u32,
        tree: TreeId,
        default_type: u32,
    ) -> SqlResult<SequenceDef> {
        let type_oid = self.type_oid.unwrap_or(default_type);
        let (tmin, tmax) = type_bounds(type_oid);
        let increment = self.increment.unwrap_or(1);
        if increment == 0 {
            return Err(SqlError::InvalidParameterValue(
                "INCREMENT must not be zero".into(),
            ));
        }
        let max = match self.max.flatten() {
            Some(m) => m,
            None if increment > 0 => tmax,
            None => -1,
        };
        let min = match self.min.flatten() {
            Some(m) => m,
            None if increment > 0 => 1,
            None => tmin,
        };
        let tname = type_name(type_oid);
        if max < tmin || max > tmax {
            return Err(SqlError::InvalidParameterValue(format!(
                "MAXVALUE ({max}) is out of range for sequence data type {tname}"
            )));
        }
        if min < tmin || min > tmax {
            return Err(SqlError::InvalidParameterValue(format!(
                "MINVALUE ({min}) is out of range for sequence data type {tname}"
            )));
        }
        if min >= max {
            return Err(SqlError::InvalidParameterValue(format!(
                "MINVALUE ({min}) must be less than MAXVALUE ({max})"
            )));
        }
        let start = self.start.unwrap_or(if increment > 0 { min } else { max });
        if start < min {
            return Err(SqlError::InvalidParameterValue(format!(
                "START value ({start}) cannot be less than MINVALUE ({min})"
            )));
        }
        if start > max {
            return Err(SqlError::InvalidParameterValue(format!(
                "START value ({start}) cannot be greater than MAXVALUE ({max})"
            )));
        }
        let cache = self.cache.unwrap_or(1);
        if cache <= 0 {
            return Err(SqlError::InvalidParameterValue(format!(
                "CACHE ({cache}) must be greater than zero"
            )));
        }
        let (schema, name) = crate::namespace::split_key(name);
        Ok(SequenceDef {
            name: name.to_string(),
            schema: schema.to_string(),
            oid,
            tree,
            type_oid,
            start,
            increment,
            min,
            max,
            cache,
            cycle: self.cycle.unwrap_or(false),
            owned_by: None,
            identity: false,
        })
    }
}

/// The type of `CREATE SEQUENCE … AS type`.
fn sequence_type(dt: &sqlparser::ast::DataType) -> SqlResult<u32> {
    use sqlparser::ast::DataType as D;
    match dt {
        D::SmallInt(_) | D::Int2(_) => Ok(21),
        D::Int(_) | D::Integer(_) | D::Int4(_) => Ok(23),
        D::BigInt(_) | D::Int8(_) => Ok(20),
        other => Err(SqlError::InvalidParameterValue(format!(
            "sequence type must be smallint, integer, or bigint, not {other}"
        ))),
    }
}

/// An integer option value (`INCREMENT -1`, `START 10`).
fn option_int(e: &sqlparser::ast::Expr) -> SqlResult<i64> {
    use sqlparser::ast::{Expr, UnaryOperator, Value as V};
    match e {
        Expr::Value(v) => match &v.value {
            V::Number(n, _) => n
                .parse()
                .map_err(|_| SqlError::NumericOutOfRange("value".into())),
            _ => Err(SqlError::Syntax(format!("syntax error at or near \"{e}\""))),
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => option_int(expr)?
            .checked_neg()
            .ok_or_else(|| SqlError::NumericOutOfRange("value".into())),
        Expr::UnaryOp {
            op: UnaryOperator::Plus,
            expr,
        } => option_int(expr),
        _ => Err(SqlError::Syntax(format!("syntax error at or near \"{e}\""))),
    }
}

impl SequenceDef {
    /// The definition's catalog key.
    #[must_use]
    pub fn key(&self) -> String {
        crate::namespace::rel_key(&self.schema, &self.name)
    }

    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.put_u8(SEQUENCE_DEF_TAG);
        b.put_str(&self.name);
        b.put_u32(self.oid);
        b.put_u64(self.tree.0);
        b.put_u32(self.type_oid);
        for v in [self.start, self.increment, self.min, self.max, self.cache] {
            b.put_u64(v as u64);
        }
        b.put_u8(u8::from(self.cycle) | (u8::from(self.identity) << 1));
        match self.owned_by {
            None => b.put_u8(0),
            Some((table, column)) => {
                b.put_u8(1);
                b.put_u32(table);
                b.put_u32(column);
            }
        }
        b
    }

    /// `None` when the entry is not a sequence's.
    pub fn decode(bytes: &[u8]) -> SqlResult<Option<SequenceDef>> {
        if bytes.first() != Some(&SEQUENCE_DEF_TAG) {
            return Ok(None);
        }
        Self::try_decode(bytes)
            .map(Some)
            .map_err(|e| SqlError::Corrupted(format!("sequence definition: {e}")))
    }

    fn try_decode(bytes: &[u8]) -> DecodeResult<SequenceDef> {
        let mut r = Reader::new(bytes);
        r.u8()?;
        let name = r.string(NAME_BYTES_MAX)?;
        let oid = r.u32()?;
        let tree = PageId(r.u64()?);
        let type_oid = r.u32()?;
        if !matches!(type_oid, 20 | 21 | 23) {
            return Err(DecodeError("unknown sequence type".into()));
        }
        let mut v = [0i64; 5];
        for x in &mut v {
            *x = r.u64()? as i64;
        }
        let flags = r.u8()?;
        let owned_by = match r.u8()? {
            0 => None,
            1 => Some((r.u32()?, r.u32()?)),
            _ => return Err(DecodeError("bad owner flag".into())),
        };
        r.finish()?;
        let [start, increment, min, max, cache] = v;
        if increment == 0 || min >= max {
            return Err(DecodeError("bad sequence bounds".into()));
        }
        Ok(SequenceDef {
            name,
            schema: crate::namespace::PUBLIC.into(),
            oid,
            tree,
            type_oid,
            start,
            increment,
            min,
            max,
            cache,
            cycle: flags & 1 != 0,
            owned_by,
            identity: flags & 2 != 0,
        })
    }
}

/// Every sequence the transaction sees, in name order.
pub fn user_sequences(engine: &Engine, txn: &Txn) -> SqlResult<Vec<SequenceDef>> {
    let own_temp = crate::namespace::context().temp_schema;
    let mut out = Vec::new();
    let mut from: Option<Vec<u8>> = None;
    loop {
        let lower = match &from {
            Some(k) => Bound::Excluded(k.as_slice()),
            None => Bound::Included(crate::stats::NAMED_ENTRIES_FROM),
        };
        let batch = engine.scan(txn, CATALOG, lower, Bound::Unbounded, CATALOG_BATCH)?;
        let full = batch.len() == CATALOG_BATCH;
        for (k, v) in &batch {
            if let Some(mut def) = SequenceDef::decode(v)? {
                def.schema = crate::namespace::key_schema(k);
                if !crate::namespace::hidden(&def.schema, &own_temp) {
                    out.push(def);
                }
            }
            from = Some(k.clone());
        }
        if !full {
            return Ok(out);
        }
    }
}

/// The sequence named `name`, if the catalog entry of that name is one.
pub fn lookup_sequence(engine: &Engine, txn: &Txn, name: &str) -> SqlResult<Option<SequenceDef>> {
    match engine.get(txn, CATALOG, name.as_bytes())? {
        Some(bytes) => Ok(SequenceDef::decode(&bytes)?.map(|mut d| {
            d.schema = crate::namespace::split_key(name).0.to_string();
            d
        })),
        None => Ok(None),
    }
}

/// A sequence's state: the last value handed out (or the next, when not `is_called`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SequenceState {
    pub last: i64,
    pub is_called: bool,
}

fn encode_state(s: SequenceState) -> Vec<u8> {
    let mut b = Vec::with_capacity(9);
    b.put_u64(s.last as u64);
    b.put_u8(u8::from(s.is_called));
    b
}

fn decode_state(bytes: &[u8]) -> SqlResult<SequenceState> {
    let corrupt = |e: DecodeError| SqlError::Corrupted(format!("sequence state: {e}"));
    let mut r = Reader::new(bytes);
    let last = r.u64().map_err(corrupt)? as i64;
    let is_called = r.u8().map_err(corrupt)? != 0;
    r.finish().map_err(corrupt)?;
    Ok(SequenceState { last, is_called })
}

/// A sequence's state in memory.
#[derive(Clone, Copy, Debug)]
struct Cached {
    state: SequenceState,
    /// Values after `state.last` covered by the durable state (0: the next `nextval` reserves).
    reserved: u32,
    /// The commit of the durable state that covers the values handed out.
    lsn: Option<Lsn>,
}

/// The states of the instance's sequences, shared by its sessions.
#[derive(Default)]
pub struct Sequences {
    cached: Mutex<HashMap<TreeId, Cached>>,
}

impl Sequences {
    /// Commits `state` as the durable state of `tree`, in a transaction of its own.
    fn write_state(engine: &Engine, tree: TreeId, state: SequenceState) -> SqlResult<Option<Lsn>> {
        let mut t = engine.begin_with(Isolation::ReadCommitted);
        if let Err(e) = engine.put(&mut t, tree, STATE_KEY, &encode_state(state)) {
            engine.rollback(t);
            return Err(e.into());
        }
        Ok(engine.commit(t)?)
    }

    /// The durable state (the start value, not called, before the first write).
    fn read_state(engine: &Engine, def: &SequenceDef) -> SqlResult<SequenceState> {
        let t = engine.begin_with(Isolation::ReadCommitted);
        let r = engine.get(&t, def.tree, STATE_KEY);
        engine.rollback(t);
        Ok(match r? {
            Some(b) => decode_state(&b)?,
            None => SequenceState {
                last: def.start,
                is_called: false,
            },
        })
    }

    fn cached(
        &self,
        engine: &Engine,
        def: &SequenceDef,
    ) -> SqlResult<std::sync::MutexGuard<'_, HashMap<TreeId, Cached>>> {
        let mut map = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if let std::collections::hash_map::Entry::Vacant(e) = map.entry(def.tree) {
            let state = Self::read_state(engine, def)?;
            e.insert(Cached {
                state,
                reserved: 0,
                lsn: None,
            });
        }
        Ok(map)
    }

    /// The next value of `def`, and the commit LSN that must be durable before it is shown.
    pub fn next(&self, engine: &Engine, def: &SequenceDef) -> SqlResult<(i64, Option<Lsn>)> {
        let mut map = self.cached(engine, def)?;
        let c = map.get_mut(&def.tree).expect("loaded above");
        let in_bounds = |v: i64| v >= def.min && v <= def.max;
        let next = if c.state.is_called {
            match c.state.last.checked_add(def.increment) {
                Some(v) if in_bounds(v) => v,
                _ if def.cycle => {
                    if def.increment > 0 {
                        def.min
                    } else {
                        def.max
                    }
                }
                _ => {
                    let (which, bound) = if def.increment > 0 {
                        ("maximum", def.max)
                    } else {
                        ("minimum", def.min)
                    };
                    return Err(SqlError::SequenceLimit(format!(
                        "nextval: reached {which} value of sequence \"{}\" ({bound})",
                        def.name
                    )));
                }
            }
        } else {
            c.state.last
        };
        let wrapped = c.state.is_called
            && if def.increment > 0 {
                next <= c.state.last
            } else {
                next >= c.state.last
            };
        if c.reserved == 0 || wrapped {
            // Reserve a block: the values from `next` on, up to the bound, none twice.
            let mut end = next;
            let mut more = 0u32;
            while more < SEQUENCE_BLOCK_VALUES - 1 {
                match end.checked_add(def.increment) {
                    Some(v) if in_bounds(v) => {
                        end = v;
                        more += 1;
                    }
                    _ => break,
                }
            }
            let lsn = Self::write_state(
                engine,
                def.tree,
                SequenceState {
                    last: end,
                    is_called: true,
                },
            )?;
            c.reserved = more;
            c.lsn = lsn;
        } else {
            c.reserved -= 1;
        }
        c.state = SequenceState {
            last: next,
            is_called: true,
        };
        Ok((next, c.lsn))
    }

    /// `setval` and `ALTER SEQUENCE … RESTART`: the state becomes `state`, durably at once.
    pub fn set(
        &self,
        engine: &Engine,
        def: &SequenceDef,
        state: SequenceState,
    ) -> SqlResult<Option<Lsn>> {
        let mut map = self.cached(engine, def)?;
        let lsn = Self::write_state(engine, def.tree, state)?;
        map.insert(
            def.tree,
            Cached {
                state,
                reserved: 0,
                lsn,
            },
        );
        Ok(lsn)
    }

    /// The state as `pg_sequences.last_value` and `SELECT … FROM seq` see it.
    pub fn peek(&self, engine: &Engine, def: &SequenceDef) -> SqlResult<SequenceState> {
        let map = self.cached(engine, def)?;
        Ok(map.get(&def.tree).expect("loaded above").state)
    }

    /// Forgets a dropped sequence.
    pub fn forget(&self, tree: TreeId) {
        self.cached
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&tree);
    }
}

/// A session's view of sequences: `currval` per sequence, `lastval`, and the LSN its next
/// acknowledgement must wait for.
#[derive(Default)]
pub struct SessionSequences {
    currvals: RefCell<HashMap<u32, i64>>,
    last_used: Cell<Option<u32>>,
    /// The greatest commit LSN of the sequence blocks whose values this session received since
    /// its last acknowledged commit.
    wait_lsn: Cell<Option<Lsn>>,
}

impl SessionSequences {
    pub(crate) fn note_lsn(&self, lsn: Option<Lsn>) {
        if let Some(l) = lsn
            && self.wait_lsn.get().is_none_or(|w| w < l)
        {
            self.wait_lsn.set(Some(l));
        }
    }

    /// Takes the LSN the statement's acknowledgement must wait for.
    pub fn take_wait_lsn(&self) -> Option<Lsn> {
        self.wait_lsn.take()
    }
}

/// What a function evaluation needs to reach sequences.
#[derive(Clone, Copy)]
pub struct SequenceAccess<'a> {
    pub shared: &'a Sequences,
    pub session: &'a SessionSequences,
}

/// Resolves a `regclass` argument (a name, or an OID) to a sequence.
fn resolve(engine: &Engine, txn: &Txn, arg: &Value) -> SqlResult<SequenceDef> {
    match arg {
        Value::Text(t) => {
            let (schema, name) = crate::namespace::split_text_name(t);
            let key = crate::namespace::find_parts(engine, txn, schema.as_deref(), &name)?;
            match key {
                Some(k) => match lookup_sequence(engine, txn, &k)? {
                    Some(d) => Ok(d),
                    None => Err(SqlError::WrongObjectType(format!(
                        "\"{name}\" is not a sequence"
                    ))),
                },
                None if crate::namespace::find_index(engine, txn, schema.as_deref(), &name)?
                    .is_some() =>
                {
                    Err(SqlError::WrongObjectType(format!(
                        "\"{name}\" is not a sequence"
                    )))
                }
                None => Err(SqlError::UndefinedTable(t.clone())),
            }
        }
        Value::Int(o) => {
            let found = user_sequences(engine, txn)?
                .into_iter()
                .find(|d| i64::from(d.oid) == *o);
            match found {
                Some(d) => Ok(d),
                None => {
                    let name = crate::catalog_views::relation_name_of_oid(engine, txn, *o)?;
                    match name {
                        Some(n) => Err(SqlError::WrongObjectType(format!(
                            "\"{n}\" is not a sequence"
                        ))),
                        None => Err(SqlError::UndefinedTable(format!("with OID {o}"))),
                    }
                }
            }
        }
        other => Err(SqlError::DatatypeMismatch(format!(
            "sequence argument {other:?} is not a name"
        ))),
    }
}

/// Evaluates `nextval`, `currval`, `setval` and `lastval`; `None` for other names.
pub fn eval(
    name: &str,
    vals: &[Value],
    engine: &Engine,
    txn: &Txn,
    access: Option<SequenceAccess<'_>>,
) -> SqlResult<Option<Value>> {
    if !matches!(name, "nextval" | "currval" | "setval" | "lastval") {
        return Ok(None);
    }
    if vals.first().is_some_and(Value::is_null) || vals.get(1).is_some_and(Value::is_null) {
        return Ok(Some(Value::Null));
    }
    let access = access.ok_or_else(|| {
        SqlError::FeatureNotSupported(format!("{name}() in this kind of statement"))
    })?;
    let value = match name {
        "nextval" => {
            let def = resolve(engine, txn, &vals[0])?;
            let (v, lsn) = access.shared.next(engine, &def)?;
            access.session.note_lsn(lsn);
            access.session.currvals.borrow_mut().insert(def.oid, v);
            access.session.last_used.set(Some(def.oid));
            v
        }
        "currval" => {
            let def = resolve(engine, txn, &vals[0])?;
            match access.session.currvals.borrow().get(&def.oid) {
                Some(v) => *v,
                None => {
                    return Err(SqlError::ObjectNotInPrerequisiteState(format!(
                        "currval of sequence \"{}\" is not yet defined in this session",
                        def.name
                    )));
                }
            }
        }
        "lastval" => {
            let undefined = || {
                SqlError::ObjectNotInPrerequisiteState(
                    "lastval is not yet defined in this session".into(),
                )
            };
            let oid = access.session.last_used.get().ok_or_else(undefined)?;
            let exists = user_sequences(engine, txn)?.iter().any(|d| d.oid == oid);
            if !exists {
                return Err(undefined());
            }
            *access
                .session
                .currvals
                .borrow()
                .get(&oid)
                .ok_or_else(undefined)?
        }
        _ => {
            let def = resolve(engine, txn, &vals[0])?;
            let Value::Int(v) = vals[1] else {
                return Err(SqlError::DatatypeMismatch(
                    "setval's value must be an integer".into(),
                ));
            };
            let is_called = match vals.get(2) {
                None => true,
                Some(Value::Bool(b)) => *b,
                Some(Value::Null) => return Ok(Some(Value::Null)),
                Some(_) => {
                    return Err(SqlError::DatatypeMismatch(
                        "setval's third argument must be boolean".into(),
                    ));
                }
            };
            if v < def.min || v > def.max {
                return Err(SqlError::NumericValueOutOfRange(format!(
                    "setval: value {v} is out of bounds for sequence \"{}\" ({}..{})",
                    def.name, def.min, def.max
                )));
            }
            let lsn = access
                .shared
                .set(engine, &def, SequenceState { last: v, is_called })?;
            access.session.note_lsn(lsn);
            if is_called {
                access.session.currvals.borrow_mut().insert(def.oid, v);
            }
            v
        }
    };
    Ok(Some(Value::Int(value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_round_trip_and_never_read_as_tables() {
        let o = SequenceOptions {
            increment: Some(-2),
            ..SequenceOptions::default()
        };
        let mut def = o.define("s", 16_400, PageId(8), 20).unwrap();
        assert_eq!((def.min, def.max, def.start), (i64::MIN, -1, -1));
        def.owned_by = Some((16_390, 1));
        let bytes = def.encode();
        assert_eq!(SequenceDef::decode(&bytes).unwrap(), Some(def));
        assert!(crate::catalog::TableDef::decode(&bytes).is_err());
        let bad = SequenceOptions {
            min: Some(Some(5)),
            max: Some(Some(3)),
            ..SequenceOptions::default()
        };
        assert_eq!(
            bad.define("s", 1, PageId(1), 20).unwrap_err().to_string(),
            "MINVALUE (5) must be less than MAXVALUE (3)"
        );
    }
}
