//! The defaults vnx ships — `provider_constraints.yaml` and the skills — embedded in the binary
//! so that `vnx init` can install them without a checkout.

/// One shipped file.
#[derive(Clone, Copy, Debug)]
pub struct DefaultFile {
    /// Path relative to the repository root.
    pub path: &'static str,
    /// Its text, as `vnx init` writes it.
    pub contents: &'static str,
    /// Whether it is installed with the executable bit (scripts).
    pub executable: bool,
}

macro_rules! shipped {
    ($path:literal) => {
        DefaultFile {
            path: $path,
            contents: include_str!(concat!("../../../", $path)),
            executable: false,
        }
    };
    ($path:literal, executable) => {
        DefaultFile {
            path: $path,
            contents: include_str!(concat!("../../../", $path)),
            executable: true,
        }
    };
}

/// Every shipped default, in install order.
pub const FILES: &[DefaultFile] = &[
    shipped!("provider_constraints.yaml"),
    shipped!("skills/implementer/SKILL.md"),
    shipped!("skills/reviewer/SKILL.md"),
    shipped!("skills/reviewer/references/review-checklist.md"),
    shipped!("skills/test-writer/SKILL.md"),
    shipped!("skills/test-writer/scripts/changed-tests.sh", executable),
];
