"""The one way the project parses XML that came from outside: no DTD, no entities, no network, no huge trees.

lxml's defaults load external DTDs and expand internal entities, which makes billion-laughs (exponential entity
expansion) and XXE (an entity that reads a local file or a URL) possible. No document the project reads (CBAM
QReports) needs a DTD, so any DOCTYPE is refused outright rather than parsed carefully. Bundled, trusted files
(the CBAM XSDs, which need xs:include resolution) are not parsed through here. See docs/security.md.
"""

from __future__ import annotations

import re

from lxml import etree

_DOCTYPE = re.compile(rb"<!\s*DOCTYPE", re.IGNORECASE)


class XmlInputError(ValueError):
    """XML that is refused: not well-formed, or carrying a DTD/entities; the message names the source."""


def _parser() -> etree.XMLParser:
    # a fresh parser per call: lxml parsers are not thread-safe, and they are cheap to build
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_pis=True)


def parse_xml(data: bytes, source: str = "XML") -> etree._Element:
    """The root element of `data`; XmlInputError if it is not well-formed or declares a DOCTYPE/entities."""
    if _DOCTYPE.search(data[:65536]):  # the prolog comes first: refuse before libxml2 sees any declaration
        raise XmlInputError(f"{source} declares a DOCTYPE; DTDs and entities are not accepted")
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise XmlInputError(f"{source} is not well-formed XML: {exc}") from None
    if root is None:
        raise XmlInputError(f"{source} is empty")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise XmlInputError(f"{source} declares a DOCTYPE; DTDs and entities are not accepted")
    return root
