//! Deterministic dispatch-like receipts and the ledgers built from them: a native vnx ledger
//! written through the library, and one in Python VNX's `json.dumps` format.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;

use vnx::ledger::json;
use vnx::ledger::line::{Scratch, analyze};
use vnx::ledger::{Ledger, Receipt};

use crate::{GEN_BATCH, Result};

/// xorshift64*: deterministic receipts without a dependency.
pub struct Rng(pub u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

// Kinds a caller may append (`vnx receipts append` refuses the ones vnx writes itself).
const EVENTS: &[&str] = &[
    "task_started",
    "task_completed",
    "task_complete",
    "worker_heartbeat",
    "review_requested",
];
const MODELS: &[(&str, &str)] = &[
    ("claude", "claude-opus-4-1"),
    ("claude", "claude-sonnet-4-5"),
    ("codex", "gpt-5-codex"),
    ("gemini", "gemini-2.5-pro"),
];
const STATUSES: &[&str] = &["running", "done", "done", "done", "failed", "timeout"];
const NOTES: &[&str] = &[
    "résumé: 3 files changed, tests pass ✓",
    "naïve retry after a rate limit — succeeded",
    "Überprüfung ok, keine Konflikte",
    "修正済み: lint clean",
    "worker idle → reaped",
    "café: build cache warm, 0 warnings",
];
/// 2026-08-20T00:00:00Z in microseconds.
const BASE_TIME_US: i64 = 1_787_184_000_000_000;

/// The content of one dispatch-like receipt.
pub struct Fields {
    timestamp: String,
    event_type: &'static str,
    dispatch_id: String,
    provider: &'static str,
    model: &'static str,
    status: &'static str,
    duration_seconds: f64,
    tokens: [u64; 3],
    note: String,
}

impl Fields {
    pub fn generate(rng: &mut Rng, i: u64) -> Fields {
        let us = BASE_TIME_US + i as i64 * 1_234_567 + rng.below(1_000_000) as i64;
        let timestamp = jiff::Timestamp::from_microsecond(us)
            .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
            .unwrap_or_else(|_| "2026-08-20T00:00:00.000000Z".into());
        let compact: String = timestamp[..19]
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        let dispatch_id = format!(
            "{}-{}-{:06x}",
            &compact[..8],
            &compact[8..14],
            rng.below(1 << 24)
        );
        let (provider, model) = rng.pick(MODELS);
        let mut note = rng.pick(NOTES).to_owned();
        if rng.below(3) == 0 {
            note += &format!(" (attempt {})", 2 + rng.below(3));
        }
        Fields {
            timestamp,
            event_type: rng.pick(EVENTS),
            dispatch_id,
            provider,
            model,
            status: rng.pick(STATUSES),
            duration_seconds: (1 + rng.below(3_600_000)) as f64 / 1000.0,
            tokens: [
                1_000 + rng.below(200_000),
                100 + rng.below(30_000),
                rng.below(2_000_000),
            ],
            note,
        }
    }

    /// Writes the object without its closing brace, keys in insertion order, strings escaped as
    /// Python's `ensure_ascii` does, with the given separators (`,`/`:` or `, `/`: `).
    fn write_open(&self, item_sep: &[u8], key_sep: &[u8], out: &mut Vec<u8>) {
        let key = |out: &mut Vec<u8>, k: &str, first: bool| {
            if !first {
                out.extend_from_slice(item_sep);
            }
            json::write_string(k.as_bytes(), out);
            out.extend_from_slice(key_sep);
        };
        out.push(b'{');
        for (i, (k, v)) in [
            ("timestamp", self.timestamp.as_str()),
            ("event_type", self.event_type),
            ("dispatch_id", &self.dispatch_id),
            ("provider", self.provider),
            ("model", self.model),
            ("status", self.status),
        ]
        .into_iter()
        .enumerate()
        {
            key(out, k, i == 0);
            json::write_string(v.as_bytes(), out);
        }
        key(out, "duration_seconds", false);
        json::write_float(self.duration_seconds, out);
        key(out, "token_usage", false);
        out.push(b'{');
        for (i, (k, v)) in ["input_tokens", "output_tokens", "cache_read_tokens"]
            .into_iter()
            .zip(self.tokens)
            .enumerate()
        {
            key(out, k, i == 0);
            out.extend_from_slice(v.to_string().as_bytes());
        }
        out.push(b'}');
        key(out, "note", false);
        json::write_string(self.note.as_bytes(), out);
    }

    /// Compact JSON, as a caller hands a receipt to `vnx receipts append`.
    pub fn json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(384);
        self.write_open(b",", b":", &mut out);
        out.push(b'}');
        out
    }

    pub fn receipt(&self) -> Result<Receipt> {
        Ok(Receipt::from_json(&self.json())?)
    }
}

/// Writes a native vnx ledger of at least `target` bytes through the library.
/// Returns the mean size of the receipts as handed to the ledger.
pub fn make_native(path: &Path, target: u64, rng: &mut Rng) -> Result<f64> {
    let ledger = Ledger::new(path);
    let mut size = 0u64;
    let mut i = 0u64;
    let mut receipt_bytes = 0u64;
    while size < target {
        // Size the batches so the file ends close to the target.
        let line_guess = size.checked_div(i).unwrap_or(500).max(1);
        let want = ((target - size) / line_guess + 1).min(GEN_BATCH as u64);
        let batch = (0..want)
            .map(|_| {
                i += 1;
                let json = Fields::generate(rng, i).json();
                receipt_bytes += json.len() as u64;
                Ok(Receipt::from_json(&json)?)
            })
            .collect::<Result<Vec<_>>>()?;
        ledger.append_all(&batch)?;
        size = fs::metadata(path)?.len();
    }
    Ok(receipt_bytes as f64 / i as f64)
}

/// Writes a ledger of at least `target` bytes as Python VNX does: `json.dumps(receipt)` with
/// default separators and keys in insertion order, `prev_hash` last, holding the VNX entry hash
/// of the previous entry (genesis on line 1).
pub fn make_vnx_format(path: &Path, target: u64, rng: &mut Rng) -> Result<()> {
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut scratch = Scratch::default();
    let mut buf = Vec::with_capacity(1024);
    let mut prev = [0u8; 32];
    let mut hex_prev = [0u8; 64];
    let mut size = 0u64;
    let mut i = 0u64;
    while size < target {
        i += 1;
        let fields = Fields::generate(rng, i);
        buf.clear();
        fields.write_open(b", ", b": ", &mut buf);
        // The entry hash leaves `prev_hash` out, so hash the entry before adding it.
        buf.push(b'}');
        let entry = analyze(&buf, &mut scratch)
            .entry
            .map_err(|e| format!("a generated VNX line does not parse: {e}"))?;
        buf.pop();
        hex::encode_to_slice(prev, &mut hex_prev)?;
        buf.extend_from_slice(b", \"prev_hash\": \"");
        buf.extend_from_slice(&hex_prev);
        buf.extend_from_slice(b"\"}\n");
        w.write_all(&buf)?;
        size += buf.len() as u64;
        prev = entry.entry_hash;
    }
    w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(())
}

/// The shape of a generated dispatch history (`--shape`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Shape {
    /// Each dispatch the real no-op dispatch's two receipts (its start and its end).
    Plain,
    /// As a project used daily records them: gate runs, constraint decisions, permission
    /// prompts, merges with a checkpoint each, a few dispatches lost or waiting for a person
    /// (see `busy`).
    Busy,
}

impl Shape {
    /// How the report names it.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Plain => "plain",
            Shape::Busy => "busy",
        }
    }
}

/// Appends `n` recorded dispatches to the ledger at `ledger`, each a copy of `template` (the
/// lines of one real dispatch, `template_id`'s) under a new id: the ledger's and the
/// attestation's members dropped, the id replaced, then signed by `attestor` and appended
/// through `Ledger::append_all` as vnx appends them, so the ledger verifies. One dispatch in
/// ten ends `failed` instead. The busy shape adds the receipts `busy` lists around each.
/// Returns the new ids, in order.
pub fn make_dispatch_history(
    ledger: &Path,
    template: &[Vec<u8>],
    template_id: &str,
    n: usize,
    attestor: &vnx::ledger::attest::Attestor,
    shape: Shape,
) -> Result<Vec<String>> {
    const DROPPED: [&str; 6] = [
        "seq",
        "prev_hash",
        "prev_line_sha256",
        "schema_version",
        "timestamp",
        vnx::ledger::attest::FIELD,
    ];
    // The template's receipts as JSON text without the members the ledger sets.
    let mut texts = Vec::new();
    for line in template {
        let mut v: serde_json::Value = serde_json::from_slice(line)?;
        let o = v
            .as_object_mut()
            .ok_or("a template line is not an object")?;
        for k in DROPPED {
            o.remove(k);
        }
        texts.push(serde_json::to_string(&v)?);
    }
    let ledger = Ledger::new(ledger);
    let mut ids = Vec::with_capacity(n);
    let mut batch = Vec::with_capacity(GEN_BATCH);
    for i in 0..n {
        let id = format!("D-{:012x}", 0x5eed_0000_0000u64 + i as u64);
        let at = jiff::Timestamp::from_microsecond(BASE_TIME_US + i as i64 * 60_000_000)
            .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
            .unwrap_or_else(|_| "2026-08-20T00:00:00.000000Z".into());
        let did = vnx::ids::DispatchId::parse(&id)?;
        let fate = crate::busy::Fate::of(i);
        let mut receipts = Vec::new();
        if shape == Shape::Busy {
            receipts.extend(crate::busy::before_start(&did));
        }
        for text in &texts {
            let mut text = text.replace(template_id, &id);
            let completion = text.contains("\"event_type\":\"dispatch_completed\"");
            if completion && shape == Shape::Busy {
                receipts.extend(crate::busy::while_running(&did, i)?);
                match fate {
                    crate::busy::Fate::Lost => continue,
                    crate::busy::Fate::Waiting => {
                        text =
                            text.replacen("\"status\":\"done\"", "\"status\":\"needs_input\"", 1);
                    }
                    _ => {}
                }
            }
            if i % 10 == 9 && completion {
                text = text.replacen("\"status\":\"done\"", "\"status\":\"failed\"", 1);
            }
            receipts.push(Receipt::from_json(text.as_bytes())?);
        }
        if shape == Shape::Busy && fate == crate::busy::Fate::Merged {
            receipts.extend(crate::busy::after_merge(&did)?);
        }
        for receipt in receipts {
            // Every generated receipt must read as its kind, as the ones vnx writes do.
            if i == 0
                && matches!(
                    vnx::receipts::Typed::of(receipt.object()),
                    vnx::receipts::Typed::Other(_)
                )
            {
                return Err(
                    format!("a generated receipt does not read as its kind: {receipt:?}").into(),
                );
            }
            batch.push(attestor.attest(&receipt, &|| at.clone()));
        }
        ids.push(id);
        if batch.len() >= GEN_BATCH {
            ledger.append_all(&batch)?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        ledger.append_all(&batch)?;
    }
    Ok(ids)
}
