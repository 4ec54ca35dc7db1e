//! A worker's output cut into lines as it arrives (split anywhere), each line bounded: what
//! the event parser and the transcript renderer both read.

/// The longest line kept, in bytes (without its `\n`); a longer one is dropped.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// What the bytes fed so far completed.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// A line, without its `\n`.
    Line(&'a [u8]),
    /// A line longer than the cap, dropped.
    TooLong,
}

/// Incremental line splitter: memory is bounded by its cap ([`MAX_LINE_BYTES`] unless made
/// [`LineSplitter::with_max`]) whatever it is fed.
#[derive(Debug)]
pub struct LineSplitter {
    /// The current incomplete line (never longer than `max`).
    pending: Vec<u8>,
    /// The current line outgrew `max`: skip bytes up to the next `\n`.
    discarding: bool,
    /// The longest line kept, in bytes.
    max: usize,
}

impl Default for LineSplitter {
    fn default() -> LineSplitter {
        LineSplitter::with_max(MAX_LINE_BYTES)
    }
}

impl LineSplitter {
    /// A splitter that drops lines longer than `max` bytes.
    pub fn with_max(max: usize) -> LineSplitter {
        LineSplitter {
            pending: Vec::new(),
            discarding: false,
            max,
        }
    }

    /// Feeds a chunk; `each` sees every line it completed, in order.
    pub fn feed(&mut self, chunk: &[u8], mut each: impl FnMut(Piece<'_>)) {
        let mut rest = chunk;
        while let Some(newline) = memchr::memchr(b'\n', rest) {
            let head = &rest[..newline];
            rest = &rest[newline + 1..];
            if self.discarding || self.pending.len() + head.len() > self.max {
                self.discarding = false;
                self.pending.clear();
                each(Piece::TooLong);
            } else if self.pending.is_empty() {
                each(Piece::Line(head));
            } else {
                self.pending.extend_from_slice(head);
                each(Piece::Line(&self.pending));
                self.pending.clear();
            }
        }
        if self.discarding {
            return;
        }
        if self.pending.len() + rest.len() > self.max {
            self.discarding = true;
            self.pending = Vec::new();
        } else {
            self.pending.extend_from_slice(rest);
        }
    }

    /// The end of the stream: a last line without its newline (or that it was too long).
    pub fn finish(&mut self) -> Option<Piece<'_>> {
        if self.discarding {
            Some(Piece::TooLong)
        } else if self.pending.is_empty() {
            None
        } else {
            Some(Piece::Line(&self.pending))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> Vec<Option<Vec<u8>>> {
        let mut s = LineSplitter::default();
        let mut out = Vec::new();
        let mut take = |p: Piece<'_>| {
            out.push(match p {
                Piece::Line(l) => Some(l.to_vec()),
                Piece::TooLong => None,
            })
        };
        for c in chunks {
            s.feed(c, &mut take);
        }
        if let Some(p) = s.finish() {
            take(p);
        }
        out
    }

    #[test]
    fn lines_are_the_same_however_the_bytes_are_cut() {
        let whole: &[u8] = b"one\ntwo\n\nthree";
        let expected = vec![
            Some(b"one".to_vec()),
            Some(b"two".to_vec()),
            Some(Vec::new()),
            Some(b"three".to_vec()),
        ];
        assert_eq!(split(&[whole]), expected);
        for at in 0..whole.len() {
            assert_eq!(
                split(&[&whole[..at], &whole[at..]]),
                expected,
                "cut at {at}"
            );
        }
    }

    #[test]
    fn a_line_over_the_cap_is_dropped_and_the_next_one_kept() {
        let long = vec![b'x'; MAX_LINE_BYTES + 1];
        assert_eq!(
            split(&[&long[..10], &long[10..], b"\nok\n"]),
            vec![None, Some(b"ok".to_vec())]
        );
        let at_cap = vec![b'y'; MAX_LINE_BYTES];
        assert_eq!(split(&[&at_cap, b"\n"]), vec![Some(at_cap.clone())]);
        assert_eq!(split(&[&long]), vec![None]);
    }
}
