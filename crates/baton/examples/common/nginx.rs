//! nginx run by a benchmark: one worker in the foreground, every file under a prefix
//! directory of the run, so nothing touches /etc/nginx or /var/log/nginx.

use std::ffi::OsString;
use std::path::Path;

/// Writes `DIR/NAME/nginx.conf` around `http` (the inside of the `http` block: upstreams
/// and servers) and returns nginx's arguments to run it. `connections` sizes the worker's
/// connection table and open-files limit.
pub(crate) fn write(
    dir: &Path,
    name: &str,
    connections: usize,
    http: &str,
) -> std::io::Result<Vec<OsString>> {
    let prefix = dir.join(name);
    std::fs::create_dir_all(&prefix)?;
    let conf = prefix.join("nginx.conf");
    let p = prefix.display();
    let text = format!(
        "daemon off;\n\
         master_process on;\n\
         worker_processes 1;\n\
         worker_rlimit_nofile {nofile};\n\
         pid {p}/nginx.pid;\n\
         error_log stderr warn;\n\
         \n\
         events {{\n\
         \x20   worker_connections {connections};\n\
         }}\n\
         \n\
         http {{\n\
         \x20   access_log off;\n\
         \x20   client_body_temp_path {p}/client_body;\n\
         \x20   proxy_temp_path {p}/proxy;\n\
         \x20   fastcgi_temp_path {p}/fastcgi;\n\
         \x20   uwsgi_temp_path {p}/uwsgi;\n\
         \x20   scgi_temp_path {p}/scgi;\n\
         \n\
         {http}\
         }}\n",
        nofile = connections + 1_000,
    );
    std::fs::write(&conf, text)?;
    // `-e stderr` before the configuration is read: otherwise nginx first opens the
    // compiled-in /var/log/nginx/error.log.
    Ok(vec![
        "-p".into(),
        prefix.into_os_string(),
        "-c".into(),
        conf.into_os_string(),
        "-e".into(),
        "stderr".into(),
    ])
}
