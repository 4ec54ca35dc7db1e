//! Benchmark 3: in-process appends, single and group commit, interleaved with a bare
//! write + `fdatasync` loop on the same file system.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::time::Instant;

use vnx::ledger::Ledger;

use crate::generate::{Fields, Rng};
use crate::timing::{Lat, micros};
use crate::verify_bench::verify_clean;
use crate::{Config, GROUP, Result, note};

pub struct AppendBench {
    pub line_len: usize,
    pub floor: Lat,
    pub append: Lat,
    pub group_floor: Lat,
    pub group: Lat,
}

/// An O_APPEND file for the bare write + `fdatasync` floor.
fn floor_file(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

fn write_sync(file: &mut File, bytes: &[u8]) -> Result<()> {
    file.write_all(bytes)?;
    file.sync_data()?;
    Ok(())
}

pub fn bench_appends(dir: &Path, cfg: &Config, rng: &mut Rng) -> Result<AppendBench> {
    let n = cfg.appends;
    note(&format!(
        "timing {n} Ledger::append calls against {n} bare write + fdatasync, interleaved"
    ));
    let receipts = (0..=n as u64)
        .map(|i| Fields::generate(rng, i).receipt())
        .collect::<Result<Vec<_>>>()?;
    let path = dir.join("append.ndjson");
    let ledger = Ledger::new(&path);
    // The first append creates the file (and syncs the directory); keep it out of the figures.
    ledger.append(&receipts[0])?;
    let line_len = fs::metadata(&path)?.len() as usize;
    let mut line = vec![b'x'; line_len];
    line[line_len - 1] = b'\n';
    let mut floor = floor_file(&dir.join("floor.bin"))?;
    write_sync(&mut floor, &line)?;

    let mut floor_us = Vec::with_capacity(n);
    let mut append_us = Vec::with_capacity(n);
    for receipt in &receipts[1..] {
        let t = Instant::now();
        write_sync(&mut floor, &line)?;
        floor_us.push(micros(t));
        let t = Instant::now();
        ledger.append(receipt)?;
        append_us.push(micros(t));
    }

    let calls = cfg.group_calls;
    note(&format!(
        "timing {calls} Ledger::append_all calls of {GROUP} receipts against {calls} bare \
         {GROUP}-line write + fdatasync, interleaved"
    ));
    let batches = (0..calls)
        .map(|c| {
            (0..GROUP)
                .map(|j| Fields::generate(rng, (c * GROUP + j) as u64).receipt())
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<Vec<_>>>()?;
    let group_line = line.repeat(GROUP);
    let mut group_floor_us = Vec::with_capacity(calls);
    let mut group_us = Vec::with_capacity(calls);
    for batch in &batches {
        let t = Instant::now();
        write_sync(&mut floor, &group_line)?;
        group_floor_us.push(micros(t));
        let t = Instant::now();
        ledger.append_all(batch)?;
        group_us.push(micros(t));
    }
    verify_clean(&path, 1)?;
    Ok(AppendBench {
        line_len,
        floor: Lat::new(floor_us),
        append: Lat::new(append_us),
        group_floor: Lat::new(group_floor_us),
        group: Lat::new(group_us),
    })
}
