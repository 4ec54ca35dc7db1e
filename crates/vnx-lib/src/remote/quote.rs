//! Quoting for a remote POSIX shell: ssh hands the remote side one command line, which the
//! host's login shell parses, so every argv element vnx sends is quoted here and nowhere else.

/// `arg` as one word for a POSIX shell (`sh`, `bash`, `dash`, `zsh`): as is when it holds
/// only characters no shell treats specially, else in single quotes, each `'` written as
/// `'\''`.
pub fn quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:@,+%".contains(&b));
    if plain {
        return arg.to_owned();
    }
    crate::provider::hooks::sh_quote(arg)
}

/// An argv as one command line for a POSIX shell, each element quoted by [`quote`].
pub fn command_line<S: AsRef<str>>(argv: &[S]) -> String {
    argv.iter()
        .map(|a| quote(a.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::{Cmd, run};
    use proptest::prelude::*;

    /// What `sh` makes of `line` as the arguments of `printf '%s\0'`.
    fn through_sh(args: &[String]) -> Vec<String> {
        let line = format!("printf '%s\\0' {}", command_line(args));
        let out = run(&Cmd::new("sh").arg("-c").arg(line)).unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let mut words: Vec<String> = text.split('\0').map(str::to_owned).collect();
        words.pop();
        words
    }

    #[test]
    fn plain_words_stay_plain_and_the_rest_is_quoted() {
        assert_eq!(quote("dispatch-agent"), "dispatch-agent");
        assert_eq!(quote("/srv/app"), "/srv/app");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote("$(rm -rf ~)"), "'$(rm -rf ~)'");
    }

    #[test]
    fn hostile_words_come_through_sh_unchanged() {
        let args: Vec<String> = [
            "",
            "'",
            "''",
            "\\",
            "\"",
            "$HOME",
            "`id`",
            "$(id)",
            "a\nb",
            "*",
            "~",
            "!",
            "-n",
            "; rm -rf /",
            "tab\there",
            "é ✓",
            "#x",
            "a'b\"c\\d",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        assert_eq!(through_sh(&args), args);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn any_argv_round_trips_through_sh(args in proptest::collection::vec("[^\\x00]{0,12}", 1..5)) {
            prop_assert_eq!(through_sh(&args), args);
        }
    }
}
