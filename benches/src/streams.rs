//! Shared pieces of the stream benchmarks (`benches/streams.rs`): the
//! frame format and its cheap check, the per-phase plans, the CPU stage,
//! and the credit window that keeps a fixed number of frames in flight.

use futures_channel::mpsc;
use std::future::poll_fn;

/// Streams of `stream_balanced` and `stream_hotspot_rotation`.
pub const STREAMS: usize = 8;
/// Size of one frame.
pub const FRAME: usize = 4096;
/// Frames in flight per stream (sent and not yet echoed back).
pub const WINDOW: usize = 32;
/// How much one receive asks for.
pub const READ_CHUNK: usize = 64 * 1024;
/// Frames per stream per iteration of `stream_balanced`.
pub const BALANCED_FRAMES: u32 = 256;
/// Phases of `stream_hotspot_rotation`; the hot stream is `phase % STREAMS`.
pub const PHASES: usize = 16;
/// Frames of the hot stream in one phase, and of each other stream: the
/// hot one carries 90 % of the bytes (126 of 140 frames).
pub const HOT_FRAMES: u32 = 126;
pub const COLD_FRAMES: u32 = 2;
/// Message size and round trips of `echo_rtt`.
pub const RTT_MESSAGE: usize = 256;
pub const RTT_ROUNDS: u64 = 2000;

/// Frames each stream sends in each phase.
pub type Plan = Vec<[u32; STREAMS]>;

/// One phase, every stream sending [`BALANCED_FRAMES`].
pub fn balanced_plan() -> Plan {
    vec![[BALANCED_FRAMES; STREAMS]]
}

/// [`PHASES`] phases; in phase `p` stream `p % STREAMS` is hot.
pub fn hotspot_plan() -> Plan {
    (0..PHASES)
        .map(|phase| {
            let mut frames = [COLD_FRAMES; STREAMS];
            frames[phase % STREAMS] = HOT_FRAMES;
            frames
        })
        .collect()
}

/// Bytes one iteration of `plan` sends (one way).
pub fn plan_bytes(plan: &Plan) -> u64 {
    plan.iter()
        .flat_map(|phase| phase.iter())
        .map(|&frames| u64::from(frames) * FRAME as u64)
        .sum()
}

/// A frame buffer; [`stamp_frame`] writes its header before each send.
pub fn new_frame() -> Vec<u8> {
    vec![0x5a; FRAME]
}

/// The header of frame `seq` of `stream`: both in the first 8 bytes, so a
/// frame of another stream or out of order is caught.
pub fn stamp_frame(frame: &mut [u8], stream: usize, seq: u64) {
    frame[..8].copy_from_slice(&frame_tag(stream, seq).to_le_bytes());
}

fn frame_tag(stream: usize, seq: u64) -> u64 {
    ((stream as u64) << 40) | seq
}

/// About 20 µs of work on a frame (a few FNV passes), kept by `black_box`.
pub fn cpu_stage(frame: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    for _ in 0..6 {
        for &byte in std::hint::black_box(frame) {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    std::hint::black_box(hash)
}

/// The receiving end of one stream: puts frames together from receives of
/// any size and checks each frame's header.
#[derive(Debug)]
pub struct FrameCheck {
    stream: usize,
    next_seq: u64,
    /// Bytes of a frame not complete yet.
    partial: Vec<u8>,
    cpu: bool,
}

impl FrameCheck {
    pub fn new(stream: usize, cpu: bool) -> FrameCheck {
        FrameCheck {
            stream,
            next_seq: 0,
            partial: Vec::with_capacity(FRAME),
            cpu,
        }
    }

    /// Takes received bytes; returns how many frames they completed.
    pub fn feed(&mut self, mut data: &[u8]) -> u32 {
        let mut frames = 0;
        while !data.is_empty() {
            if self.partial.is_empty() && data.len() >= FRAME {
                // The common case: a whole frame in place, no copy.
                self.frame_done(&data[..FRAME]);
                data = &data[FRAME..];
                frames += 1;
                continue;
            }
            let take = (FRAME - self.partial.len()).min(data.len());
            self.partial.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.partial.len() == FRAME {
                let frame = std::mem::take(&mut self.partial);
                self.frame_done(&frame);
                self.partial = frame;
                self.partial.clear();
                frames += 1;
            }
        }
        frames
    }

    fn frame_done(&mut self, frame: &[u8]) {
        let tag = u64::from_le_bytes(frame[..8].try_into().unwrap());
        let want = frame_tag(self.stream, self.next_seq);
        assert_eq!(
            tag, want,
            "stream {}: frame {:#x} arrived where {want:#x} was due",
            self.stream, tag
        );
        self.next_seq += 1;
        if self.cpu {
            cpu_stage(frame);
        }
    }
}

/// Keeps at most [`WINDOW`] frames of a stream in flight: the writer takes
/// a credit before each frame, the reader gives one back per frame echoed.
/// Runtime-neutral (futures-channel), so every runtime pays the same.
pub fn window() -> (Credits, Returns) {
    // A bounded channel holds its buffer plus one slot per sender.
    let (tx, rx) = mpsc::channel(WINDOW - 1);
    (Credits(tx), Returns(rx))
}

/// The writer's side of [`window`].
#[derive(Debug)]
pub struct Credits(mpsc::Sender<()>);

impl Credits {
    /// Waits until one more frame may be in flight, and takes its credit.
    pub async fn take(&mut self) {
        poll_fn(|cx| self.0.poll_ready(cx))
            .await
            .expect("the reader of this stream is gone");
        self.0
            .start_send(())
            .expect("a ready channel takes a value");
    }
}

/// The reader's side of [`window`].
#[derive(Debug)]
pub struct Returns(mpsc::Receiver<()>);

impl Returns {
    /// Gives back the credits of `frames` echoed frames.
    pub fn give_back(&mut self, frames: u32) {
        for _ in 0..frames {
            self.0
                .try_recv()
                .expect("a frame came back that was never sent");
        }
    }
}

/// The ping of `echo_rtt`'s round trip `round`: the round in its first 8
/// bytes, the rest filler.
pub fn stamp_ping(message: &mut [u8], round: u64) {
    message[..8].copy_from_slice(&round.to_le_bytes());
}

/// Panics unless `echo` is the ping of `round`.
pub fn check_ping(echo: &[u8], round: u64) {
    assert_eq!(echo.len(), RTT_MESSAGE);
    let got = u64::from_le_bytes(echo[..8].try_into().unwrap());
    assert_eq!(got, round, "echo_rtt: round {round} came back as {got}");
}
