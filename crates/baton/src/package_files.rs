//! `baton package-files --out DIR` (hidden): the man pages and shell completions the Debian
//! package installs (docs/packaging.md), generated from the CLI definition itself so that
//! they describe exactly the flags this binary parses.
//!
//! DIR/man: one page per visible command, in section 8 as baton lives in /usr/sbin
//! (baton.8, baton-run.8, baton-server-drain.8, ...). DIR/completions: baton.bash, _baton
//! (zsh) and baton.fish.

use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use clap::{Command, CommandFactory as _};
use clap_complete::Shell;

use crate::cli::{Cli, PackageFilesArgs};

/// Section 8: system administration commands and daemons.
const SECTION: &str = "8";

/// The installed binary's name, /usr/sbin/baton.
const BIN_NAME: &str = "baton";

pub(crate) fn write(args: &PackageFilesArgs) -> ExitCode {
    match write_all(&args.out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("baton package-files: {}: {error}", args.out.display());
            ExitCode::FAILURE
        }
    }
}

fn write_all(out: &Path) -> std::io::Result<()> {
    let mut cli = Cli::command().disable_help_subcommand(true);
    cli.build();
    let man = out.join("man");
    fs::create_dir_all(&man)?;
    write_man_pages(&cli, None, &man)?;
    let completions = out.join("completions");
    fs::create_dir_all(&completions)?;
    // From the definition before build(): built, it has the generated --help and
    // --version, which the rebuilt copy would generate a second time.
    let mut visible = visible_only(&Cli::command());
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        clap_complete::generate_to(shell, &mut visible, BIN_NAME, &completions)?;
    }
    Ok(())
}

/// `command`'s page and those of its visible subcommands. clap_mangen lists a page's
/// subcommands; a SEE ALSO adds the page above it, so every page leads back to baton(8).
fn write_man_pages(command: &Command, parent: Option<&Command>, dir: &Path) -> std::io::Result<()> {
    for subcommand in visible_subcommands(command) {
        write_man_pages(subcommand, Some(command), dir)?;
    }
    let page = clap_mangen::Man::new(command.clone())
        .section(SECTION)
        .source(format!("{BIN_NAME} {}", env!("CARGO_PKG_VERSION")))
        .manual("System Manager's Manual");
    let mut file = fs::File::create(dir.join(page.get_filename()))?;
    page.render(&mut file)?;
    let see_also = match parent {
        Some(parent) => page_reference(parent),
        None => {
            file.write_all(FILES_SECTION.as_bytes())?;
            r"\fBkeepalived\fR(8), \fBkeepalived.conf\fR(5), \fBnft\fR(8)".to_owned()
        }
    };
    writeln!(file, ".SH \"SEE ALSO\"\n{see_also}")?;
    file.flush()
}

/// The top page's FILES: where the package puts what an operator edits or reads.
const FILES_SECTION: &str = r#".SH FILES
.TP
\fI/etc/baton/baton.toml\fR
baton's own configuration (\fBbaton check \-\-config /etc/baton/baton.toml\fR).
.TP
\fI/etc/default/baton\fR
BATON_CONFIG_ARGS, the configuration baton.service and baton\-scripts.service read:
\fB\-\-config /etc/baton/baton.toml\fR, or \fB\-\-keepalived\-conf /etc/keepalived/keepalived.conf\fR.
.TP
\fI/var/lib/baton/state.json\fR
drains, disables, weights and step\-downs kept across restarts.
.TP
\fI/usr/share/doc/baton/\fR
README.md, configuration.md, operations.md, security.md, metrics.md, keepalived\-compat.md, conn\-sync.md, packaging.md.
"#;

/// `\fBbaton\-run\fR(8)`: a reference to `command`'s page.
fn page_reference(command: &Command) -> String {
    let name = command
        .get_display_name()
        .unwrap_or_else(|| command.get_name());
    format!(r"\fB{}\fR({SECTION})", name.replace('-', r"\-"))
}

fn visible_subcommands(command: &Command) -> impl Iterator<Item = &Command> {
    command.get_subcommands().filter(|sub| !sub.is_hide_set())
}

/// `command` without its hidden subcommands (the demo's helpers, the script helper's
/// runner, this one), which clap_complete would otherwise offer: clap has no way to remove
/// a subcommand, so the top level is rebuilt with the same arguments and visible
/// subcommands. Hidden commands only exist at the top level.
fn visible_only(command: &Command) -> Command {
    let mut visible = Command::new(BIN_NAME)
        .version(env!("CARGO_PKG_VERSION"))
        .args(command.get_arguments().cloned())
        .subcommands(visible_subcommands(command).cloned())
        .disable_help_subcommand(true);
    if let Some(about) = command.get_about() {
        visible = visible.about(about.clone());
    }
    visible
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generated() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        write_all(dir.path()).expect("writes");
        dir
    }

    fn read(dir: &Path, file: &str) -> String {
        fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
    }

    #[test]
    fn a_page_in_section_8_for_each_visible_command_and_none_for_hidden_ones() {
        let dir = generated();
        let man = dir.path().join("man");
        for page in [
            "baton.8",
            "baton-run.8",
            "baton-check.8",
            "baton-status.8",
            "baton-server-drain.8",
            "baton-instance-step-down.8",
        ] {
            assert!(man.join(page).is_file(), "{page} missing");
        }
        for hidden in ["baton-demo-app.8", "baton-package-files.8", "baton-help.8"] {
            assert!(!man.join(hidden).exists(), "{hidden} should not exist");
        }
        let run = read(&man, "baton-run.8");
        assert!(run.contains(".TH baton-run 8 "), "{run}");
        assert!(run.contains(r"\-\-keepalived\-conf"), "{run}");
        assert!(run.contains(r"\fBbaton\fR(8)"), "links back to baton(8)");
        let drain = read(&man, "baton-server-drain.8");
        assert!(
            drain.contains(r"\fBbaton\-server\fR(8)"),
            "links to its parent"
        );
        let top = read(&man, "baton.8");
        assert!(top.contains(r"baton\-check(8)") && top.contains(".SH FILES"));
    }

    #[test]
    fn completions_offer_the_visible_commands_and_flags_only() {
        let dir = generated();
        let completions = dir.path().join("completions");
        for file in ["baton.bash", "_baton", "baton.fish"] {
            let text = read(&completions, file);
            assert!(
                text.contains("keepalived-conf"),
                "{file} lacks --keepalived-conf"
            );
            assert!(
                text.contains("step-down"),
                "{file} lacks instance step-down"
            );
            assert!(!text.contains("demo-app"), "{file} offers a hidden command");
            assert!(
                !text.contains("package-files"),
                "{file} offers a hidden command"
            );
        }
    }
}
