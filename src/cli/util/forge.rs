//! The project's forge as the `pr` commands and the forge readers of `status`, `show`,
//! `wait` and the dashboard reach it: `gh`'s program and the setup every forge action needs
//! (the project, its config and ledger, the forge, the signing key).

use std::path::PathBuf;

use vnx::forge::{Context, Forge, ForgeError};
use vnx::ids::DispatchId;

use crate::cli::CliError;
use crate::cli::util::settings;

/// `gh` as the user names it: `$VNX_GH`, else `gh` on PATH.
pub(crate) fn gh_program() -> PathBuf {
    settings::env_set("VNX_GH").map_or_else(|| PathBuf::from("gh"), PathBuf::from)
}

/// What every `vnx pr` command, the supervisor's open-when-done and the readers of pull
/// requests resolve first: the project, its forge and vnx's signing keys.
pub(crate) struct Setup {
    pub(crate) project: vnx::project::Project,
    pub(crate) ids: Vec<DispatchId>,
    config: vnx::config::Config,
    forge: Forge,
    ledger: PathBuf,
    attestor: vnx::ledger::attest::Attestor,
    trusted: Vec<[u8; 32]>,
    key: Option<PathBuf>,
    witness: Option<PathBuf>,
    by: Option<String>,
}

impl Setup {
    /// The setup for the dispatches `ids` name (ids or unique prefixes), in the project here.
    pub(crate) fn new(ids: &[String]) -> Result<Setup, CliError> {
        let (project, ids) = crate::cli::util::ids::project_for(ids)?;
        let config = project.load_config()?;
        let Some(forge_config) = &config.forge else {
            return Err(ForgeError::NotConfigured {
                config: project.config_path(),
            }
            .into());
        };
        let forge = Forge::resolve(&project.root, forge_config, gh_program())?;
        let ledger = project.ledger();
        Setup::with(project, ids, config, forge, ledger)
    }

    /// The rest resolved for a project whose forge is known, its receipts in `ledger`.
    pub(crate) fn with(
        project: vnx::project::Project,
        ids: Vec<DispatchId>,
        config: vnx::config::Config,
        forge: Forge,
        ledger: PathBuf,
    ) -> Result<Setup, CliError> {
        let key = settings::key_path(None).ok();
        let (attestor, trusted) = settings::attestation(key.clone(), &ledger)?;
        Ok(Setup {
            project,
            ids,
            config,
            forge,
            ledger,
            attestor,
            trusted,
            key,
            witness: settings::witness_dir(),
            by: None,
        })
    }

    /// The same setup acting for `by` (an agent through `vnx mcp --act`), whom the
    /// pull-request receipts name.
    #[cfg(feature = "mcp")]
    pub(crate) fn acting_for(self, by: &str) -> Setup {
        Setup {
            by: Some(by.to_owned()),
            ..self
        }
    }

    /// Calls `f` with the forge context of the setup (its root, ledger, keys), the forge and
    /// the configuration.
    pub(crate) fn within<T>(
        &self,
        f: impl FnOnce(&Context<'_>, &Forge, &vnx::config::Config) -> T,
    ) -> T {
        let data = self.project.data_dir();
        let ctx = Context {
            reading: vnx::merge::Reading {
                root: &self.project.root,
                ledger: &self.ledger,
                key: self.key.as_deref(),
                threads: settings::threads(None),
                witness_dir: self.witness.as_deref(),
                trusted_keys: &self.trusted,
                scratch_objects: None,
            },
            attestor: &self.attestor,
            data_dir: &data,
            by: self.by.as_deref(),
        };
        f(&ctx, &self.forge, &self.config)
    }
}
