//! Deterministic simulation of the storage tier: the real protocol cores on one thread, in
//! virtual time, from one `u64` seed.
//!
//! The simulator runs the *same* sans-IO code as the real processes — the storage node's
//! [`NodeCore`](borealis_storage::core::NodeCore) and [`GossipCore`](borealis_storage::core::GossipCore),
//! the writer's [`WriterCore`](borealis_volume::writer::WriterCore) and the pure steps of
//! [`recovery`](borealis_volume::recovery) — and replaces only what is around them: disks,
//! network, clock and randomness. Messages travel as the real encoded bytes, log entries are the
//! real CRC-checked entries, and a node restart rebuilds its core by scanning its log exactly as
//! the real node does.
//!
//! ```text
//!   seed ──▶ Rng (SplitMix64) ──▶ every choice: delays, losses, faults, payloads
//!
//!   event queue (virtual ms) ──▶ Deliver(msg) │ Sync(node) │ NodeTick │ WriterTick │ Fault │ Check
//!        │
//!        ├─▶ 6 members + 6 spares (2 + 2 per AZ a/b/c): NodeCore + simulated disk
//!        │     disk = durable meta + durable log entries; a write is durable only at its Sync;
//!        │     crash loses unsynced writes (or leaves a prefix, the last one torn); a lost disk
//!        │     comes back empty; with a small retention and peer lag, peers collect past a
//!        │     lagging node, which then catches up by a copy of a peer's cut (copy repair)
//!        ├─▶ writers: recovery state machine, then WriterCore; a restarted or second writer
//!        │     recovers with a new epoch and fences the old one, which keeps trying; every
//!        │     tick runs the membership policy: a member unreachable for SEGMENT_LOST_MS is
//!        │     replaced by a spare of its AZ through the dual-quorum state
//!        ├─▶ faults: crashes, torn writes, lost disks, nodes lost for good, partitions
//!        ├─▶ network: loss, duplication, delay and reordering, isolated nodes, a whole AZ cut off
//!        └─▶ checkers (continuously and at the end), against an oracle of every record written
//! ```
//!
//! What is checked, and where a failure says so:
//!
//! - **No acknowledged commit is lost.** A commit is acknowledged when the writer core's VDL
//!   covers it. Every recovery (continuously) and the final recovery (after healing everything)
//!   must find every acknowledged commit on the recovered chain.
//! - **VDL never goes backwards** within a writer epoch.
//! - **Reads are exact.** A read at read point R (the writer's VDL) from one segment returns
//!   exactly the page the model computes by applying, in LSN order, the records of the chain
//!   ending at R. At the end every node materialises every page at the final VDL and must match.
//! - **Nothing a fenced writer sends becomes visible.** Storage logs only records some writer
//!   wrote (byte for byte); no LSN is ever allocated by two writers; at the end every node's chain
//!   up to the final VDL is exactly the model's chain — no record of a deposed writer above its
//!   successor's truncation point survives anywhere.
//! - **Four live copies suffice.** Faults are injected only while at most two segments are
//!   unavailable (down, partitioned, or an emptied disk not yet refilled); under that budget a
//!   commit must become durable within a bounded time, and after healing every issued MTR must.
//!
//! - **A repair never lowers durability.** At every membership change, every 0.5 s and after
//!   healing, every acknowledged commit is held by four members with live data in every quorum
//!   set of the live membership (both sets during a replacement), less the members whose data a
//!   fault took and, in the new set, the joiner while it hydrates; a joiner takes its slot only
//!   holding every acknowledged commit; once healed, every member lost for good is replaced.
//! - **Copy repair is exact.** A copied record must be one some writer wrote, byte for byte, and
//!   a node that installed a copy must read every page exactly as the model at every chain LSN
//!   from its copied horizon up, like any other node.
//! - **Stale-membership requests are refused.** A node that adopted membership `m` refuses every
//!   request of an older one, and every `Write` or `GetPage` once `m` no longer names it.
//!
//! A failure carries its seed; [`run_seed`] with the same seed and options replays it exactly.
//! See docs/simulator.md.

pub mod limits;
pub mod rng;
mod world;

/// What a run does.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// MTRs the workload issues at most (each seed draws between half of this and all of it).
    pub mtrs: u64,
    /// Virtual time during which faults are injected, in ms.
    pub duration_ms: u64,
    /// Every writer uses the same writer id: reproduces the protocol before writer ids, in which
    /// two writers that pick the same epoch are not told apart. Runs with this set are expected
    /// to fail; it exists to show the checkers catch the fencing gap.
    pub same_writer_id: bool,
    /// Recovery plans with the volume map it read before adopting its term, without looking
    /// again at the map in the answers of the nodes that adopted it: the protocol before the
    /// simulator found that a growth by the writer being fenced can slip in between. Runs with
    /// this set are expected to fail.
    pub stale_map: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            mtrs: 30,
            duration_ms: 20_000,
            same_writer_id: false,
            stale_map: false,
        }
    }
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub events: u64,
    pub messages: u64,
    pub mtrs: u64,
    pub acked: u64,
    pub reads: u64,
    /// Reads by the reader, at the older read point it holds.
    pub reader_reads: u64,
    pub writers: u64,
    pub recoveries: u64,
    pub fenced: u64,
    pub writer_crashes: u64,
    pub dueling_starts: u64,
    pub node_crashes: u64,
    pub torn_writes: u64,
    pub disks_lost: u64,
    pub az_partitions: u64,
    pub faults: u64,
    pub final_vdl: u64,
    /// A digest of the run's observable history: equal digests, equal runs.
    pub trace: u64,
    /// Restarts that loaded a checkpoint.
    pub checkpoint_restarts: u64,
    /// Log entries restarts scanned, and those they skipped thanks to a checkpoint.
    pub restart_entries_scanned: u64,
    pub restart_entries_skipped: u64,
    /// Whether nodes collected below PGMRPL in this run (small retention), and the highest
    /// collection horizon reached by any node.
    pub collecting: bool,
    pub horizon_max: u64,
    /// Nodes lost for good (they never return).
    pub permanent_losses: u64,
    /// Whether the volume grows to several PGs in this run, the growths begun, the recoveries
    /// of a volume of several PGs, and the PGs the final writer found.
    pub growing: bool,
    pub growths: u64,
    pub multi_pg_recoveries: u64,
    pub final_pgs: u64,
    /// Replacements of a member by a spare begun (the dual-quorum state) and completed.
    pub repairs_begun: u64,
    pub repairs_completed: u64,
    /// Requests of a stale membership that storage refused (each one checked).
    pub stale_refused: u64,
    /// Recoveries that met a newer membership mid-way and started again.
    pub recovery_restarts: u64,
    /// Checks of four live copies of every acknowledged commit.
    pub copy_checks: u64,
    /// Whether peers in this run may collect past a lagging segment (a small peer lag).
    pub small_peer_lag: bool,
    /// Copy repairs begun (gossip met a peer's collection floor), installed, restarted because
    /// the peer collected further, and given up (peer gone, answer refused).
    pub copies_begun: u64,
    pub copies_installed: u64,
    pub copy_restarts: u64,
    pub copies_abandoned: u64,
    /// Bytes of records and images copied by copy repairs.
    pub copy_bytes: u64,
    /// Recoveries whose volume scan (the VCL over several PGs, from the records' known VDL and
    /// dense LSNs) was checked against the PG chain, and the records above their floors those
    /// scans went through.
    pub volume_scans: u64,
    pub volume_scan_records: u64,
}

/// A failed run: which seed, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub seed: u64,
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "seed {} failed: {}\n  replay: cargo run -p borealis-sim --release -- --seed {}",
            self.seed, self.message, self.seed
        )
    }
}

/// Runs one seed. A broken invariant inside a core (an `assert!`) is caught and reported as a
/// failure of this seed too.
pub fn run_seed(seed: u64, opts: Options) -> Result<Report, Failure> {
    let outcome = std::panic::catch_unwind(|| {
        let mut sim = world::Sim::new(seed, opts);
        sim.run().map(|()| sim.report.clone())
    });
    match outcome {
        Ok(Ok(report)) => Ok(report),
        Ok(Err(message)) => Err(Failure { seed, message }),
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_string()))
                .unwrap_or_else(|| "panic".into());
            Err(Failure {
                seed,
                message: format!("an invariant broke: {message}"),
            })
        }
    }
}
