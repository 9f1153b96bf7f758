use super::*;

/// keepalived 2.2.7's first packet with its defaults (Down, multiplier 5, idle_tx 1 s,
/// min_rx 10 ms, no remote discriminator yet), laid out as bfd_build_packet() does.
const KEEPALIVED_DOWN: [u8; 24] = [
    0x20, 0x40, 5, 24, 0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0, 0x00, 0x0f, 0x42, 0x40, 0x00, 0x00,
    0x27, 0x10, 0, 0, 0, 0,
];

fn up_packet() -> ControlPacket {
    ControlPacket {
        diagnostic: Diagnostic::None,
        state: State::Up,
        poll: true,
        final_: false,
        control_plane_independent: false,
        demand: false,
        detect_mult: 3,
        my_discriminator: 7,
        your_discriminator: 9,
        desired_min_tx: Duration::from_millis(100),
        required_min_rx: Duration::from_millis(50),
        required_min_echo_rx: Duration::ZERO,
    }
}

#[test]
fn keepalived_first_packet_decodes() {
    let packet = ControlPacket::decode(&KEEPALIVED_DOWN).expect("valid");
    assert_eq!(packet.state, State::Down);
    assert_eq!(packet.diagnostic, Diagnostic::None);
    assert_eq!(packet.detect_mult, 5);
    assert_eq!(packet.my_discriminator, 0x1234_5678);
    assert_eq!(packet.your_discriminator, 0);
    assert_eq!(packet.desired_min_tx, Duration::from_secs(1));
    assert_eq!(packet.required_min_rx, Duration::from_millis(10));
    assert!(!packet.poll && !packet.final_);
    assert_eq!(packet.encode(), KEEPALIVED_DOWN);
}

#[test]
fn encode_then_decode_is_identity() {
    let packet = up_packet();
    let bytes = packet.encode();
    assert_eq!(bytes[0], 0x20);
    assert_eq!(bytes[1], 0xc0 | 0x20);
    assert_eq!(ControlPacket::decode(&bytes), Ok(packet));
}

fn mutated(change: impl FnOnce(&mut [u8; 24])) -> Result<ControlPacket, DecodeError> {
    let mut bytes = up_packet().encode();
    change(&mut bytes);
    ControlPacket::decode(&bytes)
}

#[test]
fn every_rfc_5880_6_8_6_check_discards() {
    assert_eq!(
        ControlPacket::decode(&KEEPALIVED_DOWN[..23]),
        Err(DecodeError::TooShort { len: 23 })
    );
    assert_eq!(
        mutated(|b| b[0] = 0x40),
        Err(DecodeError::UnknownVersion { version: 2 })
    );
    assert_eq!(mutated(|b| b[1] |= 0x04), Err(DecodeError::Authenticated));
    assert_eq!(
        mutated(|b| b[3] = 26),
        Err(DecodeError::LengthMismatch {
            field: 26,
            actual: 24
        })
    );
    let mut long = up_packet().encode().to_vec();
    long.push(0);
    assert_eq!(
        ControlPacket::decode(&long),
        Err(DecodeError::LengthMismatch {
            field: 24,
            actual: 25
        })
    );
    assert_eq!(mutated(|b| b[2] = 0), Err(DecodeError::ZeroDetectMult));
    assert_eq!(mutated(|b| b[1] |= 0x01), Err(DecodeError::Multipoint));
    assert_eq!(
        mutated(|b| b[4..8].fill(0)),
        Err(DecodeError::ZeroMyDiscriminator)
    );
    assert_eq!(
        mutated(|b| b[8..12].fill(0)),
        Err(DecodeError::ZeroYourDiscriminator { state: State::Up })
    );
    assert_eq!(mutated(|b| b[1] |= 0x10), Err(DecodeError::PollAndFinal));
    assert_eq!(
        mutated(|b| b[0] = 0x20 | 9),
        Err(DecodeError::UnknownDiagnostic { diagnostic: 9 })
    );
    // Down and AdminDown may come before the peer knows our discriminator.
    assert!(
        mutated(|b| {
            b[1] = 0x40;
            b[8..12].fill(0);
        })
        .is_ok()
    );
}

proptest::proptest! {
    #[test]
    fn any_bytes_decode_or_fail_without_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
        if let Ok(packet) = ControlPacket::decode(&bytes) {
            proptest::prop_assert_eq!(&packet.encode()[..], &bytes[..]);
        }
    }
}
