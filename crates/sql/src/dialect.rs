//! Expression and window forms of PostgreSQL's grammar the pinned parser does not read,
//! rewritten into text it does read before the statement is parsed again:
//!
//! ```text
//!   x [NOT] BETWEEN SYMMETRIC a AND b   →  x [NOT] BETWEEN "borealis between symmetric"(a) AND b
//!   x [NOT] BETWEEN ASYMMETRIC a AND b  →  x [NOT] BETWEEN a AND b
//!   trim([LEADING|TRAILING|BOTH] FROM list)         →  pg_catalog.ltrim | rtrim | btrim(list)
//!   trim([LEADING|TRAILING|BOTH] chars FROM s, …)   →  pg_catalog.…trim(s, …, chars)
//!   trim([LEADING|TRAILING|BOTH] s, chars)          →  pg_catalog.…trim(s, chars)
//!   OVER (… ORDER BY k ROWS … EXCLUDE TIES)         →  OVER (… ORDER BY k,
//!                                                       "borealis frame exclude"('ties') ROWS …)
//!   FETCH FIRST -1 ROWS …                           →  FETCH FIRST '-1' ROWS …
//!   FETCH FIRST (expr) ROWS ONLY                    →  LIMIT (expr)
//!   t.*::type                                       →  (t.*)::type
//!   x [I]LIKE ALL (SELECT …)                        →  x [I]LIKE ALL (ARRAY(SELECT …))
//!   AS IDENTITY (START WITH 10 INCREMENT BY 5)      →  AS IDENTITY (INCREMENT BY 5 START WITH 10)
//!   INTERVAL (2) '1.2345 seconds'                   →  '1.2345 seconds'::interval(2)
//! ```
//!
//! The rewrite runs on text that names one of the trigger words (SYMMETRIC, TRIM, EXCLUDE,
//! FETCH, `*::`, LIKE with ALL, IDENTITY, INTERVAL), one form at a time, re-reading the tokens after each (so nested forms are
//! each found), at most `REWRITES_MAX` times. Its token reader is `ddl_parse`'s, which skips
//! strings, quoted names, comments and dollar quotes. (It must run before the parser, not only
//! on its refusals: `BETWEEN SYMMETRIC (a) AND b` parses, as a call of a function `symmetric`.)
//!
//! The `TRIM` forms become the functions PostgreSQL's grammar makes of them (so a result column
//! is named `ltrim`/`rtrim`/`btrim` and a wrong argument count names `pg_catalog.ltrim`, as
//! there). The parser reads only a literal as FETCH FIRST's count: a signed number travels as
//! a string (which the count reads as a number, so a negative one is refused as in
//! PostgreSQL), a bracketed expression of ROWS ONLY as the LIMIT it means. The other two leave a marker: a call of a
//! function whose quoted name no user function has. [`restore`] turns the BETWEEN marker back
//! into PostgreSQL's own expansion of `BETWEEN SYMMETRIC` right after parsing,
//!
//! ```text
//!   x BETWEEN SYMMETRIC a AND b      =  (x BETWEEN a AND b  OR  x BETWEEN b AND a)
//!   x NOT BETWEEN SYMMETRIC a AND b  =  (x NOT BETWEEN a AND b  AND  x NOT BETWEEN b AND a)
//! ```
//!
//! (the operands are evaluated twice, as in PostgreSQL). A window's EXCLUDE has no place in the
//! parsed window specification, so its marker rides as the last ORDER BY key of the window and
//! the window binder takes it out again (`window::take_exclude`); it never reaches a sort. A
//! view keeps the rewritten forms in its stored text, which parses as it is.

use crate::ddl_parse::{Token, tokens};
use sqlparser::ast;
use std::ops::ControlFlow;

/// The marker function of `BETWEEN SYMMETRIC`'s lower bound.
const BETWEEN_SYMMETRIC_MARKER: &str = "borealis between symmetric";
/// The marker function of a window frame's EXCLUDE clause.
const FRAME_EXCLUDE_MARKER: &str = "borealis frame exclude";
/// Most rewrites one statement may take: each removes one form, so a statement needs as many as
/// it has forms.
const REWRITES_MAX: usize = 256;

/// One edit of the text: the byte range replaced and what replaces it.
type Edit = Vec<(std::ops::Range<usize>, String)>;

/// The text with every form above rewritten; `None` when it holds none of them (or its
/// tokens cannot be read: an unterminated string or comment).
#[must_use]
pub fn rewrite(sql: &str) -> Option<String> {
    let lower = sql.to_ascii_lowercase();
    let triggered = [
        "symmetric",
        "trim",
        "exclude",
        "fetch",
        "*::",
        "identity",
        "interval",
    ]
    .iter()
    .any(|w| lower.contains(w))
        || (lower.contains("like") && lower.contains("all"));
    if !triggered {
        return None;
    }
    let mut text = sql.to_string();
    let mut changed = false;
    for _ in 0..REWRITES_MAX {
        let toks = tokens(&text)?;
        let Some(mut edit) = next_edit(&text, &toks) else {
            break;
        };
        // Apply from the back, so the earlier ranges stay where they were.
        edit.sort_by_key(|(r, _)| std::cmp::Reverse(r.start));
        for (range, with) in edit {
            text.replace_range(range, &with);
        }
        changed = true;
    }
    changed.then_some(text)
}

/// The first form found in the tokens, as an edit.
fn next_edit(text: &str, toks: &[(Token, usize)]) -> Option<Edit> {
    let word = |i: usize| match toks.get(i) {
        Some((Token::Word(w), _)) => Some(w.as_str()),
        _ => None,
    };
    let punct = |i: usize, c: char| matches!(toks.get(i), Some((Token::Punct(p), _)) if *p == c);
    for i in 0..toks.len() {
        match word(i) {
            Some("between") => match word(i + 1) {
                Some("asymmetric") => {
                    let at = toks[i + 1].1;
                    return Some(vec![(at..at + "asymmetric".len(), String::new())]);
                }
                Some("symmetric") => {
                    if let Some(edit) = between_symmetric(toks, i + 1) {
                        return Some(edit);
                    }
                }
                _ => {}
            },
            Some("trim") if punct(i + 1, '(') && !(i > 0 && punct(i - 1, '.')) => {
                if let Some(edit) = trim(text, toks, i) {
                    return Some(edit);
                }
            }
            Some("exclude") => {
                if let Some(edit) = frame_exclude(toks, i) {
                    return Some(edit);
                }
            }
            Some("fetch") if matches!(word(i + 1), Some("first" | "next")) => {
                if let Some(edit) = fetch_count(text, toks, i) {
                    return Some(edit);
                }
            }
            // `x LIKE ALL (SELECT …)`: the parser reads `ALL (…)` as a call, whose argument
            // cannot be a query; `ARRAY(SELECT …)` can, and has the same rows as patterns.
            Some("like" | "ilike")
                if word(i + 1) == Some("all")
                    && punct(i + 2, '(')
                    && matches!(word(i + 3), Some("select" | "with" | "values")) =>
            {
                let close = closing(toks, i + 2)?;
                let open = toks[i + 2].1 + 1;
                let end = toks[close].1;
                return Some(vec![(open..open, "ARRAY(".into()), (end..end, ")".into())]);
            }
            // An identity column's sequence options, which PostgreSQL takes in any order and
            // the parser only in one.
            Some("identity") if i > 0 && word(i - 1) == Some("as") && punct(i + 1, '(') => {
                let close = closing(toks, i + 1)?;
                let inner = toks[i + 1].1 + 1..toks[close].1;
                let words: Vec<&str> = text[inner.clone()].split_whitespace().collect();
                if let Some(ordered) = sequence_options_in_order(&words)
                    && ordered != words.join(" ")
                {
                    return Some(vec![(inner, ordered)]);
                }
            }
            // `INTERVAL (p) 'string'`, whose precision the parser drops; the cast it means
            // keeps it.
            Some("interval")
                if punct(i + 1, '(')
                    && matches!(toks.get(i + 2), Some((Token::Literal, _)))
                    && punct(i + 3, ')')
                    && matches!(toks.get(i + 4), Some((Token::Literal, at)) if text[*at..].starts_with('\'')) =>
            {
                let precision = text[toks[i + 2].1..toks[i + 3].1].trim();
                let string = toks[i + 4].1;
                let end = string_end(text, string)?;
                return Some(vec![(
                    toks[i].1..end,
                    format!("{}::interval({precision})", &text[string..end]),
                )]);
            }
            // `t.*::type`: the parser takes `t.*` only as a whole select item.
            Some(_)
                if punct(i + 1, '.')
                    && punct(i + 2, '*')
                    && punct(i + 3, ':')
                    && punct(i + 4, ':')
                    && toks[i + 3].1 == toks[i + 2].1 + 1 =>
            {
                let at = toks[i].1;
                let star = toks[i + 2].1;
                return Some(vec![(at..at, "(".into()), (star + 1..star + 1, ")".into())]);
            }
            _ => {}
        }
    }
    None
}

/// The end (exclusive) of the string literal starting at `start` (a `'`); `''` inside is a
/// quote.
fn string_end(text: &str, start: usize) -> Option<usize> {
    let mut i = start + 1;
    loop {
        i += text.get(i..)?.find('\'')? + 1;
        if !text[i..].starts_with('\'') {
            return Some(i);
        }
        i += 1;
    }
}

/// Sequence options (of `CREATE SEQUENCE` or an identity column) in the order the parser
/// wants them: INCREMENT, MINVALUE, MAXVALUE, START, CACHE, CYCLE, OWNED BY. PostgreSQL takes
/// them in any order, and dumps write START first. `None` if a word starts no option.
pub(crate) fn sequence_options_in_order(words: &[&str]) -> Option<String> {
    let lw: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
    // (order, words) of each option.
    let mut options: Vec<(usize, String)> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let next = lw.get(i + 1).map(String::as_str);
        let (order, n) = match (lw[i].as_str(), next) {
            ("increment", Some("by")) => (0, 3),
            ("increment", _) => (0, 2),
            ("no", Some("minvalue")) => (1, 2),
            ("minvalue", _) => (1, 2),
            ("no", Some("maxvalue")) => (2, 2),
            ("maxvalue", _) => (2, 2),
            ("start", Some("with")) => (3, 3),
            ("start", _) => (3, 2),
            ("cache", _) => (4, 2),
            ("no", Some("cycle")) => (5, 2),
            ("cycle", _) => (5, 1),
            ("owned", Some("by")) => (6, 3),
            _ => return None,
        };
        options.push((order, words.get(i..i + n)?.join(" ")));
        i += n;
    }
    options.sort_by_key(|(o, _)| *o);
    Some(
        options
            .into_iter()
            .map(|(_, o)| o)
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// How a token changes the nesting depth: brackets and CASE … END.
fn depth_step(t: &Token) -> i32 {
    match t {
        Token::Punct('(' | '[') => 1,
        Token::Punct(')' | ']') => -1,
        Token::Word(w) if w == "case" => 1,
        Token::Word(w) if w == "end" => -1,
        _ => 0,
    }
}

/// `BETWEEN SYMMETRIC lo AND`: the lower bound (a `b_expr` in PostgreSQL's grammar, so no
/// AND outside brackets or CASE) is wrapped in the marker.
fn between_symmetric(toks: &[(Token, usize)], symmetric: usize) -> Option<Edit> {
    let mut depth = 0;
    for (t, at) in &toks[symmetric + 1..] {
        if depth == 0 && matches!(t, Token::Word(w) if w == "and") {
            let s = toks[symmetric].1;
            return Some(vec![
                (
                    s..s + "symmetric".len(),
                    format!("\"{BETWEEN_SYMMETRIC_MARKER}\"("),
                ),
                (*at..*at, ") ".into()),
            ]);
        }
        depth += depth_step(t);
        if depth < 0 {
            return None;
        }
    }
    None
}

/// The index of the token closing the bracket opened at `open`.
fn closing(toks: &[(Token, usize)], open: usize) -> Option<usize> {
    let mut depth = 0;
    for (i, (t, _)) in toks.iter().enumerate().skip(open) {
        if matches!(t, Token::Punct('(' | '[')) {
            depth += 1;
        } else if matches!(t, Token::Punct(')' | ']')) {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

/// `trim(…)` in a form the parser lacks, as the function PostgreSQL's grammar calls.
fn trim(text: &str, toks: &[(Token, usize)], at: usize) -> Option<Edit> {
    let close = closing(toks, at + 1)?;
    let mut first = at + 2;
    let name = match &toks.get(first)?.0 {
        Token::Word(w) if w == "leading" => "ltrim",
        Token::Word(w) if w == "trailing" => "rtrim",
        Token::Word(w) if w == "both" => "btrim",
        _ => "btrim",
    };
    if name != "btrim" || matches!(&toks[first].0, Token::Word(w) if w == "both") {
        first += 1;
    }
    if first >= close {
        return None;
    }
    // Top-level FROM and commas of the argument list.
    let mut depth = 0;
    let mut from = None;
    let mut comma = false;
    for (i, (t, _)) in toks.iter().enumerate().take(close).skip(first) {
        if depth == 0 {
            match t {
                Token::Word(w) if w == "from" && from.is_none() => from = Some(i),
                Token::Punct(',') => comma = true,
                _ => {}
            }
        }
        depth += depth_step(t);
    }
    let slice = |a: usize, b: usize| text[toks[a].1..toks[b].1].trim();
    let args = match from {
        // trim([where] FROM list)
        Some(f) if f == first => slice(f + 1, close).to_string(),
        // trim([where] chars FROM list): the characters go last.
        Some(f) if comma => format!("{}, {}", slice(f + 1, close), slice(first, f)),
        // trim([where] s, chars)
        None if comma => slice(first, close).to_string(),
        // The forms the parser reads itself.
        _ => return None,
    };
    if args.is_empty() {
        return None;
    }
    Some(vec![(
        toks[at].1..toks[close].1 + 1,
        format!("pg_catalog.{name}({args})"),
    )])
}

/// `FETCH {FIRST | NEXT} count` with a count the parser does not read: a signed number, or a
/// bracketed expression before `ROW[S] ONLY`.
fn fetch_count(text: &str, toks: &[(Token, usize)], fetch: usize) -> Option<Edit> {
    let count = fetch + 2;
    match &toks.get(count)?.0 {
        Token::Punct('-' | '+') if matches!(toks.get(count + 1)?.0, Token::Literal) => {
            let sign = toks[count].1;
            let end = toks.get(count + 2).map_or(text.len(), |t| t.1);
            let number: String = text[sign..end].split_whitespace().collect();
            Some(vec![(sign..end, format!("'{number}' "))])
        }
        Token::Punct('(') => {
            let close = closing(toks, count)?;
            let word = |i: usize| match toks.get(i) {
                Some((Token::Word(w), _)) => Some(w.as_str()),
                _ => None,
            };
            if !matches!(word(close + 1), Some("row" | "rows")) || word(close + 2) != Some("only") {
                return None;
            }
            let expr = &text[toks[count].1..=toks[close].1];
            let only_end = toks[close + 2].1 + "only".len();
            Some(vec![(toks[fetch].1..only_end, format!("LIMIT {expr}"))])
        }
        _ => None,
    }
}

/// `EXCLUDE {CURRENT ROW | GROUP | TIES | NO OTHERS}` closing a window specification whose
/// frame starts with ROWS, RANGE or GROUPS: the clause goes, its marker joins the ORDER BY.
fn frame_exclude(toks: &[(Token, usize)], at: usize) -> Option<Edit> {
    let word = |i: usize| match toks.get(i) {
        Some((Token::Word(w), _)) => Some(w.as_str()),
        _ => None,
    };
    let (kind, len) = match (word(at + 1), word(at + 2)) {
        (Some("current"), Some("row")) => ("current row", 3),
        (Some("group"), _) => ("group", 2),
        (Some("ties"), _) => ("ties", 2),
        (Some("no"), Some("others")) => ("no others", 3),
        _ => return None,
    };
    let end = at + len;
    if !matches!(toks.get(end), Some((Token::Punct(')'), _))) {
        return None;
    }
    // Back to the specification's opening bracket: its frame word and its ORDER BY.
    let mut depth = 0;
    let mut frame = None;
    let mut order_by = false;
    let mut i = at;
    while i > 0 {
        i -= 1;
        let t = &toks[i].0;
        match t {
            Token::Punct(')' | ']') => depth += 1,
            Token::Punct('(' | '[') if depth == 0 => break,
            Token::Punct('(' | '[') => depth -= 1,
            Token::Word(w) if depth == 0 && matches!(w.as_str(), "rows" | "range" | "groups") => {
                frame.get_or_insert(i);
            }
            Token::Word(w) if depth == 0 && w == "order" && word(i + 1) == Some("by") => {
                order_by = true;
            }
            _ => {}
        }
    }
    let frame = frame?;
    let marker = format!("\"{FRAME_EXCLUDE_MARKER}\"('{kind}')");
    let insert = if order_by {
        format!(", {marker} ")
    } else {
        format!("ORDER BY {marker} ")
    };
    let f = toks[frame].1;
    Some(vec![
        (toks[at].1..toks[end].1, String::new()),
        (f..f, insert),
    ])
}

/// The single argument of a call of `marker`, if `e` is one.
fn marker_argument<'e>(e: &'e ast::Expr, marker: &str) -> Option<&'e ast::Expr> {
    let ast::Expr::Function(f) = e else {
        return None;
    };
    let [ast::ObjectNamePart::Identifier(id)] = f.name.0.as_slice() else {
        return None;
    };
    if id.quote_style != Some('"') || id.value != marker {
        return None;
    }
    let ast::FunctionArguments::List(list) = &f.args else {
        return None;
    };
    match list.args.as_slice() {
        [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(a))] => Some(a),
        _ => None,
    }
}

/// The exclusion a window ORDER BY key stands for (`current row`, `group`, `ties`,
/// `no others`), if it is the EXCLUDE marker.
#[must_use]
pub fn frame_exclude_marker(e: &ast::Expr) -> Option<String> {
    match marker_argument(e, FRAME_EXCLUDE_MARKER)? {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::SingleQuotedString(s) => Some(s.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// Replaces each BETWEEN SYMMETRIC marker in parsed statements by PostgreSQL's expansion.
pub fn restore(stmts: &mut [ast::Statement]) {
    struct Restore;
    impl ast::VisitorMut for Restore {
        type Break = ();
        fn post_visit_expr(&mut self, e: &mut ast::Expr) -> ControlFlow<()> {
            let ast::Expr::Between {
                expr,
                negated,
                low,
                high,
            } = e
            else {
                return ControlFlow::Continue(());
            };
            let Some(lo) = marker_argument(low, BETWEEN_SYMMETRIC_MARKER) else {
                return ControlFlow::Continue(());
            };
            let between = |low: &ast::Expr, high: &ast::Expr| ast::Expr::Between {
                expr: expr.clone(),
                negated: *negated,
                low: Box::new(low.clone()),
                high: Box::new(high.clone()),
            };
            let expanded = ast::Expr::Nested(Box::new(ast::Expr::BinaryOp {
                left: Box::new(between(lo, high)),
                op: if *negated {
                    ast::BinaryOperator::And
                } else {
                    ast::BinaryOperator::Or
                },
                right: Box::new(between(high, lo)),
            }));
            *e = expanded;
            ControlFlow::Continue(())
        }
    }
    for s in stmts {
        let _ = ast::VisitMut::visit(s, &mut Restore);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(sql: &str) -> Vec<ast::Statement> {
        let fixed = rewrite(sql).unwrap_or_else(|| sql.to_string());
        let mut stmts =
            sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::PostgreSqlDialect {}, &fixed)
                .unwrap();
        restore(&mut stmts);
        stmts
    }

    #[test]
    fn an_interval_literal_keeps_its_precision() {
        assert_eq!(
            rewrite("SELECT INTERVAL (2) '1.23456 s', interval(0)'it''s', interval '1 s'").unwrap(),
            "SELECT '1.23456 s'::interval(2), 'it''s'::interval(0), interval '1 s'"
        );
        // Only a string literal after the precision; a string elsewhere is left alone.
        assert_eq!(rewrite("SELECT 'interval(2)', interval '1 s'"), None);
    }

    #[test]
    fn between_symmetric_expands_as_postgresql_does() {
        let s = parse("SELECT x BETWEEN SYMMETRIC (1 + 2) AND CASE WHEN a AND b THEN 1 END AND c");
        assert_eq!(
            s[0].to_string(),
            "SELECT (x BETWEEN (1 + 2) AND CASE WHEN a AND b THEN 1 END \
             OR x BETWEEN CASE WHEN a AND b THEN 1 END AND (1 + 2)) AND c"
        );
        let s = parse("SELECT x NOT BETWEEN symmetric 1 AND 2");
        assert_eq!(
            s[0].to_string(),
            "SELECT (x NOT BETWEEN 1 AND 2 AND x NOT BETWEEN 2 AND 1)"
        );
        assert_eq!(
            parse("SELECT x BETWEEN ASYMMETRIC 1 AND 2")[0].to_string(),
            "SELECT x BETWEEN 1 AND 2"
        );
    }

    #[test]
    fn trim_forms_become_functions() {
        assert_eq!(
            rewrite("SELECT trim(LEADING FROM s), trim(FROM s), trim(both from 'x', 'y')")
                .as_deref(),
            Some("SELECT pg_catalog.ltrim(s), pg_catalog.btrim(s), pg_catalog.btrim('x', 'y')")
        );
        assert_eq!(
            rewrite("SELECT trim(trailing 'ab' from s, t), trim(s, 'x')").as_deref(),
            Some("SELECT pg_catalog.rtrim(s, t, 'ab'), pg_catalog.btrim(s, 'x')")
        );
        // Forms the parser reads itself are left alone, as are strings that look like one.
        assert_eq!(
            rewrite("SELECT trim(leading 'x' from s), 'trim(from s)'"),
            None
        );
        assert_eq!(
            rewrite("SELECT trim(from trim(from s))").as_deref(),
            Some("SELECT pg_catalog.btrim(pg_catalog.btrim(s))")
        );
    }

    #[test]
    fn like_all_over_a_subquery_reads_it_as_an_array() {
        assert_eq!(
            rewrite("SELECT x NOT ILIKE ALL (SELECT p FROM t WHERE (p) <> '') FROM u").as_deref(),
            Some("SELECT x NOT ILIKE ALL (ARRAY(SELECT p FROM t WHERE (p) <> '')) FROM u")
        );
        // An array of patterns, and ALL elsewhere, stay as they are.
        assert_eq!(
            rewrite("SELECT x LIKE ALL (ARRAY['a']) FROM t UNION ALL SELECT 'like'"),
            None
        );
        parse("SELECT 'a' LIKE ALL (ARRAY(SELECT 'a%'))");
    }

    #[test]
    fn fetch_counts_and_whole_row_casts_become_parsable() {
        assert_eq!(
            rewrite("SELECT a FROM t ORDER BY a FETCH FIRST -1 ROWS WITH TIES").as_deref(),
            Some("SELECT a FROM t ORDER BY a FETCH FIRST '-1' ROWS WITH TIES")
        );
        assert_eq!(
            rewrite("SELECT a FROM t OFFSET 1 ROW FETCH NEXT (1 + 1) ROW ONLY").as_deref(),
            Some("SELECT a FROM t OFFSET 1 ROW LIMIT (1 + 1)")
        );
        assert_eq!(rewrite("FETCH NEXT FROM c"), None);
        assert_eq!(
            rewrite("SELECT t.*::text, x FROM t").as_deref(),
            Some("SELECT (t.*)::text, x FROM t")
        );
        for sql in [
            "SELECT a FROM t ORDER BY a FETCH FIRST -1 ROWS WITH TIES",
            "SELECT a FROM t OFFSET 1 ROW FETCH NEXT (1 + 1) ROW ONLY",
            "SELECT t.*::text FROM t",
            "SELECT x BETWEEN SYMMETRIC (1) AND 2",
        ] {
            let fixed = rewrite(sql).unwrap();
            assert!(
                sqlparser::parser::Parser::parse_sql(
                    &sqlparser::dialect::PostgreSqlDialect {},
                    &fixed
                )
                .is_ok(),
                "{fixed}"
            );
        }
    }

    #[test]
    fn frame_exclusion_rides_in_order_by() {
        let s =
            parse("SELECT sum(x) OVER (ORDER BY x ROWS UNBOUNDED PRECEDING EXCLUDE TIES) FROM t");
        let ast::Statement::Query(q) = &s[0] else {
            panic!("not a query")
        };
        let ast::SetExpr::Select(sel) = &*q.body else {
            panic!("not a select")
        };
        let ast::SelectItem::UnnamedExpr(ast::Expr::Function(f)) = &sel.projection[0] else {
            panic!("not a call")
        };
        let Some(ast::WindowType::WindowSpec(spec)) = &f.over else {
            panic!("no window")
        };
        assert_eq!(spec.order_by.len(), 2);
        assert_eq!(
            frame_exclude_marker(&spec.order_by[1].expr).as_deref(),
            Some("ties")
        );
        assert!(spec.window_frame.is_some());
        assert_eq!(
            rewrite("SELECT count(*) OVER (PARTITION BY g ROWS CURRENT ROW EXCLUDE NO OTHERS)")
                .as_deref(),
            Some(
                "SELECT count(*) OVER (PARTITION BY g ORDER BY \"borealis frame exclude\"('no others') ROWS CURRENT ROW )"
            )
        );
        // An EXCLUDE constraint is not a frame's.
        assert_eq!(
            rewrite("CREATE TABLE t (c int, EXCLUDE USING gist (c WITH =))"),
            None
        );
    }
}
