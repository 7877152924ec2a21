//! Compute engine: buffer pool, pages, B+tree, mini-transactions, catalog, transactions.
