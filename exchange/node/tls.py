"""A self-signed certificate for local nodes (PACT: HTTPS only), made with `cryptography`."""

from __future__ import annotations

import ipaddress
import secrets
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .private_files import private_directory, write_private_file


def self_signed_certificate(directory: Path, host: str = "localhost") -> tuple[Path, Path]:
    """(cert.pem, key.pem) in `directory` (created 0700; the key 0600), valid for localhost, 127.0.0.1, ::1 and
    `host`; reused if present."""
    private_directory(directory)
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    if cert_path.is_file() and key_path.is_file():
        return cert_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    names = {"localhost", host}
    alt: list[x509.GeneralName] = [x509.DNSName(n) for n in sorted(names) if not _is_ip(n)]
    alt += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in sorted({"127.0.0.1", "::1"} | {n for n in names if _is_ip(n)})]
    # A unique subject per certificate: clients trusting several local nodes in one CA bundle find each issuer by name.
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "carbon-exchange local node"),
                         x509.NameAttribute(NameOID.SERIAL_NUMBER, secrets.token_hex(8))])
    now = datetime.now(timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path.unlink(missing_ok=True)  # a key without its certificate: made again, created 0600
    write_private_file(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
