//! PostgreSQL wire-protocol front end (over the pgwire crate).
