//! Strict YAML: the one reader and parser of the YAML vnx loads (`.vnx/config.yaml`,
//! `provider_constraints.yaml`, skill front matter) and [`YamlError`], which names the file
//! and the line and column of what is wrong.
//!
//! Reading is bounded (a size limit checked while reading, through the caller's own open, which
//! for project files refuses links and FIFOs) and the text must be UTF-8. Parsing refuses
//! duplicate keys, bounds nesting, nodes, anchors and alias replay (no billion laughs), and
//! reports syntax and type errors — and the unknown keys the callers' `deny_unknown_fields`
//! schemas refuse — at their line and column. What the values mean is each caller's check.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_saphyr::{Location, MessageFormatter};

/// The most YAML text [`parse`] takes, and the usual limit of [`read`].
pub const MAX_BYTES: usize = 1024 * 1024;

/// Why a YAML file could not be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum YamlError {
    /// The file could not be opened or read.
    #[error("could not read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS (or the caller's open) said.
        #[source]
        source: std::io::Error,
    },
    /// Too large, not UTF-8, not YAML, or not of the expected shape. `line` and `column` are
    /// 1-based (characters); 0 when unknown.
    #[error(transparent)]
    Invalid(crate::yaml::Spot),
}

/// `path:line:column`, as messages about a place in a file start; the column is left out when
/// unknown (0), and the line too.
pub fn at(path: &Path, line: usize, column: usize) -> impl fmt::Display + '_ {
    struct At<'p>(&'p Path, usize, usize);
    impl fmt::Display for At<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{}", self.0.display())?;
            match (self.1, self.2) {
                (0, _) => Ok(()),
                (line, 0) => write!(f, ":{line}"),
                (line, column) => write!(f, ":{line}:{column}"),
            }
        }
    }
    At(path, line, column)
}

/// Reads the text of the YAML file at `path`, opened by `open` (for a project file, a
/// no-follow open such as `files::open_untrusted`): at most `max_bytes`, and UTF-8 (an
/// error at the line and column of the first bad byte). `Ok(None)` when it does not exist.
pub fn read<R: Read>(
    path: &Path,
    max_bytes: usize,
    open: impl FnOnce(&Path) -> std::io::Result<R>,
) -> Result<Option<String>, YamlError> {
    let io = |source| YamlError::Io {
        path: path.to_owned(),
        source,
    };
    let file = match open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let mut bytes = Vec::new();
    file.take(max_bytes as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    check_size(bytes.len(), max_bytes, path)?;
    String::from_utf8(bytes).map(Some).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
        let last = good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&good[last..]).chars().count() + 1;
        invalid(path, line, column, "the file is not valid UTF-8".into())
    })
}

/// Parses YAML text (at most [`MAX_BYTES`]) into `T`; `path` is only used in errors.
pub fn parse<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T, YamlError> {
    check_size(text.len(), MAX_BYTES, path)?;
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: 32,
            max_nodes: 100_000,
            max_aliases: 1_000,
            max_anchors: 1_000,
        },
        alias_limits: serde_saphyr::alias_limits! { max_total_replayed_events: 100_000 },
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
        with_snippet: false,
    };
    serde_saphyr::from_str_with_options(text, options).map_err(|e| {
        let (line, column) = e.location().map_or((0, 0), |l| line_col(&l));
        invalid(path, line, column, shown(&message(&e), 300))
    })
}

/// Parses the front matter of a Markdown file at `path`: the YAML between its opening `---`
/// line and the closing one, which starts on the file's second line. Errors are at the file's
/// own lines (an unlocated one at the front matter's first) and say `front matter:`.
pub fn parse_front_matter<T: DeserializeOwned>(yaml: &str, path: &Path) -> Result<T, YamlError> {
    parse(yaml, path).map_err(|e| match e {
        YamlError::Invalid(Spot {
            path,
            line,
            column,
            message,
        }) => YamlError::Invalid(Spot {
            path,
            line: if line == 0 { 2 } else { line + 1 },
            column,
            message: format!("front matter: {message}"),
        }),
        other => other,
    })
}

/// A span's 1-based line and column (0 when unknown), as errors carry them.
pub fn line_col(at: &Location) -> (usize, usize) {
    let n = |v: u64| usize::try_from(v).unwrap_or(0);
    (n(at.line()), n(at.column()))
}

/// `s` with control characters escaped, cut to `max` characters (an ellipsis marks the cut).
pub(crate) fn shown(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .take(max)
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    if s.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

/// The message of a YAML or schema error, in words a file's author knows.
fn message(mut e: &serde_saphyr::Error) -> String {
    use serde_saphyr::Error as E;
    while let E::WithSnippet { error, .. } | E::AliasError { error, .. } = e {
        e = error;
    }
    let what = match e {
        E::Unexpected { expected, .. } => match *expected {
            "mapping start" => "a mapping (`key: value` entries)",
            "sequence start" => "a list (`[a, b]` or `- a` lines)",
            "string scalar" | "scalar" => "a single value",
            _ => "",
        },
        _ => "",
    };
    if what.is_empty() {
        serde_saphyr::UserMessageFormatter
            .format_message(e)
            .into_owned()
    } else {
        format!("expected {what} here")
    }
}

fn check_size(len: usize, max_bytes: usize, path: &Path) -> Result<(), YamlError> {
    if len > max_bytes {
        let limit = match max_bytes {
            n if n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
            n if n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
            n => format!("{n} bytes"),
        };
        let message = format!("the file is larger than {limit}, the most vnx reads");
        return Err(invalid(path, 0, 0, message));
    }
    Ok(())
}

fn invalid(path: &Path, line: usize, column: usize, message: String) -> YamlError {
    YamlError::Invalid(Spot::new(path, line, column, message))
}

/// Where in a file a value is wrong (`line` and `column` 1-based, in characters; 0 when
/// unknown), and what is wrong there.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", at(.path, *.line, *.column))]
pub struct Spot {
    /// The file.
    pub path: PathBuf,
    /// The line of the problem.
    pub line: usize,
    /// The column, 0 when unknown.
    pub column: usize,
    /// What is wrong there.
    pub message: String,
}

impl Spot {
    /// `message` about `line` and `column` of `path`.
    pub fn new(path: &Path, line: usize, column: usize, message: impl Into<String>) -> Spot {
        Spot {
            path: path.to_owned(),
            line,
            column,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::io::Cursor;

    use proptest::prelude::*;

    use super::*;

    /// `(line, column, message)` of a parse error into `T`.
    fn err<T: DeserializeOwned + fmt::Debug>(text: &str) -> (usize, usize, String) {
        match parse::<T>(text, Path::new("f.yaml")) {
            Err(YamlError::Invalid(Spot {
                line,
                column,
                message,
                ..
            })) => (line, column, message),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    fn read_bytes(bytes: &[u8], max: usize) -> Result<Option<String>, YamlError> {
        read(Path::new("f.yaml"), max, |_| {
            Ok(Cursor::new(bytes.to_vec()))
        })
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(
        dead_code,
        reason = "the fields are only deserialized, to test strictness"
    )]
    struct Strict {
        name: String,
        list: Option<Vec<String>>,
    }

    #[test]
    fn locations_show_only_what_is_known() {
        let p = Path::new("a/b.yaml");
        assert_eq!(at(p, 3, 7).to_string(), "a/b.yaml:3:7");
        assert_eq!(at(p, 3, 0).to_string(), "a/b.yaml:3");
        assert_eq!(at(p, 0, 0).to_string(), "a/b.yaml");
    }

    #[test]
    fn reading_is_bounded_and_utf8() {
        assert_eq!(read_bytes(b"a: 1\n", 8).unwrap().as_deref(), Some("a: 1\n"));
        let missing = read::<Cursor<Vec<u8>>>(Path::new("f.yaml"), 8, |_| {
            Err(std::io::ErrorKind::NotFound.into())
        });
        assert!(missing.unwrap().is_none());
        let e = read::<Cursor<Vec<u8>>>(Path::new("f.yaml"), 8, |_| {
            Err(std::io::Error::other("f.yaml is a symbolic link"))
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "could not read f.yaml");
        let source = std::error::Error::source(&e).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("f.yaml is a symbolic link"));
        let e = read_bytes(&[b'x'; 9], 8).unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.yaml: the file is larger than 8 bytes, the most vnx reads"
        );
        let e = read_bytes(&vec![b'x'; 256 * 1024 + 1], 256 * 1024).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("larger than 256 KiB, the most vnx reads")
        );
        let e = read_bytes(b"a: 1\nb: \xc3\xa9\xff\n", 64).unwrap_err();
        assert_eq!(e.to_string(), "f.yaml:2:5: the file is not valid UTF-8");
    }

    #[test]
    fn strictness() {
        // Duplicate keys, at the second one.
        let (l, c, m) = err::<BTreeMap<String, u8>>("a: 1\nb: 2\na: 3\n");
        assert_eq!((l, c), (3, 1), "{m}");
        assert!(m.contains("duplicate"), "{m}");
        // Unknown keys of a strict schema, with the ones it knows.
        let (l, c, m) = err::<Strict>("name: x\n# c\nlsit: [a]\n");
        assert_eq!((l, c), (3, 1));
        assert_eq!(m, "unknown field `lsit`, expected one of name, list");
        // Type errors in words a file's author knows.
        let (l, _, m) = err::<Strict>("name: x\nlist: {a: b}\n");
        assert_eq!(
            (l, m.as_str()),
            (2, "expected a list (`[a, b]` or `- a` lines) here")
        );
        let (l, _, m) = err::<Strict>("name: [x]\n");
        assert_eq!((l, m.as_str()), (1, "expected a single value here"));
        // Syntax errors.
        let (l, _, _) = err::<Strict>("name: x\nlist: [a\n");
        assert!(l >= 2);
        // Control characters in a message are escaped, a long message is cut.
        let (_, _, m) = err::<Strict>("name: x\n\"a\\u0007b\": 1\n");
        assert!(m.starts_with("unknown field `a\\u{7}b`"), "{m}");
        let long = format!("name: x\n{}: 1\n", "k".repeat(400));
        let (_, _, m) = err::<Strict>(&long);
        assert!(m.ends_with('…') && m.chars().count() == 301, "{m}");
    }

    #[test]
    fn bombs_and_size() {
        let big = format!("#{}\n", "x".repeat(MAX_BYTES));
        let (l, c, m) = err::<serde::de::IgnoredAny>(&big);
        assert_eq!((l, c), (0, 0));
        assert_eq!(m, "the file is larger than 1 MiB, the most vnx reads");
        let mut bomb = String::from("a: &a [1,1,1,1,1,1,1,1,1,1]\n");
        for (prev, name) in ["a", "b", "c", "d", "e", "f", "g"]
            .iter()
            .zip(["b", "c", "d", "e", "f", "g", "h"])
        {
            bomb.push_str(&format!(
                "{name}: &{name} [{}]\n",
                vec![format!("*{prev}"); 10].join(",")
            ));
        }
        let (l, _, m) = err::<serde::de::IgnoredAny>(&bomb);
        assert!(l > 0, "{m}");
        assert!(m.contains("too large or too complex"), "{m}");
        let deep = format!("a: {}{}\n", "[".repeat(100), "]".repeat(100));
        let (l, _, _) = err::<serde::de::IgnoredAny>(&deep);
        assert_eq!(l, 1);
    }

    #[test]
    fn front_matter_errors_are_at_the_files_lines() {
        let e = parse_front_matter::<Strict>("name: x\nbogus: 1\n", Path::new("S.md")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "S.md:3:1: front matter: unknown field `bogus`, expected one of name, list"
        );
        let e = parse_front_matter::<Strict>("", Path::new("S.md")).unwrap_err();
        assert!(e.to_string().starts_with("S.md:2"), "{e}");
        assert!(e.to_string().contains("front matter: "), "{e}");
        let ok: Strict = parse_front_matter("name: x\n", Path::new("S.md")).unwrap();
        assert_eq!(ok.name, "x");
    }

    proptest! {
        /// Whatever the text, parsing ends in a value or an error inside the text.
        #[test]
        fn errors_are_inside_the_text(text in "[ -~\n\t]{0,200}") {
            if let Err(e) = parse::<serde::de::IgnoredAny>(&text, Path::new("f")) {
                let YamlError::Invalid(Spot { line, .. }) = e else { panic!("{e:?}") };
                prop_assert!(line <= text.lines().count() + 1, "{}", line);
            }
        }

        /// A key given twice is refused at the line of its second appearance.
        #[test]
        fn a_duplicate_key_is_found_where_it_is(
            n in 1usize..20,
            pick in any::<prop::sample::Index>(),
            after in any::<prop::sample::Index>(),
        ) {
            let dup = pick.index(n);
            let at = dup + 1 + after.index(n - dup);
            let mut lines: Vec<String> = (0..n).map(|i| format!("k{i}: v{i}")).collect();
            lines.insert(at, format!("k{dup}: again"));
            let text = lines.join("\n") + "\n";
            let (line, column, message) = err::<BTreeMap<String, String>>(&text);
            prop_assert_eq!((line, column), (at + 1, 1), "{}", message);
        }

        /// The first byte that is not UTF-8 is reported at its line and column (characters).
        #[test]
        fn bad_utf8_is_found_where_it_is(
            lines in prop::collection::vec("[a-zé€ :]{0,12}", 1..8),
            pick in any::<prop::sample::Index>(),
            col in any::<prop::sample::Index>(),
        ) {
            let line = pick.index(lines.len());
            let chars: Vec<char> = lines[line].chars().collect();
            let column = col.index(chars.len() + 1);
            let mut bytes = Vec::new();
            for (i, l) in lines.iter().enumerate() {
                if i == line {
                    bytes.extend(chars[..column].iter().collect::<String>().bytes());
                    bytes.push(0xff);
                    bytes.extend(chars[column..].iter().collect::<String>().bytes());
                } else {
                    bytes.extend(l.bytes());
                }
                bytes.push(b'\n');
            }
            let e = read_bytes(&bytes, MAX_BYTES).unwrap_err();
            prop_assert_eq!(
                e.to_string(),
                format!("f.yaml:{}:{}: the file is not valid UTF-8", line + 1, column + 1)
            );
        }
    }
}
