//! Where things are by default: the rules file and the one state file of an installation.

use std::path::{Path, PathBuf};

use super::{DEFAULT_CONFIG_PATH, EnvLookup};

/// The one state file of an installation, whichever command runs and from wherever:
/// `$STATE_DIRECTORY/state.json` under systemd; otherwise, for root,
/// `/var/lib/cloudreve-autoselect/state.json` (the file the systemd unit uses, through its
/// `StateDirectory`); for other users `$XDG_STATE_HOME/cloudreve-autoselect/state.json`
/// (default `~/.local/state/cloudreve-autoselect/state.json`).
pub fn default_state_file(env: EnvLookup<'_>) -> PathBuf {
    default_state_file_for(env, nix::unistd::geteuid().is_root())
}

/// [`default_state_file`] for a given user kind.
pub fn default_state_file_for(env: EnvLookup<'_>, root: bool) -> PathBuf {
    let first = |dirs: String| dirs.split(':').next().map(PathBuf::from);
    if let Some(dir) = env("STATE_DIRECTORY")
        .filter(|d| !d.is_empty())
        .and_then(first)
    {
        return dir.join("state.json");
    }
    if root {
        return PathBuf::from("/var/lib/cloudreve-autoselect/state.json");
    }
    let base = env("XDG_STATE_HOME")
        .filter(|d| d.starts_with('/'))
        .map(PathBuf::from)
        .or_else(|| {
            env("HOME")
                .filter(|h| !h.is_empty())
                .map(|home| Path::new(&home).join(".local/state"))
        })
        .unwrap_or_else(|| PathBuf::from("/var/tmp"));
    base.join("cloudreve-autoselect/state.json")
}

/// The config path: the flag, else `CLOUDREVE_AUTOSELECT_CONFIG` (clap handles both), else
/// `$CONFIGURATION_DIRECTORY/rules.toml` under systemd, else the default.
pub fn default_config_path(env: EnvLookup<'_>) -> PathBuf {
    match env("CONFIGURATION_DIRECTORY") {
        Some(dirs) if !dirs.is_empty() => {
            let first = dirs.split(':').next().unwrap_or(&dirs);
            Path::new(first).join("rules.toml")
        }
        _ => PathBuf::from(DEFAULT_CONFIG_PATH),
    }
}
