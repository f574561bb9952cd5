"""Equipment class: the vocabulary, class signatures' examples and look-alikes, the weighing."""

from __future__ import annotations

import fnmatch
import json

import pytest

from camscan import channels
from camscan.identify import classes
from camscan.identify.engine import identify_device
from camscan.identify.equipment import channel_count, decide_class
from camscan.identify.signatures import Signature, SignatureDB, channels_overlap
from camscan.model import Device, Evidence, Observation, Strength

DB = SignatureDB.load()
CLASS_SIGS = [s for s in DB.signatures if s.equipment is not None]
CLASS_RULES = [r for r in DB.rules if r.equipment is not None]


def _concrete(channel: str) -> str:
    """A channel name a glob covers, to feed an example through the engine."""
    if not any(c in channel for c in "*?["):
        return channel
    for name in (
        "http.header.www-authenticate",
        "http.header.server",
        "mdns.type",
        "tcp.banner.80",
    ):
        if fnmatch.fnmatchcase(name, channel):
            return name
    raise AssertionError(f"no concrete channel for {channel}")


def _device(*obs: tuple[str, str]) -> Device:
    return Device(
        "198.18.0.9", observations=[Observation(c, raw, "example", "198.18.0.9") for c, raw in obs]
    )


def test_vocabulary_has_the_classes_the_statement_needs() -> None:
    slugs = {c.slug for c in classes.known()}
    assert {"camera", "recorder", "video-encoder", "intercom", "other", "unknown"} <= slugs
    assert classes.surveillance("camera") == "yes"
    assert classes.surveillance("other") == "no"
    assert classes.surveillance("unknown") == "unknown"
    assert classes.surveillance(None) == "unknown"


def test_there_are_class_signatures_for_each_evidence_source() -> None:
    channels_seen = {s.channel for s in CLASS_SIGS}
    for channel in (channels.WSD_TYPES, channels.WSD_SCOPES, channels.DHIP_REPLY):
        assert channel in channels_seen
    assert {s.equipment for s in CLASS_SIGS} >= {"camera", "recorder", "intercom", "other"}


@pytest.mark.parametrize("sig", CLASS_SIGS, ids=lambda s: s.id)
def test_every_class_example_proves_its_class(sig: Signature) -> None:
    for ex in sig.examples:
        device = _device((_concrete(sig.channel), ex.value))
        eq = identify_device(device, DB, None).equipment
        assert sig.id in eq.evidence or eq.kind != "unknown", (sig.id, ex.value, eq)
        if sig.equipment_strength is Strength.STRONG:
            assert classes.surveillance(eq.kind) == classes.surveillance(sig.equipment), (
                sig.id,
                ex.value,
                eq,
            )


@pytest.mark.parametrize("sig", CLASS_SIGS, ids=lambda s: s.id)
def test_no_class_example_is_claimed_by_the_other_side(sig: Signature) -> None:
    # recog's self-test, for classes: a value that proves surveillance equipment must not also
    # prove something else, and the other way round.
    side = classes.surveillance(sig.equipment)
    for ex in sig.examples:
        clashes = [
            o.id
            for o in CLASS_SIGS
            if o.equipment is not None
            and classes.surveillance(o.equipment) != side
            and channels_overlap(o.channel, sig.channel)
            and o.search(ex.value) is not None
        ]
        assert clashes == [], (sig.id, ex.value)


@pytest.mark.parametrize("sig", CLASS_SIGS, ids=lambda s: s.id)
def test_no_surveillance_look_alike_comes_out_as_yes(sig: Signature) -> None:
    # A counter-example of a surveillance class is a look-alike: alone it never makes "yes"
    # through that signature (another surveillance signature may rightly claim it: an NVR's
    # type is a counter-example of the camera's).
    if classes.surveillance(sig.equipment) != "yes":
        return
    for value in sig.counter_examples:
        device = _device((_concrete(sig.channel), value))
        eq = identify_device(device, DB, None).equipment
        assert sig.id not in eq.evidence, (sig.id, value)


# Look-alikes that answer the same discovery protocols as cameras; each is one device's
# observations as camscan's probes record them. Sources are those of the signatures named.
LOOKALIKES = {
    "printer answering WS-Discovery": [
        (channels.WSD_TYPES, "wsdp:Device wprt:PrintDeviceType"),  # class.wsd.types.print-scan
        ("http.title", "LaserJet Status"),
        (channels.TCP_OPEN, "631"),
    ],
    "scanner answering WS-Discovery": [(channels.WSD_TYPES, "wsdp:Device wscn:ScanDeviceType")],
    "media server answering SSDP and RTSP": [
        (
            channels.SSDP_USN,
            "uuid:c17f2c31-d19b-4912-af94-651945c8a84e::urn:schemas-upnp-org:device:MediaServer:1",
        ),
        (channels.SSDP_SERVER, "Microsoft-Windows-NT/5.1 UPnP/1.0 UPnP-Device-Host/1.0"),
        ("rtsp.header.server", "GStreamer RTSP server"),  # generic.rtsp.server
        (channels.TCP_OPEN, "554"),
    ],
    "media server described over UPnP": [
        (channels.UPNP_DEVICE_TYPE, "urn:schemas-upnp-org:device:MediaServer:1"),
        (channels.UPNP_MANUFACTURER, "Media Server Project"),
    ],
    "NAS serving DLNA": [
        (
            channels.SSDP_USN,
            "uuid:614146ca-f169-3d3c-b228-87a712faf143::urn:schemas-upnp-org:device:MediaServer:1",
        ),
        ("http.header.server", "lighttpd/1.4.35"),  # generic.http.server.small
    ],
    "printer announcing IPP over mDNS": [
        (channels.MDNS_TYPE, "_ipp._tcp.local."),  # class.mdns.type.printer
        (channels.MDNS_INSTANCE, "Office Printer._ipp._tcp.local."),
    ],
    "phone announcing itself over mDNS": [
        (channels.MDNS_TYPE, "_apple-mobdev2._tcp.local."),  # class.mdns.type.apple-mobile
        (channels.TCP_OPEN, "62078"),
    ],
    "phone or PC streaming RTSP": [
        ("rtsp.header.server", "Wowza Streaming Engine"),
        (channels.TCP_OPEN, "554"),
        (channels.TCP_OPEN, "8554"),
    ],
}


@pytest.mark.parametrize("name", sorted(LOOKALIKES))
def test_lookalikes_are_not_surveillance_equipment(name: str) -> None:
    eq = identify_device(_device(*LOOKALIKES[name]), DB, None).equipment
    assert eq.surveillance != "yes", (name, eq)


def test_named_lookalikes_are_other_equipment() -> None:
    for name in (
        "printer answering WS-Discovery",
        "media server answering SSDP and RTSP",
        "printer announcing IPP over mDNS",
        "phone announcing itself over mDNS",
        "media server described over UPnP",
    ):
        eq = identify_device(_device(*LOOKALIKES[name]), DB, None).equipment
        assert (eq.kind, eq.surveillance) == ("other", "no"), (name, eq)


def test_weak_hints_alone_never_make_yes() -> None:
    device = _device(
        (channels.TCP_OPEN, "554"),
        ("rtsp.header.server", "Rtsp Server/3.0"),
        ("http.header.server", "Boa/0.94.14rc21"),
        ("http.header.www-authenticate", 'Basic realm="camera"'),
    )
    eq = identify_device(device, DB, None).equipment
    assert (eq.kind, eq.surveillance) == ("unknown", "unknown")


def test_a_white_label_onvif_camera_is_surveillance_equipment_of_no_known_maker() -> None:
    device = _device((channels.WSD_TYPES, "dn:NetworkVideoTransmitter tds:Device"))
    verdict = identify_device(device, DB, None)
    assert verdict.maker is None
    assert (verdict.equipment.kind, verdict.equipment.surveillance) == ("video-transmitter", "yes")
    assert verdict.equipment.confidence_label == "high"


def test_a_specific_class_wins_over_its_family() -> None:
    device = _device(
        (channels.WSD_TYPES, "dn:NetworkVideoTransmitter tds:Device"),
        (channels.HTTP_HEADER + "www-authenticate", 'Digest realm="IP Camera(C2183)"'),
    )
    eq = identify_device(device, DB, None).equipment
    assert (eq.kind, eq.surveillance, eq.conflicts) == ("camera", "yes", [])


def _ev(sig: str, kind: str, strength: Strength, channel: str) -> Evidence:
    return Evidence(
        sig, channel, "x", None, Strength.WEAK, equipment=kind, equipment_strength=strength
    )


def test_one_medium_hint_names_a_class_but_says_unknown() -> None:
    eq = decide_class([_ev("a.b.c", "camera", Strength.MEDIUM, "http.title")], [])
    assert (eq.kind, eq.confidence_label, eq.surveillance) == ("camera", "low", "unknown")
    two = [
        _ev("a.b.c", "camera", Strength.MEDIUM, "http.title"),
        _ev("a.b.d", "camera", Strength.MEDIUM, "rtsp.header.server"),
    ]
    assert decide_class(two, []).surveillance == "yes"


def test_a_conflict_across_the_divide_lowers_confidence_to_unknown() -> None:
    evidence = [
        _ev("a.b.c", "camera", Strength.STRONG, "http.title"),
        _ev("a.b.d", "other", Strength.STRONG, "wsd.types"),
    ]
    eq = decide_class(evidence, [])
    assert eq.kind == "camera" and eq.conflicts == ["other"]
    assert eq.surveillance == "unknown"


SADP_NVR = (
    "<ProbeMatch><Types>inquiry</Types><DeviceDescription>DS-7608NI-K2</DeviceDescription>"
    "<AnalogChannelNum>4</AnalogChannelNum><DigitalChannelNum>8</DigitalChannelNum></ProbeMatch>"
)


def test_recorder_channels_come_from_sadp_and_dhip() -> None:
    info: dict[str, object] = {"DeviceClass": "NVR"}
    info.update({"VideoInputChannels": 8, "RemoteVideoInputChannels": 8})
    dhip = {"method": "client.notifyDevInfo", "params": {"deviceInfo": info}}
    sadp = Observation(channels.SADP_REPLY, SADP_NVR, "sadp")
    assert channel_count([sadp]) == 12
    dhip_obs = Observation(channels.DHIP_REPLY, json.dumps(dhip), "dhip")
    assert channel_count([dhip_obs]) == 16
    device = _device((channels.DHIP_REPLY, json.dumps(dhip)))
    eq = identify_device(device, DB, None).equipment
    assert (eq.kind, eq.channels, eq.surveillance) == ("recorder", 16, "yes")
    assert "with 16 channels" in eq.summary


def test_a_camera_reports_no_hidden_channels() -> None:
    dhip = {"params": {"deviceInfo": {"DeviceClass": "IPC", "VideoInputChannels": 1}}}
    eq = identify_device(_device((channels.DHIP_REPLY, json.dumps(dhip))), DB, None).equipment
    assert (eq.kind, eq.channels) == ("camera", None)


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[]",
        '{"params": {"deviceInfo": {"VideoInputChannels": -3}}}',
        '{"params": {"deviceInfo": {"VideoInputChannels": true}}}',
        '{"params": {"deviceInfo": {"VideoInputChannels": 99999999}}}',
        '{"params": []}',
    ],
)
def test_bad_channel_counts_are_ignored(raw: str) -> None:
    assert channel_count([Observation(channels.DHIP_REPLY, raw, "dhip")]) is None


def test_an_unknown_class_in_a_signature_is_a_load_error(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "bad.toml"
    path.write_text(
        '[[signature]]\nid = "class.x.y"\nchannel = "wsd.types"\npattern = "X"\n'
        'maker = "generic"\nstrength = "weak"\nclass = "toaster"\ndescription = "d"\n'
        'source = "s"\nexamples = ["X"]\n',
        encoding="utf-8",
    )
    _, errors = SignatureDB.load_with_errors([path])
    assert any("unknown class 'toaster'" in e for e in errors), errors
