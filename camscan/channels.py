"""Channel names: the shared vocabulary between probes (which emit observations) and signatures
(which match them). A signature's `channel` is one of these, or a glob over them ("http.header.*").

`raw` is always text. Binary replies are given as lowercase hex (see TCP_BANNER).
Structured values a parser reads with certainty go in Observation.fields under FIELD_* keys.
"""

import functools
import re

ARP_MAC = "arp.mac"  # raw: "44:19:b6:12:34:56" (lowercase, colon-separated)
# raw: the MAC a neighbour advertisement's target link-layer option gave (IPv6's ARP reply)
NDP_MAC = "ndp.mac"
WIRE_MACS = frozenset({ARP_MAC, NDP_MAC})  # MACs read off the link itself

# HTTP / HTTPS (one observation per header; name lowercased after "http.header.")
HTTP_STATUS = "http.status"  # raw: status line, e.g. "HTTP/1.1 401 Unauthorized"
HTTP_HEADER = "http.header."  # + name: "http.header.server", "http.header.www-authenticate", ...
HTTP_HEADERS = "http.headers"  # raw: the whole header block as received, CRLF-joined
HTTP_TITLE = "http.title"  # raw: <title> text
HTTP_BODY = "http.body"  # raw: the first bytes of the body (bounded), decoded leniently
HTTP_FAVICON_MD5 = "http.favicon.md5"  # raw: md5 hex of /favicon.ico

TLS_SUBJECT = "tls.subject"  # raw: RFC 4514 string, e.g. "CN=www.hikvision.com,OU=DVRNVR,O=..."
TLS_ISSUER = "tls.issuer"

RTSP_STATUS = "rtsp.status"
RTSP_HEADER = "rtsp.header."  # + name: "rtsp.header.server", "rtsp.header.www-authenticate"
RTSP_HEADERS = "rtsp.headers"
RTSP_SDP = "rtsp.sdp"  # raw: SDP body of a DESCRIBE answered without credentials

HOST_ALIVE = "host.alive"  # raw: how an off-link host answered: "tcp/80 refused", "icmp echo-reply"
TCP_OPEN = "tcp.open"  # raw: port number as text, e.g. "8000"
TCP_BANNER = "tcp.banner."  # + port: "tcp.banner.8000"; raw: hex of the first bytes sent
# raw: "http:80, rtsp:554 not asked: <why>" (fields probes, reason): requests left out on purpose
# (a device discovery already knows, a port it showed closed); evidence of no maker
BANNERS_SKIPPED = "banners.skipped"

WSD_TYPES = "wsd.types"  # raw: space-separated QNames
WSD_SCOPES = "wsd.scopes"  # raw: space-separated scope URIs, as received
WSD_EPR = "wsd.epr"  # raw: endpoint reference address, e.g. "urn:uuid:..."
WSD_XADDRS = "wsd.xaddrs"

MDNS_INSTANCE = "mdns.instance"  # raw: "HIKVISION DS-2CD2722FWD-IZS - 733050075._CGI._tcp.local."
MDNS_SERVER = "mdns.server"  # raw: SRV target host name
MDNS_TXT = "mdns.txt"  # raw: "key=value" pairs, space-separated
MDNS_TYPE = "mdns.type"  # raw: service type, e.g. "_CGI._tcp.local."
# raw: instance name of a service the sender announced for ANOTHER address (its A record names
# fields["reported_ip"], not the sender): a claim by the sender, evidence about no one
MDNS_CLAIM = "mdns.claim"

SADP_REPLY = "sadp.reply"  # raw: the ProbeMatch XML (bounded)
DHIP_REPLY = "dhip.reply"  # raw: the JSON body after the 32-byte header
DVRIP_REPLY = "dvrip.reply"  # raw: the printable text of a UDP/5050 reply (Key:Value lines)
# A maker's own discovery protocols: a real device speaks its maker's, so one that answers two
# makers' (SADP and DHIP) makes conflicting claims, and neither decides (issue 25).
MAKER_DISCOVERY = frozenset({SADP_REPLY, DHIP_REPLY, DVRIP_REPLY})
# SNMP, read-only with the configured credentials (camscan.discovery.snmp)
SNMP_ROUTER_MAC = "snmp.router_mac"  # raw: the MAC a router's ARP table holds for the device
SNMP_SYSDESCR = "snmp.sysdescr"  # raw: the device's sysDescr.0
SNMP_SYSOBJECTID = "snmp.sysobjectid"  # raw: the device's sysObjectID.0, dotted
SNMP_ENTERPRISE = "snmp.enterprise"  # raw: "<oid>=<value>" under a maker's enterprise number
SSDP_SERVER = "ssdp.header.server"
SSDP_USN = "ssdp.usn"
UPNP_MANUFACTURER = "upnp.manufacturer"
UPNP_MODEL = "upnp.model"
UPNP_DEVICE_TYPE = "upnp.device_type"  # raw: the description's deviceType URN
# Heard passively (camscan listen / import of a capture): what a device asked for itself
DHCP_HOSTNAME = "dhcp.hostname"  # raw: option 12 of the device's own DHCP request
DHCP_VENDOR_CLASS = "dhcp.vendor_class"  # raw: option 60, e.g. "udhcp 1.20.2"
DHCP_PARAMS = "dhcp.params"  # raw: option 55 as decimal codes, comma-separated: "1,3,6,12,15"
DNS_QUERY = "dns.query"  # raw: a name the device looked up, lowercase, no trailing dot
NMAP_SERVICE = "nmap.service"  # raw: product/version/extrainfo of an imported nmap -sV result

# Facts camscan.identify.derive reads out of other values; signatures match them like any channel.
DERIVED_MODEL = "derived.model"  # raw: one model number, e.g. "DS-2CD2385G1-I"
DERIVED_BADGE = "derived.badge"  # raw: one brand name as the device wrote it, e.g. "CPPLUS"
DERIVED_SERIAL = "derived.serial"  # raw: one serial number, e.g. an mDNS SRV host name

# Observation.fields keys
FIELD_MODEL = "model"
FIELD_SERIAL = "serial"
FIELD_FIRMWARE = "firmware"
FIELD_BADGE = "badge"  # the brand the device itself reports (DHIP Vendor, ONVIF name/, ...)
FIELD_MAC = "mac"
FIELD_IP = "ip"
FIELD_HOSTNAME = "hostname"
FIELD_DEVICE_TYPE = "device_type"  # IPC, NVR, ...
FIELD_ACTIVATED = "activated"  # "true"/"false" (SADP)
FIELD_PORT = "port"
FIELD_MAC_SOURCE = "mac_source"  # how an observation's MAC was learned (camscan.macaddr.MacSource)
FIELD_INTERFACE = "interface"  # the local interface a reply was heard on
# IPv6 addresses a reply states for its device (SADP, DHIP, DVRIP), space-separated: what the
# device says of itself, not seen on the wire; they never join devices (devices[].ipv6_reported)
FIELD_REPORTED_IPV6 = "reported_ipv6"
FIELD_ROUTER = "router"  # the router whose ARP table gave the MAC (snmp.router_mac)
# "<router> ifIndex <n>": the router interface whose table gave the MAC, set only when that MAC
# names one host there (snmp.router_mac): addresses sharing it join into one device
FIELD_ROUTER_LINK = "router_link"


@functools.cache
def _vocabulary() -> tuple[frozenset[str], tuple[str, ...]]:
    """Exact channel names and channel prefixes ("http.header.") defined above."""
    values = [
        v
        for k, v in globals().items()
        if k.isupper() and not k.startswith("FIELD_") and isinstance(v, str)
    ]
    return (
        frozenset(v for v in values if not v.endswith(".")),
        tuple(v for v in values if v.endswith(".")),
    )


def is_known(spec: str) -> bool:
    """A known channel, a prefix channel with a suffix, or a glob whose literal head fits one."""
    exact, prefixes = _vocabulary()
    if any(c in spec for c in "*?["):
        head = re.split(r"[*?\[]", spec, maxsplit=1)[0]
        return any(n.startswith(head) or head.startswith(n) for n in (*exact, *prefixes))
    if spec in exact:
        return True
    return any(spec.startswith(p) and len(spec) > len(p) for p in prefixes)
