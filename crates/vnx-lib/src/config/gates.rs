//! The `gates:` section of `.vnx/config.yaml` and the gate list of a role: command gates (an
//! argv run in a fresh checkout of the dispatch's head) and review gates (a CLI asked
//! headless for a JSON verdict) and screenshots gates (a preview of the head served on a port
//! and photographed by Chromium, ADR 0125), validated with line and column like the rest of
//! the file.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::checked::{BUILTIN_PROVIDERS, Entries};
use super::checked::{Checked, Validator, q};
use crate::provider::DeclaredProvider;
use crate::provider::Provider;
use crate::provider::cli;

/// The built-in CLIs a review gate may name, in words.
fn reviewers() -> String {
    cli::CLIS
        .iter()
        .filter(|c| c.can_review())
        .map(|c| c.provider().name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Seconds a gate may run when its definition names no `timeout`.
pub(super) const DEFAULT_TIMEOUT: u64 = 600;
/// The longest `timeout` or `idle_timeout` a gate may declare (a day).
pub(super) const MAX_TIMEOUT: u64 = 86_400;

/// A gate declared under `gates:`. Its canonical JSON (this type serialized) is part of every
/// contract hash, so a changed definition makes earlier results stale.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct GateDef {
    /// What it runs.
    #[serde(flatten)]
    pub kind: GateKind,
    /// Seconds the gate may run before it is stopped (and counted as not passed).
    pub timeout: u64,
    /// Seconds without any output after which the gate counts as stalled and is stopped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<u64>,
    /// Whether a merge waits for it (the default). A gate that is not required is wanted:
    /// it runs where the required ones run and what it shows is kept, but its result never
    /// holds a merge. (Absent from the canonical JSON when required, so declaring it does not
    /// change an existing gate's hash.)
    #[serde(skip_serializing_if = "is_true")]
    pub required: bool,
}

fn is_true(b: &bool) -> bool {
    *b
}

/// What a gate runs.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GateKind {
    /// A program (argv, no shell) run in a fresh checkout of the head; exit 0 passes.
    Command {
        /// The program and its arguments.
        argv: Vec<String>,
    },
    /// A CLI run headless and read-only with the diff, answering with a JSON verdict.
    Review {
        /// A built-in CLI that can review or a provider declared with a headless lane.
        provider: String,
        /// The reviewer's model; the CLI's default when `None`.
        #[serde(skip_serializing_if = "Option::is_none")]
        model: Option<String>,
        /// Text appended to the review request.
        #[serde(skip_serializing_if = "Option::is_none")]
        extra_instructions: Option<String>,
    },
    /// The project's preview command run on a port (`VNX_PORT`) in a checkout of the head,
    /// and each path photographed by headless Chromium at each size (ADR 0125).
    Screenshots {
        /// The preview's program and arguments; it serves on `$VNX_PORT` of 127.0.0.1.
        preview: Vec<String>,
        /// The pages to photograph, each a path beginning with `/`.
        paths: Vec<String>,
        /// The windows, width and height in CSS pixels.
        sizes: Vec<(u32, u32)>,
        /// The Chromium binary; `chromium` on PATH when `None`.
        #[serde(skip_serializing_if = "Option::is_none")]
        chromium: Option<String>,
    },
}

/// The windows a screenshots gate photographs at when it names none: a phone and a desktop.
pub(super) const DEFAULT_SIZES: [(u32, u32); 2] = [(390, 844), (1280, 800)];

impl GateKind {
    /// `command`, `review` or `screenshots`, as receipts record it.
    pub fn name(&self) -> &'static str {
        match self {
            GateKind::Command { .. } => "command",
            GateKind::Review { .. } => "review",
            GateKind::Screenshots { .. } => "screenshots",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum RawKind {
    Command,
    Review,
    Screenshots,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGate {
    kind: Spanned<RawKind>,
    argv: Option<Spanned<Vec<Spanned<String>>>>,
    provider: Option<Spanned<String>>,
    model: Option<Spanned<String>>,
    extra_instructions: Option<Spanned<String>>,
    preview: Option<Spanned<Vec<Spanned<String>>>>,
    paths: Option<Spanned<Vec<Spanned<String>>>>,
    sizes: Option<Spanned<Vec<Spanned<String>>>>,
    chromium: Option<Spanned<String>>,
    timeout: Option<Spanned<i64>>,
    idle_timeout: Option<Spanned<i64>>,
    required: Option<bool>,
}

impl Validator<'_> {
    /// Validates the `gates:` section (after `providers:`, which review gates may name).
    pub(super) fn gates(
        &self,
        raw: Option<Entries<RawGate>>,
        providers: &BTreeMap<String, DeclaredProvider>,
    ) -> Checked<BTreeMap<String, GateDef>> {
        let mut gates = BTreeMap::new();
        for (name, raw) in raw.map_or_else(Vec::new, |e| e.0) {
            self.name("", &name, "gate")?;
            let gate = self.gate(&name.value, raw, providers)?;
            gates.insert(name.value, gate);
        }
        Ok(gates)
    }

    fn gate(
        &self,
        name: &str,
        raw: RawGate,
        providers: &BTreeMap<String, DeclaredProvider>,
    ) -> Checked<GateDef> {
        let who = format!("gate `{name}`");
        let seconds = |field: &str, v: Option<Spanned<i64>>| -> Checked<Option<u64>> {
            let Some(v) = v else { return Ok(None) };
            match u64::try_from(v.value) {
                Ok(n) if (1..=MAX_TIMEOUT).contains(&n) => Ok(Some(n)),
                _ => self.err(
                    &v.referenced,
                    format!(
                        "{who}: `{field}` must be between 1 and {MAX_TIMEOUT} seconds, not {}",
                        v.value
                    ),
                ),
            }
        };
        let misplaced = |field: &str, at: Option<&serde_saphyr::Location>, kind: &str| {
            at.map_or(Ok(()), |at| {
                self.err(at, format!("{who}: `{field}` is only for {kind} gates"))
            })
        };
        if raw.kind.value == RawKind::Screenshots {
            // Its whole capture is bounded by `timeout`; a preview prints what it likes.
            let idle = raw.idle_timeout.as_ref().map(|t| &t.referenced);
            misplaced("idle_timeout", idle, "command and review")?;
        }
        let timeout = seconds("timeout", raw.timeout)?.unwrap_or(DEFAULT_TIMEOUT);
        let idle_timeout = seconds("idle_timeout", raw.idle_timeout)?;
        for (field, at) in [
            ("preview", raw.preview.as_ref().map(|a| &a.referenced)),
            ("paths", raw.paths.as_ref().map(|a| &a.referenced)),
            ("sizes", raw.sizes.as_ref().map(|a| &a.referenced)),
            ("chromium", raw.chromium.as_ref().map(|a| &a.referenced)),
        ] {
            if raw.kind.value != RawKind::Screenshots {
                misplaced(field, at, "screenshots")?;
            }
        }
        let kind = match raw.kind.value {
            RawKind::Command => {
                misplaced(
                    "provider",
                    raw.provider.as_ref().map(|p| &p.referenced),
                    "review",
                )?;
                misplaced("model", raw.model.as_ref().map(|p| &p.referenced), "review")?;
                misplaced(
                    "extra_instructions",
                    raw.extra_instructions.as_ref().map(|p| &p.referenced),
                    "review",
                )?;
                let Some(argv) = raw.argv else {
                    let msg =
                        format!("{who}: a command gate needs `argv`, e.g. [\"cargo\", \"test\"]");
                    return self.err(&raw.kind.referenced, msg);
                };
                GateKind::Command {
                    argv: self.argv(&who, "argv", argv)?,
                }
            }
            RawKind::Screenshots => {
                misplaced("argv", raw.argv.as_ref().map(|a| &a.referenced), "command")?;
                for (field, at) in [
                    ("provider", raw.provider.as_ref().map(|p| &p.referenced)),
                    ("model", raw.model.as_ref().map(|p| &p.referenced)),
                ] {
                    misplaced(field, at, "review")?;
                }
                let (Some(preview), Some(paths)) = (raw.preview, raw.paths) else {
                    let msg = format!(
                        "{who}: a screenshots gate needs `preview`, a command serving on \
                         $VNX_PORT, and `paths`, e.g. [\"/\"]"
                    );
                    return self.err(&raw.kind.referenced, msg);
                };
                self.shots(&who, preview, paths, raw.sizes, raw.chromium)?
            }
            RawKind::Review => {
                misplaced("argv", raw.argv.as_ref().map(|a| &a.referenced), "command")?;
                let Some(provider) = raw.provider else {
                    let msg = format!(
                        "{who}: a review gate needs `provider` ({}, or a declared provider with \
                         a headless lane)",
                        reviewers()
                    );
                    return self.err(&raw.kind.referenced, msg);
                };
                let model = raw.model;
                self.reviewer(&who, &provider, model.as_ref(), providers)?;
                if let Some(text) = &raw.extra_instructions
                    && text.value.contains('\0')
                {
                    let msg = format!("{who}: `extra_instructions` contains a NUL byte");
                    return self.err(&text.referenced, msg);
                }
                GateKind::Review {
                    provider: provider.value,
                    model: model.map(|m| m.value),
                    extra_instructions: raw.extra_instructions.map(|t| t.value),
                }
            }
        };
        Ok(GateDef {
            kind,
            timeout,
            idle_timeout,
            required: raw.required.unwrap_or(true),
        })
    }

    /// A program and its arguments: not empty, no NUL, a program named.
    fn argv(
        &self,
        who: &str,
        field: &str,
        argv: Spanned<Vec<Spanned<String>>>,
    ) -> Checked<Vec<String>> {
        if argv.value.is_empty() {
            return self.err(&argv.referenced, format!("{who}: `{field}` is empty"));
        }
        for (i, arg) in argv.value.iter().enumerate() {
            if arg.value.contains('\0') || (i == 0 && arg.value.is_empty()) {
                let msg = format!(
                    "{who}: {} is not a usable argument{}",
                    q(&arg.value),
                    if i == 0 { " (the program)" } else { "" }
                );
                return self.err(&arg.referenced, msg);
            }
        }
        Ok(argv.value.into_iter().map(|a| a.value).collect())
    }

    /// A screenshots gate's preview, pages, windows and Chromium.
    fn shots(
        &self,
        who: &str,
        preview: Spanned<Vec<Spanned<String>>>,
        paths: Spanned<Vec<Spanned<String>>>,
        sizes: Option<Spanned<Vec<Spanned<String>>>>,
        chromium: Option<Spanned<String>>,
    ) -> Checked<GateKind> {
        let preview = self.argv(who, "preview", preview)?;
        if paths.value.is_empty() {
            return self.err(&paths.referenced, format!("{who}: `paths` is empty"));
        }
        for p in &paths.value {
            let bad = |c: char| c.is_control() || c.is_whitespace() || c == '#';
            if !p.value.starts_with('/') || p.value.starts_with("//") || p.value.contains(bad) {
                let msg = format!(
                    "{who}: {} is not a page's path (one beginning with `/`, without spaces)",
                    q(&p.value)
                );
                return self.err(&p.referenced, msg);
            }
        }
        let mut windows = Vec::new();
        for size in sizes.map_or_else(Vec::new, |s| s.value) {
            let parsed = size.value.split_once('x').and_then(|(w, h)| {
                let (w, h) = (w.parse::<u32>().ok()?, h.parse::<u32>().ok()?);
                ((100..=4096).contains(&w) && (100..=4096).contains(&h)).then_some((w, h))
            });
            let Some(window) = parsed else {
                let msg = format!(
                    "{who}: {} is not a window size WIDTHxHEIGHT between 100 and 4096, like \
                     390x844",
                    q(&size.value)
                );
                return self.err(&size.referenced, msg);
            };
            windows.push(window);
        }
        if windows.is_empty() {
            windows = DEFAULT_SIZES.to_vec();
        }
        if let Some(c) = &chromium
            && (c.value.is_empty() || c.value.contains('\0'))
        {
            return self.err(&c.referenced, format!("{who}: `chromium` is not a program"));
        }
        Ok(GateKind::Screenshots {
            preview,
            paths: paths.value.into_iter().map(|p| p.value).collect(),
            sizes: windows,
            chromium: chromium.map(|c| c.value),
        })
    }

    /// A review gate's provider and model: a CLI that can answer headless.
    fn reviewer(
        &self,
        who: &str,
        provider: &Spanned<String>,
        model: Option<&Spanned<String>>,
        providers: &BTreeMap<String, DeclaredProvider>,
    ) -> Checked<()> {
        let name = provider.value.as_str();
        if cli::named(name).is_some_and(|c| !c.can_review()) {
            let msg = format!("{who}: the {name} provider cannot review; name a CLI that can");
            return self.err(&provider.referenced, msg);
        }
        let model_value = model.map(|m| m.value.as_str());
        let model_at = model.map_or(&provider.referenced, |m| &m.referenced);
        if BUILTIN_PROVIDERS.contains(&name) {
            let builtin = Provider::parse(name).expect("a built-in name parses");
            if let Err(e) = builtin.check_model(model_value) {
                return self.err(model_at, format!("{who}: {e}"));
            }
            return Ok(());
        }
        let Some(def) = providers.get(name) else {
            let msg = format!(
                "{who}: provider {} is neither a built-in CLI ({}) nor declared under \
                 `providers:`",
                q(name),
                reviewers()
            );
            return self.err(&provider.referenced, msg);
        };
        if def.headless.is_none() {
            let msg = format!(
                "{who}: provider `{name}` declares no headless lane, which a review gate runs in"
            );
            return self.err(&provider.referenced, msg);
        }
        if let Err(e) = crate::provider::check_declared_model(name, model_value) {
            return self.err(model_at, format!("{who}: {e}"));
        }
        if model.is_some() && def.model_args.is_empty() {
            let msg = format!(
                "{who}: provider `{name}` declares no `model_args`, so a model cannot be passed"
            );
            return self.err(model_at, msg);
        }
        Ok(())
    }

    /// A role's `gates:` list: each names a declared gate, once.
    pub(super) fn role_gates(
        &self,
        role: &str,
        raw: Spanned<Vec<Spanned<String>>>,
        gates: &BTreeMap<String, GateDef>,
    ) -> Checked<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        for gate in raw.value {
            if !gates.contains_key(&gate.value) {
                let msg = format!(
                    "role `{role}` requires gate {}, which is not declared under `gates:`",
                    q(&gate.value)
                );
                return self.err(&gate.referenced, msg);
            }
            if out.contains(&gate.value) {
                let msg = format!("role `{role}` lists gate `{}` twice", gate.value);
                return self.err(&gate.referenced, msg);
            }
            out.push(gate.value);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::parse;
    use super::super::tests::parse_err;
    use super::*;

    fn gate(text: &str) -> GateDef {
        let config = parse(&format!("gates:\n  g:\n{text}"), Path::new("c")).unwrap();
        config.gates["g"].clone()
    }

    #[test]
    fn command_and_review_gates_and_their_defaults() {
        let g = gate("    kind: command\n    argv: [make, check]\n");
        assert_eq!(
            g,
            GateDef {
                kind: GateKind::Command {
                    argv: vec!["make".into(), "check".into()]
                },
                timeout: DEFAULT_TIMEOUT,
                idle_timeout: None,
                required: true,
            }
        );
        assert_eq!(
            serde_json::to_string(&g).unwrap(),
            r#"{"kind":"command","argv":["make","check"],"timeout":600}"#
        );
        // A gate that is wanted, not required: only then is `required` in its hash.
        let wanted = gate("    kind: command\n    argv: [make, check]\n    required: false\n");
        assert!(!wanted.required);
        assert_eq!(
            serde_json::to_string(&wanted).unwrap(),
            r#"{"kind":"command","argv":["make","check"],"timeout":600,"required":false}"#
        );
        let reviewer = Provider::DEFAULT.name();
        let g = gate(&format!(
            "    kind: review\n    provider: {reviewer}\n    idle_timeout: 60\n"
        ));
        assert_eq!(
            serde_json::to_string(&g).unwrap(),
            format!(
                r#"{{"kind":"review","provider":"{reviewer}","timeout":600,"idle_timeout":60}}"#
            )
        );
        let declared = "providers:\n  kimi:\n    binary: kimi\n    headless: {argv: [\"{prompt}\"]}\n    model_args: [\"-m\", \"{model}\"]\ngates:\n  r: {kind: review, provider: kimi, model: k2}\n";
        let config = parse(declared, Path::new("c")).unwrap();
        assert_eq!(config.gates["r"].kind.name(), "review");
    }

    #[test]
    fn screenshots_gates_take_a_preview_paths_and_sizes() {
        let g = gate(
            "    kind: screenshots\n    preview: [sh, -c, 'serve $VNX_PORT']\n    paths: [/, /about]\n",
        );
        assert_eq!(
            g.kind,
            GateKind::Screenshots {
                preview: vec!["sh".into(), "-c".into(), "serve $VNX_PORT".into()],
                paths: vec!["/".into(), "/about".into()],
                sizes: DEFAULT_SIZES.to_vec(),
                chromium: None,
            }
        );
        assert_eq!(g.kind.name(), "screenshots");
        let g = gate(
            "    kind: screenshots\n    preview: [p]\n    paths: [/]\n    sizes: [800x600]\n    chromium: /opt/c\n",
        );
        assert!(
            matches!(&g.kind, GateKind::Screenshots { sizes, chromium: Some(c), .. } if sizes == &[(800, 600)] && c == "/opt/c"),
            "{g:?}"
        );
    }

    #[test]
    fn bad_gates_are_located() {
        let cases: &[(&str, (usize, usize), &str)] = &[
            (
                "gates:\n  Tests: {kind: command, argv: [x]}\n",
                (2, 3),
                "`Tests` is not a valid gate name",
            ),
            (
                "gates:\n  t: {kind: shell, argv: [x]}\n",
                (2, 13),
                "unknown variant `shell`, expected one of command, review, screenshots",
            ),
            (
                "gates:\n  t:\n    kind: command\n",
                (3, 11),
                "gate `t`: a command gate needs `argv`",
            ),
            (
                "gates:\n  t: {kind: command, argv: []}\n",
                (2, 28),
                "gate `t`: `argv` is empty",
            ),
            (
                "gates:\n  t: {kind: command, argv: [\"\"]}\n",
                (2, 29),
                "(the program)",
            ),
            (
                "gates:\n  t: {kind: command, argv: [x], provider: other}\n",
                (2, 43),
                "gate `t`: `provider` is only for review gates",
            ),
            (
                "gates:\n  t: {kind: command, argv: [x], timeout: 0}\n",
                (2, 42),
                "gate `t`: `timeout` must be between 1 and 86400 seconds, not 0",
            ),
            (
                "gates:\n  t: {kind: command, argv: [x], colour: red}\n",
                (2, 33),
                "unknown field `colour`",
            ),
            (
                "gates:\n  r: {kind: review}\n",
                (2, 13),
                "gate `r`: a review gate needs `provider`",
            ),
            (
                "gates:\n  r: {kind: review, provider: demo}\n",
                (2, 31),
                "the demo provider cannot review",
            ),
            (
                "gates:\n  r: {kind: review, provider: kimi}\n",
                (2, 31),
                "provider `kimi` is neither a built-in CLI",
            ),
            (
                "gates:\n  r: {kind: review, provider: other, argv: [x]}\n",
                (2, 44),
                "gate `r`: `argv` is only for command gates",
            ),
            (
                "gates:\n  t: {kind: command, argv: [x]}\nroles:\n  implementer: {gates: [t, review]}\n",
                (4, 28),
                "role `implementer` requires gate `review`, which is not declared under `gates:`",
            ),
            (
                "gates:\n  t: {kind: command, argv: [x]}\nroles:\n  implementer: {gates: [t, t]}\n",
                (4, 28),
                "role `implementer` lists gate `t` twice",
            ),
            ("roles:\n  implementer: {writes: sometimes}\n", (2, 25), ""),
            (
                "gates:\n  s: {kind: screenshots, paths: [/]}\n",
                (2, 13),
                "gate `s`: a screenshots gate needs `preview`",
            ),
            (
                "gates:\n  s: {kind: screenshots, preview: [x], paths: [about]}\n",
                (2, 48),
                "gate `s`: `about` is not a page's path",
            ),
            (
                "gates:\n  s: {kind: screenshots, preview: [x], paths: [/], sizes: [390]}\n",
                (2, 60),
                "gate `s`: `390` is not a window size",
            ),
            (
                "gates:\n  s: {kind: screenshots, preview: [x], paths: [/], idle_timeout: 5}\n",
                (2, 66),
                "gate `s`: `idle_timeout` is only for command and review gates",
            ),
            (
                "gates:\n  t: {kind: command, argv: [x], paths: [/]}\n",
                (2, 40),
                "gate `t`: `paths` is only for screenshots gates",
            ),
        ];
        let mut wrong = Vec::new();
        for (text, at, want) in cases {
            let (l, c, m) = parse_err(text);
            if (l, c) != *at || !m.contains(want) {
                wrong.push(format!("{text:?}: {l}:{c}: {m}"));
            }
        }
        // A built-in's model is its module's to check, at the model (or the provider).
        let needs_model = cli::CLIS
            .iter()
            .find(|c| c.check_model(None).is_err())
            .unwrap();
        let any = Provider::DEFAULT.name();
        for (text, at, want) in [
            (
                format!(
                    "gates:\n  r: {{kind: review, provider: {}}}\n",
                    needs_model.provider().name()
                ),
                "provider: ",
                format!("provider {} needs a model", needs_model.provider().name()),
            ),
            (
                format!("gates:\n  r: {{kind: review, provider: {any}, model: \"a b\"}}\n"),
                "model: ",
                format!("is not valid for provider {any}"),
            ),
        ] {
            let column = text.lines().nth(1).unwrap().find(at).unwrap() + at.len() + 1;
            let (l, c, m) = parse_err(&text);
            if (l, c) != (2, column) || !m.contains(&want) {
                wrong.push(format!("{text:?}: {l}:{c}: {m}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        let no_headless = "providers:\n  tui:\n    binary: t\n    interactive: {argv: [\"{prompt}\"]}\ngates:\n  r: {kind: review, provider: tui}\n";
        let (_, _, m) = parse_err(no_headless);
        assert!(m.contains("declares no headless lane"), "{m}");
    }
}
