"""Reply parsers of the multicast discovery probes, on real reply samples (signatures.md 2.5-2.8,
3.1-3.3) and on hostile input. Pure parsing: nothing here sends a packet."""

from __future__ import annotations

import json
import socket
import struct
import uuid
from collections.abc import Callable
from ipaddress import IPv4Address, IPv4Network

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zeroconf import DNSOutgoing, DNSPointer, DNSService, DNSText, const

from camscan import channels as ch
from camscan.discovery import dhip, dvrip, mdns, sadp, ssdp, wsd
from camscan.discovery.multicast import _is_group_or_broadcast
from camscan.macaddr import normalise_mac
from camscan.model import Observation
from camscan.netif import Interface

Parser = Callable[[bytes, str], list[Observation] | None]

# --- samples ---------------------------------------------------------------------------------

SADP_HIK = b"""<?xml version="1.0" encoding="UTF-8"?>
<ProbeMatch>
\t<Uuid>e8ecfe09-90e4-44c0-842b-703f46b58c81</Uuid>
\t<Types>inquiry</Types>
\t<DeviceType>141945</DeviceType>
\t<DeviceDescription>DS-2CD2385G1-I</DeviceDescription>
\t<DeviceSN>DS-2CD2385G1-I20200414AAWRE33842150</DeviceSN>
\t<CommandPort>8000</CommandPort>
\t<HttpPort>80</HttpPort>
\t<MAC>58-50-ed-1f-e3-85</MAC>
\t<IPv4Address>192.168.124.40</IPv4Address>
\t<IPv4SubnetMask>255.255.255.0</IPv4SubnetMask>
\t<IPv4Gateway>192.168.124.1</IPv4Gateway>
\t<IPv6Address>::</IPv6Address>
\t<IPv6Gateway>::</IPv6Gateway>
\t<IPv6MaskLen>64</IPv6MaskLen>
\t<DHCP>true</DHCP>
\t<AnalogChannelNum>0</AnalogChannelNum>
\t<DigitalChannelNum>1</DigitalChannelNum>
\t<SoftwareVersion>V5.6.2build 190701</SoftwareVersion>
\t<DSPVersion>V7.3 build 190626</DSPVersion>
\t<BootTime>1970-01-15 02:44:11</BootTime>
\t<Encrypt>true</Encrypt>
\t<ResetAbility>false</ResetAbility>
\t<DiskNumber>0</DiskNumber>
\t<Activated>true</Activated>
\t<PasswordResetAbility>true</PasswordResetAbility>
\t<PasswordResetModeSecond>true</PasswordResetModeSecond>
\t<DetailOEMCode>1</DetailOEMCode>
\t<SupportSecurityQuestion>true</SupportSecurityQuestion>
\t<SupportHCPlatform>true</SupportHCPlatform>
\t<HCPlatformEnable>flase</HCPlatformEnable>
\t<IsModifyVerificationCode>true</IsModifyVerificationCode>
\t<Salt>d8ee3f91</Salt>
\t<DeviceLock>flase</DeviceLock>
\t<SDKOverTLSPort>8443</SDKOverTLSPort>
\t<SDKServerStatus>true</SDKServerStatus>
\t<SDKOverTLSServerStatus>true</SDKOverTLSServerStatus>
\t<SupportMailBox>true</SupportMailBox>
</ProbeMatch>
"""

SADP_EZVIZ = b"""<?xml version="1.0" encoding="UTF-8"?>
<ProbeMatch>
<Uuid>0F2B1C7E-4A51-4C8B-9E22-6A3D5B1E0C11</Uuid>
<Types>inquiry</Types>
<DeviceType>60000</DeviceType>
<DeviceDescription>CS-C6TC-32WFR</DeviceDescription>
<DeviceSN>CS-C6TC-32WFR0120170327CCCH738231995</DeviceSN>
<CommandPort>8000</CommandPort>
<HttpPort>80</HttpPort>
<MAC>54-c4-15-9a-38-74</MAC>
<IPv4Address>198.18.1.21</IPv4Address>
<SoftwareVersion>V5.2.4build 180108</SoftwareVersion>
<Activated>false</Activated>
</ProbeMatch>
"""

DHIP_DAHUA_INFO = {
    "AlarmInputChannels": 0,
    "AlarmOutputChannels": 0,
    "DeviceClass": "IPC",
    "DeviceID": "",
    "DeviceType": "IPC-HDW1431T1-S4",
    "Find": "BC",
    "FindVersion": 1,
    "HttpPort": 80,
    "IPv4Address": {
        "DefaultGateway": "192.168.1.1",
        "DhcpEnable": False,
        "IPAddress": "192.168.1.108",
        "SubnetMask": "255.255.255.0",
    },
    "IPv6Address": {"IPAddress": "", "DhcpEnable": False},
    "Init": 2714,
    "MachineName": "6C01E93PAG69A7D",
    "Manufacturer": "Private",
    "Port": 37777,
    "RemoteVideoInputChannels": 0,
    "SerialNo": "6C01E93PAG69A7D",
    "UnLoginFuncMask": 1,
    "Vendor": "Private",
    "Version": "2.800.0000000.13.R",
    "VideoInputChannels": 1,
    "VideoOutputChannels": 0,
}
DHIP_INTELBRAS_INFO = {
    "DeviceClass": "BSC",
    "DeviceType": "SS 3530 MF FACE W",
    "HttpPort": 80,
    "IPv4Address": {"IPAddress": "198.18.1.31"},
    "Manufacturer": "Intelbras",
    "Port": 37777,
    "SerialNo": "8H0C5E2PAZ3B1F4",
    "Vendor": "Intelbras",
    "Version": "2.000.00IB004.0.R",
}


def dhip_reply(mac: str, info: dict[str, object]) -> bytes:
    message = {"mac": mac, "method": "client.notifyDevInfo", "params": {"deviceInfo": info}}
    body = json.dumps(message, separators=(",", ":")).encode() + b"\n\0"
    return dhip.build_header(len(body)) + body


DHIP_DAHUA = dhip_reply("08:ed:ed:87:42:7a", DHIP_DAHUA_INFO)
DHIP_INTELBRAS = dhip_reply("b4:4c:3b:f4:e3:01", DHIP_INTELBRAS_INFO)

WSD_ENVELOPE = """<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"
 xmlns:wsadis="http://schemas.xmlsoap.org/ws/2004/08/addressing"
 xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"
 xmlns:dn="http://www.onvif.org/ver10/network/wsdl"
 xmlns:tds="http://www.onvif.org/ver10/device/wsdl">
<env:Header>
<wsadis:MessageID>urn:uuid:{msg}</wsadis:MessageID>
<wsadis:RelatesTo>urn:uuid:{rel}</wsadis:RelatesTo>
<wsadis:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsadis:To>
<wsadis:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsadis:Action>
</env:Header>
<env:Body><d:ProbeMatches><d:ProbeMatch>
<wsadis:EndpointReference><wsadis:Address>{epr}</wsadis:Address></wsadis:EndpointReference>
<d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>
<d:Scopes>{scopes}</d:Scopes>
<d:XAddrs>{xaddrs}</d:XAddrs>
<d:MetadataVersion>10</d:MetadataVersion>
</d:ProbeMatch></d:ProbeMatches></env:Body></env:Envelope>
"""


def wsd_reply(epr: str, scopes: list[str], xaddrs: str) -> bytes:
    return WSD_ENVELOPE.format(
        msg=uuid.uuid4(), rel=uuid.uuid4(), epr=epr, scopes=" ".join(scopes), xaddrs=xaddrs
    ).encode()


WSD_HIK = wsd_reply(
    "urn:uuid:aa85c000-6324-11b3-819e-5850ed1fe385",
    [
        "onvif://www.onvif.org/type/video_encoder",
        "onvif://www.onvif.org/Profile/Streaming",
        "onvif://www.onvif.org/Profile/G",
        "onvif://www.onvif.org/Profile/T",
        "onvif://www.onvif.org/MAC/58:50:ed:1f:e3:85",
        "onvif://www.onvif.org/hardware/DS-2CD2385G1-I",
        "onvif://www.onvif.org/name/HIKVISION%20DS-2CD2385G1-I",
        "onvif://www.onvif.org/location/city/hangzhou",
    ],
    "http://192.168.124.40/onvif/device_service http://[fe80::5a50:edff:fe1f:e385]/onvif/device_service",
)
DAHUA_SCOPES = [
    "onvif://www.onvif.org/location/country/china",
    "onvif://www.onvif.org/name/Dahua",
    "onvif://www.onvif.org/hardware/DH-IPC-HDW1230T2",
    "onvif://www.onvif.org/Profile/Streaming",
    "onvif://www.onvif.org/type/Network_Video_Transmitter",
    "onvif://www.onvif.org/extension/unique_identifier/1",
    "onvif://www.onvif.org/Profile/T",
]
WSD_DAHUA = wsd_reply(
    "urn:uuid:4b1c9a3e-2f6d-4e0a-9c1b-8d7e6f5a4b3c",
    DAHUA_SCOPES,
    "http://198.18.1.40/onvif/device_service",
)
WSD_CPPLUS = wsd_reply(
    "urn:uuid:0d9e8f7a-6b5c-4d3e-8f1a-2b3c4d5e6f70",
    [
        "onvif://www.onvif.org/location/country/India",
        "onvif://www.onvif.org/name/CP_PLUS",
        "onvif://www.onvif.org/hardware/CP-UNC-TA21PL3-Y",
        "onvif://www.onvif.org/type/Network_Video_Transmitter",
        "onvif://www.onvif.org/extension/unique_identifier/1",
    ],
    "http://198.18.1.41/onvif/device_service",
)


def dvrip_reply(model: str, ip: str, mac: str, section3: dict[str, str]) -> bytes:
    """A `b3 00` reply laid out as UniversalScanner Dahua1.cs reads it (signatures.md 3.3)."""
    s2 = mac.encode()
    s3 = "".join(f"{k}:{v}\r\n" for k, v in section3.items()).encode()
    head = bytearray(dvrip.SECTION1_SIZE)
    head[0:2] = b"\xb3\x00"
    struct.pack_into("<H", head, 2, len(s2))
    struct.pack_into("<I", head, 4, 0x58)
    struct.pack_into("<I", head, 0x10, 2)
    struct.pack_into("<H", head, 0x14, len(s3))
    head[0x28 : 0x28 + len(model)] = model.encode()
    head[0x38:0x3C] = socket.inet_aton(ip)
    head[0x3C:0x40] = socket.inet_aton("255.255.254.0")
    return bytes(head) + s2 + s3


DVRIP_NVR = dvrip_reply(
    "DHI-NVR4104HS",
    "198.18.1.50",
    "3C:EF:8C:12:34:56",
    {
        "Name": "NVR4104HS",
        "Device": "DHI-NVR4104HS",
        "IPv6Addr": "::",
        "SerialNo": "4C045ADPAG60CD",
    },
)

SSDP_RESPONSE = (
    b"HTTP/1.1 200 OK\r\n"
    b"CACHE-CONTROL: max-age=1800\r\n"
    b"LOCATION: http://198.18.1.60:49152/upnpdevicedesc.xml\r\n"
    b"SERVER: Linux/3.0.8, UPnP/1.0, Portable SDK for UPnP devices/1.6.6\r\n"
    b"ST: upnp:rootdevice\r\n"
    b"USN: uuid:c5d3b6a2-8e1f-4a7b-9c3d-5850ed1fe385::upnp:rootdevice\r\n"
    b"\r\n"
)
UPNP_DESCRIPTION = b"""<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0">
<specVersion><major>1</major><minor>0</minor></specVersion>
<device>
<deviceType>urn:schemas-upnp-org:device:Basic:1</deviceType>
<friendlyName>Front door</friendlyName>
<manufacturer>Hikvision</manufacturer>
<modelName>DS-2CD2385G1-I</modelName>
<modelNumber>DS-2CD2385G1-I</modelNumber>
<serialNumber>DS-2CD2385G1-I20200414AAWRE33842150</serialNumber>
<UDN>uuid:c5d3b6a2-8e1f-4a7b-9c3d-5850ed1fe385</UDN>
</device>
</root>
"""


def mdns_response() -> bytes:
    """Hikvision's _CGI._tcp answer (128keaton/hikvision-mdns test/cameras.json) on the wire."""
    out = DNSOutgoing(const._FLAGS_QR_RESPONSE | const._FLAGS_AA)
    stype = "_CGI._tcp.local."
    instance = f"HIKVISION DS-2CD2722FWD-IZS - 733050075.{stype}"
    server = "DS-2CD2722FWD-IZS20170321BBWR733050075.local."
    out.add_answer_at_time(DNSPointer(stype, const._TYPE_PTR, const._CLASS_IN, 4500, instance), 0)
    out.add_answer_at_time(
        DNSService(instance, const._TYPE_SRV, const._CLASS_IN, 120, 0, 0, 80, server), 0
    )
    out.add_answer_at_time(
        DNSText(instance, const._TYPE_TXT, const._CLASS_IN, 4500, b"\x06path=/"), 0
    )
    return out.packets()[0]


MDNS_HIK = mdns_response()

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<ProbeMatch><Types>inquiry</Types><DeviceDescription>&lol4;</DeviceDescription></ProbeMatch>
"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<ProbeMatch><Types>inquiry</Types><DeviceDescription>&xxe;</DeviceDescription></ProbeMatch>
"""


def single(observations: list[Observation] | None, channel: str) -> Observation:
    assert observations is not None
    matching = [o for o in observations if o.channel == channel]
    assert len(matching) == 1, observations
    return matching[0]


# --- request builders ------------------------------------------------------------------------


def test_sadp_probe_is_the_documented_inquiry() -> None:
    probe_id = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert sadp.build_probe(probe_id) == (
        b'<?xml version="1.0" encoding="utf-8"?><Probe>'
        b"<Uuid>12345678-1234-5678-1234-567812345678</Uuid><Types>inquiry</Types></Probe>"
    )
    assert sadp.build_probe() != sadp.build_probe()  # a fresh Uuid each round


def test_dhip_search_has_the_32_byte_header_and_only_the_search_method() -> None:
    packet = dhip.build_search()
    body = packet[32:]
    assert packet[:8] == b"\x20\x00\x00\x00DHIP"
    assert struct.unpack_from("<II", packet, 0x10)[0] == len(body)
    assert struct.unpack_from("<I", packet, 0x18)[0] == len(body)
    assert json.loads(body) == {"method": "DHDiscover.search", "params": {"mac": "", "uni": 1}}


def test_dvrip_request_matches_both_sources() -> None:
    documented = bytes.fromhex("a3010001" + "00" * 12 + "02" + "00" * 15)
    assert len(documented) == 32
    assert documented == dvrip.REQUEST


def test_wsd_probes_carry_a_fresh_message_id_and_the_nvt_type() -> None:
    nvt, general = wsd.build_probe(), wsd.build_probe(None)
    assert b"<d:Types>dn:NetworkVideoTransmitter</d:Types>" in nvt
    assert b"<d:Types>" not in general
    assert b"<d:Probe></d:Probe>" in general
    assert wsd.build_probe() != nvt
    # our own probe must parse as "not a reply" rather than as garbage
    assert wsd.parse_wsd(nvt, "198.18.1.1") == []


def test_no_state_changing_message_is_ever_built() -> None:
    sent = sadp.build_probe() + dhip.build_search() + dvrip.REQUEST + ssdp.M_SEARCH
    sent += wsd.build_probe() + wsd.build_probe(None)
    for forbidden in (b"Update", b"setConfig", b"DevInit", b"PasswdFind", b"login", b"Reset"):
        assert forbidden.lower() not in sent.lower()


# --- real samples ----------------------------------------------------------------------------


def test_sadp_hikvision_probematch() -> None:
    o = single(sadp.parse_sadp(SADP_HIK, "198.18.1.20"), ch.SADP_REPLY)
    assert o.ip == "198.18.1.20"
    assert o.mac == "58:50:ed:1f:e3:85"
    assert o.fields[ch.FIELD_MODEL] == "DS-2CD2385G1-I"
    assert o.fields[ch.FIELD_SERIAL] == "DS-2CD2385G1-I20200414AAWRE33842150"
    assert o.fields[ch.FIELD_FIRMWARE] == "V5.6.2build 190701"
    assert o.fields[ch.FIELD_ACTIVATED] == "true"
    assert o.fields[ch.FIELD_IP] == "198.18.1.20"
    assert o.fields["reported_ip"] == "192.168.124.40"
    assert o.fields[ch.FIELD_PORT] == "8000"
    assert "<ProbeMatch>" in o.raw


def test_sadp_ezviz_probematch_unactivated() -> None:
    o = single(sadp.parse_sadp(SADP_EZVIZ, "198.18.1.21"), ch.SADP_REPLY)
    assert o.fields[ch.FIELD_MODEL] == "CS-C6TC-32WFR"
    assert o.fields[ch.FIELD_SERIAL] == "CS-C6TC-32WFR0120170327CCCH738231995"
    assert o.mac == o.fields[ch.FIELD_MAC] == "54:c4:15:9a:38:74"
    assert o.fields[ch.FIELD_ACTIVATED] == "false"


def test_sadp_ignores_probes_and_drops_garbage() -> None:
    assert sadp.parse_sadp(sadp.build_probe(), "198.18.1.9") == []
    assert sadp.parse_sadp(b"<ProbeMatch><Types>inquiry", "198.18.1.9") is None


def test_dhip_dahua_notify_dev_info() -> None:
    o = single(dhip.parse_dhip(DHIP_DAHUA, "198.18.1.30"), ch.DHIP_REPLY)
    assert o.mac == "08:ed:ed:87:42:7a"
    assert o.fields[ch.FIELD_MODEL] == "IPC-HDW1431T1-S4"
    assert o.fields[ch.FIELD_SERIAL] == "6C01E93PAG69A7D"
    assert o.fields[ch.FIELD_FIRMWARE] == "2.800.0000000.13.R"
    assert o.fields[ch.FIELD_BADGE] == "Private"
    assert o.fields[ch.FIELD_DEVICE_TYPE] == "IPC"
    assert o.fields[ch.FIELD_PORT] == "37777"
    assert o.fields["reported_ip"] == "192.168.1.108"
    assert json.loads(o.raw)["method"] == "client.notifyDevInfo"


def test_dhip_intelbras_badge() -> None:
    o = single(dhip.parse_dhip(DHIP_INTELBRAS, "198.18.1.31"), ch.DHIP_REPLY)
    assert o.fields[ch.FIELD_BADGE] == "Intelbras"
    assert o.fields[ch.FIELD_MODEL] == "SS 3530 MF FACE W"
    assert o.fields[ch.FIELD_FIRMWARE] == "2.000.00IB004.0.R"
    assert o.fields[ch.FIELD_DEVICE_TYPE] == "BSC"
    assert o.mac == "b4:4c:3b:f4:e3:01"


def test_dhip_rejects_bad_headers_and_ignores_searches() -> None:
    assert dhip.parse_dhip(dhip.build_search(), "198.18.1.9") == []
    assert dhip.parse_dhip(DHIP_DAHUA[:-40], "198.18.1.9") is None  # body shorter than declared
    assert dhip.parse_dhip(b"\x20\x00\x00\x00DHIX" + DHIP_DAHUA[8:], "198.18.1.9") is None
    too_long = dhip.build_header(dhip.MAX_BODY + 1) + b"{" * (dhip.MAX_BODY + 1)
    assert dhip.parse_dhip(too_long, "198.18.1.9") is None
    deep = b"[" * 5000 + b"]" * 5000
    assert dhip.parse_dhip(dhip.build_header(len(deep)) + deep, "198.18.1.9") is None


def test_wsd_hikvision_scopes() -> None:
    observations = wsd.parse_wsd(WSD_HIK, "198.18.1.20")
    scopes = single(observations, ch.WSD_SCOPES)
    assert "name/HIKVISION%20DS-2CD2385G1-I" in scopes.raw  # raw stays as received
    assert scopes.fields[ch.FIELD_MODEL] == "DS-2CD2385G1-I"
    assert scopes.fields[ch.FIELD_BADGE] == "HIKVISION"
    assert scopes.mac == "58:50:ed:1f:e3:85"
    assert scopes.fields["reported_ip"] == "192.168.124.40"
    epr = single(observations, ch.WSD_EPR)
    assert epr.raw == "urn:uuid:aa85c000-6324-11b3-819e-5850ed1fe385"
    assert single(observations, ch.WSD_TYPES).raw == "dn:NetworkVideoTransmitter tds:Device"
    assert "onvif/device_service" in single(observations, ch.WSD_XADDRS).raw


@pytest.mark.parametrize(
    ("reply", "badge", "model"),
    [(WSD_DAHUA, "Dahua", "DH-IPC-HDW1230T2"), (WSD_CPPLUS, "CP_PLUS", "CP-UNC-TA21PL3-Y")],
)
def test_wsd_dahua_family_scopes(reply: bytes, badge: str, model: str) -> None:
    scopes = single(wsd.parse_wsd(reply, "198.18.1.40"), ch.WSD_SCOPES)
    assert scopes.fields[ch.FIELD_BADGE] == badge
    assert scopes.fields[ch.FIELD_MODEL] == model
    assert ch.FIELD_MAC not in scopes.fields
    assert "type/Network_Video_Transmitter" in scopes.raw


def test_dvrip_reply() -> None:
    o = single(dvrip.parse_dvrip(DVRIP_NVR, "198.18.1.50"), ch.DVRIP_REPLY)
    assert o.mac == "3c:ef:8c:12:34:56"
    assert o.fields[ch.FIELD_MODEL] == "DHI-NVR4104HS"
    assert o.fields[ch.FIELD_SERIAL] == "4C045ADPAG60CD"
    assert o.fields[ch.FIELD_HOSTNAME] == "NVR4104HS"
    assert o.fields["reported_ip"] == "198.18.1.50"
    assert "SerialNo:4C045ADPAG60CD" in o.raw


def test_dvrip_rejects_truncated_and_ignores_requests() -> None:
    assert dvrip.parse_dvrip(dvrip.REQUEST, "198.18.1.9") == []
    assert dvrip.parse_dvrip(DVRIP_NVR[:-5], "198.18.1.9") is None  # section 3 cut short
    assert dvrip.parse_dvrip(DVRIP_NVR[:100], "198.18.1.9") is None


def test_ssdp_response_and_description() -> None:
    observations = ssdp.parse_ssdp(SSDP_RESPONSE, "198.18.1.60")
    server = single(observations, ch.SSDP_SERVER)
    assert server.raw.startswith("Linux/3.0.8, UPnP/1.0")
    assert server.fields["location"] == "http://198.18.1.60:49152/upnpdevicedesc.xml"
    assert single(observations, ch.SSDP_USN).raw.startswith("uuid:c5d3b6a2")
    assert ssdp.parse_ssdp(ssdp.M_SEARCH, "198.18.1.9") == []
    described = ssdp.parse_description(UPNP_DESCRIPTION, "198.18.1.60")
    assert single(described, ch.UPNP_MANUFACTURER).raw == "Hikvision"
    model = single(described, ch.UPNP_MODEL)
    assert model.raw == "DS-2CD2385G1-I"
    assert model.fields[ch.FIELD_SERIAL] == "DS-2CD2385G1-I20200414AAWRE33842150"
    kind = single(described, ch.UPNP_DEVICE_TYPE)
    assert kind.raw == "urn:schemas-upnp-org:device:Basic:1"


def test_ssdp_description_only_from_the_replying_in_target_device() -> None:
    from camscan.targets import TargetSet

    targets = TargetSet.parse(["198.18.1.0/24"])
    ok = ssdp.description_target("http://198.18.1.60:49152/d.xml?x=1", "198.18.1.60", targets)
    assert ok == (49152, "/d.xml?x=1")
    for location, src in [
        ("http://198.18.1.61:49152/d.xml", "198.18.1.60"),  # points elsewhere
        ("http://198.18.9.60/d.xml", "198.18.9.60"),  # out of targets
        ("https://198.18.1.60/d.xml", "198.18.1.60"),  # not plain http
        ("http://camera.local/d.xml", "198.18.1.60"),  # a name could resolve anywhere
        ("http://[::1/", "198.18.1.60"),  # malformed
        ("http://198.18.1.60:99999/d.xml", "198.18.1.60"),  # bad port
    ]:
        assert ssdp.description_target(location, src, targets) is None, location


def test_mdns_hikvision_cgi_service() -> None:
    observations = mdns.parse_mdns(MDNS_HIK, "198.18.1.20")
    instance = single(observations, ch.MDNS_INSTANCE)
    assert instance.raw == "HIKVISION DS-2CD2722FWD-IZS - 733050075._CGI._tcp.local."
    assert instance.fields[ch.FIELD_BADGE] == "HIKVISION"
    assert instance.fields[ch.FIELD_MODEL] == "DS-2CD2722FWD-IZS"
    assert instance.fields[ch.FIELD_SERIAL] == "DS-2CD2722FWD-IZS20170321BBWR733050075"
    assert (
        single(observations, ch.MDNS_SERVER).raw == "DS-2CD2722FWD-IZS20170321BBWR733050075.local."
    )
    assert single(observations, ch.MDNS_TXT).raw == "path=/"
    assert single(observations, ch.MDNS_TYPE).raw == "_CGI._tcp.local."


def test_only_group_and_broadcast_destinations_are_allowed() -> None:
    lan = Interface("eth0", 2, None, IPv4Address("198.18.1.1"), IPv4Network("198.18.0.0/23"))
    for host in ("239.255.255.250", "239.255.255.251", "255.255.255.255", "198.18.1.255"):
        assert _is_group_or_broadcast(host, lan), host
    for host in ("198.18.1.20", "198.18.1.1", "10.0.0.255", "192.168.1.255"):
        assert not _is_group_or_broadcast(host, lan), host
    p2p = Interface("eth1", 3, None, IPv4Address("198.18.2.0"), IPv4Network("198.18.2.0/31"))
    assert not _is_group_or_broadcast("198.18.2.1", p2p)  # the peer, not a broadcast


def test_mac_normalisation() -> None:
    for text in ("58-50-ED-1F-E3-85", "5850ed1fe385", "58:50:ed:1f:e3:85", " 5850.ed1f.e385 "):
        assert normalise_mac(text) == "58:50:ed:1f:e3:85"
    for bad in ("", "58-50-ed-1f-e3", "zz:50:ed:1f:e3:85", "58-50-ed-1f-e3-85-00"):
        assert normalise_mac(bad) is None


# --- hostile input ---------------------------------------------------------------------------

XML_PARSERS: list[Parser] = [sadp.parse_sadp, wsd.parse_wsd, ssdp.parse_description]


@pytest.mark.parametrize("parser", XML_PARSERS)
@pytest.mark.parametrize("attack", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["bomb", "xxe"])
def test_xml_attacks_are_dropped(parser: Parser, attack: bytes) -> None:
    assert parser(attack, "198.18.1.9") is None


SAMPLES: list[tuple[Parser, bytes]] = [
    (sadp.parse_sadp, SADP_HIK),
    (sadp.parse_sadp, SADP_EZVIZ),
    (dhip.parse_dhip, DHIP_DAHUA),
    (dhip.parse_dhip, DHIP_INTELBRAS),
    (wsd.parse_wsd, WSD_HIK),
    (wsd.parse_wsd, WSD_CPPLUS),
    (dvrip.parse_dvrip, DVRIP_NVR),
    (ssdp.parse_ssdp, SSDP_RESPONSE),
    (ssdp.parse_description, UPNP_DESCRIPTION),
    (mdns.parse_mdns, MDNS_HIK),
]
ALL_PARSERS = sorted({p for p, _ in SAMPLES}, key=lambda p: p.__name__)


def check_result(result: list[Observation] | None) -> None:
    assert result is None or isinstance(result, list)
    for o in result or []:
        assert isinstance(o.raw, str)
        assert all(isinstance(v, str) for v in o.fields.values())
        assert o.mac is None or normalise_mac(o.mac) == o.mac


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=2048), which=st.sampled_from(ALL_PARSERS))
def test_random_bytes_never_raise(data: bytes, which: Parser) -> None:
    check_result(which(data, "198.18.1.9"))


@st.composite
def mutated_sample(draw: st.DrawFn) -> tuple[Parser, bytes]:
    parser, sample = draw(st.sampled_from(SAMPLES))
    buf = bytearray(sample)
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        at = draw(st.integers(0, max(0, len(buf) - 1)))
        if kind == "flip" and buf:
            buf[at] = draw(st.integers(0, 255))
        elif kind == "cut":
            del buf[at:]
        elif kind == "insert":
            buf[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "delete":
            del buf[at : at + draw(st.integers(1, 64))]
    return parser, bytes(buf)


@settings(max_examples=600, deadline=None)
@given(case=mutated_sample())
def test_mutated_samples_never_raise(case: tuple[Parser, bytes]) -> None:
    parser, data = case
    check_result(parser(data, "198.18.1.9"))


@settings(max_examples=200, deadline=None)
@given(
    info=st.dictionaries(
        st.text(max_size=12),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=8), inner, max_size=3)
            ),
            max_leaves=10,
        ),
        max_size=8,
    ),
    mac=st.text(max_size=20),
)
def test_dhip_arbitrary_json_shapes_never_raise(info: dict[str, object], mac: str) -> None:
    check_result(dhip.parse_dhip(dhip_reply(mac, {**DHIP_DAHUA_INFO, **info}), "198.18.1.9"))
