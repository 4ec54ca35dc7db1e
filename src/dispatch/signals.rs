//! The files a worker and its hooks leave in the dispatch directory for the supervisor:
//! `report.json`, written by the worker's `vnx report`, and `signals/*.json`, one per hook
//! call (`vnx __hook`). Both are written atomically (temporary file, then rename), so the
//! supervisor never reads half a file.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The report file's name in the dispatch directory.
pub const REPORT: &str = "report.json";
/// The hook signals' directory in the dispatch directory.
pub const SIGNALS: &str = "signals";

/// What the worker says about its assignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportStatus {
    Done,
    Failed,
}

impl ReportStatus {
    pub fn name(self) -> &'static str {
        match self {
            ReportStatus::Done => "done",
            ReportStatus::Failed => "failed",
        }
    }
}

/// `report.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub dispatch_id: String,
    pub status: ReportStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// RFC 3339.
    pub reported_at: String,
}

/// One hook call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HookSignal {
    pub event: String,
    /// RFC 3339.
    pub received_at: String,
    /// The JSON the CLI handed the hook (or the raw text when it was not JSON).
    pub payload: serde_json::Value,
}

fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let result = (|| {
        // No fsync: these files only have to outlive the worker, not a crash; what must be
        // durable goes into the ledger.
        let mut f = fs::File::create(&tmp)?;
        f.write_all(data)?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn now() -> String {
    jiff::Timestamp::now().to_string()
}

/// Writes `report.json` (a later report replaces an earlier one).
pub fn write_report(
    dispatch_dir: &Path,
    dispatch_id: &str,
    status: ReportStatus,
    summary: Option<&str>,
) -> io::Result<Report> {
    let report = Report {
        dispatch_id: dispatch_id.to_owned(),
        status,
        summary: summary.map(str::to_owned),
        reported_at: now(),
    };
    let data = serde_json::to_vec_pretty(&report).expect("reports serialize");
    write_atomic(&dispatch_dir.join(REPORT), &data)?;
    Ok(report)
}

/// The worker's report, if it made one that names this dispatch.
pub fn read_report(dispatch_dir: &Path, dispatch_id: &str) -> Option<Report> {
    let data = fs::read(dispatch_dir.join(REPORT)).ok()?;
    let report: Report = serde_json::from_slice(&data).ok()?;
    (report.dispatch_id == dispatch_id).then_some(report)
}

/// Records one hook call as `signals/<nanoseconds>-<pid>-<event>.json`.
pub fn write_hook(
    dispatch_dir: &Path,
    event: &str,
    payload: serde_json::Value,
) -> io::Result<PathBuf> {
    let dir = dispatch_dir.join(SIGNALS);
    // Not `create_dir_all`: a hook must never conjure up a dispatch directory.
    match fs::create_dir(&dir) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let path = dir.join(format!("{nanos:020}-{}-{event}.json", std::process::id()));
    let signal = HookSignal {
        event: event.to_owned(),
        received_at: now(),
        payload,
    };
    write_atomic(
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
                let signal = serde_json::from_slice(&fs::read(&path).ok()?).ok();
                self.seen.insert(name);
                signal
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_and_signals_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_report(dir.path(), "D-1").is_none());
        write_report(dir.path(), "D-1", ReportStatus::Done, Some("added x")).unwrap();
        let r = read_report(dir.path(), "D-1").unwrap();
        assert_eq!(
            (r.status, r.summary.as_deref()),
            (ReportStatus::Done, Some("added x"))
        );
        assert!(
            read_report(dir.path(), "D-2").is_none(),
            "another dispatch's report"
        );

        let mut reader = SignalReader::default();
        assert!(reader.poll(dir.path()).is_empty());
        write_hook(
            dir.path(),
            "claude-stop",
            serde_json::json!({"session_id": "s"}),
        )
        .unwrap();
        write_hook(dir.path(), "claude-notification", serde_json::json!("raw")).unwrap();
        let got = reader.poll(dir.path());
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].event, "claude-stop");
        assert!(
            reader.poll(dir.path()).is_empty(),
            "each signal is read once"
        );
    }
}
