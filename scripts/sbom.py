"""`make sbom`: build/sbom.cdx.json, a CycloneDX bill of materials of requirements.txt.

One component per pin: its name, version, package URL (``pkg:pypi/NAME@VERSION``) and every hash
the lock gives it; a release package (a pin with ``# release: URL`` lines) also names its release
files as distribution references, and the one it installs from in its package URL
(``download_url``), since it does not come from PyPI. Made with cyclonedx-python-lib and checked
against the CycloneDX schema with its validator before it is written. The same lock gives the same
bytes: components and hashes are sorted, there is no timestamp, and the serial number is derived
from the lock's bytes (a new lock, a new serial number), never random.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

from cyclonedx.model import (
    ExternalReference,
    ExternalReferenceType,
    HashAlgorithm,
    HashType,
    XsUri,
)
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output.json import JsonV1Dot6
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL

from .errors import UserError
from .files import atomic_write_text
from .requirements import pinned, read_lines, release_file_urls, release_urls


def bom(lock: Path) -> Bom:
    """The bill of materials of the pins of ``lock``."""
    if not lock.is_file():
        raise UserError(f"{lock} is missing: run `make {lock}` first")
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    made = Bom(serial_number=uuid.uuid5(uuid.NAMESPACE_URL, f"sha256:{digest}"))
    # No time in the file: the same lock makes the same bytes (as cyclonedx-py's
    # --output-reproducible leaves the timestamp out).
    made.metadata.timestamp = None  # type: ignore[assignment]
    releases, installed = release_urls(lock), release_file_urls(lock)
    for line, name, version in pinned(read_lines(lock)):
        url = installed.get(name)
        made.components.add(
            Component(
                type=ComponentType.LIBRARY,
                name=name,
                version=version,
                bom_ref=f"{name}=={version}",
                purl=PackageURL(
                    "pypi",
                    name=name,
                    version=version,
                    qualifiers={"download_url": url} if url else None,
                ),
                hashes=[HashType(alg=HashAlgorithm.SHA_256, content=h) for h in line.hashes],
                external_references=[
                    ExternalReference(type=ExternalReferenceType.DISTRIBUTION, url=XsUri(u))
                    for u in releases.get(name, [])
                ],
            )
        )
    return made


def write(lock: Path, output: Path) -> Path:
    """Write the CycloneDX JSON of ``lock`` to ``output``, checked against its schema first."""
    text = JsonV1Dot6(bom(lock)).output_as_string(indent=2) + "\n"
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    if error is not None:
        raise UserError(f"the SBOM of {lock} is not valid CycloneDX 1.6: {error}")
    atomic_write_text(output, text)
    return output
