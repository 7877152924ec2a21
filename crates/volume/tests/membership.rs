//! Recovery meeting a newer membership mid-way, against seven real storage nodes (six members and
//! a spare, in this process). A node that adopts a newer membership after recovery's first step
//! (a replacement completing meanwhile) refuses recovery's `Open` with `StaleMembership`; recovery
//! must start again — and then see the newer membership — rather than carry on with the old one
//! on the nodes that still accept it.

#![allow(clippy::unwrap_used)]

use borealis_common::frame::{encode_frame, read_frame, write_frames};
use borealis_common::pagestore::{PageStore, RecordDraft};
use borealis_common::proto::{Request, Response};
use borealis_common::{PageId, Payload};
use borealis_volume::{Volume, VolumeConfig};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

mod common;
use common::{stallable_proxy, start_node};
use tokio::net::TcpStream;

/// Sends one request to a node and returns its answer.
async fn call(addr: &str, req: &Request) -> Response {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let (kind, body) = req.encode(1);
    let mut frame = Vec::new();
    encode_frame(kind, &body, &mut frame);
    write_frames(&mut s, &frame).await.unwrap();
    let (kind, body) = read_frame(&mut s).await.unwrap().unwrap();
    Response::decode(kind, &body).unwrap().1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovery_that_meets_a_newer_membership_starts_again() {
    let dir = std::env::temp_dir().join(format!("borealis-membership-{}", std::process::id()));
    let mut real = Vec::new();
    for i in 1..=7 {
        real.push(start_node(i, &dir).await);
    }
    let spare = real.pop().unwrap();
    let stalled = Arc::new(AtomicBool::new(false));
    let mut nodes = real.clone();
    nodes[0] = stallable_proxy(real[0].clone(), stalled.clone()).await;

    // A first writer (no spares) opens the volume: membership 1 everywhere.
    let first = Volume::open(VolumeConfig::new(nodes.clone()), Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(first.membership().epoch.0, 1);
    let term = first.term();
    let m2 = first.membership().replacing(1, spare.clone());

    // Node 0's answers are held back, and it adopts membership 2 (the dual state replacing slot
    // 1 by the spare) as if a replacement were under way: a new writer's first step will not see
    // it, and its Open of membership 1 will be refused.
    stalled.store(true, Ordering::Relaxed);
    let open = Request::Open {
        epoch: term.epoch,
        writer: term.writer,
        pg: borealis_common::PgId(0),
        peers: nodes[1..].to_vec(),
        truncations: Vec::new(),
        membership: m2.clone(),
        me: nodes[0].clone(),
        map: None,
    };
    match call(&real[0], &open).await {
        Response::State(s) => assert_eq!(s.membership, m2),
        other => panic!("node 0 did not adopt membership 2: {other:?}"),
    }
    let second = tokio::spawn(Volume::open(
        VolumeConfig {
            spares: vec![spare.clone()],
            ..VolumeConfig::new(nodes.clone())
        },
        Duration::from_secs(30),
    ));
    // Recovery's first step gives up waiting for node 0 after 1.5 s and chooses membership 1; its
    // Open reaches node 0 and is refused; the refusal is let through while recovery still waits
    // for answers to that Open.
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    stalled.store(false, Ordering::Relaxed);
    let second = second.await.unwrap().unwrap();

    // It started again and recovered membership 2 (or 3, once it completed the replacement);
    // without starting again it would have gone on with membership 1, node 0 refusing it.
    let m = second.membership();
    assert!(m.epoch.0 >= 2, "recovered membership {m:?}");
    assert!(m.names(&spare), "{m:?}");
    let writer = second.clone();
    let lsn = tokio::task::spawn_blocking(move || {
        writer
            .append_mtr(vec![RecordDraft {
                page: PageId(100),
                prev_page_lsn: borealis_common::Lsn::ZERO,
                payload: Payload::Init(vec![7; 64]),
            }])
            .unwrap()
    })
    .await
    .unwrap();
    second.wait_durable(lsn).await.unwrap();
    assert!(first.is_fenced() || first.epoch() < second.epoch());
    let _ = std::fs::remove_dir_all(&dir);
}
