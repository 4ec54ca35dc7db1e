//! A dispatch's provider as the plan resolved it and its spec carries it: a built-in CLI, or
//! one the project declared under `providers:`. Written as its name (`spec.json`'s
//! `provider`), so the supervisor never parses a name again to find its CLI.

use super::cli::{self, CodingCli, Provider};

/// A built-in provider, or a declared one by its name.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(from = "String", into = "String")]
pub enum ProviderName {
    /// A built-in CLI.
    BuiltIn(Provider),
    /// A CLI the project declared (its definition travels in the invocation).
    Declared(String),
}

impl ProviderName {
    /// The provider `name` names: a built-in one when it is one's, else a declared one.
    pub fn of(name: &str) -> ProviderName {
        ProviderName::from(name.to_owned())
    }

    /// Its name, as `--provider` and receipts spell it.
    pub fn name(&self) -> &str {
        match self {
            ProviderName::BuiltIn(p) => p.name(),
            ProviderName::Declared(name) => name,
        }
    }

    /// Its built-in CLI's module; `None` for a declared one.
    pub fn cli(&self) -> Option<&'static dyn CodingCli> {
        match self {
            ProviderName::BuiltIn(p) => Some(cli::of(*p)),
            ProviderName::Declared(_) => None,
        }
    }
}

impl From<String> for ProviderName {
    fn from(name: String) -> ProviderName {
        match Provider::parse(&name) {
            Ok(p) => ProviderName::BuiltIn(p),
            Err(_) => ProviderName::Declared(name),
        }
    }
}

impl From<ProviderName> for String {
    fn from(p: ProviderName) -> String {
        p.name().to_owned()
    }
}

impl std::fmt::Display for ProviderName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl PartialEq<str> for ProviderName {
    fn eq(&self, other: &str) -> bool {
        self.name() == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_built_in_or_declared_and_written_back_as_it_was() {
        for p in Provider::ALL {
            assert_eq!(ProviderName::of(p.name()), ProviderName::BuiltIn(p));
            assert!(ProviderName::of(p.name()).cli().is_some());
        }
        let mine = ProviderName::of("my-cli");
        assert_eq!(mine, ProviderName::Declared("my-cli".into()));
        assert!(mine.cli().is_none());
        for name in [Provider::ALL[0].name(), "my-cli"] {
            let json = serde_json::to_string(&ProviderName::of(name)).unwrap();
            assert_eq!(json, format!("\"{name}\""));
            let back: ProviderName = serde_json::from_str(&json).unwrap();
            assert_eq!(back, ProviderName::of(name));
        }
    }
}
