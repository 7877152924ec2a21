//! The materialiser: the tokio/disk driver of [`HousekeepingCore`] (see `segment.rs`,
//! "Materialised bases, collection and checkpoints", for what and why).
//!
//! ```text
//!   every MATERIALISE_INTERVAL_MS: HousekeepingCore::tick (under the state lock, briefly)
//!     ─▶ ≤ MATERIALISE_PAGES_PER_TICK pages due: build each at its newest version (log and
//!        image reads, CRC-checked, on the blocking pool) ─▶ append the images, ONE sync
//!        ─▶ NodeCore::materialised: builds start from the new bases
//!     ─▶ checkpoint due: NodeCore::collect (below the reported read horizon), snapshot the
//!        segment and the log position together, store the checkpoint atomically, then delete
//!        the log and image files it no longer names
//! ```
//!
//!
//! Copy repair (see `core.rs`) uses two pieces of it: `append_images` stores a copy's base
//! images in the image files, and `install_copy` stores the checkpoint of the segment with the
//! copy installed, then installs it. Every checkpoint — the materialiser's and an install's —
//! is written under one lock, from its snapshot to its file deletions, so a snapshot taken before
//! an install never replaces the install's checkpoint, and no checkpoint deletes the files of a
//! copy whose entries are being recorded.
//!
//! It never holds the state lock across I/O and does a bounded amount of work per tick, so writes
//! and reads never wait for it; it does not sit in the log writer's path at all. A disk error in
//! it stops the node like one in the log writer.

use crate::StorageError;
use crate::checkpoint::{self, Checkpoint};
use crate::core::{self, CopyState, HousekeepingCore};
use crate::image::{self, ImageWriter};
use crate::limits::{CHECKPOINT_RECORDS_MAX, MATERIALISE_INTERVAL_MS};
use crate::log::{self, ReadError};
use crate::node::{BuildBase, Node, file_handles};
use crate::segment::{Base, PagePlan};
use crate::segment::{CopyRefused, Location};
use borealis_common::PgId;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::{Instant, MissedTickBehavior, interval};

/// Runs forever.
pub(crate) async fn run(node: Arc<Node>) -> Result<(), StorageError> {
    let mut hk = HousekeepingCore::new();
    let started = Instant::now();
    let mut tick = interval(Duration::from_millis(MATERIALISE_INTERVAL_MS));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let (work, jobs) = {
            let st = node.state();
            let work = hk.tick(now_ms, &st.core);
            let mut jobs = Vec::new();
            for (pg, page, lsn, plan) in &work.builds {
                let PagePlan::Build { base, records } = plan else {
                    continue;
                };
                let base = match *base {
                    Base::Zero => BuildBase::Zero,
                    Base::Cached(_) => continue,
                    Base::Image { lsn, loc } => {
                        BuildBase::Image(lsn, loc, st.images.get(&loc.file).cloned())
                    }
                };
                let files = file_handles(&st, records.iter().map(|(_, l)| l.file));
                jobs.push((*pg, *page, *lsn, base, records.clone(), files));
            }
            (work, jobs)
        };
        if !jobs.is_empty() {
            let images = Arc::clone(&node.image_writer);
            let done = tokio::task::spawn_blocking(move || {
                let mut built = Vec::new();
                for (pg, page, lsn, base, records, files) in jobs {
                    let Ok(base) = base.load(page) else { continue };
                    let result =
                        core::build_page(page, base, &records, |loc| match files.get(&loc.file) {
                            Some(f) => log::read_record(f, loc).map_err(|e| e.to_string()),
                            None => Err(ReadError::Corrupted {
                                file: loc.file,
                                offset: loc.offset,
                                why: "log file not open".into(),
                            }
                            .to_string()),
                        });
                    // A bad entry is found (and repaired) by reads and the scrub; skip the page.
                    if let Ok((got, img)) = result {
                        assert_eq!(got, lsn, "a base is built at the planned version");
                        built.push((pg, page, lsn, image::encode_image(pg, page, lsn, &img)));
                    }
                }
                let entries: Vec<Vec<u8>> = built.iter().map(|b| b.3.clone()).collect();
                let appended = lock(&images).append(&entries);
                ((), built, appended)
            })
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
            let (locations, new_files) = done.2.map_err(|e| StorageError::Io {
                what: "appending to an image file".into(),
                source: e,
            })?;
            let mut st = node.state();
            for (n, f) in new_files {
                st.images.insert(n, f);
            }
            for ((pg, page, lsn, _), loc) in done.1.into_iter().zip(locations) {
                st.core.materialised(pg, page, lsn, loc);
            }
        }
        if work.checkpoint {
            checkpoint_now(&node).await?;
        }
    }
}

fn lock(images: &Mutex<ImageWriter>) -> std::sync::MutexGuard<'_, ImageWriter> {
    images.lock().expect("image writer lock poisoned")
}

/// Appends a copy repair's images to the image files (one sync) and returns their locations.
pub(crate) async fn append_images(
    node: &Arc<Node>,
    entries: Vec<Vec<u8>>,
) -> Result<Vec<Location>, StorageError> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let images = Arc::clone(&node.image_writer);
    let appended = tokio::task::spawn_blocking(move || lock(&images).append(&entries))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    let (locations, new_files) = appended.map_err(|e| StorageError::Io {
        what: "appending copied images to an image file".into(),
        source: e,
    })?;
    let mut st = node.state();
    for (n, f) in new_files {
        st.images.insert(n, f);
    }
    Ok(locations)
}

/// Installs the complete copy of `pg` (see `core.rs`, "Copy repair"): the checkpoint of the
/// segment as it will be is stored first, then the core takes the copy. Serialised with the
/// materialiser's checkpoints. `Ok(Err(why))`: the copy was refused, and ends.
pub(crate) async fn install_copy(
    node: &Arc<Node>,
    pg: PgId,
) -> Result<Result<CopyState, CopyRefused>, StorageError> {
    let _serial = node.checkpoint_lock.lock().await;
    let ck = {
        let mut st = node.state();
        match st.core.prepare_install(pg) {
            Ok(segment) => Checkpoint {
                log_file: st.log_end.0,
                log_offset: st.log_end.1,
                segment,
            },
            Err(e) => {
                st.core.abandon_copy(pg);
                return Ok(Err(e));
            }
        }
    };
    let dir = node.dir.clone();
    tokio::task::spawn_blocking(move || checkpoint::store(&dir, &ck))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?;
    // Records logged meanwhile are after the checkpoint's log position: a restart rescans them,
    // and so does the install below (it rebuilds the chain from every record held). Should the
    // SCL have reached the floor meanwhile (the writer resent what we lacked), the install is
    // refused; the durable checkpoint still describes a valid segment (the same records, with
    // the cut below the floor), which the next checkpoint replaces.
    let mut st = node.state();
    let installed = st.core.install_copy(pg);
    st.cache.clear();
    Ok(installed)
}

/// Collects, writes a checkpoint, and deletes the files it no longer names.
async fn checkpoint_now(node: &Arc<Node>) -> Result<(), StorageError> {
    let _serial = node.checkpoint_lock.lock().await;
    let current_image = lock(&node.image_writer).current_file();
    let (ck, log_refs, image_refs, collected) = {
        let mut st = node.state();
        let collected = st.core.collect();
        if st.core.segment().held_count() as u64 > CHECKPOINT_RECORDS_MAX {
            eprintln!(
                "storage node {}: {} records held, more than a checkpoint may name; not checkpointing",
                node.id,
                st.core.segment().held_count()
            );
            return Ok(());
        }
        let ck = Checkpoint {
            log_file: st.log_end.0,
            log_offset: st.log_end.1,
            segment: st.core.segment().snapshot(),
        };
        st.core.checkpointed();
        let (logs, imgs) = st.core.referenced_files();
        (ck, logs, imgs, collected)
    };
    let dir = node.dir.clone();
    let log_file = ck.log_file;
    let deleted =
        tokio::task::spawn_blocking(move || -> Result<(Vec<u32>, Vec<u32>), StorageError> {
            checkpoint::store(&dir, &ck)?;
            // Only files the durable checkpoint does not name, and never one still appended to.
            let mut logs = Vec::new();
            let mut imgs = Vec::new();
            for entry in std::fs::read_dir(&dir).map_err(|e| StorageError::Io {
                what: "listing the data directory".into(),
                source: e,
            })? {
                let Ok(entry) = entry else { continue };
                let name = entry.file_name();
                let Some(name) = name.to_str() else { continue };
                if let Some(n) = log::parse_file_name(name)
                    && n < log_file
                    && !log_refs.contains(&n)
                {
                    logs.push(n);
                } else if let Some(n) = image::parse_file_name(name)
                    && n < current_image
                    && !image_refs.contains(&n)
                {
                    imgs.push(n);
                } else {
                    continue;
                }
                let _ = std::fs::remove_file(entry.path());
            }
            if !logs.is_empty() || !imgs.is_empty() {
                let _ = log::sync_dir(&dir);
            }
            Ok((logs, imgs))
        })
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?;
    let (logs, imgs) = deleted;
    let mut st = node.state();
    for n in &logs {
        st.files.remove(n);
    }
    for n in &imgs {
        st.images.remove(n);
    }
    if collected.records > 0 || !logs.is_empty() {
        eprintln!(
            "storage node {}: collected {} records and {} page versions below {}; deleted {} log and {} image files",
            node.id,
            collected.records,
            collected.versions,
            st.core.collect_horizon(),
            logs.len(),
            imgs.len()
        );
    }
    Ok(())
}
