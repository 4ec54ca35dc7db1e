//! `vnx-fake-kubectl`: a stand-in `kubectl` for the kubernetes place's tests (no cluster runs
//! on the machines the suite runs on). It maps the verbs vnx uses onto a container engine: a
//! PersistentVolumeClaim is a volume, a Pod a container from its image on that volume (on this
//! machine's network for `hostNetwork: true`, the engine's default network otherwise), `exec`
//! the engine's `exec` (the command's status passed through, as kubectl does), `wait` polls
//! the container's state, `get … -o jsonpath=` answers a pod's phase or an object's name, and
//! `delete` removes. Objects are named `k8s-NAMESPACE-NAME` in the engine. The errors kubectl
//! itself prints for a missing pod and for exec into a pod that is no longer running are
//! printed the same way. An agent-sandbox `Sandbox` is kept as its manifest (the API server's
//! store) and made as its controller makes it (`sandbox.rs`, a deleted pod made again), and so
//! are its extensions' `SandboxTemplate`, `SandboxWarmPool` and `SandboxClaim`
//! (`claim.rs`); a Secret is kept so too, and a
//! pod's `secret` volume made as the kubelet makes it (`secret.rs`); pods and claims are
//! stored too, for `get KINDS -l SELECTOR -o json` (`list.rs`). Each call is appended to
//! `VNX_FAKE_KUBECTL_LOG`, when set.

#![expect(
    clippy::disallowed_methods,
    reason = "a stand-in for a real client, not vnx: it starts processes and reads its environment as the real one does"
)]

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use serde_json::Value;

mod claim;
mod list;
mod sandbox;
mod secret;

/// The parsed command line: the global flags, the verb and what follows it.
struct Call {
    namespace: String,
    rest: Vec<String>,
}

fn engine() -> String {
    std::env::var("VNX_FAKE_KUBECTL_ENGINE").unwrap_or_else(|_| "podman".into())
}

fn parse(args: Vec<String>) -> Result<Call, String> {
    let mut namespace = "default".to_owned();
    let mut rest = Vec::new();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--context" => {
                it.next().ok_or("--context needs a value")?;
            }
            "--namespace" | "-n" => namespace = it.next().ok_or("--namespace needs a value")?,
            "--" => {
                rest.push(a);
                rest.extend(it.by_ref());
            }
            _ => rest.push(a),
        }
    }
    Ok(Call { namespace, rest })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Ok(log) = std::env::var("VNX_FAKE_KUBECTL_LOG")
        && let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
    {
        let _ = writeln!(f, "{}", serde_json::to_string(&args).unwrap_or_default());
    }
    match parse(args).and_then(|call| run(&call)) {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
    }
}

impl Call {
    /// The engine's name for object `name`.
    fn object(&self, name: &str) -> String {
        format!("k8s-{}-{name}", self.namespace)
    }
}

fn run(call: &Call) -> Result<u8, String> {
    let verb = call.rest.first().map(String::as_str).unwrap_or_default();
    let args = &call.rest[1.min(call.rest.len())..];
    match verb {
        "apply" => apply(call, args),
        "get" => get(call, args),
        "wait" => wait(call, args),
        "exec" => exec(call, args),
        "delete" => delete(call, args),
        "patch" => sandbox::patch(call, args),
        other => Err(format!("unknown command {other:?} for \"kubectl\"")),
    }
}

/// The engine's answer, or what it said when it failed.
fn engine_out(args: &[&str]) -> Result<String, String> {
    let out = Command::new(engine())
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

/// A pod's phase from its container's state; `None` for no such pod.
fn phase(object: &str) -> Option<String> {
    let state = engine_out(&[
        "container",
        "inspect",
        "--format",
        "{{.State.Status}}",
        object,
    ])
    .ok()?;
    Some(
        match state.as_str() {
            "running" | "paused" => "Running",
            "created" | "configured" | "initialized" => "Pending",
            _ => {
                let code = engine_out(&[
                    "container",
                    "inspect",
                    "--format",
                    "{{.State.ExitCode}}",
                    object,
                ]);
                if code.as_deref() == Ok("0") {
                    "Succeeded"
                } else {
                    "Failed"
                }
            }
        }
        .to_owned(),
    )
}

fn flag_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter()
        .find_map(|a| a.strip_prefix(flag)?.strip_prefix('='))
        .or_else(|| {
            let at = args.iter().position(|a| a == flag)?;
            args.get(at + 1).map(String::as_str)
        })
}

fn apply(call: &Call, args: &[String]) -> Result<u8, String> {
    let file = flag_value(args, "-f").ok_or("must specify one of -f and -k")?;
    let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
    let manifest: Value =
        serde_json::from_str(&text).map_err(|e| format!("the stand-in reads JSON: {e}"))?;
    let name = manifest["metadata"]["name"]
        .as_str()
        .ok_or("no metadata.name")?;
    let object = call.object(name);
    let labels = labels(&manifest);
    match manifest["kind"].as_str() {
        Some("PersistentVolumeClaim") => {
            if engine_out(&["volume", "inspect", &object]).is_ok() {
                println!("persistentvolumeclaim/{name} unchanged");
                return Ok(0);
            }
            let mut argv = vec!["volume".to_owned(), "create".into()];
            for l in &labels {
                argv.extend(["--label".into(), l.clone()]);
            }
            argv.push(object);
            engine_out(&argv.iter().map(String::as_str).collect::<Vec<_>>())?;
            list::keep(call, "persistentvolumeclaims", &manifest)?;
            println!("persistentvolumeclaim/{name} created");
        }
        Some("Pod") => {
            if phase(&object).is_some() {
                println!("pod/{name} unchanged");
                return Ok(0);
            }
            run_pod(call, &manifest)?;
            println!("pod/{name} created");
        }
        Some("Sandbox") => sandbox::apply(call, &manifest)?,
        Some("SandboxTemplate" | "SandboxWarmPool" | "SandboxClaim") => {
            claim::apply(call, &manifest)?;
        }
        Some("Secret") => secret::apply(call, &manifest)?,
        other => return Err(format!("the stand-in makes no {other:?}")),
    }
    Ok(0)
}

/// Pod `manifest` made a container (named by [`Call::object`]) on its claims' volumes.
fn run_pod(call: &Call, manifest: &Value) -> Result<(), String> {
    let name = manifest["metadata"]["name"]
        .as_str()
        .ok_or("no metadata.name")?;
    let mut argv = vec![
        "run".to_owned(),
        "--detach".into(),
        "--name".into(),
        call.object(name),
    ];
    for l in labels(manifest) {
        argv.extend(["--label".into(), l]);
    }
    let spec = &manifest["spec"];
    // `hostNetwork: true`: the node's network, which is this machine's.
    if spec["hostNetwork"] == true {
        argv.push("--network=host".into());
    }
    let container = &spec["containers"][0];
    for mount in container["volumeMounts"].as_array().into_iter().flatten() {
        let volume = spec["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|v| v["name"] == mount["name"])
            .ok_or("a volumeMount names no volume")?;
        let path = mount["mountPath"].as_str().ok_or("no mountPath")?;
        if volume.get("secret").is_some() {
            if let Some(dir) = secret::materialize(call, &call.object(name), volume)? {
                let mut arg = std::ffi::OsString::from(dir.as_os_str());
                arg.push(format!(":{path}:ro"));
                argv.push("--volume".into());
                argv.push(arg.to_string_lossy().into_owned());
            }
            continue;
        }
        let claim = volume["persistentVolumeClaim"]["claimName"]
            .as_str()
            .ok_or("the stand-in mounts claims and secrets only")?;
        argv.extend(["--volume".into(), format!("{}:{path}", call.object(claim))]);
    }
    for var in container["env"].as_array().into_iter().flatten() {
        let (Some(k), Some(v)) = (var["name"].as_str(), var["value"].as_str()) else {
            return Err("the stand-in sets env values only".into());
        };
        argv.extend(["--env".into(), format!("{k}={v}")]);
    }
    let limits = &container["resources"]["limits"];
    if let Some(cpu) = limits["cpu"].as_str() {
        let cpus = match cpu.strip_suffix('m') {
            Some(milli) => milli.parse::<f64>().map_err(|e| e.to_string())? / 1000.0,
            None => cpu.parse::<f64>().map_err(|e| e.to_string())?,
        };
        argv.push(format!("--cpus={cpus}"));
    }
    if let Some(memory) = limits["memory"].as_str() {
        let engine_form = memory
            .replace("Ki", "k")
            .replace("Mi", "m")
            .replace("Gi", "g");
        argv.push(format!("--memory={engine_form}"));
    }
    argv.push("--".into());
    argv.push(container["image"].as_str().ok_or("no image")?.to_owned());
    for part in container["command"].as_array().into_iter().flatten() {
        argv.push(part.as_str().unwrap_or_default().to_owned());
    }
    engine_out(&argv.iter().map(String::as_str).collect::<Vec<_>>())?;
    list::keep(call, "pods", manifest)?;
    Ok(())
}

/// An object's labels as `KEY=VALUE`.
fn labels(manifest: &Value) -> Vec<String> {
    manifest["metadata"]["labels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect()
}

fn get(call: &Call, args: &[String]) -> Result<u8, String> {
    if let Some(selector) = flag_value(args, "-l") {
        return list::get(call, args.first().map_or("", String::as_str), selector);
    }
    let (kind, name) = match args {
        [kind, name, ..] => (kind.as_str(), name.as_str()),
        _ => return Err("get KIND NAME".into()),
    };
    let ignore = args.iter().any(|a| a == "--ignore-not-found");
    let path = flag_value(args, "-o")
        .and_then(|o| o.strip_prefix("jsonpath="))
        .ok_or("the stand-in answers -o jsonpath= only")?;
    if matches!(kind, "sandboxclaim" | "sandboxclaims") {
        return claim::get(call, name, path, ignore);
    }
    let object = call.object(name);
    let (found, plural) = match kind {
        "pod" | "pods" => (phase(&object), "pods"),
        "persistentvolumeclaim" | "pvc" => (
            engine_out(&["volume", "inspect", &object])
                .ok()
                .map(|_| String::new()),
            "persistentvolumeclaims",
        ),
        "sandbox" | "sandboxes" => (
            sandbox::stored(call, name)?.map(|s| sandbox::mode(&s).to_owned()),
            "sandboxes.agents.x-k8s.io",
        ),
        "secret" | "secrets" => (
            secret::stored(call, name)?.map(|_| String::new()),
            "secrets",
        ),
        other => return Err(format!("the stand-in gets no {other:?}")),
    };
    match (found, path) {
        (None, _) if ignore => Ok(0),
        (None, _) => {
            eprintln!("Error from server (NotFound): {plural} \"{name}\" not found");
            Ok(1)
        }
        (Some(mode), "{.spec.operatingMode}") if plural.starts_with("sandboxes") => {
            print!("{mode}");
            Ok(0)
        }
        (Some(phase), "{.status.phase}") if plural == "pods" => {
            print!("{phase}");
            Ok(0)
        }
        (Some(_), "{.metadata.name}") => {
            print!("{name}");
            Ok(0)
        }
        (_, other) => Err(format!("the stand-in answers no jsonpath {other}")),
    }
}

/// Whether what `wait` waits for is met.
type Condition<'a> = dyn Fn() -> Result<bool, String> + 'a;

/// `wait --for=condition=Ready pod/NAME` (its container running), `--for=condition=Ready
/// sandbox/NAME` (its controller's `Ready`: `Running`, and its pod running) or `--for=delete
/// pod/NAME` (its container gone, or none to begin with).
fn wait(call: &Call, args: &[String]) -> Result<u8, String> {
    let (kind, target) = args
        .iter()
        .find_map(|a| a.split_once('/'))
        .ok_or("the stand-in waits for KIND/NAME")?;
    let condition = flag_value(args, "--for");
    let timeout = flag_value(args, "--timeout")
        .and_then(|t| t.strip_suffix('s')?.parse().ok())
        .unwrap_or(30);
    let object = call.object(target);
    let (plural, met): (&str, Box<Condition>) = match (kind, condition) {
        ("pod", Some("condition=Ready")) => (
            "pods",
            Box::new(|| Ok(phase(&object).as_deref() == Some("Running"))),
        ),
        ("pod", Some("delete")) => ("pods", Box::new(|| Ok(phase(&object).is_none()))),
        ("sandbox", Some("condition=Ready")) => (
            "sandboxes.agents.x-k8s.io",
            Box::new(|| sandbox::ready(call, target)),
        ),
        ("sandboxclaim", Some("condition=Ready")) => (
            "sandboxclaims.extensions.agents.x-k8s.io",
            Box::new(|| claim::ready(call, target)),
        ),
        _ => {
            return Err(
                "the stand-in waits for a pod's or a sandbox's Ready, or a pod's delete".into(),
            );
        }
    };
    let deadline = Instant::now() + Duration::from_secs(timeout);
    loop {
        if met()? {
            println!("{kind}/{target} condition met");
            return Ok(0);
        }
        if Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("error: timed out waiting for the condition on {plural}/{target}");
    Ok(1)
}

fn exec(call: &Call, args: &[String]) -> Result<u8, String> {
    let dash = args
        .iter()
        .position(|a| a == "--")
        .ok_or("exec POD -- COMMAND")?;
    let (flags, command) = (&args[..dash], &args[dash + 1..]);
    let tty = flags.iter().any(|a| a == "-t" || a == "-it" || a == "-ti");
    let pod = flags
        .iter()
        .enumerate()
        .find(|(i, a)| !a.starts_with('-') && (*i == 0 || flags[i - 1] != "-c"))
        .map(|(_, a)| a.as_str())
        .ok_or("exec needs a pod")?;
    let object = call.object(pod);
    match phase(&object).as_deref() {
        None => {
            eprintln!("Error from server (NotFound): pods \"{pod}\" not found");
            return Ok(1);
        }
        Some("Running") => {}
        Some(other) => {
            eprintln!(
                "error: cannot exec into a container in a completed pod; current phase is {other}"
            );
            return Ok(1);
        }
    }
    let mut cmd = Command::new(engine());
    cmd.args(["exec", "-i"]);
    if tty {
        cmd.arg("-t");
    }
    let err = cmd.arg(&object).args(command).exec();
    Err(format!("{}: {err}", engine()))
}

fn delete(call: &Call, args: &[String]) -> Result<u8, String> {
    let (kind, name) = match args {
        [kind, name, ..] => (kind.as_str(), name.as_str()),
        _ => return Err("delete KIND NAME".into()),
    };
    let object = call.object(name);
    let ignore = args.iter().any(|a| a == "--ignore-not-found");
    let (exists, argv, shown): (bool, Vec<&str>, &str) = match kind {
        "pod" | "pods" => (
            phase(&object).is_some(),
            vec!["rm", "--force", "--time", "5", &object],
            "pod",
        ),
        "persistentvolumeclaim" | "pvc" => (
            engine_out(&["volume", "inspect", &object]).is_ok(),
            vec!["volume", "rm", "--force", &object],
            "persistentvolumeclaim",
        ),
        "sandbox" | "sandboxes" => return sandbox::delete(call, name, ignore),
        "sandboxclaim" | "sandboxclaims" => return claim::delete(call, name, ignore),
        "secret" | "secrets" => return secret::delete(call, name, ignore),
        other => return Err(format!("the stand-in deletes no {other:?}")),
    };
    if !exists {
        if ignore {
            return Ok(0);
        }
        eprintln!("Error from server (NotFound): {shown}s \"{name}\" not found");
        return Ok(1);
    }
    engine_out(&argv)?;
    if shown == "pod" {
        secret::forget_pod(&object);
    }
    println!("{shown} \"{name}\" deleted");
    if shown == "pod" {
        sandbox::pod_deleted(call, name)?;
    }
    Ok(0)
}
