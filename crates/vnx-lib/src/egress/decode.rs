//! Included files in forms the rules cannot read as they are: UTF-16 (with its byte-order
//! mark, or without one when the bytes look like it) is decoded to UTF-8, and gzip is inflated
//! — up to [`INFLATE_CAP`], so a gzip bomb costs no more than that — before the scan. What
//! cannot be read (UTF-32, broken UTF-16, a corrupt, over-long or nested gzip stream) is
//! [`Unscannable`]: the policy treats it as a finding, since a file that was not read cannot
//! be vouched for. Plain text pays two prefix comparisons and one search for a NUL byte.

use std::io::Read;

/// The most a gzip'd included file may inflate to, in bytes (8 MiB: far more than a
/// `.env`, and a few milliseconds of scanning).
pub const INFLATE_CAP: usize = 8 << 20;

/// Why an included file could not be scanned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unscannable {
    /// It opens with a UTF-32 byte-order mark: an encoding vnx does not decode.
    #[error("UTF-32, not decoded")]
    Utf32,
    /// It opens with a UTF-16 byte-order mark but is not UTF-16 (an odd length or an
    /// unpaired surrogate).
    #[error("invalid UTF-16")]
    BadUtf16,
    /// It opens with the gzip magic but does not inflate (corrupt, truncated, or trailing
    /// bytes that are not another gzip member).
    #[error("corrupt gzip")]
    CorruptGzip,
    /// It inflates to more than [`INFLATE_CAP`].
    #[error("gzip inflating past {} MiB", INFLATE_CAP >> 20)]
    OverCap,
    /// It inflates to another gzip stream, which is not opened.
    #[error("gzip inside gzip, not opened")]
    NestedGzip,
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const UTF32LE_BOM: &[u8] = &[0xff, 0xfe, 0, 0];
const UTF32BE_BOM: &[u8] = &[0, 0, 0xfe, 0xff];
const UTF16LE_BOM: &[u8] = &[0xff, 0xfe];
const UTF16BE_BOM: &[u8] = &[0xfe, 0xff];

/// The texts to scan besides `data` as it is: none for plain text; the decoded text of
/// UTF-16; the inflated bytes of gzip (and their decoded text when they are UTF-16). Scanning
/// `data` as well means a decoding never hides what the bytes hold.
pub fn views(data: &[u8]) -> Result<Vec<Vec<u8>>, Unscannable> {
    if !data.starts_with(GZIP_MAGIC) {
        return text_views(data);
    }
    let inflated = inflate(data)?;
    if inflated.starts_with(GZIP_MAGIC) {
        return Err(Unscannable::NestedGzip);
    }
    let mut out = text_views(&inflated)?;
    out.insert(0, inflated);
    Ok(out)
}

/// The decoded text of UTF-16 (marked, or unmarked by the look of it); nothing otherwise.
fn text_views(data: &[u8]) -> Result<Vec<Vec<u8>>, Unscannable> {
    // UTF-32LE's mark begins with UTF-16LE's: it is tested first.
    if data.starts_with(UTF32LE_BOM) || data.starts_with(UTF32BE_BOM) {
        return Err(Unscannable::Utf32);
    }
    if let Some(body) = data.strip_prefix(UTF16LE_BOM) {
        return utf16(body, false).map(|t| vec![t]);
    }
    if let Some(body) = data.strip_prefix(UTF16BE_BOM) {
        return utf16(body, true).map(|t| vec![t]);
    }
    Ok(unmarked_utf16(data).into_iter().collect())
}

/// Inflates every gzip member of `data`, refusing more than [`INFLATE_CAP`] bytes.
fn inflate(data: &[u8]) -> Result<Vec<u8>, Unscannable> {
    let mut out = Vec::new();
    // One byte past the cap tells a stream that ends at it from one that goes on.
    flate2::read::MultiGzDecoder::new(data)
        .take(INFLATE_CAP as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| Unscannable::CorruptGzip)?;
    if out.len() > INFLATE_CAP {
        return Err(Unscannable::OverCap);
    }
    Ok(out)
}

/// UTF-16 code units of `body` to UTF-8, strictly: an odd length or an unpaired surrogate is
/// not UTF-16.
fn utf16(body: &[u8], big_endian: bool) -> Result<Vec<u8>, Unscannable> {
    if !body.len().is_multiple_of(2) {
        return Err(Unscannable::BadUtf16);
    }
    let mut out = String::with_capacity(body.len());
    for c in char::decode_utf16(units(body, big_endian)) {
        out.push(c.map_err(|_| Unscannable::BadUtf16)?);
    }
    Ok(out.into_bytes())
}

fn units(body: &[u8], big_endian: bool) -> impl Iterator<Item = u16> + '_ {
    body.chunks_exact(2).map(move |p| {
        let pair = [p[0], p[1]];
        if big_endian {
            u16::from_be_bytes(pair)
        } else {
            u16::from_le_bytes(pair)
        }
    })
}

/// How much of a file decides whether it looks like unmarked UTF-16.
const SAMPLE: usize = 4096;

/// The text of `data` decoded as UTF-16 when it has no mark but looks like it (mostly ASCII):
/// at least half of the first code units have a zero high byte and the other byte of a pair
/// is rarely zero. Decoded leniently (a broken unit becomes U+FFFD), since this is a guess
/// made in addition to scanning the bytes as they are; `None` when it does not look so.
fn unmarked_utf16(data: &[u8]) -> Option<Vec<u8>> {
    memchr::memchr(0, data)?;
    let sample = &data[..data.len().min(SAMPLE) & !1];
    let pairs = sample.len() / 2;
    let zeros_at = |parity: usize| {
        sample
            .iter()
            .skip(parity)
            .step_by(2)
            .filter(|&&b| b == 0)
            .count()
    };
    let (even, odd) = (zeros_at(0), zeros_at(1));
    let looks = |high: usize, low: usize| pairs > 0 && high * 2 >= pairs && low * 8 <= high;
    let big_endian = if looks(odd, even) {
        false
    } else if looks(even, odd) {
        true
    } else {
        return None;
    };
    let body = &data[..data.len() & !1];
    Some(
        char::decode_utf16(units(body, big_endian))
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect::<String>()
            .into_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut z, data).unwrap();
        z.finish().unwrap()
    }

    fn le(text: &str) -> Vec<u8> {
        text.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    fn be(text: &str) -> Vec<u8> {
        text.encode_utf16().flat_map(u16::to_be_bytes).collect()
    }

    #[test]
    fn plain_text_and_binary_have_no_other_view() {
        assert_eq!(views(b"KEY=value\n"), Ok(vec![]));
        assert_eq!(views(b""), Ok(vec![]));
        // NUL bytes that do not fall as UTF-16's do.
        let binary: Vec<u8> = (0..512u32).flat_map(u32::to_le_bytes).collect();
        assert_eq!(views(&binary), Ok(vec![]));
        assert_eq!(views(&[0, 0, 0, 0]), Ok(vec![]));
    }

    #[test]
    fn marked_utf16_is_decoded_either_way_round() {
        let text = "a=\u{e9}\u{1f511}\n";
        assert_eq!(
            views(&[&[0xff, 0xfe][..], &le(text)].concat()),
            Ok(vec![text.as_bytes().to_vec()])
        );
        assert_eq!(
            views(&[&[0xfe, 0xff][..], &be(text)].concat()),
            Ok(vec![text.as_bytes().to_vec()])
        );
        // A mark alone is an empty text.
        assert_eq!(views(&[0xfe, 0xff]), Ok(vec![vec![]]));
    }

    #[test]
    fn broken_utf16_and_utf32_are_unscannable() {
        assert_eq!(
            views(&[0xff, 0xfe, b'a', 0, b'b']),
            Err(Unscannable::BadUtf16)
        );
        assert_eq!(
            views(&[0xff, 0xfe, 0x00, 0xd8, b'a', 0]),
            Err(Unscannable::BadUtf16)
        );
        assert_eq!(views(&[0xfe, 0xff, 0xdc, 0x00]), Err(Unscannable::BadUtf16));
        assert_eq!(
            views(&[0xff, 0xfe, 0, 0, b'a', 0, 0, 0]),
            Err(Unscannable::Utf32)
        );
        assert_eq!(
            views(&[0, 0, 0xfe, 0xff, 0, 0, 0, b'a']),
            Err(Unscannable::Utf32)
        );
    }

    #[test]
    fn unmarked_utf16_is_guessed_leniently() {
        let text = "TOKEN=abc\n";
        assert_eq!(views(&le(text)), Ok(vec![text.as_bytes().to_vec()]));
        assert_eq!(views(&be(text)), Ok(vec![text.as_bytes().to_vec()]));
        // An unpaired surrogate becomes U+FFFD, and an odd last byte is dropped.
        let mut data = le("abcdefghij");
        data.extend([0x00, 0xd8, b'c', 0, b'!']);
        assert_eq!(
            views(&data),
            Ok(vec!["abcdefghij\u{fffd}c".as_bytes().to_vec()])
        );
    }

    #[test]
    fn gzip_is_inflated_member_by_member_and_its_text_decoded() {
        assert_eq!(views(&gzip(b"x=1\n")), Ok(vec![b"x=1\n".to_vec()]));
        let two = [gzip(b"a\n"), gzip(b"b\n")].concat();
        assert_eq!(views(&two), Ok(vec![b"a\nb\n".to_vec()]));
        let marked = [&[0xfe, 0xff][..], &be("k=v")].concat();
        assert_eq!(
            views(&gzip(&marked)),
            Ok(vec![marked.clone(), b"k=v".to_vec()])
        );
        assert_eq!(views(&gzip(&[0xff, 0xfe, 0, 0])), Err(Unscannable::Utf32));
    }

    #[test]
    fn gzip_that_cannot_be_read_is_unscannable() {
        let packed = gzip(b"hello, world\n");
        assert_eq!(
            views(&packed[..packed.len() - 4]),
            Err(Unscannable::CorruptGzip)
        );
        assert_eq!(views(&packed[..2]), Err(Unscannable::CorruptGzip));
        let mut bad_crc = packed.clone();
        let n = bad_crc.len();
        bad_crc[n - 8] ^= 1;
        assert_eq!(views(&bad_crc), Err(Unscannable::CorruptGzip));
        let trailing = [&packed[..], b"junk"].concat();
        assert_eq!(views(&trailing), Err(Unscannable::CorruptGzip));
        assert_eq!(views(&gzip(&packed)), Err(Unscannable::NestedGzip));
    }

    #[test]
    fn inflation_stops_at_the_cap() {
        let at_cap = vec![b'a'; INFLATE_CAP];
        assert_eq!(views(&gzip(&at_cap)).map(|v| v[0].len()), Ok(INFLATE_CAP));
        let over = vec![b'a'; INFLATE_CAP + 1];
        assert_eq!(views(&gzip(&over)), Err(Unscannable::OverCap));
    }
}
