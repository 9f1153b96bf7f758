//! What an instance asks its driver to do. The driver pulls these with the `poll_*` methods.

use std::fmt;
use std::net::IpAddr;

use crate::units::Priority;

/// RFC 5798 §6.4 states, plus FAULT (keepalived: a tracked object is down).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Initialize,
    Backup,
    Master,
    Fault,
}

impl State {
    /// The names keepalived and `baton status` use.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Initialize => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An advertisement ready to send: the IP payload and how to address it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// 255 (RFC 5798 §5.1.1.3), or `unicast_ttl` for unicast peers; here so drivers do not
    /// hard-code it.
    pub ttl: u8,
    pub payload: Vec<u8>,
}

/// Changes to the virtual addresses on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VipAction {
    /// Become the forwarder: add the addresses. `accept` is false when RFC 5798 §6.4.3 says
    /// packets addressed to them must not be accepted (Accept_Mode off and not the owner).
    Add {
        addresses: Vec<IpAddr>,
        accept: bool,
    },
    /// Stop being the forwarder.
    Remove { addresses: Vec<IpAddr> },
    /// Send `repeat` gratuitous ARPs (IPv4) or unsolicited neighbour advertisements (IPv6)
    /// for each address, so switches and hosts learn where the addresses now live.
    Announce { addresses: Vec<IpAddr>, repeat: u32 },
}

/// Why a state changed; logged and shown to operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// RFC 5798 §6.4.1 Startup event.
    Startup,
    /// Startup of the address owner, which goes straight to Master.
    AddressOwner,
    /// No advertisement from a master for Master_Down_Interval.
    MasterDown,
    /// The master said it is stopping (priority 0) and Skew_Time passed.
    MasterStopped,
    /// preempt_delay elapsed while a lower-priority router was master.
    PreemptDelayElapsed,
    /// An advertisement from a router that wins the election (higher priority, or equal
    /// priority and higher primary address).
    PreferredMaster { from: IpAddr, priority: Priority },
    /// Shutdown event.
    Shutdown,
    /// A tracked object with weight 0 went down, in this instance or its sync group.
    Fault,
    /// All tracked objects the fault depended on are up again.
    FaultCleared,
    /// Another instance of the same sync group changed state.
    SyncGroup,
    /// The operator stepped the instance down, or resumed it.
    Maintenance,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Startup => f.write_str("startup"),
            Reason::AddressOwner => f.write_str("address owner (priority 255)"),
            Reason::MasterDown => f.write_str("no advertisement for Master_Down_Interval"),
            Reason::MasterStopped => f.write_str("master sent priority 0"),
            Reason::PreemptDelayElapsed => f.write_str("preempt delay elapsed"),
            Reason::PreferredMaster { from, priority } => {
                write!(f, "advertisement from {from} with priority {priority} wins")
            }
            Reason::Shutdown => f.write_str("shutdown"),
            Reason::Fault => f.write_str("tracked object down"),
            Reason::FaultCleared => f.write_str("tracked objects up"),
            Reason::SyncGroup => f.write_str("sync group"),
            Reason::Maintenance => f.write_str("operator maintenance"),
        }
    }
}

/// Something the operator should hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    StateChanged {
        from: State,
        to: State,
        reason: Reason,
    },
    /// Effective priority moved because a tracked object changed.
    PriorityChanged { from: Priority, to: Priority },
    /// A Master heard a router of lower priority that believes it is Master (keepalived's
    /// `notify_master_rx_lower_pri`). At most one per Advertisement_Interval, so a flood of
    /// such adverts is not a flood of events.
    LowerPriorityAdvert { from: IpAddr, priority: Priority },
    /// A unicast peer sums its VRRPv3 adverts as keepalived before 1.3.6 did (see
    /// [`InstanceConfig::detect_old_unicast_checksum`](crate::InstanceConfig)): the
    /// instance now sends and accepts that form only.
    OldUnicastChecksum { from: IpAddr },
}
