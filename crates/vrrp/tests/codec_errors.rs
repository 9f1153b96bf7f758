//! Every way the codec refuses bytes or an advertisement, each with the context it reports.
//!
//! The packets are built by hand here, with a checksum computed by this file's own RFC 1071
//! implementation, so that each test reaches exactly the check it is about.

mod common;

use common::checksum;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use baton_vrrp::{
    Advertisement, Auth, Centiseconds, ChecksumMode, DecodeError, EncodeError, Priority, Seconds,
    Version, VersionFields, Vrid,
};

const SRC4: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 3, 5));
const DST4: IpAddr = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18));
const SRC6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 5));
const DST6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12));

/// Fills in the checksum of `message` the way a standard sender would.
fn seal(mut message: Vec<u8>, src: IpAddr, dst: IpAddr) -> Vec<u8> {
    message[6..8].fill(0);
    let pseudo_header = (message[0] >> 4 == 3).then_some((src, dst));
    let sum = checksum(&message, pseudo_header);
    message[6..8].copy_from_slice(&sum.to_be_bytes());
    message
}

/// A v2 message: header, one address per entry of `addresses`, 8 bytes of auth data.
fn v2_bytes(vrid: u8, auth_type: u8, interval: u8, addresses: &[[u8; 4]]) -> Vec<u8> {
    let mut out = vec![
        0x21,
        vrid,
        100,
        addresses.len() as u8,
        auth_type,
        interval,
        0,
        0,
    ];
    addresses.iter().for_each(|a| out.extend_from_slice(a));
    out.extend_from_slice(b"secret\0\0");
    seal(out, SRC4, DST4)
}

/// A v3 IPv4 message with the raw 16-bit reserved + max interval field.
fn v3_bytes(vrid: u8, interval_field: u16, addresses: &[[u8; 4]]) -> Vec<u8> {
    let [hi, lo] = interval_field.to_be_bytes();
    let mut out = vec![0x31, vrid, 100, addresses.len() as u8, hi, lo, 0, 0];
    addresses.iter().for_each(|a| out.extend_from_slice(a));
    seal(out, SRC4, DST4)
}

fn decode4(bytes: &[u8]) -> Result<Advertisement, DecodeError> {
    Advertisement::decode(bytes, SRC4, DST4, ChecksumMode::Standard)
}

fn decode6(bytes: &[u8]) -> Result<Advertisement, DecodeError> {
    Advertisement::decode(bytes, SRC6, DST6, ChecksumMode::Standard)
}

fn v3_advert(vrid: u8, addresses: Vec<IpAddr>) -> Advertisement {
    Advertisement {
        vrid: Vrid::new(vrid).unwrap(),
        priority: Priority::DEFAULT,
        addresses,
        fields: VersionFields::V3 {
            max_interval: Centiseconds::new(100).unwrap(),
        },
    }
}

fn v2_advert(vrid: u8, addresses: Vec<IpAddr>) -> Advertisement {
    Advertisement {
        vrid: Vrid::new(vrid).unwrap(),
        priority: Priority::DEFAULT,
        addresses,
        fields: VersionFields::V2 {
            interval: Seconds::new(1).unwrap(),
            auth: Auth::None,
        },
    }
}

#[test]
fn hand_built_packets_are_valid() {
    // The baseline every other test breaks one thing of.
    let v2 = decode4(&v2_bytes(7, 0, 1, &[[10, 0, 3, 100]])).unwrap();
    assert_eq!(v2, v2_advert(7, vec![IpAddr::from([10, 0, 3, 100])]));
    let v3 = decode4(&v3_bytes(7, 100, &[[10, 0, 3, 100]])).unwrap();
    assert_eq!(v3, v3_advert(7, vec![IpAddr::from([10, 0, 3, 100])]));
}

#[test]
fn too_short() {
    let full = v3_bytes(9, 100, &[]);
    for len in 0..8 {
        let err = decode4(&full[..len]).unwrap_err();
        assert_eq!(err, DecodeError::TooShort { len });
        assert_eq!((err.version(), err.vrid()), (None, None));
    }
    // The bare 8-byte header is a complete v3 advert with no addresses.
    assert!(decode4(&full).is_ok());
}

#[test]
fn unknown_version() {
    for version in [0u8, 1, 4, 15] {
        let mut bytes = v3_bytes(9, 100, &[[10, 0, 3, 100]]);
        bytes[0] = version << 4 | 1;
        let err = decode4(&bytes).unwrap_err();
        assert_eq!(err, DecodeError::UnknownVersion { version, vrid: 9 });
        assert_eq!((err.version(), err.vrid()), (None, Some(9)));
    }
}

#[test]
fn unknown_type() {
    for (first, version) in [
        (0x20u8, Version::V2),
        (0x32, Version::V3),
        (0x3f, Version::V3),
    ] {
        let mut bytes = v3_bytes(9, 100, &[]);
        bytes[0] = first;
        let err = decode4(&bytes).unwrap_err();
        let kind = first & 0x0f;
        assert_eq!(
            err,
            DecodeError::UnknownType {
                version,
                vrid: 9,
                kind
            }
        );
        assert_eq!((err.version(), err.vrid()), (Some(version), Some(9)));
    }
}

#[test]
fn zero_vrid() {
    let err = decode4(&v3_bytes(0, 100, &[])).unwrap_err();
    assert_eq!(
        err,
        DecodeError::ZeroVrid {
            version: Version::V3
        }
    );
    assert_eq!((err.version(), err.vrid()), (Some(Version::V3), None));
    let err = decode4(&v2_bytes(0, 0, 1, &[])).unwrap_err();
    assert_eq!(
        err,
        DecodeError::ZeroVrid {
            version: Version::V2
        }
    );
}

#[test]
fn v2_over_ipv6() {
    let mut bytes = vec![0x21, 12, 100, 1, 0, 1, 0, 0];
    bytes.extend_from_slice(&[0; 16]);
    bytes.extend_from_slice(&[0; 8]);
    let err = decode6(&bytes).unwrap_err();
    let expected = DecodeError::V2OverIpv6 {
        version: Version::V2,
        vrid: 12,
    };
    assert_eq!(err, expected);
    assert_eq!((err.version(), err.vrid()), (Some(Version::V2), Some(12)));
}

#[test]
fn length_mismatch() {
    // v3 over IPv4: 8 + 4 per address.
    let mut bytes = v3_bytes(13, 100, &[[10, 0, 3, 100], [10, 0, 3, 101]]);
    bytes.push(0);
    let err = decode4(&bytes).unwrap_err();
    let expected = DecodeError::LengthMismatch {
        version: Version::V3,
        vrid: 13,
        count: 2,
        expected: 16,
        actual: 17,
    };
    assert_eq!(err, expected);
    assert_eq!((err.version(), err.vrid()), (Some(Version::V3), Some(13)));

    // v2: 8 + 4 per address + 8 bytes of auth data; a missing auth trailer is caught.
    let bytes = v2_bytes(14, 0, 1, &[[10, 0, 3, 100]]);
    let err = decode4(&bytes[..12]).unwrap_err();
    let expected = DecodeError::LengthMismatch {
        version: Version::V2,
        vrid: 14,
        count: 1,
        expected: 20,
        actual: 12,
    };
    assert_eq!(err, expected);

    // v3 over IPv6: the same count means 16 bytes per address.
    let bytes = v3_bytes(15, 100, &[[10, 0, 3, 100], [10, 0, 3, 101]]);
    let err = decode6(&bytes).unwrap_err();
    let expected = DecodeError::LengthMismatch {
        version: Version::V3,
        vrid: 15,
        count: 2,
        expected: 40,
        actual: 16,
    };
    assert_eq!(err, expected);

    // A count of 255 is bounded by the length check, not trusted.
    let mut bytes = v3_bytes(16, 100, &[]);
    bytes[3] = 255;
    let err = decode4(&bytes).unwrap_err();
    let expected = DecodeError::LengthMismatch {
        version: Version::V3,
        vrid: 16,
        count: 255,
        expected: 8 + 255 * 4,
        actual: 8,
    };
    assert_eq!(err, expected);
}

#[test]
fn bad_checksum() {
    let good = v3_bytes(17, 100, &[[10, 0, 3, 100]]);
    let right = u16::from_be_bytes([good[6], good[7]]);
    let mut bytes = good.clone();
    bytes[6..8].copy_from_slice(&(right ^ 0x0100).to_be_bytes());
    let err = decode4(&bytes).unwrap_err();
    let expected = DecodeError::BadChecksum {
        version: Version::V3,
        vrid: 17,
        received: right ^ 0x0100,
        computed: right,
    };
    assert_eq!(err, expected);
    assert_eq!((err.version(), err.vrid()), (Some(Version::V3), Some(17)));

    // A corrupted body: the received checksum is intact, the computed one is what the
    // corrupted bytes would need.
    let mut bytes = good;
    bytes[2] = 250; // priority
    let err = decode4(&bytes).unwrap_err();
    let expected = DecodeError::BadChecksum {
        version: Version::V3,
        vrid: 17,
        received: right,
        computed: u16::from_be_bytes(seal(bytes.clone(), SRC4, DST4)[6..8].try_into().unwrap()),
    };
    assert_eq!(err, expected);

    // v2 sums the message alone.
    let mut bytes = v2_bytes(18, 1, 1, &[[10, 0, 3, 100]]);
    bytes[19] ^= 1; // last byte of the password
    let err = decode4(&bytes).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::BadChecksum {
                version: Version::V2,
                vrid: 18,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn length_is_checked_before_checksum() {
    // RFC 5798 §7.1 order: a truncated packet is reported as such, not as a checksum error.
    let mut bytes = v3_bytes(19, 100, &[[10, 0, 3, 100]]);
    bytes[6] ^= 0xff;
    bytes.pop();
    assert!(matches!(
        decode4(&bytes),
        Err(DecodeError::LengthMismatch { vrid: 19, .. })
    ));
}

#[test]
fn zero_interval() {
    let err = decode4(&v2_bytes(20, 0, 0, &[[10, 0, 3, 100]])).unwrap_err();
    let expected = DecodeError::ZeroInterval {
        version: Version::V2,
        vrid: 20,
    };
    assert_eq!(err, expected);
    assert_eq!((err.version(), err.vrid()), (Some(Version::V2), Some(20)));

    let err = decode4(&v3_bytes(21, 0, &[])).unwrap_err();
    let expected = DecodeError::ZeroInterval {
        version: Version::V3,
        vrid: 21,
    };
    assert_eq!(err, expected);

    // RFC 5798 §5.2.6: reserved bits are ignored, so 0xf000 is a zero interval too.
    let err = decode4(&v3_bytes(21, 0xf000, &[])).unwrap_err();
    assert_eq!(err, expected);
}

#[test]
fn reserved_bits_are_ignored_on_reception() {
    let advert = decode4(&v3_bytes(22, 0xa064, &[[10, 0, 3, 100]])).unwrap();
    assert_eq!(
        advert.fields,
        VersionFields::V3 {
            max_interval: Centiseconds::new(100).unwrap()
        }
    );
}

#[test]
fn unsupported_auth_type() {
    // 2 was IP Authentication Header, removed by RFC 3768; anything above is undefined.
    for auth_type in [2u8, 3, 255] {
        let err = decode4(&v2_bytes(23, auth_type, 1, &[[10, 0, 3, 100]])).unwrap_err();
        let expected = DecodeError::UnsupportedAuthType {
            version: Version::V2,
            vrid: 23,
            auth_type,
        };
        assert_eq!(err, expected);
        assert_eq!((err.version(), err.vrid()), (Some(Version::V2), Some(23)));
    }
}

#[test]
fn decode_error_messages_name_the_vrid() {
    let with_vrid = [
        DecodeError::UnknownVersion {
            version: 4,
            vrid: 42,
        },
        DecodeError::UnknownType {
            version: Version::V3,
            vrid: 42,
            kind: 2,
        },
        DecodeError::V2OverIpv6 {
            version: Version::V2,
            vrid: 42,
        },
        DecodeError::LengthMismatch {
            version: Version::V3,
            vrid: 42,
            count: 2,
            expected: 16,
            actual: 17,
        },
        DecodeError::BadChecksum {
            version: Version::V3,
            vrid: 42,
            received: 0x1234,
            computed: 0xabcd,
        },
        DecodeError::ZeroInterval {
            version: Version::V2,
            vrid: 42,
        },
        DecodeError::UnsupportedAuthType {
            version: Version::V2,
            vrid: 42,
            auth_type: 2,
        },
    ];
    for err in &with_vrid {
        let message = err.to_string();
        assert_eq!(err.vrid(), Some(42));
        assert!(message.contains("vrid 42"), "{message}");
        if let Some(version) = err.version() {
            assert!(message.contains(&version.to_string()), "{message}");
        }
    }
    // Details an operator needs to act on the message.
    assert!(with_vrid[4].to_string().contains("0x1234"));
    assert!(with_vrid[4].to_string().contains("0xabcd"));
    assert!(with_vrid[3].to_string().contains("17 bytes"));

    // The two without a usable vrid say why instead.
    let zero = DecodeError::ZeroVrid {
        version: Version::V3,
    };
    assert!(zero.to_string().contains("virtual router id 0"), "{zero}");
    let short = DecodeError::TooShort { len: 3 };
    assert!(short.to_string().contains("3 bytes"), "{short}");
}

#[test]
fn encode_v2_over_ipv6() {
    let advert = v2_advert(30, vec![SRC6]);
    assert_eq!(
        advert.emit(SRC6, DST6, ChecksumMode::Standard),
        Err(EncodeError::V2OverIpv6 { vrid: 30 })
    );
}

#[test]
fn encode_address_family_mismatch() {
    let stray: IpAddr = "2001:db8::1".parse().unwrap();
    let advert = v3_advert(31, vec![IpAddr::from([10, 0, 3, 100]), stray]);
    let err = advert.emit(SRC4, DST4, ChecksumMode::Standard).unwrap_err();
    assert_eq!(
        err,
        EncodeError::AddressFamilyMismatch {
            vrid: 31,
            address: stray
        }
    );
    assert!(err.to_string().contains("2001:db8::1"), "{err}");

    let stray = IpAddr::from([10, 0, 3, 100]);
    let advert = v3_advert(31, vec![stray]);
    assert_eq!(
        advert.emit(SRC6, DST6, ChecksumMode::Standard),
        Err(EncodeError::AddressFamilyMismatch {
            vrid: 31,
            address: stray
        })
    );
    // v2 checks its addresses too.
    let advert = v2_advert(31, vec![SRC6]);
    assert_eq!(
        advert.emit(SRC4, DST4, ChecksumMode::Standard),
        Err(EncodeError::AddressFamilyMismatch {
            vrid: 31,
            address: SRC6
        })
    );
}

#[test]
fn encode_too_many_addresses() {
    let addresses = |n: u16| -> Vec<IpAddr> {
        (0..n)
            .map(|i| IpAddr::from([10, 1, (i >> 8) as u8, i as u8]))
            .collect()
    };
    // 255 is the most the 8-bit count can say.
    let bytes = v3_advert(32, addresses(255))
        .emit(SRC4, DST4, ChecksumMode::Standard)
        .unwrap();
    assert_eq!(bytes.len(), 8 + 255 * 4);
    assert_eq!(bytes[3], 255);
    assert_eq!(
        v3_advert(32, addresses(256)).emit(SRC4, DST4, ChecksumMode::Standard),
        Err(EncodeError::TooManyAddresses {
            vrid: 32,
            count: 256
        })
    );
}

#[test]
fn encode_mixed_header_families() {
    let advert = v3_advert(33, vec![IpAddr::from([10, 0, 3, 100])]);
    for (src, dst) in [(SRC4, DST6), (SRC6, DST4)] {
        for mode in [ChecksumMode::Standard, ChecksumMode::V3AsV2] {
            assert_eq!(
                advert.emit(src, dst, mode),
                Err(EncodeError::MixedHeaderFamilies { vrid: 33 })
            );
        }
    }
    // Checked first: a mixed header says nothing about which family the addresses should be.
    assert_eq!(
        v2_advert(33, vec![]).emit(SRC6, DST4, ChecksumMode::Standard),
        Err(EncodeError::MixedHeaderFamilies { vrid: 33 })
    );
}

#[test]
fn encode_error_messages_name_the_vrid() {
    let errors = [
        EncodeError::V2OverIpv6 { vrid: 42 },
        EncodeError::MixedHeaderFamilies { vrid: 42 },
        EncodeError::AddressFamilyMismatch {
            vrid: 42,
            address: SRC6,
        },
        EncodeError::TooManyAddresses {
            vrid: 42,
            count: 300,
        },
    ];
    for err in errors {
        let message = err.to_string();
        assert!(message.contains("vrid 42"), "{message}");
    }
}
