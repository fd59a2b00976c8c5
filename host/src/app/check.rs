//! `oktawatch check`: validate the config and reach everything it names.

use crate::config::{Config, SinkKind};
use crate::runtime::watch::Folder;
use crate::sources::okta::OktaSource;
use crate::telemetry::stats::Stats;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

pub fn check(config_path: &Path) -> anyhow::Result<ExitCode> {
    let config = Config::load(config_path)?;
    println!("ok    config {} is valid", config_path.display());
    let mut problems = 0;
    let mut report = |ok: bool, what: String| {
        println!("{}  {what}", if ok { "ok  " } else { "FAIL" });
        if !ok {
            problems += 1;
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    for org in &config.okta {
        match OktaSource::new(org.clone(), Arc::new(Stats::default())) {
            Ok(mut source) => match rt.block_on(source.probe()) {
                Ok(msg) => report(true, format!("org `{}`: {msg}", org.name)),
                Err(e) => report(false, format!("org `{}`: {e:#}", org.name)),
            },
            Err(e) => report(false, format!("{e:#}")),
        }
    }
    if let Some(h) = &config.hooks {
        for org in config.okta.iter().filter(|o| o.has_hook()) {
            match crate::sources::hooks::HookSecret::load(org) {
                Ok(_) => report(true, format!("org `{}`: event hook secret set (path /hooks/okta/{})", org.name, org.name)),
                Err(e) => report(false, format!("{e:#}")),
            }
        }
        if let (Some(cert), Some(key)) = (&h.tls_cert, &h.tls_key) {
            match crate::sources::hooks::check_tls(cert, key) {
                Ok(()) => report(true, format!("event hooks: TLS certificate {} and key load", cert.display())),
                Err(e) => report(false, format!("event hooks: {e:#}")),
            }
        } else {
            report(true, format!("event hooks: plain HTTP on loopback {} (TLS in front of it?)", h.listen));
        }
    }
    match config.sink.kind {
        SinkKind::Wazuh => {
            let s = std::os::unix::net::UnixDatagram::unbound().and_then(|s| s.connect(&config.wazuh.socket));
            match s {
                Ok(_) => report(true, format!("Wazuh socket {} accepts connections", config.wazuh.socket.display())),
                Err(e) => report(
                    false,
                    format!(
                        "Wazuh socket {}: {e} (is wazuh-manager running? run as root or in the `wazuh` group)",
                        config.wazuh.socket.display()
                    ),
                ),
            }
        }
        SinkKind::Stdout => report(true, "sink: stdout".into()),
        SinkKind::File => report(true, format!("sink: file {}", config.sink.path.as_ref().unwrap().display())),
    }
    let dir = &config.state.dir;
    let probe = dir.join(".oktawatch-check");
    match std::fs::create_dir_all(dir).and_then(|_| std::fs::write(&probe, b"ok")).and_then(|_| std::fs::remove_file(&probe)) {
        Ok(()) => report(true, format!("state dir {} is writable", dir.display())),
        Err(e) => report(false, format!("state dir {}: {e}", dir.display())),
    }
    if let Some(ddir) = &config.detections.dir {
        let runtime = super::runtime(&config, None)?;
        match Folder::load(runtime.clone(), ddir) {
            Ok(folder) => {
                let statuses = folder.statuses();
                let loaded = statuses.iter().filter(|s| s.status == "loaded").count();
                report(loaded == statuses.len(), format!("detections {}: {loaded} of {} loaded", ddir.display(), statuses.len()));
                for s in statuses.iter().filter(|s| s.status != "loaded") {
                    println!("        {}: {}", s.file.display(), s.message.clone().unwrap_or_default());
                }
                let set = runtime.current();
                let mut disabled: Vec<&str> = set.detections.iter().filter(|d| !d.host.enabled).map(|d| d.info.id.as_str()).collect();
                disabled.sort();
                if !disabled.is_empty() {
                    println!("        disabled (enabled = false; loaded, not run): {}", disabled.join(", "));
                }
                // A section no file claims is most likely a misspelt id: its settings would go nowhere.
                for id in config.detections.config.keys().filter(|id| !statuses.iter().any(|s| s.id.as_deref() == Some(id.as_str()))) {
                    report(false, format!("[detections.config.{id}]: no detection in {} has this id", ddir.display()));
                }
            }
            Err(e) => report(false, format!("{e:#}")),
        }
    }
    Ok(if problems == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
