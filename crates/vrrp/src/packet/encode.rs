//! [`Advertisement`] to bytes.

use std::net::IpAddr;

use super::field::{
    AUTH_NONE, AUTH_SIMPLE_TEXT, CHECKSUM, HEADER_LEN, TYPE_ADVERTISEMENT, V2_AUTH_DATA_LEN,
};
use super::{Advertisement, Auth, EncodeError, VersionFields};
use crate::checksum::{self, ChecksumMode};

impl Advertisement {
    /// The VRRP message (the IP payload) for sending from `src` to `dst`, checksum filled in.
    ///
    /// `src` and `dst` matter for v3, whose checksum covers the pseudo-header, so a unicast
    /// sender must emit once per peer.
    pub fn emit(
        &self,
        src: IpAddr,
        dst: IpAddr,
        mode: ChecksumMode,
    ) -> Result<Vec<u8>, EncodeError> {
        let vrid = self.vrid.get();
        if src.is_ipv6() != dst.is_ipv6() {
            return Err(EncodeError::MixedHeaderFamilies { vrid });
        }
        let ipv6 = src.is_ipv6();
        if ipv6 && matches!(self.fields, VersionFields::V2 { .. }) {
            return Err(EncodeError::V2OverIpv6 { vrid });
        }
        if let Some(&address) = self.addresses.iter().find(|a| a.is_ipv6() != ipv6) {
            return Err(EncodeError::AddressFamilyMismatch { vrid, address });
        }
        let count =
            u8::try_from(self.addresses.len()).map_err(|_| EncodeError::TooManyAddresses {
                vrid,
                count: self.addresses.len(),
            })?;

        let mut out = Vec::with_capacity(
            HEADER_LEN + self.addresses.len() * if ipv6 { 16 } else { 4 } + V2_AUTH_DATA_LEN,
        );
        out.push((self.version().wire() << 4) | TYPE_ADVERTISEMENT);
        out.push(vrid);
        out.push(self.priority.get());
        out.push(count);
        match self.fields {
            VersionFields::V2 { interval, auth } => {
                out.push(match auth {
                    Auth::None => AUTH_NONE,
                    Auth::SimpleText(_) => AUTH_SIMPLE_TEXT,
                });
                out.push(interval.get());
            }
            // The reserved high 4 bits stay zero (RFC 5798 §5.2.6).
            VersionFields::V3 { max_interval } => {
                out.extend_from_slice(&max_interval.get().to_be_bytes())
            }
        }
        out.extend_from_slice(&[0, 0]); // checksum, filled in below
        for address in &self.addresses {
            match address {
                IpAddr::V4(v4) => out.extend_from_slice(&v4.octets()),
                IpAddr::V6(v6) => out.extend_from_slice(&v6.octets()),
            }
        }
        if let VersionFields::V2 { auth, .. } = self.fields {
            match auth {
                Auth::None => out.extend_from_slice(&[0; V2_AUTH_DATA_LEN]),
                Auth::SimpleText(password) => out.extend_from_slice(password.as_bytes()),
            }
        }

        let pseudo_header = match &self.fields {
            VersionFields::V2 { .. } => None,
            VersionFields::V3 { .. } => mode.v3_pseudo_header(src, dst),
        };
        let sum = checksum::compute(&out, pseudo_header);
        out[CHECKSUM].copy_from_slice(&sum.to_be_bytes());
        Ok(out)
    }
}
