//! `vnx attach` from inside the user's own tmux, in real tmux: the dispatch's pane opens in a
//! popup of the user's tmux (not nested in one of its panes), and detaching from it comes
//! back to where the user was, with one `C-b d`.

use std::process::{Child, Command, Stdio};

use crate::common::{Repo, Server, wait_for};

/// A terminal attached to `socket`'s session `name` (a client, as a person's terminal is),
/// through `script`'s pseudo-terminal; killed on drop.
struct Client(Child);

impl Client {
    fn attach(socket: &str, name: &str) -> Client {
        let child = Command::new("script")
            .args(["-qfec"])
            .arg(format!("tmux -L {socket} attach-session -t ={name}"))
            .arg("/dev/null")
            .env("TERM", "xterm-256color")
            .env_remove("TMUX")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("script (util-linux) runs a terminal for the client");
        Client(child)
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn inside_the_users_tmux_attach_opens_a_popup_that_one_detach_closes() {
    let repo = Repo::new();
    let running = repo.dispatched("slow", true);
    // The user's own tmux: a session running a shell that runs `vnx attach`, and a client.
    let user = Server::new();
    let home = repo.env.home();
    let env: Vec<(String, String)> = [
        ("HOME", home.display().to_string()),
        ("GIT_CONFIG_GLOBAL", "/dev/null".into()),
        ("VNX_TMUX_SOCKET", repo.server.0.socket().into()),
        ("TERM", "xterm-256color".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    // Once the user's terminal is attached (as it is when a person types the command).
    let script = format!(
        "while [ \"$(tmux display-message -p '#{{session_attached}}')\" = 0 ]; do sleep 0.05; done; \
         {} attach {}; echo \"attach exited $?\"; sleep 60",
        env!("CARGO_BIN_EXE_vnx"),
        &running[..6]
    );
    user.0
        .new_session(
            "work",
            repo.env.path(),
            &env,
            &["sh".into(), "-c".into(), script.into()],
        )
        .unwrap();
    let tmux = |socket: &str, args: &[&str]| {
        let out = Command::new("tmux")
            .args(["-L", socket])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let _client = Client::attach(user.0.socket(), "work");
    let session = format!("vnx-{running}");
    let inner = repo.server.0.socket().to_owned();
    // The dispatch's session gets a client of its own: the popup's.
    assert!(
        wait_for(
            || tmux(&inner, &["list-clients", "-t", &format!("={session}")]).contains(&session)
        ),
        "no client attached to {session}"
    );
    // Not nested: the user's pane still shows its own shell, not the worker's output.
    let pane = tmux(user.0.socket(), &["capture-pane", "-p", "-t", "=work:"]);
    assert!(!pane.contains("working for an hour"), "{pane}");
    // Detaching (what C-b d does in the popup) closes it, and `vnx attach` ends well.
    tmux(&inner, &["detach-client", "-s", &format!("={session}")]);
    assert!(
        wait_for(
            || tmux(user.0.socket(), &["capture-pane", "-p", "-t", "=work:"])
                .contains("attach exited 0")
        ),
        "{}",
        tmux(user.0.socket(), &["capture-pane", "-p", "-t", "=work:"])
    );
    // The worker goes on.
    assert!(
        Command::new("tmux")
            .args(["-L", &inner, "has-session", "-t", &format!("={session}")])
            .status()
            .unwrap()
            .success()
    );
}
