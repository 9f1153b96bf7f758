#!/usr/bin/env bash
# Capture real VRRP advertisements sent by keepalived and store them as hex
# test vectors under crates/vrrp/tests/vectors/.
#
# Everything happens inside two throw-away network namespaces joined by a veth
# pair (both ends created inside the namespaces; nothing is added to the root
# namespace). keepalived runs in namespace "a", tcpdump listens on the peer in
# namespace "b". All processes and namespaces are removed on exit.
#
# Requirements: root, keepalived (Debian 12 package 2.2.7 was used for the
# committed vectors), tcpdump, iproute2, python3.
#   apt-get install -y keepalived tcpdump iproute2
#
# Usage: sudo scripts/capture-keepalived-vectors.sh
#        (BCAP_VERBOSE=1 also prints each keepalived log to stderr)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT_DIR="$REPO_ROOT/crates/vrrp/tests/vectors"
EXPECTED_KA_VERSION="2.2.7"

NS_A="bcap-$$-a"   # keepalived side
NS_B="bcap-$$-b"   # capture side
IF_A="bcap0"
IF_B="bcap1"
MAC_A="02:00:00:00:03:05"
MAC_B="02:00:00:00:03:06"

if [[ $EUID -ne 0 ]]; then
    echo "error: must be run as root (network namespaces, keepalived)" >&2
    exit 1
fi
for tool in keepalived tcpdump ip python3 timeout; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "error: '$tool' not found (apt-get install -y keepalived tcpdump iproute2)" >&2
        exit 1
    fi
done

KEEPALIVED="$(command -v keepalived)"
TCPDUMP="$(command -v tcpdump)"

WORK="$(mktemp -d /tmp/bcap.XXXXXX)"
KA_PID=""
TD_PID=""

cleanup() {
    local rc=$?
    set +e
    if [[ -n "$TD_PID" ]] && kill -0 "$TD_PID" 2>/dev/null; then
        kill "$TD_PID" 2>/dev/null
        wait "$TD_PID" 2>/dev/null
    fi
    if [[ -n "$KA_PID" ]] && kill -0 "$KA_PID" 2>/dev/null; then
        kill "$KA_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$KA_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$KA_PID" 2>/dev/null
        wait "$KA_PID" 2>/dev/null
    fi
    for ns in "$NS_A" "$NS_B"; do
        if ip netns list | awk '{print $1}' | grep -qx "$ns"; then
            # Kill anything (of ours) still living in the namespace, then delete it.
            for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
            ip netns del "$ns"
        fi
    done
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
# Provenance information
# ---------------------------------------------------------------------------
KA_VERSION_LINE="$("$KEEPALIVED" --version 2>&1 | sed -n 1p)"
KA_PKG_VERSION="$(dpkg-query -W -f='${Version}' keepalived 2>/dev/null || echo unknown)"
OS_NAME="$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-unknown}" || echo unknown)"
TCPDUMP_VERSION="$("$TCPDUMP" --version 2>&1 | sed -n 1p)"
KERNEL="$(uname -r)"
if [[ "$KA_VERSION_LINE" != *"v$EXPECTED_KA_VERSION "* ]]; then
    echo "warning: keepalived is '$KA_VERSION_LINE', vectors were designed for $EXPECTED_KA_VERSION" >&2
fi

# ---------------------------------------------------------------------------
# Namespaces and veth
# ---------------------------------------------------------------------------
ip netns add "$NS_A"
ip netns add "$NS_B"
ip -n "$NS_A" link set lo up
ip -n "$NS_B" link set lo up
# Create the veth pair inside NS_A with its peer placed directly into NS_B.
ip -n "$NS_A" link add "$IF_A" address "$MAC_A" type veth peer name "$IF_B" address "$MAC_B" netns "$NS_B"

# Deterministic IPv6: no EUI-64/random link-local, no DAD delay.
for pair in "$NS_A:$IF_A" "$NS_B:$IF_B"; do
    ns="${pair%%:*}"; ifc="${pair#*:}"
    ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$ifc.addr_gen_mode=1"
    ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$ifc.accept_dad=0"
    ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$ifc.dad_transmits=0"
done

ip -n "$NS_A" addr add 10.0.3.5/24 dev "$IF_A"
ip -n "$NS_A" -6 addr add fe80::5/64 dev "$IF_A" nodad
ip -n "$NS_B" addr add 10.0.3.6/24 dev "$IF_B"
ip -n "$NS_B" -6 addr add fe80::6/64 dev "$IF_B" nodad
ip -n "$NS_A" link set "$IF_A" up
ip -n "$NS_B" link set "$IF_B" up

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

# Extract the first packet of a pcap as the bare IP packet (link-layer header
# stripped, any link-layer padding trimmed using the IP length fields) and
# print it as lowercase hex, 32 hex chars (16 bytes) per line.
pcap_to_hex() {
    python3 - "$1" <<'PY'
import struct, sys

data = open(sys.argv[1], "rb").read()
magic = data[:4]
if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
    end = "<"
elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
    end = ">"
else:
    sys.exit("not a classic pcap file (magic %s)" % magic.hex())
linktype = struct.unpack(end + "I", data[20:24])[0] & 0x0FFFFFFF
off = 24
if len(data) < off + 16:
    sys.exit("pcap contains no packets")
_, _, incl_len, orig_len = struct.unpack(end + "IIII", data[off:off + 16])
frame = data[off + 16:off + 16 + incl_len]
if incl_len != orig_len:
    sys.exit("packet truncated in capture (%d of %d bytes)" % (incl_len, orig_len))

if linktype == 1:        # DLT_EN10MB
    ethertype = struct.unpack(">H", frame[12:14])[0]
    hdr = 14
    while ethertype in (0x8100, 0x88A8):   # skip VLAN tags if any
        ethertype = struct.unpack(">H", frame[hdr + 2:hdr + 4])[0]
        hdr += 4
    ip = frame[hdr:]
elif linktype == 113:    # DLT_LINUX_SLL
    ip = frame[16:]
elif linktype == 276:    # DLT_LINUX_SLL2
    ip = frame[20:]
elif linktype in (101, 12):  # DLT_RAW
    ip = frame
else:
    sys.exit("unsupported link type %d" % linktype)

ver = ip[0] >> 4
if ver == 4:
    total = struct.unpack(">H", ip[2:4])[0]
elif ver == 6:
    total = 40 + struct.unpack(">H", ip[4:6])[0]
else:
    sys.exit("not an IP packet (version nibble %d)" % ver)
if total > len(ip):
    sys.exit("IP length %d exceeds captured %d bytes" % (total, len(ip)))
ip = ip[:total]
h = ip.hex()
for i in range(0, len(h), 32):
    print(h[i:i + 32])
PY
}

# capture NAME CONF_TEXT FILTER OUTFILE DESCRIPTION
capture() {
    local name="$1" conf_text="$2" filter="$3" out="$4" desc="$5"
    local dir="$WORK/$name"
    mkdir -p "$dir"
    local conf="$dir/keepalived.conf"
    local pcap="$dir/capture.pcap"
    printf '%s\n' "$conf_text" >"$conf"

    echo "== $name: checking config" >&2
    ip netns exec "$NS_A" "$KEEPALIVED" -t -f "$conf" >"$dir/config-test.log" 2>&1 || {
        cat "$dir/config-test.log" >&2
        echo "error: keepalived rejected config for $name" >&2
        exit 1
    }

    # -Z root: keep root so tcpdump can write into our private (0700) temp dir.
    echo "== $name: starting tcpdump in $NS_B" >&2
    ip netns exec "$NS_B" timeout 30 "$TCPDUMP" -i "$IF_B" -c 1 -Z root -w "$pcap" "$filter" \
        >"$dir/tcpdump.out" 2>"$dir/tcpdump.err" &
    TD_PID=$!
    for _ in $(seq 100); do
        grep -q "listening on" "$dir/tcpdump.err" 2>/dev/null && break
        kill -0 "$TD_PID" 2>/dev/null || { cat "$dir/tcpdump.err" >&2; exit 1; }
        sleep 0.1
    done

    echo "== $name: starting keepalived in $NS_A" >&2
    ip netns exec "$NS_A" "$KEEPALIVED" -f "$conf" -P -n -l -G -D -R \
        -p "$dir/keepalived.pid" -r "$dir/vrrp.pid" -c "$dir/checkers.pid" -b "$dir/bfd.pid" \
        >"$dir/keepalived.log" 2>&1 &
    KA_PID=$!

    local td_rc=0
    wait "$TD_PID" || td_rc=$?
    TD_PID=""

    kill "$KA_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$KA_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$KA_PID" 2>/dev/null || true
    wait "$KA_PID" 2>/dev/null || true
    KA_PID=""

    if [[ $td_rc -ne 0 || ! -s "$pcap" ]]; then
        echo "error: no VRRP packet captured for $name (tcpdump rc=$td_rc)" >&2
        echo "--- keepalived log:" >&2; cat "$dir/keepalived.log" >&2
        echo "--- tcpdump stderr:" >&2; cat "$dir/tcpdump.err" >&2
        exit 1
    fi

    if [[ "${BCAP_VERBOSE:-0}" == 1 ]]; then
        echo "--- keepalived log ($name):" >&2; cat "$dir/keepalived.log" >&2
    fi

    local hex
    hex="$(pcap_to_hex "$pcap")"

    local tmp_out="$out.tmp.$$"
    {
        echo "# $desc"
        echo "# Captured from keepalived: $KA_VERSION_LINE"
        echo "#   Debian package version: keepalived $KA_PKG_VERSION ($OS_NAME), kernel $KERNEL"
        echo "# Capture date (UTC): $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        echo "# Generated by scripts/capture-keepalived-vectors.sh (re-run it to regenerate)."
        echo "#"
        echo "# keepalived interface $IF_A (in netns A): 10.0.3.5/24, fe80::5/64, MAC $MAC_A"
        echo "# keepalived command line (inside netns A):"
        echo "#   keepalived -f keepalived.conf -P -n -l -G -D -R -p keepalived.pid -r vrrp.pid -c checkers.pid -b bfd.pid"
        echo "# keepalived.conf used:"
        sed 's/^/# /; s/[[:space:]]*$//' "$conf"
        echo "#"
        echo "# Capture ($TCPDUMP_VERSION) on the veth peer $IF_B in netns B:"
        echo "#   tcpdump -i $IF_B -c 1 -Z root -w capture.pcap '$filter'"
        echo "# (the first matching packet is stored; verify with: tcpdump -r capture.pcap -vv -n)"
        echo "#"
        echo "# The bytes below are the whole IP packet exactly as received: the IP header"
        echo "# (IPv4 header, or IPv6 fixed header) followed by the VRRP payload."
        echo "# The Ethernet header is stripped; there is no link-layer padding or FCS."
        echo "# Fields not fixed by the config: the IPv4 identification is keepalived's per-instance"
        echo "# counter (1 for the first advert); the IPv6 flow label is picked by the kernel"
        echo "# (net.ipv6.auto_flowlabels, default on; a flow hash, so it may differ between"
        echo "# hosts/boots). Neither affects the VRRP checksum."
        echo "# Format: lowercase hex, 16 bytes (32 hex chars) per line."
        printf '%s\n' "$hex"
    } >"$tmp_out"
    mv "$tmp_out" "$out"

    echo "== $name: wrote $out" >&2
    echo "--- tcpdump -r decode ($name):"
    "$TCPDUMP" -r "$pcap" -vv -n -e 2>/dev/null
    "$TCPDUMP" -r "$pcap" -n -x 2>/dev/null
    echo
}

# ---------------------------------------------------------------------------
# Configurations
# ---------------------------------------------------------------------------

CONF_V2="global_defs {
    router_id baton-capture
    enable_script_security
    vrrp_version 2
    vrrp_garp_master_delay 0
}

vrrp_instance VI_V2 {
    state MASTER
    interface $IF_A
    virtual_router_id 51
    priority 150
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass baton12
    }
    virtual_ipaddress {
        10.0.3.100/24
        10.0.3.101/24
    }
}"

CONF_V3_V4="global_defs {
    router_id baton-capture
    enable_script_security
    vrrp_version 3
    vrrp_garp_master_delay 0
}

vrrp_instance VI_V3_4 {
    state MASTER
    interface $IF_A
    virtual_router_id 52
    priority 200
    advert_int 0.5
    virtual_ipaddress {
        10.0.3.100
        10.0.3.102
    }
}"

CONF_V3_V6="global_defs {
    router_id baton-capture
    enable_script_security
    vrrp_version 3
    vrrp_garp_master_delay 0
}

vrrp_instance VI_V3_6 {
    state MASTER
    interface $IF_A
    virtual_router_id 53
    priority 100
    advert_int 1
    virtual_ipaddress {
        fe80::53
        2001:db8::100
    }
}"

mkdir -p "$OUT_DIR"

capture v2-pass "$CONF_V2" "ip proto 112" "$OUT_DIR/keepalived-v2-pass.hex" \
    "VRRPv2 over IPv4, auth_type PASS (auth_pass baton12), vrid 51, priority 150, advert_int 1s, VIPs 10.0.3.100 10.0.3.101"
capture v3-ipv4 "$CONF_V3_V4" "ip proto 112" "$OUT_DIR/keepalived-v3-ipv4.hex" \
    "VRRPv3 over IPv4, vrid 52, priority 200, advert_int 0.5s (50 centiseconds), VIPs 10.0.3.100 10.0.3.102"
capture v3-ipv6 "$CONF_V3_V6" "ip6 proto 112" "$OUT_DIR/keepalived-v3-ipv6.hex" \
    "VRRPv3 over IPv6, vrid 53, priority 100, advert_int 1s (100 centiseconds), VIPs fe80::53 2001:db8::100"

echo "done: vectors written to $OUT_DIR" >&2
