//! Each checker against real servers on the loopback, started by the tests.

mod dns;
mod file;
mod http;
mod misc;
mod ping;
mod smtp;
mod support;
mod task;
mod tcp;
mod tls;
mod udp;
