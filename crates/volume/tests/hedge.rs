//! Hedged page reads against six real storage nodes (in this process), one of them stalled: its
//! connection stays open but it stops answering, as a node paused by a long disk stall or a
//! half-open partition would. Without hedging every read routed to it first waits for the read
//! timeout (2 s); with hedging it costs one hedge delay.

#![allow(clippy::unwrap_used)]

use borealis_common::pagestore::{PageStore, RecordDraft};
use borealis_common::{Lsn, PageId, Payload};
use borealis_volume::{Volume, VolumeConfig};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

mod common;
use common::{stallable_proxy, start_node};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_segment_costs_a_hedge_delay_not_a_timeout() {
    let dir = std::env::temp_dir().join(format!("borealis-hedge-{}", std::process::id()));
    let mut nodes = Vec::new();
    for i in 1..=6 {
        nodes.push(start_node(i, &dir).await);
    }
    let stalled = Arc::new(AtomicBool::new(false));
    nodes[0] = stallable_proxy(nodes[0].clone(), stalled.clone()).await;
    let volume = Volume::open(VolumeConfig::new(nodes), Duration::from_secs(30))
        .await
        .unwrap();

    // 60 pages, each one Init; a tenth of them have segment 0 as their first choice.
    let pages = 60u64;
    let writer = volume.clone();
    let end = tokio::task::spawn_blocking(move || {
        let mut end = Lsn::ZERO;
        for p in 0..pages {
            let draft = RecordDraft {
                page: PageId(100 + p),
                prev_page_lsn: Lsn::ZERO,
                payload: Payload::Init(vec![p as u8 + 1; 64]),
            };
            end = writer.append_mtr(vec![draft]).unwrap();
        }
        end
    })
    .await
    .unwrap();
    volume.wait_durable(end).await.unwrap();
    // Every segment acknowledged everything: segment 0 is known to cover the read point.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(volume.status().iter().all(|s| s.scl >= end));

    stalled.store(true, Ordering::Relaxed);
    let reader = volume.clone();
    let took = tokio::task::spawn_blocking(move || {
        let read_point = reader.vdl();
        let started = Instant::now();
        for p in 0..pages {
            let v = reader
                .get_page(PageId(100 + p), read_point)
                .unwrap()
                .expect("the page exists");
            assert_eq!(v.image[0], p as u8 + 1, "page {p}");
            assert_eq!(v.image[64], 0);
        }
        started.elapsed()
    })
    .await
    .unwrap();
    // Without hedging, the ten reads that try segment 0 first wait 2 s each: 20 s at least.
    assert!(
        took < Duration::from_secs(5),
        "60 reads with one segment stalled took {took:?}"
    );
    stalled.store(false, Ordering::Relaxed);
    let _ = std::fs::remove_dir_all(&dir);
}
