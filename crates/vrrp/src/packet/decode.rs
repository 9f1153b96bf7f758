//! Bytes to [`Advertisement`], or to [`AdvertRef`], which leaves the addresses in the packet
//! (the engine's form: a received advert allocates nothing). Both are one decoder, so they
//! accept and reject the same bytes with the same errors. Every length is checked before a
//! field is read, so no input can make the decoder panic (the fuzz target in `fuzz/` holds
//! it to that).

use std::net::IpAddr;

use super::field::{
    AUTH_NONE, AUTH_SIMPLE_TEXT, CHECKSUM, HEADER_LEN, TYPE_ADVERTISEMENT, V2_AUTH_DATA_LEN,
};
use super::view::Addresses;
use super::{AdvertRef, Advertisement, Auth, DecodeError, Password, VersionFields};
use crate::checksum::{self, ChecksumMode};
use crate::units::{Centiseconds, Priority, Seconds, Version, Vrid};

impl Advertisement {
    /// Decodes the VRRP message `payload` (the IP payload, IP header already stripped) that
    /// arrived from `src` to `dst`.
    ///
    /// The checks follow RFC 5798 §7.1 / RFC 3768 §7.1 as far as they concern the bytes alone:
    /// version, type, length against the address count, checksum, and then the fields.
    /// Checks that need configuration (VRID configured, TTL, authentication, interval) are the
    /// state machine's.
    pub fn decode(
        payload: &[u8],
        src: IpAddr,
        dst: IpAddr,
        mode: ChecksumMode,
    ) -> Result<Advertisement, DecodeError> {
        AdvertRef::decode(payload, src, dst, mode).map(|advert| advert.to_advertisement())
    }
}

impl<'a> AdvertRef<'a> {
    /// [`Advertisement::decode`], the addresses left in `payload`.
    pub(crate) fn decode(
        payload: &'a [u8],
        src: IpAddr,
        dst: IpAddr,
        mode: ChecksumMode,
    ) -> Result<AdvertRef<'a>, DecodeError> {
        let Some(header) = payload.first_chunk::<HEADER_LEN>() else {
            return Err(DecodeError::TooShort { len: payload.len() });
        };
        let vrid_raw = header[1];
        let version = match header[0] >> 4 {
            2 => Version::V2,
            3 => Version::V3,
            version => {
                return Err(DecodeError::UnknownVersion {
                    version,
                    vrid: vrid_raw,
                });
            }
        };
        let kind = header[0] & 0x0f;
        if kind != TYPE_ADVERTISEMENT {
            return Err(DecodeError::UnknownType {
                version,
                vrid: vrid_raw,
                kind,
            });
        }
        let vrid = Vrid::new(vrid_raw).ok_or(DecodeError::ZeroVrid { version })?;
        let ipv6 = src.is_ipv6();
        if version == Version::V2 && ipv6 {
            return Err(DecodeError::V2OverIpv6 {
                version,
                vrid: vrid_raw,
            });
        }

        let count = header[3];
        let address_len = if ipv6 { 16 } else { 4 };
        let auth_len = if version == Version::V2 {
            V2_AUTH_DATA_LEN
        } else {
            0
        };
        let expected = HEADER_LEN + usize::from(count) * address_len + auth_len;
        if payload.len() != expected {
            return Err(DecodeError::LengthMismatch {
                version,
                vrid: vrid_raw,
                count,
                expected,
                actual: payload.len(),
            });
        }

        verify_checksum(payload, version, vrid_raw, src, dst, mode)?;

        let addresses_end = HEADER_LEN + usize::from(count) * address_len;
        let addresses = Addresses::Wire {
            bytes: &payload[HEADER_LEN..addresses_end],
            ipv6,
        };

        let zero_interval = DecodeError::ZeroInterval {
            version,
            vrid: vrid_raw,
        };
        let fields = match version {
            Version::V2 => VersionFields::V2 {
                interval: Seconds::new(header[5]).ok_or(zero_interval)?,
                auth: read_v2_auth(header[4], &payload[addresses_end..], vrid_raw)?,
            },
            Version::V3 => {
                // RFC 5798 §5.2.6: the 4 reserved bits are ignored on reception.
                let raw = u16::from_be_bytes([header[4], header[5]]) & Centiseconds::MAX;
                VersionFields::V3 {
                    max_interval: Centiseconds::new(raw).ok_or(zero_interval)?,
                }
            }
        };

        Ok(AdvertRef {
            vrid,
            priority: Priority::new(header[2]),
            addresses,
            fields,
        })
    }
}

fn verify_checksum(
    payload: &[u8],
    version: Version,
    vrid: u8,
    src: IpAddr,
    dst: IpAddr,
    mode: ChecksumMode,
) -> Result<(), DecodeError> {
    // v3_checksum_as_v2 accepts the standard sum too; the group's pseudo-header alone.
    let expected = match mode {
        ChecksumMode::V3AsV2 => ChecksumMode::Standard,
        mode => mode,
    };
    let with_pseudo_header = match version {
        Version::V2 => None,
        Version::V3 => expected.v3_pseudo_header(src, dst),
    };
    // Summing a message including a correct checksum gives zero.
    if checksum::compute(payload, with_pseudo_header) == 0 {
        return Ok(());
    }
    let lenient_v4 = version == Version::V3 && src.is_ipv4() && mode == ChecksumMode::V3AsV2;
    if lenient_v4 && checksum::compute(payload, None) == 0 {
        return Ok(());
    }
    let received = u16::from_be_bytes([payload[CHECKSUM.start], payload[CHECKSUM.start + 1]]);
    Err(DecodeError::BadChecksum {
        version,
        vrid,
        received,
        computed: checksum::compute_zeroed(payload, CHECKSUM, with_pseudo_header),
    })
}

fn read_v2_auth(auth_type: u8, auth_data: &[u8], vrid: u8) -> Result<Auth, DecodeError> {
    match auth_type {
        // RFC 3768 §5.3.10: with no authentication the data is ignored on reception.
        AUTH_NONE => Ok(Auth::None),
        AUTH_SIMPLE_TEXT => {
            let bytes: [u8; 8] = auth_data.try_into().unwrap_or([0; 8]);
            Ok(Auth::SimpleText(Password::from_bytes(bytes)))
        }
        auth_type => Err(DecodeError::UnsupportedAuthType {
            version: Version::V2,
            vrid,
            auth_type,
        }),
    }
}
