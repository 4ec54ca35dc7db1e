//! The files a worker and its hooks leave in the dispatch directory for the supervisor:
//! `report.json`, written by the worker's `vnx report`, and `signals/*.json`, one per hook
//! call (`vnx __hook`). Both are written atomically (temporary file, then rename), so the
//! supervisor never reads half a file, and read with a size bound.
//!
//! A report is bound to its dispatch by a seal: a secret per dispatch derived from vnx's
//! signing key ([`seal_for`]), handed to the worker in its environment only
//! (`VNX_REPORT_SEAL`, never on disk); a report is accepted only if it carries an
//! HMAC-SHA-256 under that secret. Another dispatch's worker can set `VNX_DISPATCH_ID` and
//! `VNX_DISPATCH_DIR` to anything, but not produce that MAC; and since only the key makes
//! the seal, a report can be checked again after its supervisor died (`vnx recover`).

use crate::ids::{DispatchId, Timestamp};
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use crate::receipts::{ReportStatus, WorkerReport as Report};

/// The report file's name in the dispatch directory.
pub const REPORT: &str = "report.json";
/// The hook signals' directory in the dispatch directory.
pub const SIGNALS: &str = "signals";
/// The variable that hands a worker its dispatch's report seal.
pub const SEAL_VAR: &str = "VNX_REPORT_SEAL";
/// A report file or hook signal larger than this is not read.
pub const MAX_FILE: u64 = 256 * 1024;
/// Summaries longer than this (in bytes) are cut, by `vnx report` and again when read.
pub const MAX_SUMMARY: usize = 2000;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Dispatch `id`'s seal: a secret only the signing key can make, so the report can be
/// checked again after the supervisor that handed the seal out is gone (`vnx recover`).
pub fn seal_for(attestor: &crate::ledger::attest::Attestor, id: &DispatchId) -> String {
    hex::encode(attestor.derive_secret(&format!("report seal {id}")))
}

fn mac(
    seal: &str,
    dispatch_id: &DispatchId,
    status: ReportStatus,
    summary: Option<&str>,
    at: &str,
) -> HmacSha256 {
    use hmac::{KeyInit, Mac};
    let mut m = HmacSha256::new_from_slice(seal.as_bytes()).expect("HMAC takes any key");
    // Fixed fields first, the free text last: the encoding is unambiguous.
    m.update(format!("vnx-report v1\n{dispatch_id}\n{}\n{at}\n", status.name()).as_bytes());
    if let Some(s) = summary {
        m.update(b"summary\n");
        m.update(s.as_bytes());
    }
    m
}

/// Cuts `s` to at most `max` bytes on a character boundary, marking the cut with `…`.
pub fn shorten(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// One hook call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HookSignal {
    /// Which hook fired (as `vnx __hook` names it, e.g. `demo-stop`).
    pub event: String,
    /// RFC 3339.
    pub received_at: String,
    /// The JSON the CLI handed the hook (or the raw text when it was not JSON).
    pub payload: serde_json::Value,
}

/// Writes a report or signal file through the one atomic writer (`files::write_atomic`),
/// not durably: these files only have to outlive the worker, not a crash; what must be
/// durable goes into the ledger.
fn write_signal_file(path: &Path, data: &[u8]) -> io::Result<()> {
    crate::files::write_atomic_private(path, data, false)
}

/// Writes `report.json`, sealed (a later report replaces an earlier one).
pub fn write_report(
    dispatch_dir: &Path,
    dispatch_id: &DispatchId,
    status: ReportStatus,
    summary: Option<&str>,
    seal: &str,
) -> io::Result<Report> {
    use hmac::Mac;
    let summary = summary.map(|s| shorten(s.trim(), MAX_SUMMARY));
    let reported_at = Timestamp::now();
    let mac = mac(
        seal,
        dispatch_id,
        status,
        summary.as_deref(),
        reported_at.as_str(),
    );
    let report = Report {
        dispatch_id: dispatch_id.clone(),
        status,
        summary,
        reported_at,
        mac: Some(hex::encode(mac.finalize().into_bytes())),
    };
    let data = serde_json::to_vec_pretty(&report).expect("reports serialize");
    write_signal_file(&dispatch_dir.join(REPORT), &data)?;
    Ok(report)
}

/// What the report file holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReportFile {
    /// No report yet.
    Missing,
    /// A report sealed for this dispatch.
    Accepted(Report),
    /// A file that is not one: why.
    Rejected(String),
}

/// Reads the report, accepting it only if it names this dispatch and carries its seal's MAC.
pub fn read_report(dispatch_dir: &Path, dispatch_id: &DispatchId, seal: &str) -> ReportFile {
    use hmac::Mac;
    let data = match crate::files::read_bounded(&dispatch_dir.join(REPORT), MAX_FILE) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return ReportFile::Missing,
        Err(e) => return ReportFile::Rejected(format!("{REPORT} unreadable: {e}")),
    };
    let Ok(report) = serde_json::from_slice::<Report>(&data) else {
        return ReportFile::Rejected(format!("{REPORT} is not a report"));
    };
    if report.dispatch_id != *dispatch_id {
        return ReportFile::Rejected(format!(
            "{REPORT} names dispatch {:?}",
            shorten(report.dispatch_id.as_str(), 64)
        ));
    }
    let given = report.mac.as_deref().and_then(|m| hex::decode(m).ok());
    let expected = mac(
        seal,
        dispatch_id,
        report.status,
        report.summary.as_deref(),
        report.reported_at.as_str(),
    );
    match given {
        Some(given) if expected.verify_slice(&given).is_ok() => {
            let mut report = report;
            report.summary = report.summary.map(|s| shorten(&s, MAX_SUMMARY));
            ReportFile::Accepted(report)
        }
        _ => ReportFile::Rejected(format!(
            "{REPORT} does not carry this dispatch's seal (written outside its worker?)"
        )),
    }
}

/// Records one hook call as `signals/<nanoseconds>-<pid>-<event>.json`.
pub fn write_hook(
    dispatch_dir: &Path,
    event: &str,
    payload: serde_json::Value,
) -> io::Result<PathBuf> {
    let dir = dispatch_dir.join(SIGNALS);
    // Not `create_dir_all`: a hook must never conjure up a dispatch directory.
    {
        use std::os::unix::fs::DirBuilderExt;
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let path = dir.join(format!("{nanos:020}-{}-{event}.json", std::process::id()));
    let signal = HookSignal {
        event: event.to_owned(),
        received_at: Timestamp::now().into_string(),
        payload,
    };
    write_signal_file(
        &path,
        &serde_json::to_vec(&signal).expect("signals serialize"),
    )?;
    Ok(path)
}

/// Reads hook signals as they arrive, each once, in arrival order.
#[derive(Debug, Default)]
pub struct SignalReader {
    seen: BTreeSet<OsString>,
}

impl SignalReader {
    /// The signals written since the last call.
    pub fn poll(&mut self, dispatch_dir: &Path) -> Vec<HookSignal> {
        let Ok(entries) = fs::read_dir(dispatch_dir.join(SIGNALS)) else {
            return Vec::new();
        };
        let mut fresh: Vec<(OsString, PathBuf)> = entries
            .flatten()
            .map(|e| (e.file_name(), e.path()))
            .filter(|(name, _)| {
                name.to_string_lossy().ends_with(".json") && !self.seen.contains(name)
            })
            .collect();
        fresh.sort();
        fresh
            .into_iter()
            .filter_map(|(name, path)| {
                let signal =
                    serde_json::from_slice(&crate::files::read_bounded(&path, MAX_FILE).ok()?).ok();
                self.seen.insert(name);
                signal
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl ReportFile {
        /// The accepted report, if any.
        fn accepted(self) -> Option<Report> {
            match self {
                ReportFile::Accepted(r) => Some(r),
                _ => None,
            }
        }
    }

    /// A fresh seal: 32 random bytes, hex.
    fn new_seal() -> String {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the OS random source works");
        hex::encode(bytes)
    }

    #[test]
    fn reports_and_signals_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let seal = new_seal();
        assert_eq!(
            read_report(dir.path(), &DispatchId::parse("D-1").unwrap(), &seal),
            ReportFile::Missing
        );
        write_report(
            dir.path(),
            &crate::ids::DispatchId::parse("D-1").unwrap(),
            ReportStatus::Done,
            Some("added x"),
            &seal,
        )
        .unwrap();
        let r = read_report(dir.path(), &DispatchId::parse("D-1").unwrap(), &seal)
            .accepted()
            .unwrap();
        assert_eq!(
            (r.status, r.summary.as_deref()),
            (ReportStatus::Done, Some("added x"))
        );
        assert!(
            matches!(
                read_report(dir.path(), &DispatchId::parse("D-2").unwrap(), &seal),
                ReportFile::Rejected(_)
            ),
            "another dispatch's report"
        );
        // Another seal (another dispatch's worker), or a report edited after sealing.
        assert!(matches!(
            read_report(dir.path(), &DispatchId::parse("D-1").unwrap(), &new_seal()),
            ReportFile::Rejected(_)
        ));
        let text = fs::read_to_string(dir.path().join(REPORT)).unwrap();
        fs::write(
            dir.path().join(REPORT),
            text.replace("\"done\"", "\"failed\""),
        )
        .unwrap();
        assert!(matches!(
            read_report(dir.path(), &DispatchId::parse("D-1").unwrap(), &seal),
            ReportFile::Rejected(_)
        ));
        // Oversized files are not read; summaries are cut.
        let long = "x".repeat(3 << 20);
        write_report(
            dir.path(),
            &crate::ids::DispatchId::parse("D-1").unwrap(),
            ReportStatus::Done,
            Some(&long),
            &seal,
        )
        .unwrap();
        let r = read_report(dir.path(), &DispatchId::parse("D-1").unwrap(), &seal)
            .accepted()
            .unwrap();
        assert!(r.summary.unwrap().len() <= MAX_SUMMARY + 3);
        fs::write(dir.path().join(REPORT), vec![b' '; MAX_FILE as usize + 1]).unwrap();
        assert!(matches!(
            read_report(dir.path(), &DispatchId::parse("D-1").unwrap(), &seal),
            ReportFile::Rejected(why) if why.contains("limit")
        ));

        let mut reader = SignalReader::default();
        assert!(reader.poll(dir.path()).is_empty());
        write_hook(
            dir.path(),
            "some-stop",
            serde_json::json!({"session_id": "s"}),
        )
        .unwrap();
        write_hook(dir.path(), "some-notification", serde_json::json!("raw")).unwrap();
        let got = reader.poll(dir.path());
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].event, "some-stop");
        assert!(
            reader.poll(dir.path()).is_empty(),
            "each signal is read once"
        );
    }
}
