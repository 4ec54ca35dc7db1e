//! `vnx serve`: the project's dispatches as a web page a paired phone or desktop can read and
//! act on; or, with `--devices` and `--revoke`, the devices paired with it. The server is
//! `src/web/` (feature `serve`); this parses, resolves settings and prints.

use std::net::SocketAddr;
use std::process::ExitCode;

use super::CliError;
use super::util::output::{Out, escape, say};

/// Serve a web page of the project's dispatches, for a phone or another screen
///
/// Lists what needs you first (a blocked worker's command, a worker's question), then what
/// runs, then the rest, and a page per dispatch with what it waits for, its gates, pull
/// request, diff, transcript and receipts; its buttons approve, deny, answer, cancel,
/// dismiss, run the gates and merge, each exactly as the vnx command of that name, its
/// receipt naming you and the paired device.
///
/// Nobody gets in without pairing: the terminal shows a one-time code (and a QR code of the
/// pairing address) that a device types in once; it then holds a token in a cookie, which
/// `--revoke` takes back. Press Enter in the terminal for a new code. It listens on loopback
/// only unless `--expose` is given: reach it from a phone through a tunnel you already run
/// (Tailscale, `ssh -L`), and give that address as `--url` so its host name is answered for.
/// It answers only for loopback's names, the address a request reached it at, `--url`'s
/// host, `--host`'s names and, with `--expose`, this machine's name.
///
/// While it serves, the `schedules:` of .vnx/config.yaml fire as they fall due, as `vnx
/// schedule run --loop` fires them.
#[derive(clap::Args)]
#[command(after_long_help = "Examples:\n  $ vnx serve --devices")]
pub struct Args {
    /// The address and port to listen on
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// Listen on an address other than loopback (anyone who can reach it can try to pair)
    #[arg(long)]
    expose: bool,
    /// The address a phone reaches this server at (its QR code, and a host name it answers for)
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// Another host name to answer for (a tunnel's or proxy's name); repeat for more
    #[arg(long = "host", value_name = "NAME")]
    hosts: Vec<String>,
    /// Seconds a client may keep the server waiting: for a request's head, its body, the next
    /// request on a connection kept alive
    #[arg(long, value_name = "SECS", default_value_t = 10, hide = true)]
    client_timeout: u64,
    /// List the paired devices and exit
    #[arg(long, conflicts_with_all = ["revoke", "expose", "url", "hosts"])]
    devices: bool,
    /// Revoke the paired device with this name or id and exit
    #[arg(long, value_name = "NAME|ID")]
    revoke: Option<String>,
    /// With --devices: print them as JSON
    #[arg(long, requires = "devices")]
    json: bool,
    #[command(flatten)]
    tmux: super::util::settings::TmuxSocket,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let project = super::util::settings::project()?;
    let store = vnx::access::DeviceStore::in_data_dir(&project.data_dir());
    let mut out = Out::new();
    if args.devices {
        let devices = store.list()?;
        if args.json {
            out.json(&devices)?;
        } else if devices.is_empty() {
            say!("no device is paired (pair one at the page `vnx serve` shows)");
        } else {
            for d in devices {
                let seen = d
                    .last_seen
                    .map_or_else(|| "never used".to_owned(), |t| format!("last used {t}"));
                out.line(&format!(
                    "{}  {}  paired {} from {}, {seen}",
                    d.id,
                    escape(&d.name),
                    d.paired_at,
                    escape(&d.paired_from)
                ))?;
            }
        }
        return Ok(super::util::error::Exit::Ok.into());
    }
    if let Some(name) = &args.revoke {
        let gone = store.revoke(name)?;
        out.line(&format!(
            "revoked {}: its token admits nothing now",
            escape(&gone.label())
        ))?;
        return Ok(super::util::error::Exit::Ok.into());
    }
    serve(args, project)
}

#[cfg(not(feature = "serve"))]
fn serve(_: Args, _: vnx::project::Project) -> Result<ExitCode, CliError> {
    Err(super::util::error::left_out("serve"))
}

#[cfg(feature = "serve")]
fn serve(args: Args, project: vnx::project::Project) -> Result<ExitCode, CliError> {
    use super::util::settings;
    let ip = args.listen.ip();
    if !ip.is_loopback() && !args.expose {
        return Err(CliError::usage(format!(
            "{} is not a loopback address: anyone who reaches it could try pairing codes"
        , args.listen))
        .with_hint("reach a loopback server through a tunnel (Tailscale, `ssh -L`), or add --expose to listen there anyway"));
    }
    if !ip.is_loopback() {
        say!(
            "warning: listening on {}: every machine that reaches it sees the pairing page; \
             pairing codes expire in 10 minutes and 5 wrong ones close pairing to the address \
             that tried them, but the page is plain http unless a proxy in front of it adds TLS",
            args.listen
        );
    }
    let config = project.load_config()?;
    // The config's schedules fire while it serves, on a thread of their own (the loop of
    // `vnx schedule run --loop`).
    if !config.schedules.is_empty() {
        let socket = args.tmux.tmux_socket.clone();
        say!(
            "firing the {} schedule{} of .vnx/config.yaml as they fall due",
            config.schedules.len(),
            if config.schedules.len() == 1 { "" } else { "s" }
        );
        std::thread::spawn(move || super::util::schedules::keep_firing(socket));
    }
    let serve = with_addresses(config.serve, &project.root)?;
    // An address workers read gets notices without links (ADR 0104): say which and why.
    for exposed in vnx::notice::address::exposed(&serve) {
        say!("warning: {}", exposed.says());
        say!("hint: {}", exposed.fix());
    }
    // The address given here, else the one notices' links point at.
    let url = args.url.clone().or_else(|| serve.url.clone());
    let url_host = match &url {
        Some(url) => Some(host_of(url).ok_or_else(|| {
            CliError::usage(format!("--url {url:?} is not an http or https address"))
        })?),
        None => None,
    };
    let hosts = answered_hosts(&args, url_host);
    if args.expose {
        say!(
            "answering for: loopback, the address a request reaches{}{} (more with --host NAME)",
            if hosts.is_empty() { "" } else { ", " },
            hosts.join(", ")
        );
    }
    let settings_project = project.clone();
    let settings_socket = settings::tmux_socket(args.tmux.tmux_socket.clone());
    let settings = crate::web::Settings {
        tmux: vnx::tmux::Tmux::new(&settings_socket),
        listen: args.listen,
        hosts,
        client_wait: std::time::Duration::from_secs(args.client_timeout.max(1)),
        secure_cookie: args
            .url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://")),
        user: settings::user(),
        key: settings::key_path(None).ok(),
        witness: settings::witness_dir(),
        threads: settings::threads(None),
        serve,
        project,
    };
    let pairing = crate::web::new_pairing()?;
    let first_code = pairing.shown();
    let base = url.clone();
    let shown = crate::web::run(
        settings,
        pairing,
        calls(&settings_project, settings_socket),
        |running| {
            let base = base.unwrap_or_else(|| format!("http://{}", running.addr));
            say!(
                "vnx serve: listening on http://{} (Ctrl-C stops it)",
                running.addr
            );
            show_pairing(&base, &first_code);
            new_codes_on_enter(running, base);
        },
    );
    shown.map_err(|e| CliError::new(format!("cannot serve on {}: {e}", args.listen)))?;
    Ok(super::util::error::Exit::Ok.into())
}

/// The host names the server answers for besides loopback's and the address a request
/// reached it at: `--url`'s (or `serve.url`'s), `--host`'s, and with `--expose` this
/// machine's name (a request by any other name, e.g. one a page of another site made
/// resolve here, is refused).
#[cfg(feature = "serve")]
fn answered_hosts(args: &Args, url_host: Option<String>) -> Vec<String> {
    let mut hosts: Vec<String> = url_host.into_iter().collect();
    hosts.extend(args.hosts.iter().map(|h| h.trim().to_ascii_lowercase()));
    if args.expose
        && let Ok(name) = std::fs::read_to_string("/proc/sys/kernel/hostname")
    {
        let name = name.trim().to_ascii_lowercase();
        if !name.is_empty() {
            hosts.push(format!("{name}.local"));
            hosts.push(name);
        }
    }
    hosts.retain(|h| !h.is_empty());
    hosts.sort();
    hosts.dedup();
    hosts
}

/// The host of an http(s) URL, lower case, without its port.
#[cfg(feature = "serve")]
fn host_of(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let host = crate::web::auth::host_only(rest.split(['/', '?', '#']).next()?);
    (!host.is_empty()).then_some(host)
}

/// Prints the pairing code and its address as a QR code.
#[cfg(feature = "serve")]
fn show_pairing(base: &str, code: &str) {
    let address = format!("{}/pair#code={code}", base.trim_end_matches('/'));
    let qr = qrcode::QrCode::new(address.as_bytes())
        .map(|q| {
            q.render::<qrcode::render::unicode::Dense1x2>()
                .quiet_zone(true)
                .build()
        })
        .unwrap_or_default();
    for line in qr.lines() {
        say!("{line}");
    }
    say!("pair a device: open {address}");
    say!(
        "  or open {base}/pair and type the code {code} (good for one device, 10 minutes; Enter here makes a new one)"
    );
}

/// A new pairing code each time Enter is pressed at the terminal.
#[cfg(feature = "serve")]
fn new_codes_on_enter(running: &crate::web::Running, base: String) {
    use std::io::BufRead;
    let running = crate::web::Running::clone(running);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            if line.is_err() {
                return;
            }
            let pairing = crate::web::new_pairing().expect("random bytes were drawn a moment ago");
            let code = pairing.shown();
            running.set_pairing(pairing);
            show_pairing(&base, &code);
        }
    });
}

/// What the server asks of the command line: its actions, pull requests, queue and terminal.
#[cfg(feature = "serve")]
fn calls(project: &vnx::project::Project, socket: String) -> crate::web::Calls {
    let reading = project.clone();
    crate::web::Calls {
        act: Box::new(|action, by| super::util::acts::act(action, Some(by))),
        prs: Box::new(move |wanted, mode| super::util::pr_watch::read(&reading, wanted, mode)),
        drain: Box::new(move || {
            super::util::drain::recover_queue_here(Some(socket.clone()), false)
        }),
        say: Box::new(|line| say!("{line}")),
        desk: Box::new(|by, f| {
            super::util::context::with_desk_as(None, by, |desk| f(desk).map_err(CliError::new))
                .map_err(|e| e.one_line())
        }),
    }
}

/// The config's `serve:` with the notices' addresses kept in files (`file:PATH`, outside the
/// repository at `root`) read in.
#[cfg(feature = "serve")]
fn with_addresses(
    mut serve: vnx::config::ServeConfig,
    root: &std::path::Path,
) -> Result<vnx::config::ServeConfig, CliError> {
    use vnx::notice::address;
    let home = super::util::settings::env("HOME").map(std::path::PathBuf::from);
    for endpoint in &mut serve.notify {
        if endpoint.from_file.is_none() {
            continue;
        }
        let path = address::kept_path(endpoint, home.as_deref()).ok_or_else(|| {
            CliError::usage(format!("{} names ~, and HOME is not set", endpoint.shown()))
        })?;
        *endpoint = address::read_kept(endpoint, &path, root).map_err(|e| {
            let unread = matches!(e, vnx::notice::NoticeError::Io { .. });
            let err = CliError::from(e)
                .context(format!("cannot read the address of {}", endpoint.shown()));
            if unread {
                err.with_hint("write the webhook's or ntfy topic's address into that file")
            } else {
                err
            }
        })?;
    }
    Ok(serve)
}
