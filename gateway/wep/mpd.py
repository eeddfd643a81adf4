"""The WEP MPD (GET /media?format=mpd): which streams a camera offers and where to get them.

Sans-IO, xml.etree only. WEP's MPD (guide, "mpd format") has one Period; a `main`
AdaptationSet holds the full-view Representations (at least two qualities, guide: GET
/media `quality`), `supplementary` AdaptationSets hold the tiles of a mosaic camera, each
placed by an SRD property (urn:mpeg:dash:srd:2014). Unknown elements, attributes and
namespaces are ignored; the DASH namespace is optional.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import urljoin

SRD_SCHEME = "urn:mpeg:dash:srd:2014"
ROLE_SCHEME = "urn:mpeg:dash:role:2011"
# Far above any camera's MPD (16 tiles are a few KiB); bounds what a hostile answer costs.
MAX_MPD_BYTES = 1024 * 1024
# An `&` that does not start an entity: the guide's own sample writes BaseURL queries raw.
_BARE_AMPERSAND = re.compile(rb"&(?!(?:[A-Za-z][A-Za-z0-9._-]*|#[0-9]+|#x[0-9A-Fa-f]+);)")


class MpdError(ValueError):
    """The document is not a usable WEP MPD; the message is one line and carries no URL."""


@dataclass(frozen=True)
class Representation:
    id: str
    width: int
    height: int
    bandwidth: int
    codecs: str
    mime_type: str
    # Absolute, and it embeds the session the MPD was fetched with: kept out of repr so a
    # logged Representation never leaks it.
    base_url: str = field(repr=False)
    role: str
    srd: tuple[int, ...] | None


@dataclass(frozen=True)
class MediaPresentation:
    main: tuple[Representation, ...]  # full view, highest bandwidth first
    tiles: tuple[Representation, ...]
    audio: tuple[Representation, ...]

    def for_quality(self, quality: str) -> Representation:
        """GET /media's quality values (guide): "high" is the best full view, "low" the least."""
        if quality not in ("high", "low"):
            raise ValueError(f"quality must be 'high' or 'low', got {quality!r}")
        if not self.main:
            raise ValueError("the MPD offers no main video")
        return self.main[0] if quality == "high" else self.main[-1]


def parse_mpd(document: bytes | str, base_url: str) -> MediaPresentation:
    """Parse `document`; relative BaseURLs resolve against `base_url` (the MPD's own URL,
    ISO/IEC 23009-1 5.6.4), and nested BaseURLs against their parent's."""
    root = _parse_xml(document.encode("utf-8") if isinstance(document, str) else document)
    if _local(root.tag) != "MPD":
        raise MpdError(f"not an MPD: the root element is <{_local(root.tag)}>")
    periods = _children(root, "Period")
    if not periods:
        raise MpdError("the MPD has no Period")
    # A live WEP MPD has exactly one Period; later ones would describe a future we don't play.
    period = periods[0]
    period_bases = _base_texts(root) + _base_texts(period)

    main: list[Representation] = []
    tiles: list[Representation] = []
    audio: list[Representation] = []
    for adaptation_set in _children(period, "AdaptationSet"):
        for rep in _representations(adaptation_set, base_url, period_bases):
            if rep.mime_type.startswith("audio/"):
                audio.append(rep)
            elif not rep.mime_type.startswith("video/"):
                continue  # metadata or text tracks: not ours
            elif rep.role == "main":
                main.append(rep)
            else:
                tiles.append(rep)
    if not main:
        raise MpdError(f"the MPD has no main video Representation ({len(tiles)} tiles, {len(audio)} audio)")
    main.sort(key=lambda rep: (-rep.bandwidth, -(rep.width * rep.height)))
    audio.sort(key=lambda rep: -rep.bandwidth)
    return MediaPresentation(tuple(main), tuple(tiles), tuple(audio))


def _parse_xml(document: bytes) -> ET.Element:
    if len(document) > MAX_MPD_BYTES:
        raise MpdError(f"the MPD is {len(document)} bytes, more than {MAX_MPD_BYTES}")
    # No DTDs: an MPD needs none, and entity expansion is how XML bombs work.
    if b"<!DOCTYPE" in document or b"<!ENTITY" in document:
        raise MpdError("the MPD declares a DOCTYPE or entities; refused")
    try:
        return ET.fromstring(document)
    except ET.ParseError as first:
        try:
            return ET.fromstring(_BARE_AMPERSAND.sub(b"&amp;", document))
        except ET.ParseError:
            raise MpdError(f"the MPD is not well-formed XML ({first})") from None


def _representations(adaptation_set: ET.Element, mpd_url: str, parent_bases: list[str]) -> list[Representation]:
    set_bases = parent_bases + _base_texts(adaptation_set)
    role = _role(adaptation_set)
    srd = _srd(adaptation_set)
    found = []
    for element in _children(adaptation_set, "Representation"):
        bases = set_bases + _base_texts(element)
        if not bases:
            continue  # no BaseURL at any level: the Representation has no address of its own
        base = mpd_url
        for text in bases:
            base = urljoin(base, text)
        found.append(
            Representation(
                id=element.get("id", ""),
                width=_int(_inherited(element, adaptation_set, "width")),
                height=_int(_inherited(element, adaptation_set, "height")),
                bandwidth=_int(element.get("bandwidth")),
                codecs=_inherited(element, adaptation_set, "codecs") or "",
                mime_type=_mime_type(element, adaptation_set),
                base_url=base,
                role=role,
                srd=_srd(element) or srd,
            )
        )
    return found


def _mime_type(representation: ET.Element, adaptation_set: ET.Element) -> str:
    mime = _inherited(representation, adaptation_set, "mimeType")
    if mime:
        return mime.strip().lower()
    # DASH 5.3.3.2: contentType on the AdaptationSet says the kind when mimeType is absent.
    content_type = (adaptation_set.get("contentType") or "").strip().lower()
    return f"{content_type}/mp4" if content_type in ("video", "audio") else ""


def _role(adaptation_set: ET.Element) -> str:
    roles = _children(adaptation_set, "Role")
    for role in roles:
        if role.get("schemeIdUri", "").strip() == ROLE_SCHEME and role.get("value"):
            return role.get("value", "").strip()
    for role in roles:
        if role.get("value"):
            return role.get("value", "").strip()
    # No Role at all: a lone AdaptationSet is the main content (DASH 5.8.5.5).
    return "main"


def _srd(element: ET.Element) -> tuple[int, ...] | None:
    for prop in _children(element, "SupplementalProperty") + _children(element, "EssentialProperty"):
        if prop.get("schemeIdUri", "").strip() == SRD_SCHEME:
            try:
                return tuple(int(part) for part in prop.get("value", "").split(","))
            except ValueError:
                return None
    return None


def _base_texts(element: ET.Element) -> list[str]:
    # DASH 5.6.4: each level's BaseURL resolves against its parent's (first one used).
    urls = [text for text in ("".join(url.itertext()).strip() for url in _children(element, "BaseURL")) if text]
    return urls[:1]


def _inherited(representation: ET.Element, adaptation_set: ET.Element, name: str) -> str | None:
    # DASH 5.3.7: common attributes may sit on the AdaptationSet for all its Representations.
    value = representation.get(name)
    return value if value is not None else adaptation_set.get(name)


def _int(value: str | None) -> int:
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in element if _local(child.tag) == name]
