//! The compute's client of the storage tier: quorum writes, PGCL/VCL/VDL, read routing, recovery.
