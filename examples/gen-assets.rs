//! Writes the man pages and the shell completions from the command-line definition, for the
//! Debian package (`cargo deb`) and anyone packaging the binary. An example rather than a
//! `build.rs` or a subcommand: the daemon neither carries the generators nor pays for them at
//! build or start-up time.
//!
//! `cargo run --example gen-assets -- DIR` writes:
//! - `DIR/man/cloudreve-autoselect.1` and one page per subcommand
//!   (`cloudreve-autoselect-run.1`, ...), from `cli::Cli` through `clap_mangen`;
//! - `DIR/completions/cloudreve-autoselect.bash`, `_cloudreve-autoselect` (zsh) and
//!   `cloudreve-autoselect.fish`, through `clap_complete`.
//!
//! The rules file's page, section 5, is written by hand: `man/cloudreve-autoselect-rules.5`.

use std::fs;
use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::CommandFactory as _;
use clap_complete::Shell;
use cloudreve_autoselect::cli::Cli;

const NAME: &str = "cloudreve-autoselect";

/// Appended to the main page: what the CLI definition cannot say.
const MAIN_PAGE_TAIL: &str = r".SH FILES
.TP
\fI/etc/cloudreve\-autoselect/rules.toml\fR
The rules file; see \fBcloudreve\-autoselect\-rules\fR(5).
.TP
\fI/etc/credstore/cloudreve\-autoselect/password\fR, \fI.../refresh\-token\fR
The credential the systemd unit loads (mode 0600, directory 0700).
.TP
\fI/var/lib/private/cloudreve\-autoselect/state.json\fR
The decisions made so far (under systemd; see the README for other users).
.SH EXIT STATUS
0 on success; 1 when a tick, a check of expectations, a notifier or the health check fails;
78 (EX_CONFIG) for an invalid rules file or a missing credential.
.SH SEE ALSO
\fBcloudreve\-autoselect\-rules\fR(5), \fBsystemctl\fR(1),
\fI/usr/share/doc/cloudreve\-autoselect/README.md\fR
";

fn main() -> anyhow::Result<()> {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .context("usage: gen-assets DIR")?;
    let man = out.join("man");
    let completions = out.join("completions");
    for dir in [&man, &completions] {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }

    // One page per subcommand, then the main page with FILES, EXIT STATUS and SEE ALSO added.
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    for sub in cmd.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        clap_mangen::Man::new(sub.clone())
            .generate_to(&man)
            .with_context(|| format!("writing the page of {}", sub.get_name()))?;
    }
    let main_page = man.join(format!("{NAME}.1"));
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut page)?;
    page.extend_from_slice(MAIN_PAGE_TAIL.as_bytes());
    fs::File::create(&main_page)
        .and_then(|mut file| file.write_all(&page))
        .with_context(|| format!("writing {}", main_page.display()))?;

    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut cmd, NAME, &completions)
            .with_context(|| format!("writing the {shell} completions"))?;
    }
    Ok(())
}
