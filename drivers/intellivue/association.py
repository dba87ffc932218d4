"""Association control messages: request, accept, refuse, release, abort (sans-IO).

Layout of an association request / response (IVH "Definition of the Association Control
Protocol"; bytes agree with VSC's `aarq_msg*`)::

    SessionHeader   type (0x0D request / 0x0E accept) · LI
    SessionData     14 fixed bytes
    Presentation    0xC1 · LI · fixed ASN.1 BER envelope (ends 0x81) · ASNLength · user data
                    · 16-byte presentation trailer (zeros)
    user data       MDSEUserInfoStd: protocol version, nomenclature version, functional units,
                    system type, startup mode (u32 each), option list (AttributeList) and
                    supported application profiles (AttributeList holding PollProfileSupport:
                    revision, min poll period, max MTU rx, max MTU tx, max bandwidth, options,
                    optional packages (AttributeList holding PollProfileExt: options + list))

LI: one byte up to 254, else 0xFF and a u16 (IVH). ASNLength: one byte up to 127, else 0x82
and a u16 (VSC's wave request uses `82 00 80`). Only the first byte matters for the other
association messages; their bodies are fixed (VSC `rlrq_msg`, `rlrq_resp_msg`,
`assoc_abort_resp_msg`).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import DecodeError
from drivers.intellivue import nomenclature as nom
from drivers.intellivue.wire import Reader, attribute_list, read_attribute_list, u32

# Fixed session data of request and response (IVH; VSC aarq_msg bytes 2-15).
SESSION_DATA = bytes.fromhex("0508130100160102800014020002")
# BER envelope (presentation/ACSE, indefinite lengths) before the user data of a request
# (IVH association request example; VSC aarq_msg bytes 18-148).
PRES_HEADER_REQUEST = bytes.fromhex(
    "3180a0808001010000a280a003000001a4803080020101060452010001308006"
    "025101000000003080020102060c2a8648ce14020100000001013080060c2a86"
    "48ce140201000000020100000000000061803080020101a0806080a180060c2a"
    "8648ce14020100000003010000be802880060c2a8648ce140201000000010102"
    "010281"
)
# Same for the association response (IVH association response example).
PRES_HEADER_RESPONSE = bytes.fromhex(
    "3180a0808001010000a280a003000001a5803080800100810251010000308080"
    "0100810c2a8648ce14020100000002010000000061803080020101a0806180a1"
    "80060c2a8648ce14020100000003010000a203020100a305a103020100be8028"
    "8002010281"
)
PRES_TRAILER = bytes(16)  # (IVH, VSC)
PRES_SI = 0xC1  # presentation header tag (IVH, VSC)

MDDL_VERSION1 = 0x80000000  # protocol version (IVH)
NOMEN_VERSION = 0x40000000  # nomenclature version (IVH)
SYST_CLIENT = 0x80000000  # system type of a computer client (IVH)
SYST_SERVER = 0x00800000  # system type of the monitor (IVH)
COLD_START = 0x20000000  # startup mode (IVH; VSC sends it)
POLL_PROFILE_REV_0 = 0x80000000  # (IVH)
P_OPT_DYN_CREATE_OBJECTS = 0x40000000  # (IVH)
P_OPT_DYN_DELETE_OBJECTS = 0x20000000  # (IVH)
POLL_EXT_PERIOD_NU_1SEC = 0x80000000  # real-time (1 s) numerics (IVH)
POLL_EXT_PERIOD_RTSA = 0x08000000  # wave export (IVH)
MAX_BW_UNKNOWN = 0xFFFFFFFF  # "no estimation possible" (IVH)
TICKS_PER_SECOND = 8000  # RelativeTime resolution 1/8 ms (IVH)

# Fixed bodies after the session header of the other association messages.
RELEASE_REQUEST_BODY = bytes.fromhex("c11661803080020101a08062808001000000000000000000")  # VSC
RELEASE_RESPONSE_BODY = bytes.fromhex("c11661803080020101a08063808001000000000000000000")  # VSC
ABORT_BODY = (  # VSC assoc_abort_resp_msg
    bytes.fromhex("110103c129a080a0803080020101060251010000000061803080020101a08064808001")
    + bytes.fromhex("01")
    + bytes(10)
)


@dataclass(frozen=True, slots=True)
class UserInfo:
    """MDSEUserInfoStd with one PollProfileSupport and its PollProfileExt."""

    system_type: int = SYST_CLIENT
    protocol_version: int = MDDL_VERSION1
    nomenclature_version: int = NOMEN_VERSION
    functional_units: int = 0
    startup_mode: int = COLD_START
    min_poll_period: int = TICKS_PER_SECOND  # 1/8 ms ticks
    max_mtu_rx: int = 1000  # largest MTU on MIB/RS232 (IVH)
    max_mtu_tx: int = 1000  # (IVH)
    max_bw_tx: int = MAX_BW_UNKNOWN
    profile_options: int = P_OPT_DYN_CREATE_OBJECTS | P_OPT_DYN_DELETE_OBJECTS
    ext_options: int = POLL_EXT_PERIOD_NU_1SEC

    def encode(self) -> bytes:
        ext = u32(self.ext_options) + attribute_list([])
        packages = attribute_list([(nom.NOM_ATTR_POLL_PROFILE_EXT, ext)])
        profile = (
            u32(POLL_PROFILE_REV_0)
            + u32(self.min_poll_period)
            + u32(self.max_mtu_rx)
            + u32(self.max_mtu_tx)
            + u32(self.max_bw_tx)
            + u32(self.profile_options)
            + packages
        )
        return (
            u32(self.protocol_version)
            + u32(self.nomenclature_version)
            + u32(self.functional_units)
            + u32(self.system_type)
            + u32(self.startup_mode)
            + attribute_list([])
            + attribute_list([(nom.NOM_POLL_PROFILE_SUPPORT, profile)])
        )

    @classmethod
    def decode(cls, data: bytes) -> UserInfo:
        r = Reader(data)
        proto, nomen, units, systype, startup = (r.u32("user info") for _ in range(5))
        read_attribute_list(r)  # option list: no options defined (IVH)
        profiles = dict(read_attribute_list(r))
        raw = profiles.get(nom.NOM_POLL_PROFILE_SUPPORT)
        if raw is None:
            raise DecodeError("association user info has no poll profile")
        p = Reader(raw)
        p.u32("poll profile revision")
        period, rx, tx, bw, options = (p.u32("poll profile") for _ in range(5))
        packages = dict(read_attribute_list(p))
        ext_options = 0
        if nom.NOM_ATTR_POLL_PROFILE_EXT in packages:
            ext_options = Reader(packages[nom.NOM_ATTR_POLL_PROFILE_EXT]).u32("ext options")
        return cls(
            system_type=systype,
            protocol_version=proto,
            nomenclature_version=nomen,
            functional_units=units,
            startup_mode=startup,
            min_poll_period=period,
            max_mtu_rx=rx,
            max_mtu_tx=tx,
            max_bw_tx=bw,
            profile_options=options,
            ext_options=ext_options,
        )


@dataclass(frozen=True, slots=True)
class AssociationRequest:
    user_info: UserInfo


@dataclass(frozen=True, slots=True)
class AssociationAccept:
    user_info: UserInfo | None


@dataclass(frozen=True, slots=True)
class AssociationRefuse:
    pass


@dataclass(frozen=True, slots=True)
class ReleaseRequest:
    pass


@dataclass(frozen=True, slots=True)
class ReleaseResponse:
    pass


@dataclass(frozen=True, slots=True)
class Abort:
    pass


AssociationMessage = (
    AssociationRequest
    | AssociationAccept
    | AssociationRefuse
    | ReleaseRequest
    | ReleaseResponse
    | Abort
)


def encode_li(length: int) -> bytes:
    """Session/presentation LI: one byte up to 254, else 0xFF + u16 (IVH)."""
    if length <= 254:
        return bytes((length,))
    if length > 0xFFFF:
        raise ValueError(f"LI {length} too large")
    return bytes((0xFF,)) + length.to_bytes(2, "big")


def encode_asn_length(length: int) -> bytes:
    """ASNLength: one byte up to 127, else 0x82 + u16 (IVH, VSC)."""
    if length <= 127:
        return bytes((length,))
    return bytes((0x82,)) + length.to_bytes(2, "big")


def _read_li(r: Reader) -> int:
    first = r.u8("LI")
    return r.u16("LI") if first == 0xFF else first


def _read_asn_length(r: Reader) -> int:
    first = r.u8("ASN length")
    if first < 0x80:
        return first
    return int.from_bytes(r.take(first & 0x7F, "ASN length"), "big")


def _association(si: int, pres_header: bytes, info: UserInfo) -> bytes:
    user = info.encode()
    presentation = pres_header + encode_asn_length(len(user)) + user + PRES_TRAILER
    body = SESSION_DATA + bytes((PRES_SI,)) + encode_li(len(presentation)) + presentation
    return bytes((si,)) + encode_li(len(body)) + body


def build_association_request(info: UserInfo | None = None) -> bytes:
    """Association request user data (first byte 0x0D)."""
    return _association(nom.CN_SPDU_SI, PRES_HEADER_REQUEST, info or UserInfo())


def build_association_accept(info: UserInfo | None = None) -> bytes:
    """Association response (0x0E), as a monitor sends it (for the simulator)."""
    info = info or UserInfo(system_type=SYST_SERVER)
    return _association(nom.AC_SPDU_SI, PRES_HEADER_RESPONSE, info)


def build_association_refuse() -> bytes:
    # The refuse body is not public; receivers act on the session header alone.
    return bytes((nom.RF_SPDU_SI, 0))


def build_release_request() -> bytes:
    return bytes((nom.FN_SPDU_SI,)) + encode_li(len(RELEASE_REQUEST_BODY)) + RELEASE_REQUEST_BODY


def build_release_response() -> bytes:
    body = RELEASE_RESPONSE_BODY
    return bytes((nom.DN_SPDU_SI,)) + encode_li(len(body)) + body


def build_abort() -> bytes:
    return bytes((nom.AB_SPDU_SI,)) + encode_li(len(ABORT_BODY)) + ABORT_BODY


def _user_info(data: bytes, pres_header: bytes) -> UserInfo:
    r = Reader(data)
    r.u8("session header")
    session = r.sub(_read_li(r), "session body")
    if session.take(len(SESSION_DATA), "session data") != SESSION_DATA:
        raise DecodeError("unexpected association session data")
    if session.u8("presentation tag") != PRES_SI:
        raise DecodeError("association presentation header missing")
    pres = session.sub(_read_li(session), "presentation")
    if pres.take(len(pres_header), "presentation header") != pres_header:
        raise DecodeError("unexpected association presentation header")
    return UserInfo.decode(pres.take(_read_asn_length(pres), "association user data"))


def decode_association(data: bytes) -> AssociationMessage:
    """Decode user data whose first byte is a session header (not 0xE1)."""
    if not data:
        raise DecodeError("empty message")
    si = data[0]
    if si == nom.CN_SPDU_SI:
        return AssociationRequest(_user_info(data, PRES_HEADER_REQUEST))
    if si == nom.AC_SPDU_SI:
        try:
            info: UserInfo | None = _user_info(data, PRES_HEADER_RESPONSE)
        except DecodeError:
            info = None  # monitors may word the envelope differently; acceptance is the byte
        return AssociationAccept(info)
    if si == nom.RF_SPDU_SI:
        return AssociationRefuse()
    if si == nom.FN_SPDU_SI:
        return ReleaseRequest()
    if si == nom.DN_SPDU_SI:
        return ReleaseResponse()
    if si == nom.AB_SPDU_SI:
        return Abort()
    raise DecodeError(f"unknown session header 0x{si:02X}")
