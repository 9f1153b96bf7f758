//! The BFD control packet (RFC 5880 4.1, without the optional authentication section) and
//! the reception checks of RFC 5880 6.8.6 that need no session.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Vers |  Diag   |Sta|P|F|C|A|D|M|  Detect Mult  |    Length     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       My Discriminator                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                      Your Discriminator                       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Desired Min TX Interval                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                   Required Min RX Interval                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                 Required Min Echo RX Interval                 |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Intervals are microseconds on the wire and [`Duration`]s here.

use std::fmt;
use std::time::Duration;

/// Length of a control packet without authentication: the only kind baton speaks.
pub const CONTROL_PACKET_LEN: usize = 24;

const VERSION: u8 = 1;
const FLAG_POLL: u8 = 0x20;
const FLAG_FINAL: u8 = 0x10;
const FLAG_CONTROL_PLANE_INDEPENDENT: u8 = 0x08;
const FLAG_AUTH: u8 = 0x04;
const FLAG_DEMAND: u8 = 0x02;
const FLAG_MULTIPOINT: u8 = 0x01;

/// A session state (RFC 5880 4.1 "State (Sta)").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    AdminDown,
    Down,
    Init,
    Up,
}

impl State {
    fn from_bits(bits: u8) -> State {
        match bits & 0x3 {
            0 => State::AdminDown,
            1 => State::Down,
            2 => State::Init,
            _ => State::Up,
        }
    }

    fn bits(self) -> u8 {
        match self {
            State::AdminDown => 0,
            State::Down => 1,
            State::Init => 2,
            State::Up => 3,
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // keepalived's spelling, which its logs and operators use.
        f.write_str(match self {
            State::AdminDown => "AdminDown",
            State::Down => "Down",
            State::Init => "Init",
            State::Up => "Up",
        })
    }
}

/// Why the sender's session last went down (RFC 5880 4.1 "Diagnostic (Diag)").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Diagnostic {
    None,
    ControlDetectionTimeExpired,
    EchoFunctionFailed,
    NeighborSignaledSessionDown,
    ForwardingPlaneReset,
    PathDown,
    ConcatenatedPathDown,
    AdministrativelyDown,
    ReverseConcatenatedPathDown,
}

impl Diagnostic {
    /// Values 9-31 are reserved; keepalived discards packets carrying them, so does baton.
    fn from_bits(bits: u8) -> Option<Diagnostic> {
        Some(match bits {
            0 => Diagnostic::None,
            1 => Diagnostic::ControlDetectionTimeExpired,
            2 => Diagnostic::EchoFunctionFailed,
            3 => Diagnostic::NeighborSignaledSessionDown,
            4 => Diagnostic::ForwardingPlaneReset,
            5 => Diagnostic::PathDown,
            6 => Diagnostic::ConcatenatedPathDown,
            7 => Diagnostic::AdministrativelyDown,
            8 => Diagnostic::ReverseConcatenatedPathDown,
            _ => return None,
        })
    }

    fn bits(self) -> u8 {
        match self {
            Diagnostic::None => 0,
            Diagnostic::ControlDetectionTimeExpired => 1,
            Diagnostic::EchoFunctionFailed => 2,
            Diagnostic::NeighborSignaledSessionDown => 3,
            Diagnostic::ForwardingPlaneReset => 4,
            Diagnostic::PathDown => 5,
            Diagnostic::ConcatenatedPathDown => 6,
            Diagnostic::AdministrativelyDown => 7,
            Diagnostic::ReverseConcatenatedPathDown => 8,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Diagnostic::None => "no diagnostic",
            Diagnostic::ControlDetectionTimeExpired => "control detection time expired",
            Diagnostic::EchoFunctionFailed => "echo function failed",
            Diagnostic::NeighborSignaledSessionDown => "neighbor signaled session down",
            Diagnostic::ForwardingPlaneReset => "forwarding plane reset",
            Diagnostic::PathDown => "path down",
            Diagnostic::ConcatenatedPathDown => "concatenated path down",
            Diagnostic::AdministrativelyDown => "administratively down",
            Diagnostic::ReverseConcatenatedPathDown => "reverse concatenated path down",
        })
    }
}

/// A decoded control packet. Only valid packets exist: [`ControlPacket::decode`] refuses
/// the others, and a packet built here encodes to one that decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlPacket {
    pub diagnostic: Diagnostic,
    pub state: State,
    pub poll: bool,
    pub final_: bool,
    /// The C bit: never set by baton, which runs in the control plane.
    pub control_plane_independent: bool,
    pub demand: bool,
    pub detect_mult: u8,
    pub my_discriminator: u32,
    pub your_discriminator: u32,
    pub desired_min_tx: Duration,
    pub required_min_rx: Duration,
    pub required_min_echo_rx: Duration,
}

/// A received packet that RFC 5880 6.8.6 (or keepalived, where it is stricter) says to
/// discard before looking for its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    #[error("packet of {len} bytes is shorter than the 24-byte BFD control packet")]
    TooShort { len: usize },
    #[error("unsupported BFD version {version}")]
    UnknownVersion { version: u8 },
    #[error("authentication bit set, but no authentication is configured")]
    Authenticated,
    #[error(
        "length field {field} does not match the {actual}-byte packet (24 without authentication)"
    )]
    LengthMismatch { field: u8, actual: usize },
    #[error("detect multiplier is zero")]
    ZeroDetectMult,
    #[error("multipoint bit set")]
    Multipoint,
    #[error("my discriminator is zero")]
    ZeroMyDiscriminator,
    #[error("your discriminator is zero in state {state}")]
    ZeroYourDiscriminator { state: State },
    #[error("poll and final bits both set")]
    PollAndFinal,
    #[error("reserved diagnostic {diagnostic}")]
    UnknownDiagnostic { diagnostic: u8 },
}

impl DecodeError {
    /// A short name per kind, for counters.
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::TooShort { .. } => "too_short",
            DecodeError::UnknownVersion { .. } => "version",
            DecodeError::Authenticated => "authenticated",
            DecodeError::LengthMismatch { .. } => "length",
            DecodeError::ZeroDetectMult => "zero_detect_mult",
            DecodeError::Multipoint => "multipoint",
            DecodeError::ZeroMyDiscriminator => "zero_my_discriminator",
            DecodeError::ZeroYourDiscriminator { .. } => "zero_your_discriminator",
            DecodeError::PollAndFinal => "poll_and_final",
            DecodeError::UnknownDiagnostic { .. } => "diagnostic",
        }
    }
}

fn be32(bytes: &[u8; CONTROL_PACKET_LEN], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn micros(value: u32) -> Duration {
    Duration::from_micros(u64::from(value))
}

/// Microseconds on the wire, saturating: BFD intervals top out at about 71 minutes.
fn wire_micros(value: Duration) -> u32 {
    u32::try_from(value.as_micros()).unwrap_or(u32::MAX)
}

impl ControlPacket {
    /// Decodes a UDP payload, applying RFC 5880 6.8.6's checks in its order.
    pub fn decode(payload: &[u8]) -> Result<ControlPacket, DecodeError> {
        let Some(head) = payload.first_chunk::<CONTROL_PACKET_LEN>() else {
            return Err(DecodeError::TooShort { len: payload.len() });
        };
        let version = head[0] >> 5;
        if version != VERSION {
            return Err(DecodeError::UnknownVersion { version });
        }
        let flags = head[1];
        if flags & FLAG_AUTH != 0 {
            return Err(DecodeError::Authenticated);
        }
        // RFC 5880 6.8.6 discards a length beyond the payload; keepalived also one short of
        // it, and without authentication the length is exactly 24.
        let field = head[3];
        if usize::from(field) != CONTROL_PACKET_LEN || payload.len() != CONTROL_PACKET_LEN {
            return Err(DecodeError::LengthMismatch {
                field,
                actual: payload.len(),
            });
        }
        let detect_mult = head[2];
        if detect_mult == 0 {
            return Err(DecodeError::ZeroDetectMult);
        }
        if flags & FLAG_MULTIPOINT != 0 {
            return Err(DecodeError::Multipoint);
        }
        let my_discriminator = be32(head, 4);
        if my_discriminator == 0 {
            return Err(DecodeError::ZeroMyDiscriminator);
        }
        let state = State::from_bits(flags >> 6);
        let your_discriminator = be32(head, 8);
        if your_discriminator == 0 && matches!(state, State::Init | State::Up) {
            return Err(DecodeError::ZeroYourDiscriminator { state });
        }
        let poll = flags & FLAG_POLL != 0;
        let final_ = flags & FLAG_FINAL != 0;
        // RFC 5880 4.1: "A BFD Control packet MUST NOT have both" (keepalived discards it).
        if poll && final_ {
            return Err(DecodeError::PollAndFinal);
        }
        let diagnostic =
            Diagnostic::from_bits(head[0] & 0x1f).ok_or(DecodeError::UnknownDiagnostic {
                diagnostic: head[0] & 0x1f,
            })?;
        Ok(ControlPacket {
            diagnostic,
            state,
            poll,
            final_,
            control_plane_independent: flags & FLAG_CONTROL_PLANE_INDEPENDENT != 0,
            demand: flags & FLAG_DEMAND != 0,
            detect_mult,
            my_discriminator,
            your_discriminator,
            desired_min_tx: micros(be32(head, 12)),
            required_min_rx: micros(be32(head, 16)),
            required_min_echo_rx: micros(be32(head, 20)),
        })
    }

    /// The 24 bytes on the wire.
    pub fn encode(&self) -> [u8; CONTROL_PACKET_LEN] {
        let mut out = [0u8; CONTROL_PACKET_LEN];
        out[0] = (VERSION << 5) | self.diagnostic.bits();
        let mut flags = self.state.bits() << 6;
        for (set, bit) in [
            (self.poll, FLAG_POLL),
            (self.final_, FLAG_FINAL),
            (
                self.control_plane_independent,
                FLAG_CONTROL_PLANE_INDEPENDENT,
            ),
            (self.demand, FLAG_DEMAND),
        ] {
            if set {
                flags |= bit;
            }
        }
        out[1] = flags;
        out[2] = self.detect_mult;
        out[3] = CONTROL_PACKET_LEN as u8;
        out[4..8].copy_from_slice(&self.my_discriminator.to_be_bytes());
        out[8..12].copy_from_slice(&self.your_discriminator.to_be_bytes());
        out[12..16].copy_from_slice(&wire_micros(self.desired_min_tx).to_be_bytes());
        out[16..20].copy_from_slice(&wire_micros(self.required_min_rx).to_be_bytes());
        out[20..24].copy_from_slice(&wire_micros(self.required_min_echo_rx).to_be_bytes());
        out
    }
}

#[cfg(test)]
mod tests;
