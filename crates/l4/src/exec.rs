//! Running `nft` and `conntrack`, possibly inside another network namespace.
//!
//! The rules are nft's text syntax fed to `nft -f -`, not the `nftables` crate's typed
//! JSON: its set types are a closed list (no `typeof`, so no map keyed by numgen or jhash),
//! sets have no `counter` flag, there is no `fwd` statement, and counters are `u32`.

use std::ffi::OsString;
use std::process::Stdio;

use tokio::io::AsyncWriteExt as _;
use tokio::process::Command;

use crate::error::Error;

/// How to start the tools: directly, or behind a prefix such as `ip netns exec NS`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Runner {
    pub(crate) prefix: Vec<OsString>,
}

impl Runner {
    fn command(&self, program: &str, args: &[&str]) -> (Command, String) {
        let mut words: Vec<OsString> = self.prefix.clone();
        words.push(program.into());
        words.extend(args.iter().map(OsString::from));
        let line = words
            .iter()
            .map(|w| w.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ");
        let mut command = Command::new(&words[0]);
        command
            .args(&words[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        (command, line)
    }

    /// Runs `program args`, feeding `input` on stdin; returns (success, stdout, stderr).
    async fn run(
        &self,
        program: &str,
        args: &[&str],
        input: Option<&str>,
    ) -> Result<(bool, String, String), Error> {
        let (mut command, line) = self.command(program, args);
        if input.is_some() {
            command.stdin(Stdio::piped());
        }
        let spawn_error = |source| Error::Spawn {
            program: line.clone(),
            source,
        };
        let mut child = command.spawn().map_err(spawn_error)?;
        if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
            stdin
                .write_all(input.as_bytes())
                .await
                .map_err(spawn_error)?;
            // Closing stdin is how nft learns the script has ended.
            drop(stdin);
        }
        let output = child.wait_with_output().await.map_err(spawn_error)?;
        Ok((
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        ))
    }

    /// Runs `script` as one nft transaction.
    pub(crate) async fn nft_script(&self, script: &str) -> Result<(), Error> {
        let (ok, _, stderr) = self.run("nft", &["-f", "-"], Some(script)).await?;
        if ok {
            Ok(())
        } else {
            Err(Error::Nft { stderr })
        }
    }

    /// Runs `nft -j args` and parses its JSON.
    pub(crate) async fn nft_json(&self, args: &[&str]) -> Result<serde_json::Value, Error> {
        let mut full = vec!["-j"];
        full.extend_from_slice(args);
        let (ok, stdout, stderr) = self.run("nft", &full, None).await?;
        if !ok {
            return Err(Error::Nft { stderr });
        }
        serde_json::from_str(&stdout).map_err(|e| Error::Parse {
            program: "nft",
            detail: e.to_string(),
        })
    }

    /// Runs `conntrack args`. Deleting nothing is not a failure (conntrack exits 1 then).
    pub(crate) async fn conntrack(&self, args: &[&str]) -> Result<String, Error> {
        let (ok, stdout, stderr) = self.run("conntrack", args, None).await?;
        if ok || stderr.contains(" 0 flow entries") {
            Ok(stdout)
        } else {
            Err(Error::Conntrack { stderr })
        }
    }
}
