//! The run-time settings a session can read and change (`SET`, `SHOW`, `RESET`, `set_config`,
//! `current_setting`, `pg_settings`), described as PostgreSQL 15 describes them.
//!
//! One table, [`SETTINGS`], holds each setting's name as `pg_settings` spells it, its boot value,
//! type, unit, range or allowed values, category and description. A session keeps its values as
//! text, as `SHOW` prints them (`4MB`, `2s`); `pg_settings.setting` shows integers in their base
//! unit (`4096` kB, `2000` ms), as PostgreSQL does.
//!
//! Only settings that change something, or that clients set and read back, are listed; an
//! unknown name is refused with 42704, as PostgreSQL refuses it.

use crate::error::{SqlError, SqlResult};

/// The type of a setting (`pg_settings.vartype`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarType {
    Bool,
    Integer,
    String,
    Enum(&'static [&'static str]),
}

/// One setting as `pg_settings` describes it.
#[derive(Debug)]
pub struct SettingDef {
    /// The name as PostgreSQL spells it (`DateStyle`); sessions key settings in lower case.
    pub name: &'static str,
    pub boot: &'static str,
    pub vartype: VarType,
    /// The base unit of an integer setting (`ms`, `kB`).
    pub unit: Option<&'static str>,
    pub range: Option<(i64, i64)>,
    pub category: &'static str,
    pub short_desc: &'static str,
    /// `user`, or `internal` for a value fixed by the build (reported, never set).
    pub context: &'static str,
    /// Hidden from `pg_settings` and `SHOW ALL`, as PostgreSQL hides it (`is_superuser`).
    pub hidden: bool,
}

const STATEMENT: &str = "Client Connection Defaults / Statement Behavior";
const LOCALE: &str = "Client Connection Defaults / Locale and Formatting";
const PRESET: &str = "Preset Options";
const COMPAT: &str = "Version and Platform Compatibility / Previous PostgreSQL Versions";
const ISOLATIONS: &[&str] = &[
    "serializable",
    "repeatable read",
    "read committed",
    "read uncommitted",
];
const TIMEOUT_RANGE: Option<(i64, i64)> = Some((0, 2_147_483_647));

const fn def(
    name: &'static str,
    boot: &'static str,
    vartype: VarType,
    category: &'static str,
    short_desc: &'static str,
) -> SettingDef {
    SettingDef {
        name,
        boot,
        vartype,
        unit: None,
        range: None,
        category,
        short_desc,
        context: "user",
        hidden: false,
    }
}

const fn timeout(name: &'static str, short_desc: &'static str) -> SettingDef {
    SettingDef {
        unit: Some("ms"),
        range: TIMEOUT_RANGE,
        ..def(name, "0", VarType::Integer, STATEMENT, short_desc)
    }
}

const fn preset(
    name: &'static str,
    boot: &'static str,
    vartype: VarType,
    short_desc: &'static str,
) -> SettingDef {
    SettingDef {
        context: "internal",
        ..def(name, boot, vartype, PRESET, short_desc)
    }
}

/// A planner method switch (`enable_hashjoin` and friends): off makes the planner avoid that
/// method wherever another one can do the work, as PostgreSQL's `disable_cost` does.
const fn planner_method(name: &'static str, short_desc: &'static str) -> SettingDef {
    def(
        name,
        "on",
        VarType::Bool,
        "Query Tuning / Planner Method Configuration",
        short_desc,
    )
}

/// Every setting, in name order (case-insensitive).
pub static SETTINGS: &[SettingDef] = &[
    def(
        "application_name",
        "",
        VarType::String,
        "Reporting and Logging / What to Log",
        "Sets the application name to be reported in statistics and logs.",
    ),
    def(
        "bytea_output",
        "hex",
        VarType::Enum(&["escape", "hex"]),
        STATEMENT,
        "Sets the output format for bytea.",
    ),
    def(
        "check_function_bodies",
        "on",
        VarType::Bool,
        STATEMENT,
        "Check routine bodies during CREATE FUNCTION and CREATE PROCEDURE.",
    ),
    def(
        "client_encoding",
        "UTF8",
        VarType::String,
        LOCALE,
        "Sets the client's character set encoding.",
    ),
    def(
        "client_min_messages",
        "notice",
        VarType::Enum(&[
            "debug5", "debug4", "debug3", "debug2", "debug1", "log", "notice", "warning", "error",
        ]),
        STATEMENT,
        "Sets the message levels that are sent to the client.",
    ),
    def(
        "DateStyle",
        "ISO, MDY",
        VarType::String,
        LOCALE,
        "Sets the display format for date and time values.",
    ),
    def(
        "default_table_access_method",
        "heap",
        VarType::String,
        STATEMENT,
        "Sets the default table access method for new tables.",
    ),
    def(
        "default_tablespace",
        "",
        VarType::String,
        STATEMENT,
        "Sets the default tablespace to create tables and indexes in.",
    ),
    def(
        "default_transaction_isolation",
        "read committed",
        VarType::Enum(ISOLATIONS),
        STATEMENT,
        "Sets the transaction isolation level of each new transaction.",
    ),
    def(
        "default_transaction_read_only",
        "off",
        VarType::Bool,
        STATEMENT,
        "Sets the default read-only status of new transactions.",
    ),
    planner_method(
        "enable_hashjoin",
        "Enables the planner's use of hash join plans.",
    ),
    planner_method(
        "enable_indexonlyscan",
        "Enables the planner's use of index-only-scan plans.",
    ),
    planner_method(
        "enable_indexscan",
        "Enables the planner's use of index-scan plans.",
    ),
    planner_method(
        "enable_mergejoin",
        "Enables the planner's use of merge join plans.",
    ),
    planner_method(
        "enable_nestloop",
        "Enables the planner's use of nested-loop join plans.",
    ),
    planner_method(
        "enable_seqscan",
        "Enables the planner's use of sequential-scan plans.",
    ),
    def(
        "escape_string_warning",
        "on",
        VarType::Bool,
        COMPAT,
        "Warn about backslash escapes in ordinary string literals.",
    ),
    SettingDef {
        range: Some((-15, 3)),
        ..def(
            "extra_float_digits",
            "1",
            VarType::Integer,
            LOCALE,
            "Sets the number of digits displayed for floating-point values.",
        )
    },
    def(
        "force_parallel_mode",
        "off",
        VarType::Enum(&["off", "on", "regress"]),
        "Developer Options",
        "Forces use of parallel query facilities.",
    ),
    timeout(
        "idle_in_transaction_session_timeout",
        "Sets the maximum allowed idle time between queries, when in a transaction.",
    ),
    preset(
        "integer_datetimes",
        "on",
        VarType::Bool,
        "Shows whether datetimes are integer based.",
    ),
    def(
        "IntervalStyle",
        "postgres",
        VarType::Enum(&["postgres", "postgres_verbose", "sql_standard", "iso_8601"]),
        LOCALE,
        "Sets the display format for interval values.",
    ),
    SettingDef {
        hidden: true,
        ..preset(
            "is_superuser",
            "on",
            VarType::Bool,
            "Shows whether the current user is a superuser.",
        )
    },
    timeout(
        "lock_timeout",
        "Sets the maximum allowed duration of any wait for a lock.",
    ),
    SettingDef {
        unit: Some("kB"),
        range: Some((1024, 2_147_483_647)),
        ..def(
            "maintenance_work_mem",
            "64MB",
            VarType::Integer,
            "Resource Usage / Memory",
            "Sets the maximum memory to be used for maintenance operations.",
        )
    },
    SettingDef {
        range: Some((63, 63)),
        ..preset(
            "max_identifier_length",
            "63",
            VarType::Integer,
            "Shows the maximum identifier length.",
        )
    },
    SettingDef {
        range: Some((0, 1024)),
        ..def(
            "max_parallel_workers_per_gather",
            "2",
            VarType::Integer,
            "Resource Usage / Asynchronous Behavior",
            "Sets the maximum number of parallel processes per executor node.",
        )
    },
    def(
        "quote_all_identifiers",
        "off",
        VarType::Bool,
        COMPAT,
        "When generating SQL fragments, quote all identifiers.",
    ),
    def(
        "row_security",
        "on",
        VarType::Bool,
        STATEMENT,
        "Enable row security.",
    ),
    def(
        "search_path",
        "\"$user\", public",
        VarType::String,
        STATEMENT,
        "Sets the schema search order for names that are not schema-qualified.",
    ),
    preset(
        "server_encoding",
        "UTF8",
        VarType::String,
        "Shows the server (database) character set encoding.",
    ),
    preset(
        "server_version",
        "15.8",
        VarType::String,
        "Shows the server version.",
    ),
    SettingDef {
        range: Some((150_008, 150_008)),
        ..preset(
            "server_version_num",
            "150008",
            VarType::Integer,
            "Shows the server version as an integer.",
        )
    },
    def(
        "standard_conforming_strings",
        "on",
        VarType::Bool,
        COMPAT,
        "Causes '...' strings to treat backslashes literally.",
    ),
    timeout(
        "statement_timeout",
        "Sets the maximum allowed duration of any statement.",
    ),
    def(
        "synchronize_seqscans",
        "on",
        VarType::Bool,
        COMPAT,
        "Enable synchronized sequential scans.",
    ),
    def(
        "synchronous_commit",
        "on",
        VarType::Enum(&["local", "remote_write", "remote_apply", "on", "off"]),
        "Write-Ahead Log / Settings",
        "Sets the current transaction's synchronization level.",
    ),
    def(
        "TimeZone",
        "UTC",
        VarType::String,
        LOCALE,
        "Sets the time zone for displaying and interpreting time stamps.",
    ),
    def(
        "transaction_isolation",
        "read committed",
        VarType::Enum(ISOLATIONS),
        STATEMENT,
        "Sets the current transaction's isolation level.",
    ),
    def(
        "transaction_read_only",
        "off",
        VarType::Bool,
        STATEMENT,
        "Sets the current transaction's read-only status.",
    ),
    SettingDef {
        unit: Some("kB"),
        range: Some((64, 2_147_483_647)),
        ..def(
            "work_mem",
            "4MB",
            VarType::Integer,
            "Resource Usage / Memory",
            "Sets the maximum memory to be used for query workspaces.",
        )
    },
    def(
        "xmloption",
        "content",
        VarType::Enum(&["content", "document"]),
        STATEMENT,
        "Sets whether XML data in implicit parsing and serialization operations is to be considered as documents or content fragments.",
    ),
];

/// The setting named `name` (any case).
#[must_use]
pub fn lookup(name: &str) -> Option<&'static SettingDef> {
    SETTINGS.iter().find(|d| d.name.eq_ignore_ascii_case(name))
}

fn invalid(name: &str, value: &str) -> SqlError {
    SqlError::InvalidParameterValue(format!(
        "invalid value for parameter \"{name}\": \"{value}\""
    ))
}

/// Checks a value given to `SET` and returns it as the session keeps it (booleans as `on` and
/// `off`, enum values in lower case).
pub fn check(def: &SettingDef, value: &str) -> SqlResult<String> {
    match def.vartype {
        VarType::Bool => match value.to_lowercase().as_str() {
            "on" | "true" | "yes" | "1" | "t" | "y" => Ok("on".into()),
            "off" | "false" | "no" | "0" | "f" | "n" => Ok("off".into()),
            _ => Err(SqlError::InvalidParameterValue(format!(
                "parameter \"{}\" requires a Boolean value",
                def.name
            ))),
        },
        VarType::Enum(values) => {
            let v = value.to_lowercase();
            if values.contains(&v.as_str()) {
                Ok(v)
            } else {
                Err(invalid(def.name, value))
            }
        }
        VarType::Integer => {
            let n = base_value(def, value).ok_or_else(|| invalid(def.name, value))?;
            if let Some((lo, hi)) = def.range
                && !(lo..=hi).contains(&n)
            {
                return Err(SqlError::InvalidParameterValue(format!(
                    "{n} {}is outside the valid range for parameter \"{}\" ({lo} .. {hi})",
                    def.unit.map(|u| format!("{u} ")).unwrap_or_default(),
                    def.name
                )));
            }
            Ok(value.trim().to_string())
        }
        VarType::String if def.name == "TimeZone" => {
            // A zone that counts leap seconds is refused with PostgreSQL's own reason.
            if let Err(e @ crate::tz::TzError::LeapSeconds(_)) = crate::tz::lookup(value.trim()) {
                return Err(SqlError::InvalidParameterValue(e.to_string()));
            }
            crate::datetime::canonical_zone_setting(value).ok_or_else(|| invalid(def.name, value))
        }
        VarType::String => Ok(value.to_string()),
    }
}

/// An integer setting's value in its base unit: `4MB` of a kB setting is 4096, `2s` of a ms
/// setting is 2000.
#[must_use]
pub fn base_value(def: &SettingDef, value: &str) -> Option<i64> {
    let v = value.trim();
    let split = v
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && (c == '-' || c == '+'))))
        .map_or(v.len(), |(i, _)| i);
    let (num, unit) = v.split_at(split);
    let n: i64 = num.parse().ok()?;
    let unit = unit.trim();
    if unit.is_empty() {
        return Some(n);
    }
    let factor = match (def.unit?, unit) {
        ("ms", "us") => return Some(n / 1000),
        ("ms", "ms") | ("kB", "kB") => 1,
        ("ms", "s") => 1000,
        ("ms", "min") => 60_000,
        ("ms", "h") => 3_600_000,
        ("ms", "d") => 86_400_000,
        ("kB", "MB") => 1024,
        ("kB", "GB") => 1024 * 1024,
        ("kB", "TB") => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(factor)
}

/// `pg_settings.enumvals`: the allowed values as a text array.
#[must_use]
pub fn enum_values(def: &SettingDef) -> Option<String> {
    let VarType::Enum(values) = def.vartype else {
        return None;
    };
    let quoted: Vec<String> = values
        .iter()
        .map(|v| {
            if v.contains(' ') {
                format!("\"{v}\"")
            } else {
                (*v).to_string()
            }
        })
        .collect();
    Some(format!("{{{}}}", quoted.join(",")))
}

/// `pg_settings.vartype`.
#[must_use]
pub fn vartype_name(def: &SettingDef) -> &'static str {
    match def.vartype {
        VarType::Bool => "bool",
        VarType::Integer => "integer",
        VarType::String => "string",
        VarType::Enum(_) => "enum",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_in_name_order_and_unique() {
        for w in SETTINGS.windows(2) {
            assert!(
                w[0].name.to_lowercase() < w[1].name.to_lowercase(),
                "{} before {}",
                w[0].name,
                w[1].name
            );
        }
    }

    #[test]
    fn values_are_checked_and_shown_in_base_units_as_postgresql_shows_them() {
        let work_mem = lookup("WORK_MEM").unwrap();
        assert_eq!(base_value(work_mem, "4MB"), Some(4096));
        assert_eq!(
            base_value(lookup("statement_timeout").unwrap(), "2s"),
            Some(2000)
        );
        assert!(check(work_mem, "10").is_err(), "below 64 kB");
        assert!(check(work_mem, "lots").is_err());
        assert_eq!(
            check(lookup("row_security").unwrap(), "FALSE").unwrap(),
            "off"
        );
        assert!(check(lookup("bytea_output").unwrap(), "base64").is_err());
        assert_eq!(
            enum_values(lookup("transaction_isolation").unwrap()).unwrap(),
            "{serializable,\"repeatable read\",\"read committed\",\"read uncommitted\"}"
        );
    }
}
