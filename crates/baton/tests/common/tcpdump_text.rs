//! tcpdump printing one line a packet (`-l`) into a file as it comes, and those lines read
//! back: for tests that look for what was sent, from which MAC, in tcpdump's own words.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use baton_lab::{Child, Host};

use super::Workdir;

pub(crate) struct TextCapture {
    _tcpdump: Child,
    file: PathBuf,
}

impl TextCapture {
    /// Starts `tcpdump` (a command made by `host`, or by the lab for its switch, with its
    /// arguments) writing to `NAME.txt` in `dir`, and gives it a moment to listen.
    pub(crate) fn start(
        host: &Host,
        mut tcpdump: Command,
        dir: &Workdir,
        name: &str,
    ) -> TextCapture {
        let file = dir.path(&format!("{name}.txt"));
        tcpdump
            .stdout(Stdio::from(std::fs::File::create(&file).expect("capture")))
            .stderr(Stdio::null());
        let tcpdump = host.spawn(tcpdump).expect("tcpdump");
        std::thread::sleep(Duration::from_secs(1));
        TextCapture {
            _tcpdump: tcpdump,
            file,
        }
    }

    /// The lines printed so far.
    pub(crate) fn lines(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.file).unwrap_or_default();
        text.lines().map(str::to_owned).collect()
    }
}
