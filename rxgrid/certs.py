"""``rxgrid certs DIR``: a self-signed CA and certificates for a test or a small cluster.

Writes ``ca.pem`` (give it to clients and workers as ``--tls-ca``), ``server.pem`` /
``server-key.pem`` for the head (valid for every ``--host`` name or IP), and
``client.pem`` / ``client-key.pem`` for heads that require client certificates.
For a real deployment, prefer certificates from your own PKI.
"""

from __future__ import annotations

import datetime
import ipaddress
import os


def _name(common: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _key():
    from cryptography.hazmat.primitives.asymmetric import ec
    return ec.generate_private_key(ec.SECP256R1())


def _write(path: str, data: bytes, secret: bool = False) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _pem_key(key) -> bytes:
    from cryptography.hazmat.primitives import serialization
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_certificates(out: str, hosts: list[str], days: int = 365) -> dict[str, str]:
    """Create the CA, server and client certificates in ``out``; return their paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID

    os.makedirs(out, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = _key()
    ca = (x509.CertificateBuilder().subject_name(_name("rxgrid CA")).issuer_name(_name("rxgrid CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=days))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))

    def leaf(common: str, usage, sans=None):
        key = _key()
        builder = (x509.CertificateBuilder().subject_name(_name(common)).issuer_name(ca.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=days))
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return key, builder.sign(ca_key, hashes.SHA256())

    sans = []
    for host in hosts or ["localhost", "127.0.0.1"]:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    server_key, server = leaf(hosts[0] if hosts else "localhost", ExtendedKeyUsageOID.SERVER_AUTH, sans)
    client_key, client = leaf("rxgrid client", ExtendedKeyUsageOID.CLIENT_AUTH)
    pem = serialization.Encoding.PEM
    paths = {name: os.path.join(out, name) for name in
             ("ca.pem", "server.pem", "server-key.pem", "client.pem", "client-key.pem")}
    _write(paths["ca.pem"], ca.public_bytes(pem))
    _write(paths["server.pem"], server.public_bytes(pem))
    _write(paths["server-key.pem"], _pem_key(server_key), secret=True)
    _write(paths["client.pem"], client.public_bytes(pem))
    _write(paths["client-key.pem"], _pem_key(client_key), secret=True)
    return paths
