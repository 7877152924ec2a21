//! SQL: parse, bind, plan and execute the PostgreSQL dialect over the engine.
