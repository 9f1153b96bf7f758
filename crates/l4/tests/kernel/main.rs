//! baton-l4 against the real kernel: nft transactions in a lab's `lb1`, real TCP and UDP
//! clients and servers in the other namespaces.
//!
//! Each test builds its own [`baton_lab::Lab::guide`] and touches nothing outside it. They
//! need root; as anyone else they print `SKIPPED (needs root): ...` and pass.

mod dr;
mod lifecycle;
mod nat;
mod util;
