//! Newtypes for every domain number. Widths are explicit; on disk and on the wire they are
//! little-endian.

use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident($t:ty)) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
        pub struct $name(pub $t);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

id_type!(
    /// Log sequence number. Allocated only by the writer, strictly increasing, dense within an
    /// epoch: the records of one MTR carry consecutive LSNs. `Lsn(0)` means "nothing": the first
    /// record of a volume has LSN 1, and a backlink of 0 means "no previous record".
    Lsn(u64)
);
id_type!(
    /// A page of the volume. Page ids are dense from 0; the volume's protection group of a page is
    /// `page / pages_per_pg`.
    PageId(u64)
);
id_type!(
    /// Protection group: a page range replicated as six segments on six storage nodes.
    PgId(u32)
);
id_type!(
    /// A storage node.
    NodeId(u32)
);
id_type!(
    /// Volume epoch. A new writer raises it on a write quorum before writing; storage rejects
    /// requests that carry a lower one. This is how an old writer is fenced without leases.
    Epoch(u64)
);
id_type!(
    /// Membership epoch of a protection group: raised by one at every change of the PG's set of
    /// segments (a replacement begins: the dual-quorum state; it completes: the old member is
    /// dropped). Every request carries it and a storage node refuses a stale one. 0: no
    /// membership adopted yet.
    MembershipEpoch(u64)
);
id_type!(
    /// Transaction id, allocated by the writer.
    TxnId(u64)
);
id_type!(
    /// Who a writer is: chosen at random by each writer process when it opens the volume, never
    /// 0 for a real writer (0 is "no writer yet"). Storage orders writers by the pair
    /// `(Epoch, WriterId)`, so two writers that picked the same epoch number are still told apart
    /// and exactly one of them wins: epochs are unique per writer.
    WriterId(u64)
);

impl WriterId {
    /// No writer has opened this segment yet.
    pub const NONE: WriterId = WriterId(0);
}

impl Lsn {
    pub const ZERO: Lsn = Lsn(0);

    #[must_use]
    pub fn next(self) -> Lsn {
        Lsn(self.0.checked_add(1).expect("LSN space exhausted"))
    }
}

impl PageId {
    /// Used by records that change no page (commit records).
    pub const NONE: PageId = PageId(u64::MAX);

    /// The protection group that owns this page. Records that change no page belong to PG 0.
    #[must_use]
    pub fn pg(self, pages_per_pg: u64) -> PgId {
        assert!(pages_per_pg > 0, "pages_per_pg must be positive");
        if self == PageId::NONE {
            return PgId(0);
        }
        let pg = self.0 / pages_per_pg;
        PgId(u32::try_from(pg).expect("protection group id exceeds u32"))
    }
}
