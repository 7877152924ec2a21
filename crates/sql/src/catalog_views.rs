//! `pg_catalog` and `information_schema`: virtual tables computed from the engine's catalog each
//! time a query reads them, and the catalog functions clients call (`format_type`,
//! `pg_get_indexdef`, `regclass` casts, …).
//!
//! Nothing here is stored. A query that names `pg_class` gets a relation whose rows are built,
//! at execution, from the table definitions its transaction sees in the catalog tree, so the
//! views are exactly as transactional as the DDL that shaped them. Tools (psql's `\d` family,
//! pgbench, drivers) read these views with PostgreSQL 15's own queries; the columns they read
//! carry real values, the rest are NULL or the value PostgreSQL would show for a plain heap
//! table.
//!
//! OIDs are real and stable: a table's OID is fixed when it is created (see
//! [`TableDef::oid_for_tree`]) and kept when the table is rebuilt; its primary-key index (and
//! the constraint) take the next OID. A secondary index's OID is fixed the same way from its own
//! first tree, and a unique constraint takes the OID after its index's. PostgreSQL's built-in objects keep their PostgreSQL OIDs
//! (namespaces 11 and 2200, types, access methods 2 and 403, role 10).
//!
//! ```text
//!   FROM pg_catalog.pg_class ─bind─▶ Source::Virtual(&PG_CLASS) ─execute─▶ rows(…) ─▶ filter …
//!                                                                     │
//!                                  catalog tree (table definitions) ◀─┘ as the transaction sees it
//! ```
//!
//! Types: `oid` and the `reg*` types are `bigint` here, `"char"` and `name` are `text`, and
//! the catalogs' own array columns (`conkey`, `relacl`, …) are carried in their text form
//! (`{a,b}`); psql reads all of them as text. Arrays in user tables are typed (see `array.rs`):
//! `pg_attribute`, `format_type` and `information_schema` describe them as PostgreSQL does, and
//! `pg_type` lists the array types over every base type.
//!
//! information_schema's constraint views and `views` are declared here with the rest; their rows
//! come from `crate::info_schema`.

use crate::catalog::{FIRST_USER_OID, Identity, TableDef, ViewDef};
use crate::error::{SqlError, SqlResult};
use crate::expr::{EvalContext, SessionInfo, format_array, parse_array};
use crate::sequence::{Sequences, user_sequences};
use crate::types::{DataType, Value};
use borealis_engine::{CATALOG, Engine, Txn};
use std::ops::Bound;

/// OIDs of PostgreSQL's built-in objects that the views mention.
pub const PG_CATALOG_NAMESPACE: u32 = 11;
pub const PUBLIC_NAMESPACE: u32 = 2200;
pub const INFORMATION_SCHEMA_NAMESPACE: u32 = 13_000;
pub const PG_TOAST_NAMESPACE: u32 = 99;
pub const BOOTSTRAP_ROLE: u32 = 10;
/// `pg_database_owner`, PostgreSQL 15's owner of the `public` schema: whoever owns the database.
pub const DATABASE_OWNER_ROLE: u32 = 6171;
pub const HEAP_AM: u32 = 2;
pub const BTREE_AM: u32 = 403;
pub const DATABASE_OID: u32 = 5;
/// Catalog entries decoded per scan batch.
const CATALOG_BATCH: usize = 256;

/// A virtual catalog table: its name and its columns.
#[derive(Debug)]
pub struct VirtualTable {
    pub schema: &'static str,
    pub name: &'static str,
    pub columns: &'static [(&'static str, DataType)],
}

use DataType::{Bool as B, Float8 as F, Int4 as I, Int8 as O, Text as T};

macro_rules! vt {
    ($id:ident, $schema:literal, $name:literal, [$(($c:literal, $t:expr)),* $(,)?]) => {
        pub static $id: VirtualTable = VirtualTable {
            schema: $schema,
            name: $name,
            columns: &[$(($c, $t)),*],
        };
    };
}

vt!(
    PG_NAMESPACE,
    "pg_catalog",
    "pg_namespace",
    [("oid", O), ("nspname", T), ("nspowner", O), ("nspacl", T)]
);
vt!(
    PG_CLASS,
    "pg_catalog",
    "pg_class",
    [
        ("oid", O),
        ("relname", T),
        ("relnamespace", O),
        ("reltype", O),
        ("reloftype", O),
        ("relowner", O),
        ("relam", O),
        ("relfilenode", O),
        ("reltablespace", O),
        ("relpages", I),
        ("reltuples", F),
        ("relallvisible", I),
        ("reltoastrelid", O),
        ("relhasindex", B),
        ("relisshared", B),
        ("relpersistence", T),
        ("relkind", T),
        ("relnatts", I),
        ("relchecks", I),
        ("relhasrules", B),
        ("relhastriggers", B),
        ("relhassubclass", B),
        ("relrowsecurity", B),
        ("relforcerowsecurity", B),
        ("relispopulated", B),
        ("relreplident", T),
        ("relispartition", B),
        ("relrewrite", O),
        ("relfrozenxid", O),
        ("relminmxid", O),
        ("relacl", T),
        ("reloptions", T),
        ("relpartbound", T),
    ]
);
vt!(
    PG_ATTRIBUTE,
    "pg_catalog",
    "pg_attribute",
    [
        ("attrelid", O),
        ("attname", T),
        ("atttypid", O),
        ("attstattarget", I),
        ("attlen", I),
        ("attnum", I),
        ("attndims", I),
        ("attcacheoff", I),
        ("atttypmod", I),
        ("attbyval", B),
        ("attalign", T),
        ("attstorage", T),
        ("attcompression", T),
        ("attnotnull", B),
        ("atthasdef", B),
        ("atthasmissing", B),
        ("attidentity", T),
        ("attgenerated", T),
        ("attisdropped", B),
        ("attislocal", B),
        ("attinhcount", I),
        ("attcollation", O),
        ("attacl", T),
        ("attoptions", T),
        ("attfdwoptions", T),
        ("attmissingval", T),
    ]
);
vt!(
    PG_TYPE,
    "pg_catalog",
    "pg_type",
    [
        ("oid", O),
        ("typname", T),
        ("typnamespace", O),
        ("typowner", O),
        ("typlen", I),
        ("typbyval", B),
        ("typtype", T),
        ("typcategory", T),
        ("typispreferred", B),
        ("typisdefined", B),
        ("typdelim", T),
        ("typrelid", O),
        ("typsubscript", O),
        ("typelem", O),
        ("typarray", O),
        ("typinput", O),
        ("typoutput", O),
        ("typreceive", O),
        ("typsend", O),
        ("typmodin", O),
        ("typmodout", O),
        ("typanalyze", O),
        ("typalign", T),
        ("typstorage", T),
        ("typnotnull", B),
        ("typbasetype", O),
        ("typtypmod", I),
        ("typndims", I),
        ("typcollation", O),
        ("typdefaultbin", T),
        ("typdefault", T),
        ("typacl", T),
    ]
);
vt!(
    PG_ATTRDEF,
    "pg_catalog",
    "pg_attrdef",
    [("oid", O), ("adrelid", O), ("adnum", I), ("adbin", T)]
);
vt!(
    PG_INDEX,
    "pg_catalog",
    "pg_index",
    [
        ("indexrelid", O),
        ("indrelid", O),
        ("indnatts", I),
        ("indnkeyatts", I),
        ("indisunique", B),
        ("indnullsnotdistinct", B),
        ("indisprimary", B),
        ("indisexclusion", B),
        ("indimmediate", B),
        ("indisclustered", B),
        ("indisvalid", B),
        ("indcheckxmin", B),
        ("indisready", B),
        ("indislive", B),
        ("indisreplident", B),
        ("indkey", T),
        ("indcollation", T),
        ("indclass", T),
        ("indoption", T),
        ("indexprs", T),
        ("indpred", T),
    ]
);
vt!(
    PG_CONSTRAINT,
    "pg_catalog",
    "pg_constraint",
    [
        ("oid", O),
        ("conname", T),
        ("connamespace", O),
        ("contype", T),
        ("condeferrable", B),
        ("condeferred", B),
        ("convalidated", B),
        ("conrelid", O),
        ("contypid", O),
        ("conindid", O),
        ("conparentid", O),
        ("confrelid", O),
        ("confupdtype", T),
        ("confdeltype", T),
        ("confmatchtype", T),
        ("conislocal", B),
        ("coninhcount", I),
        ("connoinherit", B),
        ("conkey", T),
        ("confkey", T),
        ("conpfeqop", T),
        ("conppeqop", T),
        ("conffeqop", T),
        ("confdelsetcols", T),
        ("conexclop", T),
        ("conbin", T),
    ]
);
vt!(
    PG_AM,
    "pg_catalog",
    "pg_am",
    [("oid", O), ("amname", T), ("amhandler", T), ("amtype", T)]
);
vt!(
    PG_COLLATION,
    "pg_catalog",
    "pg_collation",
    [
        ("oid", O),
        ("collname", T),
        ("collnamespace", O),
        ("collowner", O),
        ("collprovider", T),
        ("collisdeterministic", B),
        ("collencoding", I),
        ("collcollate", T),
        ("collctype", T),
        ("colliculocale", T),
        ("collversion", T),
    ]
);
vt!(
    PG_DATABASE,
    "pg_catalog",
    "pg_database",
    [
        ("oid", O),
        ("datname", T),
        ("datdba", O),
        ("encoding", I),
        ("datlocprovider", T),
        ("datistemplate", B),
        ("datallowconn", B),
        ("datconnlimit", I),
        ("datfrozenxid", O),
        ("datminmxid", O),
        ("dattablespace", O),
        ("datcollate", T),
        ("datctype", T),
        ("daticulocale", T),
        ("datcollversion", T),
        ("datacl", T),
    ]
);
vt!(
    PG_ROLES,
    "pg_catalog",
    "pg_roles",
    [
        ("rolname", T),
        ("rolsuper", B),
        ("rolinherit", B),
        ("rolcreaterole", B),
        ("rolcreatedb", B),
        ("rolcanlogin", B),
        ("rolreplication", B),
        ("rolconnlimit", I),
        ("rolpassword", T),
        ("rolvaliduntil", T),
        ("rolbypassrls", B),
        ("rolconfig", T),
        ("oid", O),
    ]
);
vt!(
    PG_AUTHID,
    "pg_catalog",
    "pg_authid",
    [
        ("oid", O),
        ("rolname", T),
        ("rolsuper", B),
        ("rolinherit", B),
        ("rolcreaterole", B),
        ("rolcreatedb", B),
        ("rolcanlogin", B),
        ("rolreplication", B),
        ("rolbypassrls", B),
        ("rolconnlimit", I),
        ("rolpassword", T),
        ("rolvaliduntil", T),
    ]
);
vt!(
    PG_USER,
    "pg_catalog",
    "pg_user",
    [
        ("usename", T),
        ("usesysid", O),
        ("usecreatedb", B),
        ("usesuper", B),
        ("userepl", B),
        ("usebypassrls", B),
        ("passwd", T),
        ("valuntil", T),
        ("useconfig", T),
    ]
);
vt!(
    PG_AUTH_MEMBERS,
    "pg_catalog",
    "pg_auth_members",
    [
        ("roleid", O),
        ("member", O),
        ("grantor", O),
        ("admin_option", B)
    ]
);
vt!(
    PG_INHERITS,
    "pg_catalog",
    "pg_inherits",
    [
        ("inhrelid", O),
        ("inhparent", O),
        ("inhseqno", I),
        ("inhdetachpending", B)
    ]
);
vt!(
    PG_POLICY,
    "pg_catalog",
    "pg_policy",
    [
        ("oid", O),
        ("polname", T),
        ("polrelid", O),
        ("polcmd", T),
        ("polpermissive", B),
        ("polroles", T),
        ("polqual", T),
        ("polwithcheck", T),
    ]
);
vt!(
    PG_STATISTIC_EXT,
    "pg_catalog",
    "pg_statistic_ext",
    [
        ("oid", O),
        ("stxrelid", O),
        ("stxname", T),
        ("stxnamespace", O),
        ("stxowner", O),
        ("stxstattarget", I),
        ("stxkeys", T),
        ("stxkind", T),
        ("stxexprs", T),
    ]
);
vt!(
    PG_PUBLICATION,
    "pg_catalog",
    "pg_publication",
    [
        ("oid", O),
        ("pubname", T),
        ("pubowner", O),
        ("puballtables", B),
        ("pubinsert", B),
        ("pubupdate", B),
        ("pubdelete", B),
        ("pubtruncate", B),
        ("pubviaroot", B),
    ]
);
vt!(
    PG_PUBLICATION_REL,
    "pg_catalog",
    "pg_publication_rel",
    [
        ("oid", O),
        ("prpubid", O),
        ("prrelid", O),
        ("prqual", T),
        ("prattrs", T)
    ]
);
vt!(
    PG_PUBLICATION_NAMESPACE,
    "pg_catalog",
    "pg_publication_namespace",
    [("oid", O), ("pnpubid", O), ("pnnspid", O)]
);
vt!(
    PG_PARTITIONED_TABLE,
    "pg_catalog",
    "pg_partitioned_table",
    [
        ("partrelid", O),
        ("partstrat", T),
        ("partnatts", I),
        ("partdefid", O),
        ("partattrs", T),
        ("partclass", T),
        ("partcollation", T),
        ("partexprs", T),
    ]
);
vt!(
    PG_DESCRIPTION,
    "pg_catalog",
    "pg_description",
    [
        ("objoid", O),
        ("classoid", O),
        ("objsubid", I),
        ("description", T)
    ]
);
vt!(
    PG_SEQUENCE,
    "pg_catalog",
    "pg_sequence",
    [
        ("seqrelid", O),
        ("seqtypid", O),
        ("seqstart", O),
        ("seqincrement", O),
        ("seqmax", O),
        ("seqmin", O),
        ("seqcache", O),
        ("seqcycle", B),
    ]
);
vt!(
    PG_VIEWS,
    "pg_catalog",
    "pg_views",
    [
        ("schemaname", T),
        ("viewname", T),
        ("viewowner", T),
        ("definition", T),
    ]
);
vt!(
    PG_SEQUENCES,
    "pg_catalog",
    "pg_sequences",
    [
        ("schemaname", T),
        ("sequencename", T),
        ("sequenceowner", T),
        ("data_type", T),
        ("start_value", O),
        ("min_value", O),
        ("max_value", O),
        ("increment_by", O),
        ("cycle", B),
        ("cache_size", O),
        ("last_value", O),
    ]
);
vt!(
    IS_SEQUENCES,
    "information_schema",
    "sequences",
    [
        ("sequence_catalog", T),
        ("sequence_schema", T),
        ("sequence_name", T),
        ("data_type", T),
        ("numeric_precision", I),
        ("numeric_precision_radix", I),
        ("numeric_scale", I),
        ("start_value", T),
        ("minimum_value", T),
        ("maximum_value", T),
        ("increment", T),
        ("cycle_option", T),
    ]
);
vt!(
    PG_DEPEND,
    "pg_catalog",
    "pg_depend",
    [
        ("classid", O),
        ("objid", O),
        ("objsubid", I),
        ("refclassid", O),
        ("refobjid", O),
        ("refobjsubid", I),
        ("deptype", T),
    ]
);
vt!(
    PG_TABLESPACE,
    "pg_catalog",
    "pg_tablespace",
    [
        ("oid", O),
        ("spcname", T),
        ("spcowner", O),
        ("spcacl", T),
        ("spcoptions", T)
    ]
);
vt!(
    PG_TRIGGER,
    "pg_catalog",
    "pg_trigger",
    [
        ("oid", O),
        ("tgrelid", O),
        ("tgparentid", O),
        ("tgname", T),
        ("tgfoid", O),
        ("tgtype", I),
        ("tgenabled", T),
        ("tgisinternal", B),
        ("tgconstrrelid", O),
        ("tgconstrindid", O),
        ("tgconstraint", O),
        ("tgdeferrable", B),
        ("tginitdeferred", B),
        ("tgnargs", I),
        ("tgattr", T),
        ("tgargs", T),
        ("tgqual", T),
        ("tgoldtable", T),
        ("tgnewtable", T),
    ]
);
vt!(
    PG_REWRITE,
    "pg_catalog",
    "pg_rewrite",
    [
        ("oid", O),
        ("rulename", T),
        ("ev_class", O),
        ("ev_type", T),
        ("ev_enabled", T),
        ("is_instead", B),
        ("ev_qual", T),
        ("ev_action", T),
    ]
);
vt!(
    PG_EXTENSION,
    "pg_catalog",
    "pg_extension",
    [
        ("oid", O),
        ("extname", T),
        ("extowner", O),
        ("extnamespace", O),
        ("extrelocatable", B),
        ("extversion", T),
        ("extconfig", T),
        ("extcondition", T),
    ]
);
// Object kinds Borealis has none of (privileges, event triggers, foreign data, subscriptions,
// large objects, transforms, security labels): their catalogs exist, as clients such as pg_dump
// read them, and are empty.
vt!(
    PG_INIT_PRIVS,
    "pg_catalog",
    "pg_init_privs",
    [
        ("objoid", O),
        ("classoid", O),
        ("objsubid", I),
        ("privtype", T),
        ("initprivs", T)
    ]
);
vt!(
    PG_EVENT_TRIGGER,
    "pg_catalog",
    "pg_event_trigger",
    [
        ("oid", O),
        ("evtname", T),
        ("evtevent", T),
        ("evtowner", O),
        ("evtfoid", O),
        ("evtenabled", T),
        ("evttags", T)
    ]
);
vt!(
    PG_FOREIGN_DATA_WRAPPER,
    "pg_catalog",
    "pg_foreign_data_wrapper",
    [
        ("oid", O),
        ("fdwname", T),
        ("fdwowner", O),
        ("fdwhandler", O),
        ("fdwvalidator", O),
        ("fdwacl", T),
        ("fdwoptions", T)
    ]
);
vt!(
    PG_FOREIGN_SERVER,
    "pg_catalog",
    "pg_foreign_server",
    [
        ("oid", O),
        ("srvname", T),
        ("srvowner", O),
        ("srvfdw", O),
        ("srvtype", T),
        ("srvversion", T),
        ("srvacl", T),
        ("srvoptions", T)
    ]
);
vt!(
    PG_SUBSCRIPTION,
    "pg_catalog",
    "pg_subscription",
    [
        ("oid", O),
        ("subdbid", O),
        ("subskiplsn", T),
        ("subname", T),
        ("subowner", O),
        ("subenabled", B),
        ("subbinary", B),
        ("substream", B),
        ("subtwophasestate", T),
        ("subdisableonerr", B),
        ("subconninfo", T),
        ("subslotname", T),
        ("subsynccommit", T),
        ("subpublications", T)
    ]
);
vt!(
    PG_LARGEOBJECT_METADATA,
    "pg_catalog",
    "pg_largeobject_metadata",
    [("oid", O), ("lomowner", O), ("lomacl", T)]
);
vt!(
    PG_DEFAULT_ACL,
    "pg_catalog",
    "pg_default_acl",
    [
        ("oid", O),
        ("defaclrole", O),
        ("defaclnamespace", O),
        ("defaclobjtype", T),
        ("defaclacl", T)
    ]
);
vt!(
    PG_TRANSFORM,
    "pg_catalog",
    "pg_transform",
    [
        ("oid", O),
        ("trftype", O),
        ("trflang", O),
        ("trffromsql", O),
        ("trftosql", O)
    ]
);
vt!(
    PG_SECLABELS,
    "pg_catalog",
    "pg_seclabels",
    [
        ("objoid", O),
        ("classoid", O),
        ("objsubid", I),
        ("objtype", T),
        ("objnamespace", O),
        ("objname", T),
        ("provider", T),
        ("label", T)
    ]
);
vt!(
    PG_PROC,
    "pg_catalog",
    "pg_proc",
    [
        ("oid", O),
        ("proname", T),
        ("pronamespace", O),
        ("proowner", O),
        ("prolang", O),
        ("procost", F),
        ("prorows", F),
        ("provariadic", O),
        ("prosupport", O),
        ("prokind", T),
        ("prosecdef", B),
        ("proleakproof", B),
        ("proisstrict", B),
        ("proretset", B),
        ("provolatile", T),
        ("proparallel", T),
        ("pronargs", I),
        ("pronargdefaults", I),
        ("prorettype", O),
        ("proargtypes", T),
        ("proallargtypes", T),
        ("proargmodes", T),
        ("proargnames", T),
        ("proargdefaults", T),
        ("protrftypes", T),
        ("prosrc", T),
        ("probin", T),
        ("prosqlbody", T),
        ("proconfig", T),
        ("proacl", T),
    ]
);
vt!(
    PG_INDEXES,
    "pg_catalog",
    "pg_indexes",
    [
        ("schemaname", T),
        ("tablename", T),
        ("indexname", T),
        ("tablespace", T),
        ("indexdef", T),
    ]
);
vt!(
    PG_TABLES,
    "pg_catalog",
    "pg_tables",
    [
        ("schemaname", T),
        ("tablename", T),
        ("tableowner", T),
        ("tablespace", T),
        ("hasindexes", B),
        ("hasrules", B),
        ("hastriggers", B),
        ("rowsecurity", B),
    ]
);
vt!(
    IS_TABLES,
    "information_schema",
    "tables",
    [
        ("table_catalog", T),
        ("table_schema", T),
        ("table_name", T),
        ("table_type", T),
        ("is_insertable_into", T),
        ("is_typed", T),
    ]
);
vt!(
    IS_COLUMNS,
    "information_schema",
    "columns",
    [
        ("table_catalog", T),
        ("table_schema", T),
        ("table_name", T),
        ("column_name", T),
        ("ordinal_position", I),
        ("column_default", T),
        ("is_nullable", T),
        ("data_type", T),
        ("character_maximum_length", I),
        ("character_octet_length", I),
        ("numeric_precision", I),
        ("numeric_precision_radix", I),
        ("numeric_scale", I),
        ("datetime_precision", I),
        ("interval_type", T),
        ("interval_precision", I),
        ("character_set_catalog", T),
        ("character_set_schema", T),
        ("character_set_name", T),
        ("collation_catalog", T),
        ("collation_schema", T),
        ("collation_name", T),
        ("domain_catalog", T),
        ("domain_schema", T),
        ("domain_name", T),
        ("udt_catalog", T),
        ("udt_schema", T),
        ("udt_name", T),
        ("scope_catalog", T),
        ("scope_schema", T),
        ("scope_name", T),
        ("maximum_cardinality", I),
        ("dtd_identifier", T),
        ("is_self_referencing", T),
        ("is_identity", T),
        ("identity_generation", T),
        ("identity_start", T),
        ("identity_increment", T),
        ("identity_maximum", T),
        ("identity_minimum", T),
        ("identity_cycle", T),
        ("is_generated", T),
        ("generation_expression", T),
        ("is_updatable", T),
    ]
);
vt!(
    IS_SCHEMATA,
    "information_schema",
    "schemata",
    [
        ("catalog_name", T),
        ("schema_name", T),
        ("schema_owner", T),
        ("default_character_set_catalog", T),
        ("default_character_set_schema", T),
        ("default_character_set_name", T),
        ("sql_path", T),
    ]
);
// information_schema's constraint views and `views`: rows computed in `info_schema.rs`, columns
// in PostgreSQL 15's order.
vt!(
    IS_TABLE_CONSTRAINTS,
    "information_schema",
    "table_constraints",
    [
        ("constraint_catalog", T),
        ("constraint_schema", T),
        ("constraint_name", T),
        ("table_catalog", T),
        ("table_schema", T),
        ("table_name", T),
        ("constraint_type", T),
        ("is_deferrable", T),
        ("initially_deferred", T),
        ("enforced", T),
        ("nulls_distinct", T),
    ]
);
vt!(
    IS_KEY_COLUMN_USAGE,
    "information_schema",
    "key_column_usage",
    [
        ("constraint_catalog", T),
        ("constraint_schema", T),
        ("constraint_name", T),
        ("table_catalog", T),
        ("table_schema", T),
        ("table_name", T),
        ("column_name", T),
        ("ordinal_position", I),
        ("position_in_unique_constraint", I),
    ]
);
vt!(
    IS_REFERENTIAL_CONSTRAINTS,
    "information_schema",
    "referential_constraints",
    [
        ("constraint_catalog", T),
        ("constraint_schema", T),
        ("constraint_name", T),
        ("unique_constraint_catalog", T),
        ("unique_constraint_schema", T),
        ("unique_constraint_name", T),
        ("match_option", T),
        ("update_rule", T),
        ("delete_rule", T),
    ]
);
vt!(
    IS_CONSTRAINT_COLUMN_USAGE,
    "information_schema",
    "constraint_column_usage",
    [
        ("table_catalog", T),
        ("table_schema", T),
        ("table_name", T),
        ("column_name", T),
        ("constraint_catalog", T),
        ("constraint_schema", T),
        ("constraint_name", T),
    ]
);
vt!(
    IS_CHECK_CONSTRAINTS,
    "information_schema",
    "check_constraints",
    [
        ("constraint_catalog", T),
        ("constraint_schema", T),
        ("constraint_name", T),
        ("check_clause", T),
    ]
);
vt!(
    IS_VIEWS,
    "information_schema",
    "views",
    [
        ("table_catalog", T),
        ("table_schema", T),
        ("table_name", T),
        ("view_definition", T),
        ("check_option", T),
        ("is_updatable", T),
        ("is_insertable_into", T),
        ("is_trigger_updatable", T),
        ("is_trigger_deletable", T),
        ("is_trigger_insertable_into", T),
    ]
);

vt!(
    PG_STAT_USER_TABLES,
    "pg_catalog",
    "pg_stat_user_tables",
    [
        ("relid", O),
        ("schemaname", T),
        ("relname", T),
        ("seq_scan", O),
        ("seq_tup_read", O),
        ("idx_scan", O),
        ("idx_tup_fetch", O),
        ("n_tup_ins", O),
        ("n_tup_upd", O),
        ("n_tup_del", O),
        ("n_tup_hot_upd", O),
        ("n_live_tup", O),
        ("n_dead_tup", O),
        ("n_mod_since_analyze", O),
        ("n_ins_since_vacuum", O),
        ("last_vacuum", DataType::TimestampTz),
        ("last_autovacuum", DataType::TimestampTz),
        ("last_analyze", DataType::TimestampTz),
        ("last_autoanalyze", DataType::TimestampTz),
        ("vacuum_count", O),
        ("autovacuum_count", O),
        ("analyze_count", O),
        ("autoanalyze_count", O),
    ]
);

vt!(
    PG_FOREIGN_TABLE,
    "pg_catalog",
    "pg_foreign_table",
    [("ftrelid", O), ("ftserver", O), ("ftoptions", T)]
);
// Catalogs of object kinds Borealis has only PostgreSQL's built-in entries of, or none at all
// (casts, languages, operators and their classes, text search, conversions, ranges): pg_dump
// reads them to find user-defined objects, which live at OIDs of 16384 and above.
vt!(
    PG_CAST,
    "pg_catalog",
    "pg_cast",
    [
        ("oid", O),
        ("castsource", O),
        ("casttarget", O),
        ("castfunc", O),
        ("castcontext", T),
        ("castmethod", T),
    ]
);
vt!(
    PG_LANGUAGE,
    "pg_catalog",
    "pg_language",
    [
        ("oid", O),
        ("lanname", T),
        ("lanowner", O),
        ("lanispl", B),
        ("lanpltrusted", B),
        ("lanplcallfoid", O),
        ("laninline", O),
        ("lanvalidator", O),
        ("lanacl", T),
    ]
);
vt!(
    PG_OPERATOR,
    "pg_catalog",
    "pg_operator",
    [
        ("oid", O),
        ("oprname", T),
        ("oprnamespace", O),
        ("oprowner", O),
        ("oprkind", T),
        ("oprcanmerge", B),
        ("oprcanhash", B),
        ("oprleft", O),
        ("oprright", O),
        ("oprresult", O),
        ("oprcom", O),
        ("oprnegate", O),
        ("oprcode", O),
        ("oprrest", O),
        ("oprjoin", O),
    ]
);
vt!(
    PG_OPCLASS,
    "pg_catalog",
    "pg_opclass",
    [
        ("oid", O),
        ("opcmethod", O),
        ("opcname", T),
        ("opcnamespace", O),
        ("opcowner", O),
        ("opcfamily", O),
        ("opcintype", O),
        ("opcdefault", B),
        ("opckeytype", O),
    ]
);
vt!(
    PG_OPFAMILY,
    "pg_catalog",
    "pg_opfamily",
    [
        ("oid", O),
        ("opfmethod", O),
        ("opfname", T),
        ("opfnamespace", O),
        ("opfowner", O),
    ]
);
vt!(
    PG_TS_PARSER,
    "pg_catalog",
    "pg_ts_parser",
    [
        ("oid", O),
        ("prsname", T),
        ("prsnamespace", O),
        ("prsstart", O),
        ("prstoken", O),
        ("prsend", O),
        ("prsheadline", O),
        ("prslextype", O),
    ]
);
vt!(
    PG_TS_TEMPLATE,
    "pg_catalog",
    "pg_ts_template",
    [
        ("oid", O),
        ("tmplname", T),
        ("tmplnamespace", O),
        ("tmplinit", O),
        ("tmpllexize", O),
    ]
);
vt!(
    PG_TS_DICT,
    "pg_catalog",
    "pg_ts_dict",
    [
        ("oid", O),
        ("dictname", T),
        ("dictnamespace", O),
        ("dictowner", O),
        ("dicttemplate", O),
        ("dictinitoption", T),
    ]
);
vt!(
    PG_TS_CONFIG,
    "pg_catalog",
    "pg_ts_config",
    [
        ("oid", O),
        ("cfgname", T),
        ("cfgnamespace", O),
        ("cfgowner", O),
        ("cfgparser", O),
    ]
);
vt!(
    PG_CONVERSION,
    "pg_catalog",
    "pg_conversion",
    [
        ("oid", O),
        ("conname", T),
        ("connamespace", O),
        ("conowner", O),
        ("conforencoding", I),
        ("contoencoding", I),
        ("conproc", O),
        ("condefault", B),
    ]
);
vt!(
    PG_AMOP,
    "pg_catalog",
    "pg_amop",
    [
        ("oid", O),
        ("amopfamily", O),
        ("amoplefttype", O),
        ("amoprighttype", O),
        ("amopstrategy", I),
        ("amoppurpose", T),
        ("amopopr", O),
        ("amopmethod", O),
        ("amopsortfamily", O),
    ]
);
vt!(
    PG_AMPROC,
    "pg_catalog",
    "pg_amproc",
    [
        ("oid", O),
        ("amprocfamily", O),
        ("amproclefttype", O),
        ("amprocrighttype", O),
        ("amprocnum", I),
        ("amproc", O),
    ]
);
vt!(
    PG_RANGE,
    "pg_catalog",
    "pg_range",
    [
        ("rngtypid", O),
        ("rngsubtype", O),
        ("rngmultitypid", O),
        ("rngcollation", O),
        ("rngsubopc", O),
        ("rngcanonical", O),
        ("rngsubdiff", O),
    ]
);

vt!(
    PG_STATS,
    "pg_catalog",
    "pg_stats",
    [
        ("schemaname", T),
        ("tablename", T),
        ("attname", T),
        ("inherited", B),
        ("null_frac", DataType::Float4),
        ("avg_width", I),
        ("n_distinct", DataType::Float4),
        ("most_common_vals", T),
        ("most_common_freqs", T),
        ("histogram_bounds", T),
        ("correlation", DataType::Float4),
        ("most_common_elems", T),
        ("most_common_elem_freqs", T),
        ("elem_count_histogram", T),
    ]
);

static ALL: &[&VirtualTable] = &[
    &PG_STATS,
    &PG_NAMESPACE,
    &PG_CLASS,
    &PG_ATTRIBUTE,
    &PG_TYPE,
    &PG_ATTRDEF,
    &PG_INDEX,
    &PG_CONSTRAINT,
    &PG_AM,
    &PG_COLLATION,
    &PG_DATABASE,
    &PG_ROLES,
    &PG_AUTHID,
    &PG_USER,
    &PG_AUTH_MEMBERS,
    &PG_INHERITS,
    &PG_POLICY,
    &PG_STATISTIC_EXT,
    &PG_PUBLICATION,
    &PG_PUBLICATION_REL,
    &PG_PUBLICATION_NAMESPACE,
    &PG_PARTITIONED_TABLE,
    &PG_DESCRIPTION,
    &PG_SEQUENCE,
    &PG_SEQUENCES,
    &IS_SEQUENCES,
    &PG_VIEWS,
    &PG_DEPEND,
    &PG_TABLESPACE,
    &PG_TRIGGER,
    &PG_REWRITE,
    &PG_EXTENSION,
    &PG_PROC,
    &PG_TABLES,
    &PG_INDEXES,
    &PG_STAT_USER_TABLES,
    &IS_TABLES,
    &IS_COLUMNS,
    &IS_SCHEMATA,
    &IS_TABLE_CONSTRAINTS,
    &IS_KEY_COLUMN_USAGE,
    &IS_REFERENTIAL_CONSTRAINTS,
    &IS_CONSTRAINT_COLUMN_USAGE,
    &IS_CHECK_CONSTRAINTS,
    &IS_VIEWS,
    &PG_SETTINGS,
    &PG_STAT_ACTIVITY,
    &PG_CURSORS,
    &PG_INIT_PRIVS,
    &PG_EVENT_TRIGGER,
    &PG_FOREIGN_DATA_WRAPPER,
    &PG_FOREIGN_SERVER,
    &PG_SUBSCRIPTION,
    &PG_LARGEOBJECT_METADATA,
    &PG_DEFAULT_ACL,
    &PG_TRANSFORM,
    &PG_SECLABELS,
    &PG_FOREIGN_TABLE,
    &PG_CAST,
    &PG_LANGUAGE,
    &PG_OPERATOR,
    &PG_OPCLASS,
    &PG_OPFAMILY,
    &PG_TS_PARSER,
    &PG_TS_TEMPLATE,
    &PG_TS_DICT,
    &PG_TS_CONFIG,
    &PG_CONVERSION,
    &PG_AMOP,
    &PG_AMPROC,
    &PG_RANGE,
    &PG_TIMEZONE_NAMES,
];

vt!(
    PG_TIMEZONE_NAMES,
    "pg_catalog",
    "pg_timezone_names",
    [
        ("name", T),
        ("abbrev", T),
        ("utc_offset", DataType::Interval),
        ("is_dst", B),
    ]
);

vt!(
    PG_SETTINGS,
    "pg_catalog",
    "pg_settings",
    [
        ("name", T),
        ("setting", T),
        ("unit", T),
        ("category", T),
        ("short_desc", T),
        ("extra_desc", T),
        ("context", T),
        ("vartype", T),
        ("source", T),
        ("min_val", T),
        ("max_val", T),
        ("enumvals", T),
        ("boot_val", T),
        ("reset_val", T),
        ("sourcefile", T),
        ("sourceline", I),
        ("pending_restart", B),
    ]
);
vt!(
    PG_CURSORS,
    "pg_catalog",
    "pg_cursors",
    [
        ("name", T),
        ("statement", T),
        ("is_holdable", B),
        ("is_binary", B),
        ("is_scrollable", B),
        ("creation_time", DataType::TimestampTz),
    ]
);
vt!(
    PG_STAT_ACTIVITY,
    "pg_catalog",
    "pg_stat_activity",
    [
        ("datid", O),
        ("datname", T),
        ("pid", I),
        ("leader_pid", I),
        ("usesysid", O),
        ("usename", T),
        ("application_name", T),
        ("client_addr", T),
        ("client_hostname", T),
        ("client_port", I),
        ("backend_start", DataType::TimestampTz),
        ("xact_start", DataType::TimestampTz),
        ("query_start", DataType::TimestampTz),
        ("state_change", DataType::TimestampTz),
        ("wait_event_type", T),
        ("wait_event", T),
        ("state", T),
        ("backend_xid", O),
        ("backend_xmin", O),
        ("query_id", O),
        ("query", T),
        ("backend_type", T),
    ]
);

/// Finds a virtual table. `schema` is the qualifier written in the query, if any; unqualified
/// names find `pg_catalog` tables (it is implicitly first on every search path).
#[must_use]
pub fn lookup(schema: Option<&str>, name: &str) -> Option<&'static VirtualTable> {
    ALL.iter()
        .copied()
        .find(|t| t.name == name && schema.is_none_or(|s| s == t.schema))
        .filter(|t| schema.is_some() || t.schema == "pg_catalog")
}

/// `quote_literal`: a string constant that reads back as `s` — doubled quotes, and the `E''` form
/// with doubled backslashes when `s` has a backslash.
#[must_use]
pub fn quote_literal(s: &str) -> String {
    let body = s.replace('\'', "''");
    if s.contains('\\') {
        format!("E'{}'", body.replace('\\', "\\\\"))
    } else {
        format!("'{body}'")
    }
}

/// The privileges an object of `kind` (`acldefault`'s one-letter code) grants when its ACL is
/// NULL, as PostgreSQL 15 spells them, for an owner named `owner`.
fn default_acl(kind: &str, owner: &str) -> Option<String> {
    let o = owner;
    Some(match kind {
        "c" => "{}".to_string(),
        "r" => format!("{{{o}=arwdDxt/{o}}}"),
        "s" => format!("{{{o}=rwU/{o}}}"),
        "d" => format!("{{=Tc/{o},{o}=CTc/{o}}}"),
        "f" => format!("{{=X/{o},{o}=X/{o}}}"),
        "l" | "T" => format!("{{=U/{o},{o}=U/{o}}}"),
        "L" => format!("{{{o}=rw/{o}}}"),
        "n" => format!("{{{o}=UC/{o}}}"),
        "t" => format!("{{{o}=C/{o}}}"),
        "F" | "S" => format!("{{{o}=U/{o}}}"),
        "p" => format!("{{{o}=sA/{o}}}"),
        _ => return None,
    })
}

/// The OID of a system catalog that is a table in PostgreSQL 15 (its rows' `tableoid`, and what
/// `'pg_class'::regclass` names); `None` for the catalogs that are views there.
#[must_use]
pub fn catalog_oid(name: &str) -> Option<u32> {
    Some(match name {
        "pg_default_acl" => 826,
        "pg_tablespace" => 1213,
        "pg_type" => 1247,
        "pg_attribute" => 1249,
        "pg_proc" => 1255,
        "pg_class" => 1259,
        "pg_authid" => 1260,
        "pg_auth_members" => 1261,
        "pg_database" => 1262,
        "pg_foreign_server" => 1417,
        "pg_foreign_table" => 3118,
        "pg_sequence" => 2224,
        "pg_foreign_data_wrapper" => 2328,
        "pg_am" => 2601,
        "pg_amop" => 2602,
        "pg_amproc" => 2603,
        "pg_attrdef" => 2604,
        "pg_cast" => 2605,
        "pg_constraint" => 2606,
        "pg_conversion" => 2607,
        "pg_depend" => 2608,
        "pg_description" => 2609,
        "pg_index" => 2610,
        "pg_inherits" => 2611,
        "pg_language" => 2612,
        "pg_namespace" => 2615,
        "pg_opclass" => 2616,
        "pg_operator" => 2617,
        "pg_rewrite" => 2618,
        "pg_trigger" => 2620,
        "pg_opfamily" => 2753,
        "pg_largeobject_metadata" => 2995,
        "pg_extension" => 3079,
        "pg_policy" => 3256,
        "pg_partitioned_table" => 3350,
        "pg_statistic_ext" => 3381,
        "pg_init_privs" => 3394,
        "pg_collation" => 3456,
        "pg_event_trigger" => 3466,
        "pg_range" => 3541,
        "pg_transform" => 3576,
        "pg_ts_dict" => 3600,
        "pg_ts_parser" => 3601,
        "pg_ts_config" => 3602,
        "pg_ts_template" => 3764,
        "pg_subscription" => 6100,
        "pg_publication" => 6104,
        "pg_publication_rel" => 6106,
        "pg_publication_namespace" => 6237,
        _ => return None,
    })
}

/// Every user table definition the transaction sees, in name order.
pub fn user_tables(engine: &Engine, txn: &Txn) -> SqlResult<Vec<TableDef>> {
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
            // The catalog tree may come to hold other kinds of entries: skip what is not a table.
            if let Ok(mut def) = TableDef::decode(v) {
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

/// The built-in types the views list: (oid, name, length, category, array oid).
const TYPES: &[(u32, &str, i64, &str, u32)] = &[
    (16, "bool", 1, "B", 1000),
    (17, "bytea", -1, "U", 1001),
    (18, "char", 1, "Z", 1002),
    (19, "name", 64, "S", 1003),
    (20, "int8", 8, "N", 1016),
    (21, "int2", 2, "N", 1005),
    (23, "int4", 4, "N", 1007),
    (25, "text", -1, "S", 1009),
    (26, "oid", 4, "N", 1028),
    (114, "json", -1, "U", 199),
    (700, "float4", 4, "N", 1021),
    (701, "float8", 8, "N", 1022),
    (1042, "bpchar", -1, "S", 1014),
    (1043, "varchar", -1, "S", 1015),
    (1082, "date", 4, "D", 1182),
    (1083, "time", 8, "D", 1183),
    (1114, "timestamp", 8, "D", 1115),
    (1184, "timestamptz", 8, "D", 1185),
    (1186, "interval", 16, "T", 1187),
    (1266, "timetz", 12, "D", 1270),
    (1700, "numeric", -1, "N", 1231),
    (2205, "regclass", 4, "N", 2210),
    (2206, "regtype", 4, "N", 2211),
    (2950, "uuid", 16, "U", 2951),
    (3802, "jsonb", -1, "U", 3807),
];

/// The `udt_name` (`pg_type.typname`) of type OID `o`: an array's is its element's with a
/// leading underscore (`_int4`).
fn udt_name(o: u32) -> String {
    if let Some(t) = TYPES.iter().find(|t| t.0 == o) {
        return t.1.to_string();
    }
    match TYPES.iter().find(|t| t.4 == o) {
        Some(t) => format!("_{}", t.1),
        None => "text".into(),
    }
}

/// information_schema's `data_type` of a declared type: `ARRAY` for arrays, else the
/// type's name without its modifier.
fn information_schema_type(ty: DataType, display: &str) -> String {
    if ty.is_array() {
        return "ARRAY".into();
    }
    // The modifier sits mid-name in `timestamp(3) without time zone`.
    match (display.find('('), display.find(')')) {
        (Some(open), Some(close)) if open < close => {
            format!("{}{}", &display[..open], &display[close + 1..])
        }
        _ => display.to_string(),
    }
}

/// What information_schema.columns says of a column's type, as PostgreSQL 15's view computes
/// it from the type OID and modifier (`_pg_char_max_length`, `_pg_numeric_precision`,
/// `_pg_datetime_precision`, `_pg_interval_type`, ...). `display` is the type as
/// `format_type` prints it. An array's facts are all NULL but its names.
fn type_facts(ty: DataType, oid: u32, typmod: i32, display: &str) -> Vec<(&'static str, Value)> {
    let int = |v: i32| Value::Int(i64::from(v));
    let data_type = if !ty.is_array() && display.starts_with("interval ") {
        // `interval hour to minute`'s data type is `interval`.
        "interval".to_string()
    } else {
        information_schema_type(ty, display)
    };
    let mut facts = vec![
        ("data_type", Value::Text(data_type)),
        ("udt_schema", text("pg_catalog")),
        ("udt_name", Value::Text(udt_name(oid))),
    ];
    let char_length = match oid {
        1042 | 1043 if typmod >= 4 => Some(typmod - 4),
        _ => None,
    };
    if let Some(n) = char_length {
        facts.push(("character_maximum_length", int(n)));
    }
    if matches!(oid, 25 | 1042 | 1043) {
        // Bytes in the server's encoding, UTF8, whose characters take up to four.
        let octets = char_length.map_or(1 << 30, |n| n.saturating_mul(4));
        facts.push(("character_octet_length", int(octets)));
    }
    let (precision, radix, scale) = match oid {
        21 => (Some(16), 2, Some(0)),
        23 => (Some(32), 2, Some(0)),
        20 => (Some(64), 2, Some(0)),
        700 => (Some(24), 2, None),
        701 => (Some(53), 2, None),
        1700 if typmod >= 4 => (
            Some(((typmod - 4) >> 16) & 0xffff),
            10,
            Some((typmod - 4) & 0xffff),
        ),
        1700 => (None, 10, None),
        _ => (None, 0, None),
    };
    if radix != 0 {
        facts.push(("numeric_precision_radix", int(radix)));
    }
    facts.extend(precision.map(|p| ("numeric_precision", int(p))));
    facts.extend(scale.map(|s| ("numeric_scale", int(s))));
    let datetime = match oid {
        1082 => Some(0),
        1083 | 1114 | 1184 | 1266 => Some(if typmod < 0 { 6 } else { typmod }),
        1186 if typmod < 0 || typmod & 0xffff == 0xffff => Some(6),
        1186 => Some(typmod & 0xffff),
        _ => None,
    };
    facts.extend(datetime.map(|p| ("datetime_precision", int(p))));
    if oid == 1186
        && let Some(fields) = display.strip_prefix("interval ")
    {
        facts.push(("interval_type", Value::Text(fields.to_uppercase())));
    }
    facts
}

/// A row of information_schema.columns: the column at position `n` (from 0) of `place`
/// (schema, table, column), with `facts` and the columns every row has.
fn column_row(
    vt: &VirtualTable,
    database: &str,
    place: (&str, &str, &str),
    n: usize,
    mut facts: Vec<(&'static str, Value)>,
) -> Vec<Value> {
    let (schema, table, column) = place;
    facts.extend([
        ("table_catalog", text(database)),
        ("table_schema", text(schema)),
        ("table_name", text(table)),
        ("column_name", text(column)),
        ("ordinal_position", Value::Int(n as i64 + 1)),
        ("udt_catalog", text(database)),
        ("dtd_identifier", Value::Text((n + 1).to_string())),
        ("is_self_referencing", text("NO")),
        ("is_generated", text("NEVER")),
    ]);
    row(vt, &facts)
}

/// `format_type(oid, typmod)`.
#[must_use]
pub fn format_type(oid: i64, typmod: i64) -> Option<String> {
    let datetime_display = |ty| crate::types::type_display(ty, i32::try_from(typmod).unwrap_or(-1));
    let with_len = |base: &str| {
        if typmod >= 4 {
            format!("{base}({})", typmod - 4)
        } else {
            base.to_string()
        }
    };
    Some(match oid {
        16 => "boolean".into(),
        17 => "bytea".into(),
        18 => "\"char\"".into(),
        19 => "name".into(),
        20 => "bigint".into(),
        21 => "smallint".into(),
        23 => "integer".into(),
        25 => "text".into(),
        26 => "oid".into(),
        700 => "real".into(),
        701 => "double precision".into(),
        1042 if typmod < 4 => "bpchar".into(),
        1042 => with_len("character"),
        1043 => with_len("character varying"),
        1082 => "date".into(),
        1114 if typmod >= 0 => datetime_display(DataType::Timestamp),
        1184 if typmod >= 0 => datetime_display(DataType::TimestampTz),
        1083 if typmod >= 0 => datetime_display(DataType::Time),
        1266 if typmod >= 0 => datetime_display(DataType::TimeTz),
        1186 if typmod >= 0 => datetime_display(DataType::Interval),
        1114 => "timestamp without time zone".into(),
        1184 => "timestamp with time zone".into(),
        1083 => "time without time zone".into(),
        1266 => "time with time zone".into(),
        1186 => "interval".into(),
        114 => "json".into(),
        3802 => "jsonb".into(),
        1700 => crate::types::type_display(DataType::Numeric, i32::try_from(typmod).unwrap_or(-1)),
        2205 => "regclass".into(),
        2206 => "regtype".into(),
        // An array type prints as its element type with `[]`.
        o => {
            let elem = TYPES.iter().find(|t| i64::from(t.4) == o && t.4 != 0)?;
            format!("{}[]", format_type(i64::from(elem.0), typmod)?)
        }
    })
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn oid(o: u32) -> Value {
    Value::Int(i64::from(o))
}

/// Builds a row in the table's column order from named values; unnamed columns are NULL.
pub(crate) fn row(vt: &VirtualTable, named: &[(&str, Value)]) -> Vec<Value> {
    debug_assert!(
        named
            .iter()
            .all(|(n, _)| vt.columns.iter().any(|(c, _)| c == n)),
        "unknown column in {}",
        vt.name
    );
    vt.columns
        .iter()
        .map(|(c, _)| {
            named
                .iter()
                .find(|(n, _)| n == c)
                .map_or(Value::Null, |(_, v)| v.clone())
        })
        .collect()
}

/// The owner of a namespace: `public` belongs to `pg_database_owner`, the rest to the bootstrap
/// role, as in PostgreSQL 15.
fn namespace_owner(namespace: u32) -> u32 {
    if namespace == PUBLIC_NAMESPACE {
        DATABASE_OWNER_ROLE
    } else {
        BOOTSTRAP_ROLE
    }
}

/// `'name'::regclass` literals of an expression's text as PostgreSQL prints them with `public`
/// off the search path: `'public.name'::regclass`.
fn qualify_regclass_literals(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len() + 16);
    let mut rest = expr;
    while let Some(i) = rest.find("'::regclass") {
        let head = &rest[..i];
        match head.rfind('\'') {
            Some(open) if !head[open + 1..].contains('.') => {
                out.push_str(&head[..=open]);
                out.push_str("public.");
                out.push_str(&head[open + 1..]);
            }
            _ => out.push_str(head),
        }
        out.push_str("'::regclass");
        rest = &rest[i + "'::regclass".len()..];
    }
    out.push_str(rest);
    out
}

/// The `'name'::regclass` literals of an expression's text, each name rewritten by `f`.
fn requalify_regclass_literals(expr: &str, f: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(expr.len() + 16);
    let mut rest = expr;
    while let Some(i) = rest.find("'::regclass") {
        let head = &rest[..i];
        match head.rfind('\'') {
            Some(open) => {
                out.push_str(&head[..=open]);
                let name = head[open + 1..].replace("''", "'");
                out.push_str(&f(&name).replace('\'', "''"));
            }
            None => out.push_str(head),
        }
        out.push_str("'::regclass");
        rest = &rest[i + "'::regclass".len()..];
    }
    out.push_str(rest);
    out
}

/// The existing schemas of the session's `search_path`, in order (`$user` names a schema
/// Borealis never has).
fn search_path_schemas(session: &SessionInfo) -> Vec<String> {
    let path = session
        .activity
        .get(session.backend_pid)
        .and_then(|b| b.setting("search_path"))
        .map_or_else(|| "\"$user\", public".to_string(), |s| s.value);
    let mut out: Vec<String> = Vec::new();
    for item in path.split(',') {
        let item = item.trim();
        let name = if item.len() >= 2 && item.starts_with('"') && item.ends_with('"') {
            item[1..item.len() - 1].replace("\"\"", "\"")
        } else {
            item.to_lowercase()
        };
        if namespaces().iter().any(|(_, n)| *n == name) && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// The language of built-in functions (`internal`).
const INTERNAL_LANGUAGE: u32 = 12;

/// The built-in functions Borealis implements (and its access methods' handlers), as
/// PostgreSQL 15's `pg_proc` lists them (every overload of each name): oid, name, argument
/// count, result type, argument types, kind (`f` function, `a` aggregate, `w` window), returns a
/// set, volatility, strict.
#[allow(clippy::type_complexity)]
const BUILTIN_FUNCTIONS: &[(u32, &str, u32, u32, &str, &str, bool, &str, bool)] = &[
    (
        3,
        "heap_tableam_handler",
        1,
        269,
        "2281",
        "f",
        false,
        "v",
        true,
    ),
    (330, "bthandler", 1, 325, "2281", "f", false, "v", true),
    (89, "version", 0, 25, "", "f", false, "s", true),
    (
        384,
        "array_to_string",
        3,
        25,
        "2277 25 25",
        "f",
        false,
        "s",
        false,
    ),
    (
        395,
        "array_to_string",
        2,
        25,
        "2277 25",
        "f",
        false,
        "s",
        true,
    ),
    (745, "current_user", 0, 19, "", "f", false, "s", true),
    (746, "session_user", 0, 19, "", "f", false, "s", true),
    (753, "trunc", 1, 829, "829", "f", false, "i", true),
    (861, "current_database", 0, 19, "", "f", false, "s", true),
    (868, "strpos", 2, 23, "25 25", "f", false, "i", true),
    (870, "lower", 1, 25, "25", "f", false, "i", true),
    (871, "upper", 1, 25, "25", "f", false, "i", true),
    (872, "initcap", 1, 25, "25", "f", false, "i", true),
    (873, "lpad", 3, 25, "25 23 25", "f", false, "i", true),
    (874, "rpad", 3, 25, "25 23 25", "f", false, "i", true),
    (879, "lpad", 2, 25, "25 23", "f", false, "i", true),
    (880, "rpad", 2, 25, "25 23", "f", false, "i", true),
    (
        938,
        "generate_series",
        3,
        1114,
        "1114 1114 1186",
        "f",
        true,
        "i",
        true,
    ),
    (
        939,
        "generate_series",
        3,
        1184,
        "1184 1184 1186",
        "f",
        true,
        "s",
        true,
    ),
    (940, "mod", 2, 21, "21 21", "f", false, "i", true),
    (941, "mod", 2, 23, "23 23", "f", false, "i", true),
    (947, "mod", 2, 20, "20 20", "f", false, "i", true),
    (
        1026,
        "timezone",
        2,
        1114,
        "1186 1184",
        "f",
        false,
        "i",
        true,
    ),
    (
        1066,
        "generate_series",
        3,
        23,
        "23 23 23",
        "f",
        true,
        "i",
        true,
    ),
    (
        1067,
        "generate_series",
        2,
        23,
        "23 23",
        "f",
        true,
        "i",
        true,
    ),
    (
        1068,
        "generate_series",
        3,
        20,
        "20 20 20",
        "f",
        true,
        "i",
        true,
    ),
    (
        1069,
        "generate_series",
        2,
        20,
        "20 20",
        "f",
        true,
        "i",
        true,
    ),
    (1079, "regclass", 1, 2205, "25", "f", false, "s", true),
    (1081, "format_type", 2, 25, "26 23", "f", false, "s", false),
    (1158, "to_timestamp", 1, 1184, "701", "f", false, "i", true),
    (1159, "timezone", 2, 1114, "25 1184", "f", false, "i", true),
    (1171, "date_part", 2, 701, "25 1184", "f", false, "s", true),
    (1172, "date_part", 2, 701, "25 1186", "f", false, "i", true),
    (
        1175,
        "justify_hours",
        1,
        1186,
        "1186",
        "f",
        false,
        "i",
        true,
    ),
    (1181, "age", 1, 23, "28", "f", false, "s", true),
    (1199, "age", 2, 1186, "1184 1184", "f", false, "i", true),
    (
        1215,
        "obj_description",
        2,
        25,
        "26 19",
        "f",
        false,
        "s",
        true,
    ),
    (
        1216,
        "col_description",
        2,
        25,
        "26 23",
        "f",
        false,
        "s",
        true,
    ),
    (
        1217,
        "date_trunc",
        2,
        1184,
        "25 1184",
        "f",
        false,
        "s",
        true,
    ),
    (
        1218,
        "date_trunc",
        2,
        1186,
        "25 1186",
        "f",
        false,
        "i",
        true,
    ),
    (1273, "date_part", 2, 701, "25 1266", "f", false, "i", true),
    (1282, "quote_ident", 1, 25, "25", "f", false, "i", true),
    (1283, "quote_literal", 1, 25, "25", "f", false, "i", true),
    (
        1284,
        "date_trunc",
        3,
        1184,
        "25 1184 25",
        "f",
        false,
        "s",
        true,
    ),
    (1285, "quote_literal", 1, 25, "2283", "f", false, "s", true),
    (1293, "unnest", 1, 3831, "4537", "f", true, "i", true),
    (1295, "justify_days", 1, 1186, "1186", "f", false, "i", true),
    (1299, "now", 0, 1184, "", "f", false, "s", true),
    (1317, "length", 1, 23, "25", "f", false, "i", true),
    (1318, "length", 1, 23, "1042", "f", false, "i", true),
    (1342, "round", 1, 701, "701", "f", false, "i", true),
    (1343, "trunc", 1, 701, "701", "f", false, "i", true),
    (1344, "sqrt", 1, 701, "701", "f", false, "i", true),
    (1346, "pow", 2, 701, "701 701", "f", false, "i", true),
    (1348, "obj_description", 1, 25, "26", "f", false, "s", true),
    (1368, "power", 2, 701, "701 701", "f", false, "i", true),
    (1372, "char_length", 1, 23, "1042", "f", false, "i", true),
    (1373, "isfinite", 1, 16, "1082", "f", false, "i", true),
    (1381, "char_length", 1, 23, "25", "f", false, "i", true),
    (1384, "date_part", 2, 701, "25 1082", "f", false, "i", true),
    (1385, "date_part", 2, 701, "25 1083", "f", false, "i", true),
    (1386, "age", 1, 1186, "1184", "f", false, "s", true),
    (
        1387,
        "pg_get_constraintdef",
        1,
        25,
        "26",
        "f",
        false,
        "s",
        true,
    ),
    (1389, "isfinite", 1, 16, "1184", "f", false, "i", true),
    (1390, "isfinite", 1, 16, "1186", "f", false, "i", true),
    (1394, "abs", 1, 700, "700", "f", false, "i", true),
    (1395, "abs", 1, 701, "701", "f", false, "i", true),
    (1396, "abs", 1, 20, "20", "f", false, "i", true),
    (1397, "abs", 1, 23, "23", "f", false, "i", true),
    (1398, "abs", 1, 21, "21", "f", false, "i", true),
    (1402, "current_schema", 0, 19, "", "f", false, "s", true),
    (
        1403,
        "current_schemas",
        1,
        1003,
        "16",
        "f",
        false,
        "s",
        true,
    ),
    (1530, "length", 1, 701, "601", "f", false, "i", true),
    (1531, "length", 1, 701, "602", "f", false, "i", true),
    (1574, "nextval", 1, 20, "2205", "f", false, "v", true),
    (1575, "currval", 1, 20, "2205", "f", false, "v", true),
    (1576, "setval", 2, 20, "2205 20", "f", false, "v", true),
    (
        1597,
        "pg_encoding_to_char",
        1,
        19,
        "23",
        "f",
        false,
        "s",
        true,
    ),
    (1619, "pg_typeof", 1, 2206, "2276", "f", false, "s", false),
    (1622, "repeat", 2, 25, "25 23", "f", false, "i", true),
    (1640, "pg_get_viewdef", 1, 25, "25", "f", false, "s", true),
    (1641, "pg_get_viewdef", 1, 25, "26", "f", false, "s", true),
    (1642, "pg_get_userbyid", 1, 19, "26", "f", false, "s", true),
    (1643, "pg_get_indexdef", 1, 25, "26", "f", false, "s", true),
    (
        1662,
        "pg_get_triggerdef",
        1,
        25,
        "26",
        "f",
        false,
        "s",
        true,
    ),
    (
        1665,
        "pg_get_serial_sequence",
        2,
        25,
        "25 25",
        "f",
        false,
        "s",
        true,
    ),
    (1681, "length", 1, 23, "1560", "f", false, "i", true),
    (1705, "abs", 1, 1700, "1700", "f", false, "i", true),
    (1706, "sign", 1, 1700, "1700", "f", false, "i", true),
    (1707, "round", 2, 1700, "1700 23", "f", false, "i", true),
    (1708, "round", 1, 1700, "1700", "f", false, "i", true),
    (1709, "trunc", 2, 1700, "1700 23", "f", false, "i", true),
    (1710, "trunc", 1, 1700, "1700", "f", false, "i", true),
    (1711, "ceil", 1, 1700, "1700", "f", false, "i", true),
    (1712, "floor", 1, 1700, "1700", "f", false, "i", true),
    (1713, "length", 2, 23, "17 19", "f", false, "s", true),
    (1716, "pg_get_expr", 2, 25, "194 26", "f", false, "s", true),
    (1728, "mod", 2, 1700, "1700 1700", "f", false, "i", true),
    (1730, "sqrt", 1, 1700, "1700", "f", false, "i", true),
    (1738, "pow", 2, 1700, "1700 1700", "f", false, "i", true),
    (1765, "setval", 3, 20, "2205 20 16", "f", false, "v", true),
    (1768, "to_char", 2, 25, "1186 25", "f", false, "s", true),
    (1770, "to_char", 2, 25, "1184 25", "f", false, "s", true),
    (1772, "to_char", 2, 25, "1700 25", "f", false, "s", true),
    (1773, "to_char", 2, 25, "23 25", "f", false, "s", true),
    (1774, "to_char", 2, 25, "20 25", "f", false, "s", true),
    (1775, "to_char", 2, 25, "700 25", "f", false, "s", true),
    (1776, "to_char", 2, 25, "701 25", "f", false, "s", true),
    (
        1778,
        "to_timestamp",
        2,
        1184,
        "25 25",
        "f",
        false,
        "s",
        true,
    ),
    (1780, "to_date", 2, 1082, "25 25", "f", false, "s", true),
    (
        1922,
        "has_table_privilege",
        3,
        16,
        "19 25 25",
        "f",
        false,
        "s",
        true,
    ),
    (
        1923,
        "has_table_privilege",
        3,
        16,
        "19 26 25",
        "f",
        false,
        "s",
        true,
    ),
    (
        1924,
        "has_table_privilege",
        3,
        16,
        "26 25 25",
        "f",
        false,
        "s",
        true,
    ),
    (
        1925,
        "has_table_privilege",
        3,
        16,
        "26 26 25",
        "f",
        false,
        "s",
        true,
    ),
    (
        1926,
        "has_table_privilege",
        2,
        16,
        "25 25",
        "f",
        false,
        "s",
        true,
    ),
    (
        1927,
        "has_table_privilege",
        2,
        16,
        "26 25",
        "f",
        false,
        "s",
        true,
    ),
    (1973, "div", 2, 1700, "1700 1700", "f", false, "i", true),
    (
        1993,
        "shobj_description",
        2,
        25,
        "26 19",
        "f",
        false,
        "s",
        true,
    ),
    (2010, "length", 1, 23, "17", "f", false, "i", true),
    (
        2020,
        "date_trunc",
        2,
        1114,
        "25 1114",
        "f",
        false,
        "i",
        true,
    ),
    (2021, "date_part", 2, 701, "25 1114", "f", false, "i", true),
    (2026, "pg_backend_pid", 0, 23, "", "f", false, "s", true),
    (2037, "timezone", 2, 1266, "25 1266", "f", false, "s", true),
    (
        2038,
        "timezone",
        2,
        1266,
        "1186 1266",
        "f",
        false,
        "i",
        true,
    ),
    (2048, "isfinite", 1, 16, "1114", "f", false, "i", true),
    (2049, "to_char", 2, 25, "1114 25", "f", false, "s", true),
    (2050, "max", 1, 2277, "2277", "a", false, "i", false),
    (2051, "min", 1, 2277, "2277", "a", false, "i", false),
    (2058, "age", 2, 1186, "1114 1114", "f", false, "i", true),
    (2059, "age", 1, 1186, "1114", "f", false, "s", true),
    (2069, "timezone", 2, 1184, "25 1114", "f", false, "i", true),
    (
        2070,
        "timezone",
        2,
        1184,
        "1186 1114",
        "f",
        false,
        "i",
        true,
    ),
    (2077, "current_setting", 1, 25, "25", "f", false, "s", true),
    (
        2078,
        "set_config",
        3,
        25,
        "25 25 16",
        "f",
        false,
        "v",
        false,
    ),
    (
        2079,
        "pg_table_is_visible",
        1,
        16,
        "26",
        "f",
        false,
        "s",
        true,
    ),
    (
        2080,
        "pg_type_is_visible",
        1,
        16,
        "26",
        "f",
        false,
        "s",
        true,
    ),
    (2087, "replace", 3, 25, "25 25 25", "f", false, "i", true),
    (2088, "split_part", 3, 25, "25 25 23", "f", false, "i", true),
    (2092, "array_upper", 2, 23, "2277 23", "f", false, "i", true),
    (
        2096,
        "pg_terminate_backend",
        2,
        16,
        "23 20",
        "f",
        false,
        "v",
        true,
    ),
    (2100, "avg", 1, 1700, "20", "a", false, "i", false),
    (2101, "avg", 1, 1700, "23", "a", false, "i", false),
    (2102, "avg", 1, 1700, "21", "a", false, "i", false),
    (2103, "avg", 1, 1700, "1700", "a", false, "i", false),
    (2104, "avg", 1, 701, "700", "a", false, "i", false),
    (2105, "avg", 1, 701, "701", "a", false, "i", false),
    (2106, "avg", 1, 1186, "1186", "a", false, "i", false),
    (2107, "sum", 1, 1700, "20", "a", false, "i", false),
    (2108, "sum", 1, 20, "23", "a", false, "i", false),
    (2109, "sum", 1, 20, "21", "a", false, "i", false),
    (2110, "sum", 1, 700, "700", "a", false, "i", false),
    (2111, "sum", 1, 701, "701", "a", false, "i", false),
    (2112, "sum", 1, 790, "790", "a", false, "i", false),
    (2113, "sum", 1, 1186, "1186", "a", false, "i", false),
    (2114, "sum", 1, 1700, "1700", "a", false, "i", false),
    (2115, "max", 1, 20, "20", "a", false, "i", false),
    (2116, "max", 1, 23, "23", "a", false, "i", false),
    (2117, "max", 1, 21, "21", "a", false, "i", false),
    (2118, "max", 1, 26, "26", "a", false, "i", false),
    (2119, "max", 1, 700, "700", "a", false, "i", false),
    (2120, "max", 1, 701, "701", "a", false, "i", false),
    (2122, "max", 1, 1082, "1082", "a", false, "i", false),
    (2123, "max", 1, 1083, "1083", "a", false, "i", false),
    (2124, "max", 1, 1266, "1266", "a", false, "i", false),
    (2125, "max", 1, 790, "790", "a", false, "i", false),
    (2126, "max", 1, 1114, "1114", "a", false, "i", false),
    (2127, "max", 1, 1184, "1184", "a", false, "i", false),
    (2128, "max", 1, 1186, "1186", "a", false, "i", false),
    (2129, "max", 1, 25, "25", "a", false, "i", false),
    (2130, "max", 1, 1700, "1700", "a", false, "i", false),
    (2131, "min", 1, 20, "20", "a", false, "i", false),
    (2132, "min", 1, 23, "23", "a", false, "i", false),
    (2133, "min", 1, 21, "21", "a", false, "i", false),
    (2134, "min", 1, 26, "26", "a", false, "i", false),
    (2135, "min", 1, 700, "700", "a", false, "i", false),
    (2136, "min", 1, 701, "701", "a", false, "i", false),
    (2138, "min", 1, 1082, "1082", "a", false, "i", false),
    (2139, "min", 1, 1083, "1083", "a", false, "i", false),
    (2140, "min", 1, 1266, "1266", "a", false, "i", false),
    (2141, "min", 1, 790, "790", "a", false, "i", false),
    (2142, "min", 1, 1114, "1114", "a", false, "i", false),
    (2143, "min", 1, 1184, "1184", "a", false, "i", false),
    (2144, "min", 1, 1186, "1186", "a", false, "i", false),
    (2145, "min", 1, 25, "25", "a", false, "i", false),
    (2146, "min", 1, 1700, "1700", "a", false, "i", false),
    (2147, "count", 1, 20, "2276", "a", false, "i", false),
    (2167, "ceiling", 1, 1700, "1700", "f", false, "i", true),
    (2169, "power", 2, 1700, "1700 1700", "f", false, "i", true),
    (
        2171,
        "pg_cancel_backend",
        1,
        16,
        "23",
        "f",
        false,
        "v",
        true,
    ),
    (2244, "max", 1, 1042, "1042", "a", false, "i", false),
    (2245, "min", 1, 1042, "1042", "a", false, "i", false),
    (
        2250,
        "has_database_privilege",
        3,
        16,
        "19 25 25",
        "f",
        false,
        "s",
        true,
    ),
    (
        2251,
        "has_database_privilege",
        3,
        16,
        "19 26 25",
        "f",
        false,
        "s",
        true,
    ),
    (
        2252,
        "has_database_privilege",
        3,
        16,
        "26 25 25",
        "f",
        false,
        "s",
        true,
    ),
    (
        2253,
        "has_database_privilege",
        3,
        16,
        "26 26 25",
        "f",
        false,
        "s",
        true,
    ),
    (
        2254,
        "has_database_privilege",
        2,
        16,
        "25 25",
        "f",
        false,
        "s",
        true,
    ),
    (
        2255,
        "has_database_privilege",
        2,
        16,
        "26 25",
        "f",
        false,
        "s",
        true,
    ),
    (
        2268,
        "has_schema_privilege",
        3,
        16,
        "19 25 25",
        "f",
        false,
        "s",
        true,
    ),
    (
        2269,
        "has_schema_privilege",
        3,
        16,
        "19 26 25",
        "f",
        false,
        "s",
        true,
    ),
    (
        2270,
        "has_schema_privilege",
        3,
        16,
        "26 25 25",
        "f",
        false,
        "s",
        true,
    ),
    (
        2271,
        "has_schema_privilege",
        3,
        16,
        "26 26 25",
        "f",
        false,
        "s",
        true,
    ),
    (
        2272,
        "has_schema_privilege",
        2,
        16,
        "25 25",
        "f",
        false,
        "s",
        true,
    ),
    (
        2273,
        "has_schema_privilege",
        2,
        16,
        "26 25",
        "f",
        false,
        "s",
        true,
    ),
    (
        2286,
        "pg_total_relation_size",
        1,
        20,
        "2205",
        "f",
        false,
        "v",
        true,
    ),
    (2288, "pg_size_pretty", 1, 25, "20", "f", false, "i", true),
    (
        2289,
        "pg_options_to_table",
        1,
        2249,
        "1009",
        "f",
        true,
        "s",
        true,
    ),
    (2308, "ceil", 1, 701, "701", "f", false, "i", true),
    (2309, "floor", 1, 701, "701", "f", false, "i", true),
    (2310, "sign", 1, 701, "701", "f", false, "i", true),
    (2320, "ceiling", 1, 701, "701", "f", false, "i", true),
    (
        2325,
        "pg_relation_size",
        1,
        20,
        "2205",
        "f",
        false,
        "v",
        true,
    ),
    (2331, "unnest", 1, 2283, "2277", "f", true, "i", true),
    (
        2332,
        "pg_relation_size",
        2,
        20,
        "2205 25",
        "f",
        false,
        "v",
        true,
    ),
    (2335, "array_agg", 1, 2277, "2776", "a", false, "i", false),
    (
        2505,
        "pg_get_viewdef",
        2,
        25,
        "25 16",
        "f",
        false,
        "s",
        true,
    ),
    (
        2506,
        "pg_get_viewdef",
        2,
        25,
        "26 16",
        "f",
        false,
        "s",
        true,
    ),
    (
        2507,
        "pg_get_indexdef",
        3,
        25,
        "26 23 16",
        "f",
        false,
        "s",
        true,
    ),
    (
        2508,
        "pg_get_constraintdef",
        2,
        25,
        "26 16",
        "f",
        false,
        "s",
        true,
    ),
    (
        2509,
        "pg_get_expr",
        3,
        25,
        "194 26 16",
        "f",
        false,
        "s",
        true,
    ),
    (2517, "bool_and", 1, 16, "16", "a", false, "i", false),
    (2518, "bool_or", 1, 16, "16", "a", false, "i", false),
    (2519, "every", 1, 16, "16", "a", false, "i", false),
    (2559, "lastval", 0, 20, "", "f", false, "v", true),
    (
        2647,
        "transaction_timestamp",
        0,
        1184,
        "",
        "f",
        false,
        "s",
        true,
    ),
    (
        2648,
        "statement_timestamp",
        0,
        1184,
        "",
        "f",
        false,
        "s",
        true,
    ),
    (2649, "clock_timestamp", 0, 1184, "", "f", false, "v", true),
    (
        2730,
        "pg_get_triggerdef",
        2,
        25,
        "26 16",
        "f",
        false,
        "s",
        true,
    ),
    (2797, "max", 1, 27, "27", "a", false, "i", false),
    (2798, "min", 1, 27, "27", "a", false, "i", false),
    (2803, "count", 0, 20, "", "a", false, "i", false),
    (2997, "pg_table_size", 1, 20, "2205", "f", false, "v", true),
    (
        2998,
        "pg_indexes_size",
        1,
        20,
        "2205",
        "f",
        false,
        "v",
        true,
    ),
    (3058, "concat", 1, 25, "2276", "f", false, "s", false),
    (3059, "concat_ws", 2, 25, "25 2276", "f", false, "s", false),
    (3060, "left", 2, 25, "25 23", "f", false, "i", true),
    (3061, "right", 2, 25, "25 23", "f", false, "i", true),
    (3062, "reverse", 1, 25, "25", "f", false, "i", true),
    (3100, "row_number", 0, 20, "", "w", false, "i", false),
    (3101, "rank", 0, 20, "", "w", false, "i", false),
    (3102, "dense_rank", 0, 20, "", "w", false, "i", false),
    (3103, "percent_rank", 0, 701, "", "w", false, "i", false),
    (3104, "cume_dist", 0, 701, "", "w", false, "i", false),
    (3105, "ntile", 1, 23, "23", "w", false, "i", true),
    (3106, "lag", 1, 2283, "2283", "w", false, "i", true),
    (3107, "lag", 2, 2283, "2283 23", "w", false, "i", true),
    (3108, "lag", 3, 5077, "5077 23 5077", "w", false, "i", true),
    (3109, "lead", 1, 2283, "2283", "w", false, "i", true),
    (3110, "lead", 2, 2283, "2283 23", "w", false, "i", true),
    (3111, "lead", 3, 5077, "5077 23 5077", "w", false, "i", true),
    (3112, "first_value", 1, 2283, "2283", "w", false, "i", true),
    (3113, "last_value", 1, 2283, "2283", "w", false, "i", true),
    (3114, "nth_value", 2, 2283, "2283 23", "w", false, "i", true),
    (
        3159,
        "pg_get_viewdef",
        2,
        25,
        "26 23",
        "f",
        false,
        "s",
        true,
    ),
    (3166, "pg_size_pretty", 1, 25, "1700", "f", false, "i", true),
    (
        3167,
        "array_remove",
        2,
        5078,
        "5078 5077",
        "f",
        false,
        "i",
        false,
    ),
    (
        3259,
        "generate_series",
        3,
        1700,
        "1700 1700 1700",
        "f",
        true,
        "i",
        true,
    ),
    (
        3260,
        "generate_series",
        2,
        1700,
        "1700 1700",
        "f",
        true,
        "i",
        true,
    ),
    (
        3277,
        "array_position",
        2,
        23,
        "5078 5077",
        "f",
        false,
        "i",
        false,
    ),
    (
        3278,
        "array_position",
        3,
        23,
        "5078 5077 23",
        "f",
        false,
        "i",
        false,
    ),
    (
        3294,
        "current_setting",
        2,
        25,
        "25 16",
        "f",
        false,
        "s",
        true,
    ),
    (3322, "unnest", 1, 2249, "3614", "f", true, "i", true),
    (
        3425,
        "pg_partition_ancestors",
        1,
        2205,
        "2205",
        "f",
        true,
        "v",
        true,
    ),
    (
        3461,
        "make_timestamp",
        6,
        1114,
        "23 23 23 23 23 701",
        "f",
        false,
        "i",
        true,
    ),
    (
        3464,
        "make_interval",
        7,
        1186,
        "23 23 23 23 23 23 701",
        "f",
        false,
        "i",
        true,
    ),
    (3493, "to_regtype", 1, 2206, "25", "f", false, "s", true),
    (3495, "to_regclass", 1, 2205, "25", "f", false, "s", true),
    (3526, "max", 1, 3500, "3500", "a", false, "i", false),
    (3527, "min", 1, 3500, "3500", "a", false, "i", false),
    (3538, "string_agg", 2, 25, "25 25", "a", false, "i", false),
    (3545, "string_agg", 2, 17, "17 17", "a", false, "i", false),
    (3564, "max", 1, 869, "869", "a", false, "i", false),
    (3565, "min", 1, 869, "869", "a", false, "i", false),
    (3711, "length", 1, 23, "3614", "f", false, "i", true),
    (3810, "pg_is_in_recovery", 0, 16, "", "f", false, "v", true),
    (
        3846,
        "make_date",
        3,
        1082,
        "23 23 23",
        "f",
        false,
        "i",
        true,
    ),
    (3848, "lower", 1, 2283, "3831", "f", false, "i", true),
    (3849, "upper", 1, 2283, "3831", "f", false, "i", true),
    (3943, "acldefault", 2, 1034, "18 26", "f", false, "i", true),
    (3986, "rank", 1, 20, "2276", "a", false, "i", false),
    (3988, "percent_rank", 1, 701, "2276", "a", false, "i", false),
    (3990, "cume_dist", 1, 701, "2276", "a", false, "i", false),
    (3992, "dense_rank", 1, 20, "2276", "a", false, "i", false),
    (4053, "array_agg", 1, 2277, "2277", "a", false, "i", false),
    (4112, "trunc", 1, 774, "774", "f", false, "i", true),
    (4189, "max", 1, 3220, "3220", "a", false, "i", false),
    (4190, "min", 1, 3220, "3220", "a", false, "i", false),
    (4235, "lower", 1, 2283, "4537", "f", false, "i", true),
    (4236, "upper", 1, 2283, "4537", "f", false, "i", true),
    (5099, "max", 1, 5069, "5069", "a", false, "i", false),
    (5100, "min", 1, 5069, "5069", "a", false, "i", false),
    (
        6121,
        "pg_relation_is_publishable",
        1,
        16,
        "2205",
        "f",
        false,
        "s",
        true,
    ),
    (
        6174,
        "pg_get_statisticsobjdef_columns",
        1,
        25,
        "26",
        "f",
        false,
        "s",
        true,
    ),
    (
        6177,
        "date_bin",
        3,
        1114,
        "1186 1114 1114",
        "f",
        false,
        "i",
        true,
    ),
    (
        6178,
        "date_bin",
        3,
        1184,
        "1186 1184 1184",
        "f",
        false,
        "i",
        true,
    ),
    (6199, "extract", 2, 1700, "25 1082", "f", false, "i", true),
    (6200, "extract", 2, 1700, "25 1083", "f", false, "i", true),
    (6201, "extract", 2, 1700, "25 1266", "f", false, "i", true),
    (6202, "extract", 2, 1700, "25 1114", "f", false, "i", true),
    (6203, "extract", 2, 1700, "25 1184", "f", false, "s", true),
    (6204, "extract", 2, 1700, "25 1186", "f", false, "i", true),
];

/// PostgreSQL 15's description of the `public` schema.
const PUBLIC_SCHEMA_DESCRIPTION: &str = "standard public schema";

/// OIDs of the catalogs `classid`/`classoid` columns name.
const PG_CLASS_CLASS: u32 = 1259;
const PG_ATTRDEF_CLASS: u32 = 2604;
const PG_NAMESPACE_CLASS: u32 = 2615;
const PG_REWRITE_CLASS: u32 = 2618;

/// A namespace's ACL as PostgreSQL 15 creates it: usage for everyone, and create for the owner.
fn namespace_acl(namespace: u32, user: &str) -> Value {
    match namespace {
        PG_TOAST_NAMESPACE => Value::Null,
        PUBLIC_NAMESPACE => text("{pg_database_owner=UC/pg_database_owner,=U/pg_database_owner}"),
        _ => {
            let u = quote_ident(user);
            Value::Text(format!("{{{u}=UC/{u},=U/{u}}}"))
        }
    }
}

/// (OID, name) of every schema the evaluating statement sees.
fn namespace_list(cx: &EvalContext<'_>) -> SqlResult<Vec<(u32, String)>> {
    match cx.exec {
        Some(exec) => Ok(all_namespaces(exec.engine, exec.txn)?
            .into_iter()
            .map(|(o, n, _)| (o, n))
            .collect()),
        None => Ok(namespaces()
            .iter()
            .map(|(o, n)| (*o, (*n).to_string()))
            .collect()),
    }
}

/// The OID of a view's `_RETURN` rule: the odd OID after the view's (views have no index).
fn view_rule_oid(v: &ViewDef) -> u32 {
    v.oid + 1
}

/// The OID of a session's temporary schema: a range of its own, far above relation OIDs.
#[must_use]
pub fn temp_namespace_oid(schema: &str) -> u32 {
    const TEMP_NAMESPACE_BASE: u32 = 0x7f00_0000;
    let n: u32 = schema
        .strip_prefix(crate::namespace::TEMP_PREFIX)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    TEMP_NAMESPACE_BASE | (n & 0x00ff_ffff)
}

/// `relpersistence`: `t` for a relation of a temporary schema.
fn persistence(schema: &str) -> &'static str {
    if crate::namespace::is_temp(schema) {
        "t"
    } else {
        "p"
    }
}

/// Every schema the session sees: (OID, name, owner role OID): the built-in ones, the user
/// schemas, and the session's temporary schema while it has temporary relations.
pub fn all_namespaces(engine: &Engine, txn: &Txn) -> SqlResult<Vec<(u32, String, u32)>> {
    let mut out: Vec<(u32, String, u32)> = namespaces()
        .iter()
        .map(|(o, n)| (*o, (*n).to_string(), namespace_owner(*o)))
        .collect();
    for d in crate::namespace::all(engine, txn)? {
        out.push((d.oid, d.name, BOOTSTRAP_ROLE));
    }
    let cx = crate::namespace::context();
    if cx.temp_in_use {
        out.push((
            temp_namespace_oid(&cx.temp_schema),
            cx.temp_schema.clone(),
            BOOTSTRAP_ROLE,
        ));
    }
    Ok(out)
}

fn namespaces() -> [(u32, &'static str); 4] {
    [
        (PG_CATALOG_NAMESPACE, "pg_catalog"),
        (PUBLIC_NAMESPACE, "public"),
        (INFORMATION_SCHEMA_NAMESPACE, "information_schema"),
        (PG_TOAST_NAMESPACE, "pg_toast"),
    ]
}

fn key_columns(def: &TableDef) -> String {
    column_list(def, &def.pk)
}

fn column_list(def: &TableDef, columns: &[usize]) -> String {
    columns
        .iter()
        .map(|&i| quote_ident(&def.columns[i].name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// PostgreSQL quotes an identifier unless it is lower case letters, digits and underscores.
#[must_use]
pub fn quote_ident(s: &str) -> String {
    let plain = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('"', "\"\""))
    }
}

/// An expression's stored text (a default, a CHECK) as PostgreSQL prints it: type names in
/// casts in lower case (`(0)::double precision`, as the SQL was written or re-read from a dump),
/// and a `regclass` literal without the `public.` qualifier, since `public` is on the search
/// path (`nextval('s'::regclass)`).
#[must_use]
pub fn display_expr(expr: &str) -> String {
    // Type names of more than one word, as they follow `::`.
    const MULTI: &[&str] = &[
        "DOUBLE PRECISION",
        "CHARACTER VARYING",
        "TIMESTAMP WITHOUT TIME ZONE",
        "TIMESTAMP WITH TIME ZONE",
    ];
    let mut out = String::with_capacity(expr.len());
    let mut rest = expr;
    let mut in_string = false;
    while let Some(c) = rest.chars().next() {
        if c == '\'' {
            in_string = !in_string;
            if in_string && let Some(end) = rest[1..].find('\'') {
                let literal = &rest[1..=end];
                let after = &rest[end + 2..];
                if after.to_ascii_lowercase().starts_with("::regclass") {
                    let name = literal.strip_prefix("public.").unwrap_or(literal);
                    out.push('\'');
                    out.push_str(name);
                    out.push('\'');
                    rest = after;
                    in_string = false;
                    continue;
                }
            }
        } else if !in_string && rest.starts_with("::") {
            out.push_str("::");
            rest = &rest[2..];
            let upper = rest.to_ascii_uppercase();
            let len = MULTI.iter().find(|m| upper.starts_with(*m)).map_or_else(
                || {
                    rest.find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                        .unwrap_or(rest.len())
                },
                |m| m.len(),
            );
            out.push_str(&rest[..len].to_ascii_lowercase());
            rest = &rest[len..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The rows of a virtual table as the transaction sees the catalog.
pub fn rows(
    vt: &VirtualTable,
    engine: &Engine,
    txn: &Txn,
    session: &SessionInfo,
    sequences: Option<&Sequences>,
) -> SqlResult<Vec<Vec<Value>>> {
    let user = if session.user.is_empty() {
        "borealis"
    } else {
        session.user.as_str()
    };
    let database = if session.database.is_empty() {
        "borealis"
    } else {
        session.database.as_str()
    };
    let tables = || user_tables(engine, txn);
    let seqs = || user_sequences(engine, txn);
    let views = || user_views(engine, txn);
    let schemas = all_namespaces(engine, txn)?;
    let nsp = |schema: &str| {
        schemas
            .iter()
            .find(|n| n.1 == schema)
            .map_or(PUBLIC_NAMESPACE, |n| n.0)
    };
    if let Some(rows) = crate::info_schema::rows(vt, engine, txn, database, &schemas, || {
        Ok(views()?
            .into_iter()
            .map(|v| {
                let definition = view_definition(&v, session);
                (v, definition)
            })
            .collect())
    })? {
        return Ok(rows);
    }
    let mut out = Vec::new();
    match vt.name {
        "pg_settings" => {
            let backend = session.activity.get(session.backend_pid);
            for def in crate::settings::SETTINGS.iter().filter(|d| !d.hidden) {
                let current = backend
                    .as_ref()
                    .and_then(|b| b.setting(def.name))
                    .unwrap_or_else(|| crate::activity::PublishedSetting {
                        value: def.boot.to_string(),
                        source: crate::activity::SettingSource::Default,
                        reset: def.boot.to_string(),
                    });
                let shown = |v: &str| match def.vartype {
                    crate::settings::VarType::Integer => crate::settings::base_value(def, v)
                        .map_or_else(|| text(v), |n| Value::Text(n.to_string())),
                    _ => text(v),
                };
                let (min, max) = def.range.map_or((Value::Null, Value::Null), |(lo, hi)| {
                    (Value::Text(lo.to_string()), Value::Text(hi.to_string()))
                });
                out.push(row(
                    vt,
                    &[
                        ("name", text(def.name)),
                        ("setting", shown(&current.value)),
                        ("unit", def.unit.map_or(Value::Null, text)),
                        ("category", text(def.category)),
                        ("short_desc", text(def.short_desc)),
                        ("context", text(def.context)),
                        ("vartype", text(crate::settings::vartype_name(def))),
                        ("source", text(current.source.name())),
                        ("min_val", min),
                        ("max_val", max),
                        (
                            "enumvals",
                            crate::settings::enum_values(def).map_or(Value::Null, Value::Text),
                        ),
                        ("boot_val", shown(def.boot)),
                        ("reset_val", shown(&current.reset)),
                        ("pending_restart", Value::Bool(false)),
                    ],
                ));
            }
        }
        "pg_timezone_names" => {
            // Every zone of the time zone database as of now() (the transaction's start).
            let now = crate::datetime::transaction_start_us();
            for name in crate::tz::list_zone_names() {
                let Ok(Some(z)) = crate::tz::lookup(&name) else {
                    continue;
                };
                let ty = z.type_at(now.div_euclid(1_000_000));
                out.push(row(
                    vt,
                    &[
                        ("name", text(&name)),
                        ("abbrev", text(&ty.abbreviation)),
                        (
                            "utc_offset",
                            Value::Interval(crate::datetime::Interval {
                                months: 0,
                                days: 0,
                                micros: i64::from(ty.east_secs) * 1_000_000,
                            }),
                        ),
                        ("is_dst", Value::Bool(ty.is_dst)),
                    ],
                ));
            }
        }
        "pg_stat_activity" => {
            let at = |t: Option<i64>| t.map_or(Value::Null, Value::TimestampTz);
            for b in session.activity.list() {
                let st = b.state();
                let app = b
                    .setting("application_name")
                    .map(|s| s.value)
                    .unwrap_or_default();
                out.push(row(
                    vt,
                    &[
                        ("datid", oid(DATABASE_OID)),
                        ("datname", Value::Text(b.database.clone())),
                        ("pid", Value::Int(i64::from(b.pid))),
                        ("usesysid", oid(BOOTSTRAP_ROLE)),
                        ("usename", Value::Text(b.user.clone())),
                        ("application_name", Value::Text(app)),
                        (
                            "client_addr",
                            st.client_addr.map_or(Value::Null, Value::Text),
                        ),
                        (
                            "client_port",
                            st.client_port.map_or(Value::Null, Value::Int),
                        ),
                        ("backend_start", Value::TimestampTz(b.backend_start_us)),
                        ("xact_start", at(st.xact_start_us)),
                        ("query_start", at(st.query_start_us)),
                        ("state_change", at(st.state_change_us)),
                        (
                            "wait_event_type",
                            if st.state == "active" {
                                Value::Null
                            } else {
                                text("Client")
                            },
                        ),
                        (
                            "wait_event",
                            if st.state == "active" {
                                Value::Null
                            } else {
                                text("ClientRead")
                            },
                        ),
                        (
                            "state",
                            if st.state.is_empty() {
                                Value::Null
                            } else {
                                text(st.state)
                            },
                        ),
                        ("query", Value::Text(st.query)),
                        ("backend_type", text("client backend")),
                    ],
                ));
            }
        }
        "pg_cursors" => {
            // The reading session's own cursors, as in PostgreSQL.
            if let Some(b) = session
                .activity
                .list()
                .into_iter()
                .find(|b| b.pid == session.backend_pid)
            {
                for c in b.cursors() {
                    out.push(row(
                        vt,
                        &[
                            ("name", Value::Text(c.name)),
                            ("statement", Value::Text(c.statement)),
                            ("is_holdable", Value::Bool(c.is_holdable)),
                            ("is_binary", Value::Bool(c.is_binary)),
                            ("is_scrollable", Value::Bool(c.is_scrollable)),
                            ("creation_time", Value::TimestampTz(c.creation_us)),
                        ],
                    ));
                }
            }
        }
        "pg_namespace" => {
            for (o, n, owner) in &schemas {
                out.push(row(
                    vt,
                    &[
                        ("oid", oid(*o)),
                        ("nspname", Value::Text(n.clone())),
                        ("nspowner", oid(*owner)),
                        (
                            "nspacl",
                            if *o >= FIRST_USER_OID {
                                Value::Null
                            } else {
                                namespace_acl(*o, user)
                            },
                        ),
                    ],
                ));
            }
        }
        "pg_proc" => {
            for &(o, name, nargs, ret, args, kind, retset, volatile, strict) in BUILTIN_FUNCTIONS {
                out.push(row(
                    vt,
                    &[
                        ("oid", oid(o)),
                        ("proname", text(name)),
                        ("pronamespace", oid(PG_CATALOG_NAMESPACE)),
                        ("proowner", oid(BOOTSTRAP_ROLE)),
                        ("prolang", oid(INTERNAL_LANGUAGE)),
                        ("procost", Value::Float(1.0)),
                        ("prorows", Value::Float(if retset { 1000.0 } else { 0.0 })),
                        ("provariadic", oid(0)),
                        ("prosupport", oid(0)),
                        ("prokind", text(kind)),
                        ("prosecdef", Value::Bool(false)),
                        ("proleakproof", Value::Bool(false)),
                        ("proisstrict", Value::Bool(strict)),
                        ("proretset", Value::Bool(retset)),
                        ("provolatile", text(volatile)),
                        ("proparallel", text("s")),
                        ("pronargs", Value::Int(i64::from(nargs))),
                        ("pronargdefaults", Value::Int(0)),
                        ("prorettype", oid(ret)),
                        ("proargtypes", text(args)),
                        ("prosrc", text(name)),
                    ],
                ));
            }
        }
        "pg_language" => {
            for (o, name, trusted, validator) in [
                (12, "internal", false, 2246),
                (13, "c", false, 2247),
                (14, "sql", true, 2248),
            ] {
                out.push(row(
                    vt,
                    &[
                        ("oid", oid(o)),
                        ("lanname", text(name)),
                        ("lanowner", oid(BOOTSTRAP_ROLE)),
                        ("lanispl", Value::Bool(false)),
                        ("lanpltrusted", Value::Bool(trusted)),
                        ("lanplcallfoid", oid(0)),
                        ("laninline", oid(0)),
                        ("lanvalidator", oid(validator)),
                    ],
                ));
            }
        }
        "pg_init_privs" => {
            // The initial privileges of the schemas pg_dump compares their ACLs with.
            for ns in [PG_CATALOG_NAMESPACE, PUBLIC_NAMESPACE] {
                out.push(row(
                    vt,
                    &[
                        ("objoid", oid(ns)),
                        ("classoid", oid(PG_NAMESPACE_CLASS)),
                        ("objsubid", Value::Int(0)),
                        ("privtype", text("i")),
                        ("initprivs", namespace_acl(ns, user)),
                    ],
                ));
            }
        }
        "pg_description" => {
            let comments = crate::comments::all(engine, txn)?;
            // The public schema's description, unless a COMMENT replaced it.
            if !comments
                .iter()
                .any(|c| c.0 == PG_NAMESPACE_CLASS && c.1 == PUBLIC_NAMESPACE)
            {
                out.push(row(
                    vt,
                    &[
                        ("objoid", oid(PUBLIC_NAMESPACE)),
                        ("classoid", oid(PG_NAMESPACE_CLASS)),
                        ("objsubid", Value::Int(0)),
                        ("description", text(PUBLIC_SCHEMA_DESCRIPTION)),
                    ],
                ));
            }
            for (classoid, objoid, subid, description) in comments {
                out.push(row(
                    vt,
                    &[
                        ("objoid", oid(objoid)),
                        ("classoid", oid(classoid)),
                        ("objsubid", Value::Int(i64::from(subid))),
                        ("description", Value::Text(description)),
                    ],
                ));
            }
        }
        "pg_depend" => {
            // The dependencies pg_dump orders its output by: a sequence owned by a column
            // (`a`; `i` for an identity column) and a default that calls nextval on a sequence
            // (`n`), so a serial column's default is set after its sequence exists.
            let all_seqs = seqs()?;
            let dep = |classid: u32, objid: u32, refobjid: u32, refsub: i64, deptype: &str| {
                row(
                    vt,
                    &[
                        ("classid", oid(classid)),
                        ("objid", oid(objid)),
                        ("objsubid", Value::Int(0)),
                        ("refclassid", oid(PG_CLASS_CLASS)),
                        ("refobjid", oid(refobjid)),
                        ("refobjsubid", Value::Int(refsub)),
                        ("deptype", text(deptype)),
                    ],
                )
            };
            for seq in &all_seqs {
                if let Some((table, column)) = seq.owned_by {
                    let kind = if seq.identity { "i" } else { "a" };
                    out.push(dep(
                        PG_CLASS_CLASS,
                        seq.oid,
                        table,
                        i64::from(column) + 1,
                        kind,
                    ));
                }
            }
            for def in tables()? {
                for (n, c) in def.columns.iter().enumerate() {
                    let Some(d) = c.attrdef() else { continue };
                    let d = d.to_string();
                    for seq in crate::depend::default_sequences(engine, txn, &d) {
                        out.push(dep(PG_ATTRDEF_CLASS, attrdef_oid(&def, n), seq, 0, "n"));
                    }
                }
            }
            // A view's `_RETURN` rule depends on the columns its query reads (on a relation
            // as a whole when it reads none of its columns), so a dump creates them first;
            // and, as in PostgreSQL 15, on its own view: internally, and through the query's
            // OLD and NEW entries.
            for v in views()? {
                let mut rows = vec![(v.oid, 0, "i"), (v.oid, 0, "n")];
                for d in crate::depend::of_view(engine, txn, &v) {
                    rows.push((d.oid, i64::from(d.column), "n"));
                }
                for (refobjid, refsub, deptype) in rows {
                    out.push(dep(
                        PG_REWRITE_CLASS,
                        view_rule_oid(&v),
                        refobjid,
                        refsub,
                        deptype,
                    ));
                }
            }
        }
        "pg_rewrite" => {
            for v in views()? {
                out.push(row(
                    vt,
                    &[
                        ("oid", oid(view_rule_oid(&v))),
                        ("rulename", text("_RETURN")),
                        ("ev_class", oid(v.oid)),
                        ("ev_type", text("1")),
                        ("ev_enabled", text("O")),
                        ("is_instead", Value::Bool(true)),
                    ],
                ));
            }
        }
        "schemata" => {
            for (_, n, _) in &schemas {
                out.push(row(
                    vt,
                    &[
                        ("catalog_name", text(database)),
                        ("schema_name", Value::Text(n.clone())),
                        (
                            "schema_owner",
                            text(if n == "public" {
                                "pg_database_owner"
                            } else {
                                user
                            }),
                        ),
                    ],
                ));
            }
        }
        "pg_stats" => {
            let real = |f: f64| Value::Float4(f as f32);
            let array = |vs: Vec<Value>| {
                if vs.is_empty() {
                    Value::Null
                } else {
                    Value::Text(crate::expr::format_array(vs.into_iter()))
                }
            };
            for (table, column, st) in crate::stats::pg_stats_rows(engine, txn, &tables()?)? {
                out.push(row(
                    vt,
                    &[
                        ("schemaname", text("public")),
                        ("tablename", Value::Text(table)),
                        ("attname", Value::Text(column)),
                        ("inherited", Value::Bool(false)),
                        ("null_frac", real(st.null_frac)),
                        ("avg_width", Value::Int(i64::from(st.avg_width))),
                        ("n_distinct", real(st.n_distinct)),
                        ("most_common_vals", array(st.mcv)),
                        (
                            "most_common_freqs",
                            array(st.mcv_freqs.into_iter().map(real).collect()),
                        ),
                        ("histogram_bounds", array(st.histogram)),
                        ("correlation", st.correlation.map_or(Value::Null, real)),
                    ],
                ));
            }
        }
        "pg_class" => {
            let all = tables()?;
            let analyzed = crate::stats::by_table(engine, txn)?;
            // PostgreSQL enforces a foreign key with triggers on both of its tables; clients
            // (psql's \d, pg_dump) look for foreign keys only on tables that have triggers.
            let fk_tables: std::collections::HashSet<String> = all
                .iter()
                .flat_map(|d| {
                    d.foreign_keys
                        .iter()
                        .flat_map(move |fk| [d.key(), fk.ref_table.clone()])
                })
                .collect();
            for def in all {
                let has_triggers = fk_tables.contains(&def.key());
                let has_pk = !def.pk.is_empty();
                let checks = def.checks.len() as i64;
                let common = |o: u32, name: String, kind: &str, am: u32, natts: usize| {
                    vec![
                        ("oid", oid(o)),
                        ("relname", Value::Text(name)),
                        ("relnamespace", oid(nsp(&def.schema))),
                        ("reltype", oid(0)),
                        ("reloftype", oid(0)),
                        ("relowner", oid(BOOTSTRAP_ROLE)),
                        ("relam", oid(am)),
                        ("relfilenode", oid(o)),
                        ("reltablespace", oid(0)),
                        ("relpages", Value::Int(0)),
                        ("reltuples", Value::Float(-1.0)),
                        ("relallvisible", Value::Int(0)),
                        ("reltoastrelid", oid(0)),
                        ("relisshared", Value::Bool(false)),
                        ("relpersistence", text(persistence(&def.schema))),
                        ("relkind", text(kind)),
                        ("relnatts", Value::Int(natts as i64)),
                        (
                            "relchecks",
                            Value::Int(if kind == "r" { checks } else { 0 }),
                        ),
                        ("relhasrules", Value::Bool(false)),
                        ("relhastriggers", Value::Bool(kind == "r" && has_triggers)),
                        ("relhassubclass", Value::Bool(false)),
                        ("relrowsecurity", Value::Bool(false)),
                        ("relforcerowsecurity", Value::Bool(false)),
                        ("relispopulated", Value::Bool(true)),
                        ("relreplident", text(if kind == "r" { "d" } else { "n" })),
                        ("relispartition", Value::Bool(false)),
                        ("relrewrite", oid(0)),
                        ("relfrozenxid", oid(0)),
                        ("relminmxid", oid(0)),
                    ]
                };
                let mut t = common(def.oid, def.name.clone(), "r", HEAP_AM, def.columns.len());
                t.push(("relhasindex", Value::Bool(has_indexes(&def))));
                if let Some(st) = analyzed.get(&def.oid).filter(|st| st.current(&def)) {
                    // `common` put the never-analyzed values first; later ones win in `row`.
                    t.retain(|(n, _)| !matches!(*n, "relpages" | "reltuples"));
                    t.push((
                        "relpages",
                        Value::Int(i64::try_from(st.relpages).unwrap_or(i64::MAX)),
                    ));
                    t.push(("reltuples", Value::Float(st.reltuples)));
                }
                out.push(row(vt, &t));
                if has_pk {
                    let mut i = common(def.pk_oid(), def.pk_name(), "i", BTREE_AM, def.pk.len());
                    i.push(("relhasindex", Value::Bool(false)));
                    out.push(row(vt, &i));
                }
                for ix in &def.indexes {
                    let mut i = common(ix.oid, ix.name.clone(), "i", BTREE_AM, ix.columns.len());
                    i.push(("relhasindex", Value::Bool(false)));
                    out.push(row(vt, &i));
                }
            }
            let extra: Vec<(u32, String, String, &str, i64)> = seqs()?
                .into_iter()
                .map(|q| (q.oid, q.schema, q.name, "S", 3))
                .chain(
                    views()?
                        .into_iter()
                        .map(|v| (v.oid, v.schema, v.name, "v", v.columns.len() as i64)),
                )
                .collect();
            for (o, schema, name, kind, natts) in extra {
                let sequence = kind == "S";
                out.push(row(
                    vt,
                    &[
                        ("oid", oid(o)),
                        ("relname", Value::Text(name)),
                        ("relnamespace", oid(nsp(&schema))),
                        ("reltype", oid(0)),
                        ("reloftype", oid(0)),
                        ("relowner", oid(BOOTSTRAP_ROLE)),
                        ("relam", oid(0)),
                        ("relfilenode", oid(if sequence { o } else { 0 })),
                        ("reltablespace", oid(0)),
                        ("relpages", Value::Int(i64::from(sequence))),
                        ("reltuples", Value::Float(if sequence { 1.0 } else { -1.0 })),
                        ("relallvisible", Value::Int(0)),
                        ("reltoastrelid", oid(0)),
                        ("relhasindex", Value::Bool(false)),
                        ("relisshared", Value::Bool(false)),
                        ("relpersistence", text(persistence(&schema))),
                        ("relkind", text(kind)),
                        ("relnatts", Value::Int(natts)),
                        ("relchecks", Value::Int(0)),
                        ("relhasrules", Value::Bool(!sequence)),
                        ("relhastriggers", Value::Bool(false)),
                        ("relhassubclass", Value::Bool(false)),
                        ("relrowsecurity", Value::Bool(false)),
                        ("relforcerowsecurity", Value::Bool(false)),
                        ("relispopulated", Value::Bool(true)),
                        ("relreplident", text("n")),
                        ("relispartition", Value::Bool(false)),
                        ("relrewrite", oid(0)),
                        ("relfrozenxid", oid(0)),
                        ("relminmxid", oid(0)),
                    ],
                ));
            }
        }
        "pg_views" => {
            for v in views()? {
                out.push(row(
                    vt,
                    &[
                        ("schemaname", Value::Text(v.schema.clone())),
                        ("viewname", Value::Text(v.name.clone())),
                        ("viewowner", text(user)),
                        ("definition", Value::Text(view_definition(&v, session))),
                    ],
                ));
            }
        }
        "pg_sequence" => {
            for seq in seqs()? {
                out.push(row(
                    vt,
                    &[
                        ("seqrelid", oid(seq.oid)),
                        ("seqtypid", oid(seq.type_oid)),
                        ("seqstart", Value::Int(seq.start)),
                        ("seqincrement", Value::Int(seq.increment)),
                        ("seqmax", Value::Int(seq.max)),
                        ("seqmin", Value::Int(seq.min)),
                        ("seqcache", Value::Int(seq.cache)),
                        ("seqcycle", Value::Bool(seq.cycle)),
                    ],
                ));
            }
        }
        "pg_sequences" => {
            for seq in seqs()? {
                let last = match sequences {
                    Some(s) => {
                        let st = s.peek(engine, &seq)?;
                        if st.is_called {
                            Value::Int(st.last)
                        } else {
                            Value::Null
                        }
                    }
                    None => Value::Null,
                };
                out.push(row(
                    vt,
                    &[
                        ("schemaname", Value::Text(seq.schema.clone())),
                        ("sequencename", Value::Text(seq.name.clone())),
                        ("sequenceowner", text(user)),
                        ("data_type", text(sequence_type_name(seq.type_oid))),
                        ("start_value", Value::Int(seq.start)),
                        ("min_value", Value::Int(seq.min)),
                        ("max_value", Value::Int(seq.max)),
                        ("increment_by", Value::Int(seq.increment)),
                        ("cycle", Value::Bool(seq.cycle)),
                        ("cache_size", Value::Int(seq.cache)),
                        ("last_value", last),
                    ],
                ));
            }
        }
        "sequences" => {
            // As in PostgreSQL, identity columns' sequences are not listed.
            for seq in seqs()?.into_iter().filter(|s| !s.identity) {
                let bits = match seq.type_oid {
                    21 => 16,
                    23 => 32,
                    _ => 64,
                };
                out.push(row(
                    vt,
                    &[
                        ("sequence_catalog", text(database)),
                        ("sequence_schema", Value::Text(seq.schema.clone())),
                        ("sequence_name", Value::Text(seq.name.clone())),
                        ("data_type", text(sequence_type_name(seq.type_oid))),
                        ("numeric_precision", Value::Int(bits)),
                        ("numeric_precision_radix", Value::Int(2)),
                        ("numeric_scale", Value::Int(0)),
                        ("start_value", Value::Text(seq.start.to_string())),
                        ("minimum_value", Value::Text(seq.min.to_string())),
                        ("maximum_value", Value::Text(seq.max.to_string())),
                        ("increment", Value::Text(seq.increment.to_string())),
                        ("cycle_option", text(if seq.cycle { "YES" } else { "NO" })),
                    ],
                ));
            }
        }
        "pg_attrdef" => {
            for def in tables()? {
                for (n, c) in def.columns.iter().enumerate() {
                    if let Some(d) = c.attrdef() {
                        out.push(row(
                            vt,
                            &[
                                ("oid", oid(attrdef_oid(&def, n))),
                                ("adrelid", oid(def.oid)),
                                ("adnum", Value::Int(n as i64 + 1)),
                                ("adbin", Value::Text(d.to_string())),
                            ],
                        ));
                    }
                }
            }
        }
        "pg_stat_user_tables" => {
            // The engine's counters since the writer started (PostgreSQL keeps its statistics
            // across clean restarts; ours start from zero). Scan counters are not kept.
            let when = |us: Option<u64>| {
                us.and_then(|u| i64::try_from(u).ok())
                    .map_or(Value::Null, Value::TimestampTz)
            };
            let count = |n: u64| Value::Int(i64::try_from(n).unwrap_or(i64::MAX));
            let analyzed = crate::stats::by_table(engine, txn)?;
            for def in tables()? {
                let st = engine.tree_stats(def.tree);
                let an = analyzed.get(&def.oid);
                let mods = crate::stats::mods_since_analyze(engine, &def, an);
                out.push(row(
                    vt,
                    &[
                        ("relid", oid(def.oid)),
                        ("schemaname", Value::Text(def.schema.clone())),
                        ("relname", Value::Text(def.name.clone())),
                        ("n_tup_ins", count(st.inserted)),
                        ("n_tup_upd", count(st.updated)),
                        ("n_tup_del", count(st.deleted)),
                        ("n_tup_hot_upd", count(0)),
                        ("n_live_tup", count(st.inserted.saturating_sub(st.deleted))),
                        ("n_dead_tup", count(st.dead_versions)),
                        ("last_vacuum", when(st.last_vacuum_us)),
                        ("last_autovacuum", when(st.last_autovacuum_us)),
                        ("vacuum_count", count(st.vacuum_count)),
                        ("autovacuum_count", count(st.autovacuum_count)),
                        ("n_mod_since_analyze", count(mods)),
                        ("last_analyze", when(an.and_then(|a| a.last_analyze_us))),
                        (
                            "last_autoanalyze",
                            when(an.and_then(|a| a.last_autoanalyze_us)),
                        ),
                        ("analyze_count", count(an.map_or(0, |a| a.analyze_count))),
                        (
                            "autoanalyze_count",
                            count(an.map_or(0, |a| a.autoanalyze_count)),
                        ),
                    ],
                ));
            }
        }
        "pg_tables" => {
            for def in tables()? {
                out.push(row(
                    vt,
                    &[
                        ("schemaname", Value::Text(def.schema.clone())),
                        ("tablename", Value::Text(def.name.clone())),
                        ("tableowner", text(user)),
                        ("hasindexes", Value::Bool(has_indexes(&def))),
                        ("hasrules", Value::Bool(false)),
                        ("hastriggers", Value::Bool(false)),
                        ("rowsecurity", Value::Bool(false)),
                    ],
                ));
            }
        }
        "tables" => {
            for def in tables()? {
                out.push(row(
                    vt,
                    &[
                        ("table_catalog", text(database)),
                        ("table_schema", Value::Text(def.schema.clone())),
                        ("table_name", Value::Text(def.name.clone())),
                        (
                            "table_type",
                            text(if crate::namespace::is_temp(&def.schema) {
                                "LOCAL TEMPORARY"
                            } else {
                                "BASE TABLE"
                            }),
                        ),
                        ("is_insertable_into", text("YES")),
                        ("is_typed", text("NO")),
                    ],
                ));
            }
            for v in views()? {
                out.push(row(
                    vt,
                    &[
                        ("table_catalog", text(database)),
                        ("table_schema", Value::Text(v.schema.clone())),
                        ("table_name", Value::Text(v.name.clone())),
                        ("table_type", text("VIEW")),
                        (
                            "is_insertable_into",
                            text(if crate::updatable::events(engine, txn, &v, None)?.0 {
                                "YES"
                            } else {
                                "NO"
                            }),
                        ),
                        ("is_typed", text("NO")),
                    ],
                ));
            }
        }
        "columns" => {
            // Identity columns' sequences, by (table, attnum).
            let identities = seqs()?;
            let identity_of = |rel: u32, num: usize| {
                identities
                    .iter()
                    .find(|s| s.identity && s.owned_by == Some((rel, num as u32)))
            };
            for def in tables()? {
                for (n, c) in def.columns.iter().enumerate() {
                    let display = c.type_display();
                    let mut facts = type_facts(c.ty, c.type_oid(), c.typmod(), &display);
                    facts.push((
                        "column_default",
                        c.attrdef().map_or(Value::Null, |d| {
                            Value::Text(requalify_regclass_literals(&display_expr(d), |lit| {
                                let (schema, rel) = crate::namespace::split_text_name(lit);
                                crate::namespace::qualified_if_needed(
                                    engine,
                                    txn,
                                    &schema.unwrap_or_else(|| "public".into()),
                                    &rel,
                                )
                            }))
                        }),
                    ));
                    let seq = identity_of(def.oid, n);
                    let seq_text = |f: fn(&crate::sequence::SequenceDef) -> i64| {
                        seq.map_or(Value::Null, |s| Value::Text(f(s).to_string()))
                    };
                    facts.extend([
                        ("is_nullable", text(if c.not_null { "NO" } else { "YES" })),
                        (
                            "is_identity",
                            text(if c.identity == Identity::None {
                                "NO"
                            } else {
                                "YES"
                            }),
                        ),
                        (
                            "identity_generation",
                            match c.identity {
                                Identity::None => Value::Null,
                                Identity::Always => text("ALWAYS"),
                                Identity::ByDefault => text("BY DEFAULT"),
                            },
                        ),
                        ("identity_start", seq_text(|s| s.start)),
                        ("identity_increment", seq_text(|s| s.increment)),
                        ("identity_maximum", seq_text(|s| s.max)),
                        ("identity_minimum", seq_text(|s| s.min)),
                        (
                            "identity_cycle",
                            text(if seq.is_some_and(|s| s.cycle) {
                                "YES"
                            } else {
                                "NO"
                            }),
                        ),
                        ("is_updatable", text("YES")),
                    ]);
                    let place = (def.schema.as_str(), def.name.as_str(), c.name.as_str());
                    out.push(column_row(vt, database, place, n, facts));
                }
            }
            // A view's columns are listed too, always nullable and without defaults.
            for v in views()? {
                for (n, c) in v.columns.iter().enumerate() {
                    let display = c.type_display();
                    let mut facts = type_facts(c.ty, c.type_oid(), c.typmod(), &display);
                    facts.extend([
                        ("is_nullable", text("YES")),
                        ("is_identity", text("NO")),
                        ("identity_cycle", text("NO")),
                        (
                            "is_updatable",
                            // PostgreSQL's `pg_column_is_updatable`.
                            text(
                                if crate::updatable::events(engine, txn, &v, Some(&[n]))?.0 {
                                    "YES"
                                } else {
                                    "NO"
                                },
                            ),
                        ),
                    ]);
                    let place = (v.schema.as_str(), v.name.as_str(), c.name.as_str());
                    out.push(column_row(vt, database, place, n, facts));
                }
            }
        }
        "pg_attribute" => {
            for def in tables()? {
                let attr = |rel: u32, num: usize, c: &crate::catalog::Column| {
                    let len = TYPES
                        .iter()
                        .find(|t| t.0 == c.type_oid())
                        .map_or(-1, |t| t.2);
                    let own = rel == def.oid;
                    let has_default = own && c.attrdef().is_some();
                    let identity = if own { c.identity.code() } else { "" };
                    row(
                        vt,
                        &[
                            ("attrelid", oid(rel)),
                            ("attname", Value::Text(c.name.clone())),
                            ("atttypid", oid(c.type_oid())),
                            ("attstattarget", Value::Int(-1)),
                            ("attlen", Value::Int(len)),
                            ("attnum", Value::Int(num as i64)),
                            ("attndims", Value::Int(0)),
                            ("attcacheoff", Value::Int(-1)),
                            ("atttypmod", Value::Int(i64::from(c.typmod()))),
                            ("attbyval", Value::Bool((1..=8).contains(&len))),
                            ("attalign", text("i")),
                            ("attstorage", text(if len < 0 { "x" } else { "p" })),
                            ("attcompression", text("")),
                            ("attnotnull", Value::Bool(c.not_null)),
                            ("atthasdef", Value::Bool(has_default)),
                            ("atthasmissing", Value::Bool(false)),
                            ("attidentity", text(identity)),
                            ("attgenerated", text("")),
                            ("attisdropped", Value::Bool(false)),
                            ("attislocal", Value::Bool(true)),
                            ("attinhcount", Value::Int(0)),
                            (
                                "attcollation",
                                oid(if c.ty == DataType::Text { 100 } else { 0 }),
                            ),
                        ],
                    )
                };
                for (n, c) in def.columns.iter().enumerate() {
                    out.push(attr(def.oid, n + 1, c));
                }
                for (n, &i) in def.pk.iter().enumerate() {
                    out.push(attr(def.pk_oid(), n + 1, &def.columns[i]));
                }
                for ix in &def.indexes {
                    for (n, &i) in ix.columns.iter().enumerate() {
                        out.push(attr(ix.oid, n + 1, &def.columns[i]));
                    }
                }
            }
            for v in views()? {
                for (n, c) in v.columns.iter().enumerate() {
                    let len = TYPES
                        .iter()
                        .find(|t| t.0 == c.type_oid())
                        .map_or(-1, |t| t.2);
                    out.push(row(
                        vt,
                        &[
                            ("attrelid", oid(v.oid)),
                            ("attname", Value::Text(c.name.clone())),
                            ("atttypid", oid(c.type_oid())),
                            ("attstattarget", Value::Int(-1)),
                            ("attlen", Value::Int(len)),
                            ("attnum", Value::Int(n as i64 + 1)),
                            ("attndims", Value::Int(0)),
                            ("attcacheoff", Value::Int(-1)),
                            ("atttypmod", Value::Int(i64::from(c.typmod()))),
                            ("attbyval", Value::Bool((1..=8).contains(&len))),
                            ("attalign", text("i")),
                            ("attstorage", text(if len < 0 { "x" } else { "p" })),
                            ("attcompression", text("")),
                            ("attnotnull", Value::Bool(false)),
                            ("atthasdef", Value::Bool(false)),
                            ("atthasmissing", Value::Bool(false)),
                            ("attidentity", text("")),
                            ("attgenerated", text("")),
                            ("attisdropped", Value::Bool(false)),
                            ("attislocal", Value::Bool(true)),
                            ("attinhcount", Value::Int(0)),
                            (
                                "attcollation",
                                oid(if c.ty == DataType::Text { 100 } else { 0 }),
                            ),
                        ],
                    ));
                }
            }
        }
        "pg_type" => {
            for &(o, name, len, cat, array) in TYPES {
                out.push(row(
                    vt,
                    &[
                        ("oid", oid(o)),
                        ("typname", text(name)),
                        ("typnamespace", oid(PG_CATALOG_NAMESPACE)),
                        ("typowner", oid(BOOTSTRAP_ROLE)),
                        ("typlen", Value::Int(len)),
                        ("typbyval", Value::Bool((1..=8).contains(&len))),
                        ("typtype", text("b")),
                        ("typcategory", text(cat)),
                        ("typispreferred", Value::Bool(false)),
                        ("typisdefined", Value::Bool(true)),
                        ("typdelim", text(",")),
                        (
                            "typstorage",
                            text(match (o, len) {
                                (1700, _) => "m",
                                (_, -1) => "x",
                                _ => "p",
                            }),
                        ),
                        ("typrelid", oid(0)),
                        ("typelem", oid(0)),
                        ("typarray", oid(array)),
                        ("typnotnull", Value::Bool(false)),
                        ("typbasetype", oid(0)),
                        ("typtypmod", Value::Int(-1)),
                        ("typndims", Value::Int(0)),
                        (
                            "typcollation",
                            oid(if cat == "S" && o != 19 { 100 } else { 0 }),
                        ),
                    ],
                ));
            }
            // The array types over them: category A, elements of the base type.
            for &(o, name, _, cat, array) in TYPES {
                if array == 0 {
                    continue;
                }
                out.push(row(
                    vt,
                    &[
                        ("oid", oid(array)),
                        ("typname", Value::Text(format!("_{name}"))),
                        ("typnamespace", oid(PG_CATALOG_NAMESPACE)),
                        ("typowner", oid(BOOTSTRAP_ROLE)),
                        ("typlen", Value::Int(-1)),
                        ("typbyval", Value::Bool(false)),
                        ("typtype", text("b")),
                        ("typcategory", text("A")),
                        ("typispreferred", Value::Bool(false)),
                        ("typisdefined", Value::Bool(true)),
                        ("typdelim", text(",")),
                        ("typstorage", text("x")),
                        ("typrelid", oid(0)),
                        ("typelem", oid(o)),
                        ("typarray", oid(0)),
                        ("typnotnull", Value::Bool(false)),
                        ("typbasetype", oid(0)),
                        ("typtypmod", Value::Int(-1)),
                        ("typndims", Value::Int(0)),
                        (
                            "typcollation",
                            oid(if cat == "S" && o != 19 { 100 } else { 0 }),
                        ),
                    ],
                ));
            }
        }
        "pg_index" => {
            for def in tables()? {
                for (o, columns, unique, primary) in indexes_of(&def) {
                    let indkey = columns
                        .iter()
                        .map(|i| (i + 1).to_string())
                        .collect::<Vec<_>>()
                        .join(" ");
                    let options = def
                        .indexes
                        .iter()
                        .find(|ix| ix.oid == o)
                        .map_or(&[][..], |ix| &ix.options[..]);
                    let indoption = (0..columns.len())
                        .map(|k| options.get(k).copied().unwrap_or(0).to_string())
                        .collect::<Vec<_>>()
                        .join(" ");
                    let t = Value::Bool(true);
                    let f = Value::Bool(false);
                    out.push(row(
                        vt,
                        &[
                            ("indexrelid", oid(o)),
                            ("indrelid", oid(def.oid)),
                            ("indnatts", Value::Int(columns.len() as i64)),
                            ("indnkeyatts", Value::Int(columns.len() as i64)),
                            ("indisunique", Value::Bool(unique)),
                            ("indnullsnotdistinct", f.clone()),
                            ("indisprimary", Value::Bool(primary)),
                            ("indisexclusion", f.clone()),
                            ("indimmediate", t.clone()),
                            ("indisclustered", f.clone()),
                            ("indisvalid", t.clone()),
                            ("indcheckxmin", f.clone()),
                            ("indisready", t.clone()),
                            ("indislive", t),
                            ("indisreplident", f),
                            ("indkey", Value::Text(indkey)),
                            ("indoption", Value::Text(indoption)),
                        ],
                    ));
                }
            }
        }
        "pg_indexes" => {
            for def in tables()? {
                for (o, ..) in indexes_of(&def) {
                    let Some((_, rel)) = relation_of(&def, o) else {
                        continue;
                    };
                    out.push(row(
                        vt,
                        &[
                            ("schemaname", Value::Text(def.schema.clone())),
                            ("tablename", Value::Text(def.name.clone())),
                            ("indexname", Value::Text(rel_name(&def, rel))),
                            (
                                "indexdef",
                                index_definition(&def, rel).unwrap_or(Value::Null),
                            ),
                        ],
                    ));
                }
            }
        }
        "pg_constraint" => {
            for def in tables()? {
                let mut constraints: Vec<(u32, String, &str, &[usize], u32)> = Vec::new();
                if !def.pk.is_empty() {
                    constraints.push((def.pk_oid(), def.pk_name(), "p", &def.pk, def.pk_oid()));
                }
                for ix in def.indexes.iter().filter(|ix| ix.constraint) {
                    constraints.push((
                        ix.constraint_oid(),
                        ix.name.clone(),
                        "u",
                        &ix.columns,
                        ix.oid,
                    ));
                }
                for c in &def.checks {
                    constraints.push((c.oid, c.name.clone(), "c", &c.columns, 0));
                }
                for fk in &def.foreign_keys {
                    let parent = if fk.ref_table == def.key() {
                        Some(def.clone())
                    } else {
                        crate::query::lookup_table(engine, txn, &fk.ref_table).ok()
                    };
                    let Some(parent) = parent else { continue };
                    let same = |c: &[usize]| {
                        c.len() == fk.ref_columns.len()
                            && c.iter().all(|x| fk.ref_columns.contains(x))
                    };
                    let index = if !parent.pk.is_empty() && same(&parent.pk) {
                        parent.pk_oid()
                    } else {
                        parent
                            .indexes
                            .iter()
                            .find(|ix| ix.unique && same(&ix.columns))
                            .map_or(0, |ix| ix.oid)
                    };
                    let key = |cols: &[usize]| {
                        format_array(cols.iter().map(|i| Value::Int(*i as i64 + 1)))
                    };
                    out.push(row(
                        vt,
                        &[
                            ("oid", oid(fk.oid)),
                            ("conname", Value::Text(fk.name.clone())),
                            ("connamespace", oid(nsp(&def.schema))),
                            ("contype", text("f")),
                            ("condeferrable", Value::Bool(false)),
                            ("condeferred", Value::Bool(false)),
                            ("convalidated", Value::Bool(true)),
                            ("conrelid", oid(def.oid)),
                            ("contypid", oid(0)),
                            ("conindid", oid(index)),
                            ("conparentid", oid(0)),
                            ("confrelid", oid(parent.oid)),
                            ("confupdtype", text(fk.on_update.code())),
                            ("confdeltype", text(fk.on_delete.code())),
                            ("confmatchtype", text("s")),
                            ("conislocal", Value::Bool(true)),
                            ("coninhcount", Value::Int(0)),
                            ("connoinherit", Value::Bool(true)),
                            ("conkey", Value::Text(key(&fk.columns))),
                            ("confkey", Value::Text(key(&fk.ref_columns))),
                        ],
                    ));
                }
                for (o, name, kind, columns, index) in constraints {
                    let conkey = format_array(columns.iter().map(|i| Value::Int(*i as i64 + 1)));
                    out.push(row(
                        vt,
                        &[
                            ("oid", oid(o)),
                            ("conname", Value::Text(name)),
                            ("connamespace", oid(nsp(&def.schema))),
                            ("contype", text(kind)),
                            ("condeferrable", Value::Bool(false)),
                            ("condeferred", Value::Bool(false)),
                            ("convalidated", Value::Bool(true)),
                            ("conrelid", oid(def.oid)),
                            ("contypid", oid(0)),
                            ("conindid", oid(index)),
                            ("conparentid", oid(0)),
                            ("confrelid", oid(0)),
                            ("conislocal", Value::Bool(true)),
                            ("coninhcount", Value::Int(0)),
                            ("connoinherit", Value::Bool(true)),
                            ("conkey", Value::Text(conkey)),
                        ],
                    ));
                }
            }
        }
        "pg_am" => {
            for (o, n, h, t) in [
                (HEAP_AM, "heap", "heap_tableam_handler", "t"),
                (BTREE_AM, "btree", "bthandler", "i"),
            ] {
                out.push(row(
                    vt,
                    &[
                        ("oid", oid(o)),
                        ("amname", text(n)),
                        ("amhandler", text(h)),
                        ("amtype", text(t)),
                    ],
                ));
            }
        }
        "pg_collation" => {
            for (o, n, p) in [(100, "default", "d"), (950, "C", "c"), (951, "POSIX", "c")] {
                out.push(row(
                    vt,
                    &[
                        ("oid", oid(o)),
                        ("collname", text(n)),
                        ("collnamespace", oid(PG_CATALOG_NAMESPACE)),
                        ("collowner", oid(BOOTSTRAP_ROLE)),
                        ("collprovider", text(p)),
                        ("collisdeterministic", Value::Bool(true)),
                        ("collencoding", Value::Int(-1)),
                    ],
                ));
            }
        }
        "pg_database" => {
            out.push(row(
                vt,
                &[
                    ("oid", oid(DATABASE_OID)),
                    ("datname", text(database)),
                    ("datdba", oid(BOOTSTRAP_ROLE)),
                    ("encoding", Value::Int(6)),
                    ("datlocprovider", text("c")),
                    ("datistemplate", Value::Bool(false)),
                    ("datallowconn", Value::Bool(true)),
                    ("datconnlimit", Value::Int(-1)),
                    ("dattablespace", oid(1663)),
                    ("datcollate", text("C.UTF-8")),
                    ("datctype", text("C.UTF-8")),
                ],
            ));
        }
        "pg_roles" | "pg_authid" => {
            let t = Value::Bool(true);
            let f = Value::Bool(false);
            out.push(row(
                vt,
                &[
                    ("oid", oid(DATABASE_OWNER_ROLE)),
                    ("rolname", text("pg_database_owner")),
                    ("rolsuper", f.clone()),
                    ("rolinherit", t.clone()),
                    ("rolcreaterole", f.clone()),
                    ("rolcreatedb", f.clone()),
                    ("rolcanlogin", f.clone()),
                    ("rolreplication", f.clone()),
                    ("rolbypassrls", f),
                    ("rolconnlimit", Value::Int(-1)),
                    ("rolpassword", text("********")),
                ],
            ));
            out.push(row(
                vt,
                &[
                    ("oid", oid(BOOTSTRAP_ROLE)),
                    ("rolname", text(user)),
                    ("rolsuper", t.clone()),
                    ("rolinherit", t.clone()),
                    ("rolcreaterole", t.clone()),
                    ("rolcreatedb", t.clone()),
                    ("rolcanlogin", t.clone()),
                    ("rolreplication", t.clone()),
                    ("rolbypassrls", t),
                    ("rolconnlimit", Value::Int(-1)),
                    ("rolpassword", text("********")),
                ],
            ));
        }
        "pg_user" => {
            let t = Value::Bool(true);
            out.push(row(
                vt,
                &[
                    ("usename", text(user)),
                    ("usesysid", oid(BOOTSTRAP_ROLE)),
                    ("usecreatedb", t.clone()),
                    ("usesuper", t.clone()),
                    ("userepl", t.clone()),
                    ("usebypassrls", t),
                    ("passwd", text("********")),
                ],
            ));
        }
        "pg_tablespace" => {
            for (o, n) in [(1663, "pg_default"), (1664, "pg_global")] {
                out.push(row(
                    vt,
                    &[
                        ("oid", oid(o)),
                        ("spcname", text(n)),
                        ("spcowner", oid(BOOTSTRAP_ROLE)),
                    ],
                ));
            }
        }
        // Objects Borealis does not have yet: inheritance, policies, extended statistics,
        // publications, partitioning, comments, sequences, dependencies, triggers, rules.
        _ => {}
    }
    Ok(out)
}

fn arg_int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::Text(t) => t.trim().parse().ok(),
        Value::Float(f) => Some(*f as i64),
        _ => None,
    }
}

/// Which relation (or constraint) of a table an OID names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rel {
    Table,
    /// The primary key's index, and its constraint (the same OID).
    PrimaryKey,
    /// Secondary index `i`.
    Index(usize),
    /// The unique constraint of secondary index `i`.
    Constraint(usize),
    /// CHECK constraint `i`.
    Check(usize),
    /// FOREIGN KEY constraint `i`.
    ForeignKey(usize),
}

/// The table's indexes as the catalogs list them: (OID, columns, unique, primary), the
/// primary key first.
fn indexes_of(def: &TableDef) -> Vec<(u32, &[usize], bool, bool)> {
    let mut out: Vec<(u32, &[usize], bool, bool)> = Vec::with_capacity(def.indexes.len() + 1);
    if !def.pk.is_empty() {
        out.push((def.pk_oid(), &def.pk, true, true));
    }
    for ix in &def.indexes {
        out.push((ix.oid, &ix.columns, ix.unique, false));
    }
    out
}

fn has_indexes(def: &TableDef) -> bool {
    !def.pk.is_empty() || !def.indexes.is_empty()
}

fn relation_of(def: &TableDef, o: u32) -> Option<(u32, Rel)> {
    if def.oid == o {
        return Some((o, Rel::Table));
    }
    if !def.pk.is_empty() && def.pk_oid() == o {
        return Some((o, Rel::PrimaryKey));
    }
    for (i, ix) in def.indexes.iter().enumerate() {
        if ix.oid == o {
            return Some((o, Rel::Index(i)));
        }
        if ix.constraint && ix.constraint_oid() == o {
            return Some((o, Rel::Constraint(i)));
        }
    }
    if let Some(i) = def.checks.iter().position(|c| c.oid == o) {
        return Some((o, Rel::Check(i)));
    }
    if let Some(i) = def.foreign_keys.iter().position(|f| f.oid == o) {
        return Some((o, Rel::ForeignKey(i)));
    }
    None
}

fn rel_name(def: &TableDef, rel: Rel) -> String {
    match rel {
        Rel::Table => def.name.clone(),
        Rel::PrimaryKey => def.pk_name(),
        Rel::Index(i) | Rel::Constraint(i) => def.indexes[i].name.clone(),
        Rel::Check(i) => def.checks[i].name.clone(),
        Rel::ForeignKey(i) => def.foreign_keys[i].name.clone(),
    }
}

/// `pg_get_indexdef` of an index: `CREATE [UNIQUE] INDEX name ON public.t USING btree (cols)`.
fn index_definition(def: &TableDef, rel: Rel) -> Option<Value> {
    let (unique, columns, options): (bool, &[usize], &[u8]) = match rel {
        Rel::PrimaryKey => (true, &def.pk, &[]),
        Rel::Index(i) => {
            let ix = &def.indexes[i];
            (ix.unique, &ix.columns, &ix.options)
        }
        Rel::Table | Rel::Constraint(_) | Rel::Check(_) | Rel::ForeignKey(_) => return None,
    };
    // Each column with the options that differ from its direction's default, as PostgreSQL
    // prints them.
    let keys: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(k, &c)| {
            let o = options.get(k).copied().unwrap_or(0);
            let desc = o & crate::catalog::INDOPTION_DESC != 0;
            let nulls_first = o & crate::catalog::INDOPTION_NULLS_FIRST != 0;
            let mut key = quote_ident(&def.columns[c].name);
            if desc {
                key.push_str(" DESC");
            }
            match (desc, nulls_first) {
                (true, false) => key.push_str(" NULLS LAST"),
                (false, true) => key.push_str(" NULLS FIRST"),
                _ => {}
            }
            key
        })
        .collect();
    Some(Value::Text(format!(
        "CREATE {}INDEX {} ON {}.{} USING btree ({})",
        if unique { "UNIQUE " } else { "" },
        quote_ident(&rel_name(def, rel)),
        quote_ident(&def.schema),
        quote_ident(&def.name),
        keys.join(", ")
    )))
}

fn table_by_oid(cx: &EvalContext<'_>, o: i64) -> SqlResult<Option<(TableDef, Rel)>> {
    let Some(exec) = cx.exec else {
        return Ok(None);
    };
    let Ok(o) = u32::try_from(o) else {
        return Ok(None);
    };
    for def in user_tables(exec.engine, exec.txn)? {
        if let Some((_, rel)) = relation_of(&def, o) {
            return Ok(Some((def, rel)));
        }
    }
    Ok(None)
}

/// A relation name as `regclass` input reads it: an optional `public.` or `pg_catalog.`
/// qualifier, and an identifier that folds to lower case unless double-quoted.
#[must_use]
pub fn parse_relation_name(t: &str) -> String {
    let t = t.trim();
    let last = match t.rfind('.') {
        Some(i) if !t[i..].contains('"') || t.starts_with('"') && t[..i].ends_with('"') => {
            &t[i + 1..]
        }
        _ => t,
    };
    if last.len() >= 2 && last.starts_with('"') && last.ends_with('"') {
        last[1..last.len() - 1].replace("\"\"", "\"")
    } else {
        last.to_lowercase()
    }
}

/// The OID of the relation (table, view, sequence or index) a possibly qualified name names.
fn relation_oid_by_text(
    engine: &Engine,
    txn: &Txn,
    schema: Option<&str>,
    name: &str,
) -> SqlResult<Option<u32>> {
    if let Some(k) = crate::namespace::find_parts(engine, txn, schema, name)? {
        return Ok(match crate::query::resolve_key(engine, txn, &k)? {
            crate::query::Resolved::Table(d) => Some(d.oid),
            crate::query::Resolved::View(v) => Some(v.oid),
            crate::query::Resolved::Sequence(s) => Some(s.oid),
            crate::query::Resolved::Virtual(_) => None,
        });
    }
    Ok(
        crate::namespace::find_index(engine, txn, schema, name)?.map(|(d, i)| match i {
            None => d.pk_oid(),
            Some(i) => d.indexes[i].oid,
        }),
    )
}

/// The name of the relation (table, index or sequence) with OID `o`.
pub fn relation_name_of_oid(engine: &Engine, txn: &Txn, o: i64) -> SqlResult<Option<String>> {
    Ok(relation_of_oid(engine, txn, o)?.map(|(_, n)| n))
}

/// The schema and name of the relation (table, index, sequence or view) with OID `o`.
pub fn relation_of_oid(engine: &Engine, txn: &Txn, o: i64) -> SqlResult<Option<(String, String)>> {
    let Ok(o) = u32::try_from(o) else {
        return Ok(None);
    };
    for def in user_tables(engine, txn)? {
        if let Some((_, rel)) = relation_of(&def, o)
            && !matches!(rel, Rel::Constraint(_) | Rel::Check(_) | Rel::ForeignKey(_))
        {
            return Ok(Some((def.schema.clone(), rel_name(&def, rel))));
        }
    }
    if let Some(s) = user_sequences(engine, txn)?
        .into_iter()
        .find(|s| s.oid == o)
    {
        return Ok(Some((s.schema, s.name)));
    }
    Ok(user_views(engine, txn)?
        .into_iter()
        .find(|v| v.oid == o)
        .map(|v| (v.schema, v.name)))
}

/// Every view the transaction sees, in name order.
pub fn user_views(engine: &Engine, txn: &Txn) -> SqlResult<Vec<ViewDef>> {
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
            if let Some(mut view) = ViewDef::decode(v)? {
                view.schema = crate::namespace::key_schema(k);
                if !crate::namespace::hidden(&view.schema, &own_temp) {
                    out.push(view);
                }
            }
            from = Some(k.clone());
        }
        if !full {
            return Ok(out);
        }
    }
}

/// A view's definition as `pg_views.definition` and `pg_get_viewdef` give it: the stored
/// query, ending with a semicolon.
/// A view's query as `pg_get_viewdef` prints it. The stored text names tables as the view's
/// author wrote them; with `public` off the session's search path (pg_dump empties it), the names
/// of user relations are qualified with `public.` so that the text reads the same relations
/// wherever it is replayed.
fn view_definition(v: &ViewDef, session: &SessionInfo) -> String {
    use sqlparser::ast::{Visit, Visitor};
    use std::ops::ControlFlow;
    struct CteNames(Vec<String>);
    impl Visitor for CteNames {
        type Break = ();
        fn pre_visit_query(&mut self, q: &sqlparser::ast::Query) -> ControlFlow<()> {
            if let Some(with) = &q.with {
                for cte in &with.cte_tables {
                    self.0.push(crate::expr::ident_name(&cte.alias.name));
                }
            }
            ControlFlow::Continue(())
        }
    }
    if search_path_schemas(session).iter().any(|s| s == "public") {
        return format!(" {};", v.sql);
    }
    let Ok(mut q) = crate::query::parse_view_query(v) else {
        return format!(" {};", v.sql);
    };
    let mut ctes = CteNames(Vec::new());
    let _ = q.visit(&mut ctes);
    let _ = sqlparser::ast::visit_relations_mut(&mut q, |name| {
        if let [sqlparser::ast::ObjectNamePart::Identifier(id)] = name.0.as_slice() {
            let n = crate::expr::ident_name(id);
            if !ctes.0.contains(&n) && lookup(None, &n).is_none() {
                name.0.insert(
                    0,
                    sqlparser::ast::ObjectNamePart::Identifier(sqlparser::ast::Ident::new(
                        "public",
                    )),
                );
            }
        }
        ControlFlow::<()>::Continue(())
    });
    format!(" {q};")
}

/// The OID of the `pg_attrdef` row of column `n` (0-based) of `def`: a range of its own above
/// relation OIDs, `PostgreSQL`'s column limit apart per table.
fn attrdef_oid(def: &TableDef, n: usize) -> u32 {
    const ATTRDEF_OID_BASE: u32 = 1 << 31;
    ATTRDEF_OID_BASE
        .wrapping_add(def.oid.saturating_sub(FIRST_USER_OID).wrapping_mul(1601))
        .wrapping_add(n as u32 + 1)
}

/// A sequence type's name in `pg_sequences` and `information_schema.sequences`.
fn sequence_type_name(type_oid: u32) -> &'static str {
    crate::sequence::type_name(type_oid)
}

/// Evaluates a catalog function; `None` when `name` is not one of them.
pub fn eval_function(name: &str, vals: &[Value], cx: &EvalContext<'_>) -> SqlResult<Option<Value>> {
    let user = || {
        Value::Text(if cx.session.user.is_empty() {
            "borealis".into()
        } else {
            cx.session.user.clone()
        })
    };
    let first_null = vals.first().is_none_or(Value::is_null);
    Ok(Some(match name {
        "current_user" => user(),
        "current_schemas" => {
            let mut list = match cx.exec {
                Some(exec) => crate::namespace::current_schemas(exec.engine, exec.txn)?,
                None => search_path_schemas(cx.session),
            };
            if vals[0] == Value::Bool(true) {
                if !list.iter().any(|s| s == "pg_catalog") {
                    list.insert(0, "pg_catalog".into());
                }
                let names = crate::namespace::context();
                if names.temp_in_use && !list.contains(&names.temp_schema) {
                    list.insert(0, names.temp_schema);
                }
            }
            Value::Text(format_array(list.into_iter().map(Value::Text)))
        }
        "current_schema" => match cx.exec {
            Some(exec) => crate::namespace::current_schemas(exec.engine, exec.txn)?,
            None => search_path_schemas(cx.session),
        }
        .into_iter()
        .next()
        .map_or(Value::Null, Value::Text),
        "pg_table_is_visible" => match (arg_int(&vals[0]), cx.exec) {
            (None, _) => Value::Null,
            (Some(o), Some(exec)) => match relation_of_oid(exec.engine, exec.txn, o)? {
                Some((schema, name)) => Value::Bool(crate::namespace::is_visible(
                    exec.engine,
                    exec.txn,
                    &schema,
                    &name,
                )),
                None => Value::Bool(true),
            },
            (Some(_), None) => Value::Bool(true),
        },
        "has_privilege" | "pg_relation_is_publishable" => {
            if first_null {
                Value::Null
            } else {
                Value::Bool(name == "has_privilege")
            }
        }
        "pg_get_expr" => match &vals[0] {
            // A default's stored form is the text `pg_get_expr` prints, up to spelling.
            Value::Text(t) => {
                let shown = display_expr(t);
                Value::Text(match cx.exec {
                    Some(exec) => requalify_regclass_literals(&shown, |lit| {
                        let (schema, rel) = crate::namespace::split_text_name(lit);
                        let schema = schema.unwrap_or_else(|| crate::namespace::PUBLIC.into());
                        crate::namespace::qualified_if_needed(exec.engine, exec.txn, &schema, &rel)
                    }),
                    None if search_path_schemas(cx.session)
                        .iter()
                        .any(|s| s == "public") =>
                    {
                        shown
                    }
                    None => qualify_regclass_literals(&shown),
                })
            }
            _ => Value::Null,
        },
        "current_setting" => {
            let Value::Text(n) = &vals[0] else {
                return Ok(Some(Value::Null));
            };
            let missing_ok = vals.get(1) == Some(&Value::Bool(true));
            match cx
                .session
                .activity
                .get(cx.session.backend_pid)
                .and_then(|b| b.setting(n))
            {
                Some(s) => Value::Text(s.value),
                None if missing_ok => Value::Null,
                None => return Err(SqlError::UndefinedParameter(n.clone())),
            }
        }
        "set_config" => {
            let Value::Text(n) = &vals[0] else {
                return Err(SqlError::InvalidParameterValue(
                    "SET requires parameter name".into(),
                ));
            };
            if vals[2] == Value::Bool(true) {
                return Err(SqlError::FeatureNotSupported(
                    "set_config with is_local = true".into(),
                ));
            }
            let def = crate::settings::lookup(n)
                .ok_or_else(|| SqlError::UndefinedParameter(n.to_lowercase()))?;
            let value = vals[1].to_text().unwrap_or_default();
            let value = crate::settings::check(def, &value)?;
            if let Some(b) = cx.session.activity.get(cx.session.backend_pid) {
                b.set_pending(def.name, &value);
            }
            Value::Text(value)
        }
        // Sessions are served by the writer, which is never replaying a log for a primary.
        "pg_is_in_recovery" => Value::Bool(false),
        "pg_cancel_backend" | "pg_terminate_backend" => {
            let Some(pid) = arg_int(&vals[0]) else {
                return Ok(Some(Value::Null));
            };
            let target = i32::try_from(pid)
                .ok()
                .and_then(|p| cx.session.activity.get(p));
            match target {
                Some(b) => {
                    if name == "pg_cancel_backend" {
                        b.cancel();
                    } else {
                        b.terminate();
                    }
                    Value::Bool(true)
                }
                None => Value::Bool(false),
            }
        }
        "pg_get_serial_sequence" => {
            let (Value::Text(table), Value::Text(column)) = (&vals[0], &vals[1]) else {
                return Ok(Some(Value::Null));
            };
            let exec = cx.exec.ok_or_else(|| {
                SqlError::FeatureNotSupported("pg_get_serial_sequence here".into())
            })?;
            let tname = parse_relation_name(table);
            let def = crate::query::lookup_table(exec.engine, exec.txn, &tname)?;
            let cname = column.trim_matches('"').to_string();
            let Some(i) = def.column_index(&cname) else {
                return Err(SqlError::UndefinedColumn(format!(
                    "{cname}\" of relation \"{}",
                    def.name
                )));
            };
            user_sequences(exec.engine, exec.txn)?
                .into_iter()
                .find(|s| s.owned_by == Some((def.oid, i as u32)))
                .map_or(Value::Null, |s| {
                    Value::Text(format!("public.{}", quote_ident(&s.name)))
                })
        }
        "pg_get_viewdef" => {
            let exec = cx
                .exec
                .ok_or_else(|| SqlError::FeatureNotSupported("pg_get_viewdef here".into()))?;
            let found = match &vals[0] {
                Value::Null => None,
                Value::Text(t) => {
                    let name = parse_relation_name(t);
                    match crate::query::lookup_view(exec.engine, exec.txn, &name)? {
                        Some(v) => Some(v),
                        None => return Err(SqlError::UndefinedTable(t.clone())),
                    }
                }
                v => {
                    let o = arg_int(v).unwrap_or(0);
                    user_views(exec.engine, exec.txn)?
                        .into_iter()
                        .find(|v| i64::from(v.oid) == o)
                }
            };
            found.map_or(Value::Null, |v| {
                Value::Text(view_definition(&v, cx.session))
            })
        }
        "pg_get_statisticsobjdef_columns" | "shobj_description" => Value::Null,
        "obj_description" | "col_description" => {
            let (Some(o), Some(exec)) = (arg_int(&vals[0]), cx.exec) else {
                return Ok(Some(Value::Null));
            };
            let o = u32::try_from(o).unwrap_or(0);
            let (classoid, subid) = if name == "col_description" {
                let n = vals.get(1).and_then(arg_int).unwrap_or(0);
                (PG_CLASS_CLASS, i32::try_from(n).unwrap_or(0))
            } else {
                match vals.get(1) {
                    Some(Value::Text(c)) => (catalog_oid(&parse_relation_name(c)).unwrap_or(0), 0),
                    Some(v) => (u32::try_from(arg_int(v).unwrap_or(0)).unwrap_or(0), 0),
                    None => (PG_CLASS_CLASS, 0),
                }
            };
            match crate::comments::get(exec.engine, exec.txn, classoid, o, subid)? {
                Some(t) => Value::Text(t),
                None if classoid == PG_NAMESPACE_CLASS && o == PUBLIC_NAMESPACE => {
                    text(PUBLIC_SCHEMA_DESCRIPTION)
                }
                None => Value::Null,
            }
        }
        "pg_encoding_to_char" => match arg_int(&vals[0]) {
            Some(6) => Value::Text("UTF8".into()),
            Some(0) => Value::Text("SQL_ASCII".into()),
            Some(_) => Value::Text(String::new()),
            None => Value::Null,
        },
        "pg_get_userbyid" => match arg_int(&vals[0]) {
            Some(o) if o == i64::from(BOOTSTRAP_ROLE) => user(),
            Some(o) if o == i64::from(DATABASE_OWNER_ROLE) => {
                Value::Text("pg_database_owner".into())
            }
            Some(o) => Value::Text(format!("unknown (OID={o})")),
            None => Value::Null,
        },
        "format_type" => match arg_int(&vals[0]) {
            None => Value::Null,
            Some(o) => {
                let typmod = vals.get(1).and_then(arg_int).unwrap_or(-1);
                Value::Text(format_type(o, typmod).unwrap_or_else(|| "???".into()))
            }
        },
        "regtype" => match &vals[0] {
            Value::Null => Value::Null,
            Value::Text(t) if is_invalid_oid_name(t) => Value::Int(0),
            Value::Text(t) => Value::Int(type_oid_by_name(t).ok_or_else(|| {
                SqlError::UndefinedObject(format!("type \"{t}\" does not exist"))
            })?),
            v => {
                let o = arg_int(v).unwrap_or(0);
                Value::Text(if o == 0 {
                    "-".into()
                } else {
                    format_type(o, -1).unwrap_or_else(|| o.to_string())
                })
            }
        },
        "regtype_in" => match &vals[0] {
            Value::Text(t) => type_oid_by_name(t).map_or(Value::Null, Value::Int),
            _ => Value::Null,
        },
        // `to_regclass`, `to_regproc`, `to_regnamespace`, `to_regrole`: the cast, or NULL for a
        // name that names nothing.
        "to_regclass" | "to_regproc" | "to_regnamespace" | "to_regrole" => {
            let cast = &name["to_".len()..];
            match eval_function(cast, vals, cx) {
                Ok(v) => v.unwrap_or(Value::Null),
                Err(
                    SqlError::UndefinedTable(_)
                    | SqlError::UndefinedFunction(_)
                    | SqlError::UndefinedSchema(_)
                    | SqlError::UndefinedObject(_)
                    | SqlError::AmbiguousFunction(_),
                ) => Value::Null,
                Err(e) => return Err(e),
            }
        }
        "regnamespace" => match &vals[0] {
            Value::Null => Value::Null,
            Value::Text(t) if is_invalid_oid_name(t) => Value::Int(0),
            Value::Text(t) if t.trim().parse::<u32>().is_err() => {
                let n = parse_relation_name(t);
                let n = if n == "pg_temp" {
                    crate::namespace::context().temp_schema
                } else {
                    n
                };
                match namespace_list(cx)?.into_iter().find(|(_, name)| *name == n) {
                    Some((o, _)) => oid(o),
                    None => return Err(SqlError::UndefinedSchema(n)),
                }
            }
            v => {
                let o = arg_int(v).unwrap_or(0);
                Value::Text(
                    namespace_list(cx)?
                        .into_iter()
                        .find(|(n, _)| i64::from(*n) == o)
                        .map_or_else(|| invalid_oid_name(o), |(_, n)| quote_ident(&n)),
                )
            }
        },
        "regrole" => match &vals[0] {
            Value::Null => Value::Null,
            Value::Text(t) if is_invalid_oid_name(t) => Value::Int(0),
            Value::Text(t) if t.trim().parse::<u32>().is_err() => {
                let n = parse_relation_name(t);
                if Value::Text(n.clone()) == user() {
                    oid(BOOTSTRAP_ROLE)
                } else if n == "pg_database_owner" {
                    oid(DATABASE_OWNER_ROLE)
                } else {
                    return Err(SqlError::UndefinedObject(format!(
                        "role \"{n}\" does not exist"
                    )));
                }
            }
            v => match arg_int(v) {
                Some(o) if o == i64::from(BOOTSTRAP_ROLE) => user(),
                Some(o) if o == i64::from(DATABASE_OWNER_ROLE) => text("pg_database_owner"),
                Some(o) => Value::Text(invalid_oid_name(o)),
                None => Value::Null,
            },
        },
        "regproc" => match &vals[0] {
            Value::Null => Value::Null,
            Value::Text(t) if is_invalid_oid_name(t) => Value::Int(0),
            Value::Text(t) if t.trim().parse::<u32>().is_err() => {
                let n = parse_relation_name(t);
                let mut found = BUILTIN_FUNCTIONS.iter().filter(|f| f.1 == n);
                match (found.next(), found.next()) {
                    (Some(f), None) => oid(f.0),
                    (Some(_), Some(_)) => {
                        return Err(SqlError::AmbiguousFunction(format!(
                            "more than one function named \"{n}\""
                        )));
                    }
                    _ => {
                        return Err(SqlError::UndefinedFunction(format!("\"{n}\"")));
                    }
                }
            }
            v => {
                let o = arg_int(v).unwrap_or(0);
                Value::Text(
                    match BUILTIN_FUNCTIONS.iter().find(|f| i64::from(f.0) == o) {
                        Some(f) => f.1.to_string(),
                        None if o == 0 => "-".into(),
                        None => o.to_string(),
                    },
                )
            }
        },
        "regclass" => match &vals[0] {
            Value::Null => Value::Null,
            Value::Text(t) if is_invalid_oid_name(t) => Value::Int(0),
            // A number is an OID, taken as it is (`'16396'::regclass`).
            Value::Text(t) if t.trim().parse::<u32>().is_ok() => {
                Value::Int(i64::from(t.trim().parse::<u32>().unwrap_or(0)))
            }
            Value::Text(t) => {
                let (schema, name) = crate::namespace::split_text_name(t);
                let exec = cx
                    .exec
                    .ok_or_else(|| SqlError::FeatureNotSupported("regclass lookups here".into()))?;
                // pg_catalog is implicitly first on every search path.
                let found = match catalog_oid(&name) {
                    Some(o) if schema.is_none() || schema.as_deref() == Some("pg_catalog") => {
                        Some(o)
                    }
                    _ => relation_oid_by_text(exec.engine, exec.txn, schema.as_deref(), &name)?,
                };
                match found {
                    Some(o) => oid(o),
                    None => return Err(SqlError::UndefinedTable(t.clone())),
                }
            }
            v => {
                let o = arg_int(v).unwrap_or(0);
                let catalog = ALL
                    .iter()
                    .find(|t| catalog_oid(t.name).is_some_and(|c| i64::from(c) == o));
                match cx.exec {
                    _ if catalog.is_some() => {
                        Value::Text(catalog.map(|t| t.name.to_string()).unwrap_or_default())
                    }
                    Some(exec) => match relation_of_oid(exec.engine, exec.txn, o)? {
                        Some((s, n)) => Value::Text(crate::namespace::qualified_if_needed(
                            exec.engine,
                            exec.txn,
                            &s,
                            &n,
                        )),
                        None => Value::Text(invalid_oid_name(o)),
                    },
                    None => Value::Text(invalid_oid_name(o)),
                }
            }
        },
        "pg_get_indexdef" => match arg_int(&vals[0]) {
            None => Value::Null,
            Some(o) => match table_by_oid(cx, o)? {
                Some((def, rel @ (Rel::PrimaryKey | Rel::Index(_)))) => {
                    let columns = match rel {
                        Rel::Index(i) => &def.indexes[i].columns,
                        _ => &def.pk,
                    };
                    let column = vals.get(1).and_then(arg_int).unwrap_or(0);
                    if column > 0 {
                        columns
                            .get(usize::try_from(column - 1).unwrap_or(usize::MAX))
                            // A position past the index's columns prints as '', as in
                            // PostgreSQL.
                            .map_or_else(
                                || text(""),
                                |&i| Value::Text(quote_ident(&def.columns[i].name)),
                            )
                    } else {
                        index_definition(&def, rel).unwrap_or(Value::Null)
                    }
                }
                _ => Value::Null,
            },
        },
        "pg_get_constraintdef" => match arg_int(&vals[0]) {
            None => Value::Null,
            Some(o) => match table_by_oid(cx, o)? {
                Some((def, Rel::PrimaryKey)) => {
                    Value::Text(format!("PRIMARY KEY ({})", key_columns(&def)))
                }
                Some((def, Rel::Constraint(i))) => Value::Text(format!(
                    "UNIQUE ({})",
                    column_list(&def, &def.indexes[i].columns)
                )),
                Some((def, Rel::ForeignKey(i))) => {
                    let fk = &def.foreign_keys[i];
                    let parent = match cx.exec {
                        Some(exec) if fk.ref_table != def.key() => {
                            crate::query::lookup_table(exec.engine, exec.txn, &fk.ref_table).ok()
                        }
                        _ => Some(def.clone()),
                    };
                    let ref_cols =
                        parent.map_or_else(String::new, |p| column_list(&p, &fk.ref_columns));
                    // Qualified when its schema is not where the search path finds the name,
                    // as PostgreSQL prints it.
                    let (ref_schema, ref_name) = crate::namespace::split_key(&fk.ref_table);
                    let referenced = match cx.exec {
                        Some(exec) => crate::namespace::qualified_if_needed(
                            exec.engine,
                            exec.txn,
                            ref_schema,
                            ref_name,
                        ),
                        None => quote_ident(ref_name),
                    };
                    let mut text = format!(
                        "FOREIGN KEY ({}) REFERENCES {referenced}({ref_cols})",
                        column_list(&def, &fk.columns),
                    );
                    for (word, action) in [("UPDATE", fk.on_update), ("DELETE", fk.on_delete)] {
                        if !action.clause().is_empty() {
                            text.push_str(&format!(" ON {word} {}", action.clause()));
                        }
                    }
                    Value::Text(text)
                }
                Some((def, Rel::Check(i))) => {
                    let pretty = vals.get(1) == Some(&Value::Bool(true));
                    let c = &def.checks[i];
                    Value::Text(format!(
                        "CHECK ({})",
                        display_expr(if pretty { &c.pretty } else { &c.expr })
                    ))
                }
                _ => Value::Null,
            },
        },
        "array_to_string" => match (&vals[0], &vals[1]) {
            (Value::Null, _) | (_, Value::Null) => Value::Null,
            (a, sep) => {
                let items = parse_array(&a.to_text().unwrap_or_default())?;
                Value::Text(
                    items
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(&sep.to_text().unwrap_or_default()),
                )
            }
        },
        "array_position" => match (&vals[0], &vals[1]) {
            (Value::Null, _) | (_, Value::Null) => Value::Null,
            (a, x) => {
                let x = x.to_text().unwrap_or_default();
                parse_array(&a.to_text().unwrap_or_default())?
                    .iter()
                    .position(|i| i.as_deref() == Some(x.as_str()))
                    .map_or(Value::Null, |p| Value::Int(p as i64 + 1))
            }
        },
        "array_remove" => match &vals[0] {
            Value::Null => Value::Null,
            a => {
                let x = vals[1].to_text();
                let kept = parse_array(&a.to_text().unwrap_or_default())?
                    .into_iter()
                    .filter(|i| *i != x)
                    .map(|i| i.map_or(Value::Null, Value::Text));
                Value::Text(format_array(kept))
            }
        },
        "array_upper" => match &vals[0] {
            Value::Null => Value::Null,
            a => match parse_array(&a.to_text().unwrap_or_default())?.len() {
                0 => Value::Null,
                n => Value::Int(n as i64),
            },
        },
        "array_subscript" => match (&vals[0], arg_int(&vals[1])) {
            (Value::Null, _) | (_, None) => Value::Null,
            // Catalog columns of PostgreSQL's `int2vector`/`oidvector` (`indkey`: "1 2") and
            // `name` (`typname`) types travel as text without braces; both subscript from 0.
            (a, Some(i))
                if !a
                    .to_text()
                    .unwrap_or_default()
                    .trim_start()
                    .starts_with('{') =>
            {
                let t = a.to_text().unwrap_or_default();
                let tokens: Vec<&str> = t.split_whitespace().collect();
                let vector = !tokens.is_empty() && tokens.iter().all(|w| w.parse::<i64>().is_ok());
                let at = usize::try_from(i).ok();
                if vector {
                    at.and_then(|i| tokens.get(i))
                        .map_or(Value::Null, |w| Value::Int(w.parse().unwrap_or(0)))
                } else {
                    at.and_then(|i| t.chars().nth(i))
                        .map_or(Value::Null, |c| Value::Text(c.to_string()))
                }
            }
            (a, Some(i)) => {
                let items = parse_array(&a.to_text().unwrap_or_default())?;
                match usize::try_from(i - 1).ok().and_then(|i| items.get(i)) {
                    Some(Some(v)) => Value::Text(v.clone()),
                    _ => Value::Null,
                }
            }
        },
        "pg_table_size" => match arg_int(&vals[0]) {
            None => Value::Null,
            Some(o) => match (table_by_oid(cx, o)?, cx.exec) {
                (Some((def, Rel::Table)), Some(exec)) => {
                    Value::Int(exec.engine.tree_pages(def.tree)? as i64 * PAGE_BYTES)
                }
                (Some((def, Rel::Index(i))), Some(exec)) => {
                    Value::Int(exec.engine.tree_pages(def.indexes[i].tree)? as i64 * PAGE_BYTES)
                }
                // A primary key is the table's own tree: it takes no pages of its own.
                (Some((_, Rel::PrimaryKey)), _) => Value::Int(0),
                _ => Value::Null,
            },
        },
        "pg_size_pretty" => match arg_int(&vals[0]) {
            None => Value::Null,
            Some(n) => Value::Text(size_pretty(n)),
        },
        "quote_ident" => match &vals[0] {
            Value::Null => Value::Null,
            v => Value::Text(quote_ident(&v.to_text().unwrap_or_default())),
        },
        "quote_literal" => match &vals[0] {
            Value::Null => Value::Null,
            v => Value::Text(quote_literal(&v.to_text().unwrap_or_default())),
        },
        "acldefault" => match (&vals[0], arg_int(&vals[1])) {
            (Value::Null, _) | (_, None) => Value::Null,
            (kind, Some(owner)) => {
                let owner = match owner {
                    o if o == i64::from(BOOTSTRAP_ROLE) => user().to_text().unwrap_or_default(),
                    o if o == i64::from(DATABASE_OWNER_ROLE) => "pg_database_owner".into(),
                    o => o.to_string(),
                };
                let kind = kind.to_text().unwrap_or_default();
                Value::Text(default_acl(&kind, &quote_ident(&owner)).ok_or_else(|| {
                    SqlError::Internal(format!("unrecognized objtype abbreviation: {kind}"))
                })?)
            }
        },
        // As a set-returning function in a select list: Borealis has no partitioned tables, so
        // the one ancestor of a relation is the relation itself.
        "pg_partition_ancestors" => match &vals[0] {
            Value::Null => Value::Null,
            v @ Value::Text(_) => {
                return eval_function("regclass", std::slice::from_ref(v), cx);
            }
            v => Value::Int(arg_int(v).unwrap_or(0)),
        },
        // Borealis has no triggers: no OID names one.
        "pg_get_triggerdef" => Value::Null,
        "is_true" => Value::Bool(vals[0] == Value::Bool(true)),
        "is_false" => Value::Bool(vals[0] == Value::Bool(false)),
        "is_unknown" => Value::Bool(vals[0].is_null()),
        "is_distinct_from" => {
            let (a, b) = (&vals[0], &vals[1]);
            Value::Bool(match (a.is_null(), b.is_null()) {
                (true, true) => false,
                (true, false) | (false, true) => true,
                _ => {
                    a.to_text() != b.to_text()
                        && a.compare(b).ok().flatten() != Some(std::cmp::Ordering::Equal)
                }
            })
        }
        _ => return Ok(None),
    }))
}

/// Bytes per engine page, for the size functions.
const PAGE_BYTES: i64 = 8192;

/// `pg_size_pretty(bigint)`: bytes below 10 kB, then kB, MB, GB, TB, rounding half away from
/// zero, as PostgreSQL 15 prints sizes.
#[must_use]
pub fn size_pretty(size: i64) -> String {
    const LIMIT: i64 = 10 * 1024;
    const LIMIT2: i64 = LIMIT * 2 - 1;
    let half_rounded = |x: i64| (x + if x < 0 { -1 } else { 1 }) / 2;
    if size.abs() < LIMIT {
        return format!("{size} bytes");
    }
    // One extra bit is kept for rounding.
    let mut s = size >> 9;
    for unit in ["kB", "MB", "GB"] {
        if s.abs() < LIMIT2 {
            return format!("{} {unit}", half_rounded(s));
        }
        s >>= 10;
    }
    format!("{} TB", half_rounded(s))
}

/// Whether a `reg*` input names no object: PostgreSQL reads `-` as OID 0 (`InvalidOid`).
fn is_invalid_oid_name(t: &str) -> bool {
    t.trim() == "-"
}

/// How a `reg*` value prints an OID that names nothing it knows: `-` for 0, as PostgreSQL
/// prints `InvalidOid` (a `reltoastrelid` of a table without one), else the number.
fn invalid_oid_name(o: i64) -> String {
    if o == 0 { "-".into() } else { o.to_string() }
}

fn type_oid_by_name(t: &str) -> Option<i64> {
    let t = t.trim().trim_start_matches("pg_catalog.").to_lowercase();
    if let Ok(o) = t.parse::<u32>() {
        return Some(i64::from(o));
    }
    // An array type: `text[]` (or its catalog name `_text`).
    if let Some(elem) = t.strip_suffix("[]") {
        let e = type_oid_by_name(elem)?;
        return TYPES
            .iter()
            .find(|x| i64::from(x.0) == e && x.4 != 0)
            .map(|x| i64::from(x.4));
    }
    if let Some(elem) = t.strip_prefix('_')
        && let Some(e) = TYPES.iter().find(|x| x.1 == elem)
    {
        return Some(i64::from(e.4));
    }
    let alias = match t.as_str() {
        "integer" | "int" => "int4",
        "bigint" => "int8",
        "smallint" => "int2",
        "boolean" => "bool",
        "double precision" => "float8",
        "real" => "float4",
        "character varying" => "varchar",
        "character" => "bpchar",
        "timestamp without time zone" => "timestamp",
        "timestamp with time zone" => "timestamptz",
        "time without time zone" => "time",
        "time with time zone" => "timetz",
        other => other,
    };
    TYPES.iter().find(|x| x.1 == alias).map(|x| i64::from(x.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_type_matches_postgresql() {
        assert_eq!(format_type(1042, 88).as_deref(), Some("character(84)"));
        assert_eq!(
            format_type(1043, 14).as_deref(),
            Some("character varying(10)")
        );
        assert_eq!(format_type(23, -1).as_deref(), Some("integer"));
        assert_eq!(
            format_type(1114, -1).as_deref(),
            Some("timestamp without time zone")
        );
    }

    #[test]
    fn stored_expressions_print_as_postgresql_prints_them() {
        assert_eq!(
            display_expr("nextval('public.s'::REGCLASS)"),
            "nextval('s'::regclass)"
        );
        assert_eq!(
            display_expr("(price >= (0)::DOUBLE PRECISION)"),
            "(price >= (0)::double precision)"
        );
        assert_eq!(
            display_expr("('A::B'::TEXT || x::VARCHAR)"),
            "('A::B'::text || x::varchar)"
        );
    }

    #[test]
    fn sizes_print_as_postgresql_prints_them() {
        assert_eq!(size_pretty(8192), "8192 bytes");
        assert_eq!(size_pretty(10 * 1024), "10 kB");
        assert_eq!(size_pretty(13_459_456), "13 MB");
        assert_eq!(size_pretty(1_536), "1536 bytes");
        assert_eq!(size_pretty(5 * 1024 * 1024 * 1024), "5120 MB");
    }

    #[test]
    fn regclass_literals_are_qualified_off_the_search_path() {
        assert_eq!(
            qualify_regclass_literals("nextval('s_id_seq'::regclass)"),
            "nextval('public.s_id_seq'::regclass)"
        );
        assert_eq!(
            qualify_regclass_literals("nextval('public.s'::regclass) + 1"),
            "nextval('public.s'::regclass) + 1"
        );
        assert_eq!(qualify_regclass_literals("'a' || 'b'"), "'a' || 'b'");
    }

    #[test]
    fn identifiers_are_quoted_when_needed() {
        assert_eq!(quote_ident("abc_1"), "abc_1");
        assert_eq!(quote_ident("Abc"), "\"Abc\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn lookup_finds_catalogs_by_schema() {
        assert!(lookup(Some("pg_catalog"), "pg_class").is_some());
        assert!(lookup(None, "pg_class").is_some());
        assert!(
            lookup(None, "tables").is_none(),
            "information_schema needs its qualifier"
        );
        assert!(lookup(Some("information_schema"), "tables").is_some());
        assert!(lookup(Some("public"), "pg_class").is_none());
    }

    /// The columns of information_schema's views, in the order PostgreSQL 15 declares them
    /// (its `information_schema.columns` for each): `SELECT *` and positional reads see them so.
    #[test]
    fn information_schema_views_have_postgresql_columns_in_order() {
        let names = |name: &str| -> Vec<&str> {
            lookup(Some("information_schema"), name)
                .unwrap_or_else(|| panic!("information_schema.{name} exists"))
                .columns
                .iter()
                .map(|c| c.0)
                .collect()
        };
        let constraint = ["constraint_catalog", "constraint_schema", "constraint_name"];
        let table = ["table_catalog", "table_schema", "table_name"];
        assert_eq!(
            names("table_constraints"),
            [
                &constraint[..],
                &table[..],
                &[
                    "constraint_type",
                    "is_deferrable",
                    "initially_deferred",
                    "enforced",
                    "nulls_distinct"
                ]
            ]
            .concat()
        );
        assert_eq!(
            names("key_column_usage"),
            [
                &constraint[..],
                &table[..],
                &[
                    "column_name",
                    "ordinal_position",
                    "position_in_unique_constraint"
                ]
            ]
            .concat()
        );
        assert_eq!(
            names("referential_constraints"),
            [
                &constraint[..],
                &[
                    "unique_constraint_catalog",
                    "unique_constraint_schema",
                    "unique_constraint_name",
                    "match_option",
                    "update_rule",
                    "delete_rule"
                ]
            ]
            .concat()
        );
        assert_eq!(
            names("constraint_column_usage"),
            [&table[..], &["column_name"], &constraint[..]].concat()
        );
        assert_eq!(
            names("check_constraints"),
            [&constraint[..], &["check_clause"]].concat()
        );
        assert_eq!(
            names("views"),
            [
                &table[..],
                &[
                    "view_definition",
                    "check_option",
                    "is_updatable",
                    "is_insertable_into",
                    "is_trigger_updatable",
                    "is_trigger_deletable",
                    "is_trigger_insertable_into"
                ]
            ]
            .concat()
        );
        assert_eq!(
            names("schemata"),
            [
                "catalog_name",
                "schema_name",
                "schema_owner",
                "default_character_set_catalog",
                "default_character_set_schema",
                "default_character_set_name",
                "sql_path"
            ]
        );
        assert_eq!(
            names("sequences"),
            [
                "sequence_catalog",
                "sequence_schema",
                "sequence_name",
                "data_type",
                "numeric_precision",
                "numeric_precision_radix",
                "numeric_scale",
                "start_value",
                "minimum_value",
                "maximum_value",
                "increment",
                "cycle_option"
            ]
        );
    }
}
